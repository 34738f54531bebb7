"""Reading partition tables the way guestfsd 1.48 does: ``parted -m -s -- DEV unit b print``.

Two copies of that reader live in 1.48 and they fail differently: the OCaml one
(``parted.ml``, behind part_list and part_get_parttype) and the C one (``parted.c``, behind
part_get_bootable and part_get_name). Both are here, chosen by ``c_style``, so each API
keeps its own error texts. Also the small checks every partition API shares.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from .errors import AgentError

if TYPE_CHECKING:
    from .context import CallContext
    from .resolve import Device

#: parted's label names and the aliases libguestfs accepts (``check_parttype``).
_TABLE_TYPES = {
    **{t: t for t in ("aix", "amiga", "bsd", "dasd", "dvh", "gpt", "mac", "msdos", "pc98", "sun")},
    "rdb": "amiga",
    "efi": "gpt",
    "mbr": "msdos",
}


def table_type(parttype: str) -> str:
    """The parted label for a libguestfs partition table type, or guestfsd's error."""
    label = _TABLE_TYPES.get(parttype)
    if label is None:
        raise AgentError('unknown partition type: common choices are "gpt" and "msdos"')
    return label


def check_partnum(partnum: int) -> None:
    if partnum <= 0:
        raise AgentError("partition number must be >= 1")


def parted_print(
    call: CallContext, device: Device, *, c_style: bool = False
) -> tuple[str, list[str]]:
    """(the device line, the partition rows) of parted's machine-readable listing.

    A disk with no table fails with EINVAL, as in guestfsd; the kernel's names in
    parted's output are the user's (``call.run``)."""
    done = call.run(["parted", "-m", "-s", "--", device.node, "unit", "b", "print"], check=False)
    rc, out, err = done.status, done.out, done.err
    if rc != 0:
        unlabelled = "unrecognised disk label" in err
        if c_style:
            raise AgentError(f"parted print: {device}: {err}", "EINVAL" if unlabelled else "")
        failure = f"parted exited with status {rc}: {err}"
        if unlabelled:
            # OCaml's Unix_error (EINVAL, "parted", ...) becomes "parted: ...: <strerror>".
            raise AgentError(f"parted: {device}: {failure}: {os.strerror(errno.EINVAL)}", "EINVAL")
        raise AgentError(failure)
    lines = out.strip().split("\n")
    if c_style:
        if not lines or lines[0] != "BYT;":
            first = lines[0] if lines else "(signature was null)"
            raise AgentError(
                f'unknown signature, expected "BYT;" as first line of the output: {first}'
            )
        if len(lines) < 2:
            raise AgentError("parted didn't return a line describing the device")
    elif len(lines) < 2:
        raise AgentError("too few rows of output from 'parted print' command")
    elif lines[0] != "BYT;":
        raise AgentError("did not see 'BYT;' magic value in 'parted print' command")
    return lines[1], lines[2:]


def partition_row(rows: list[str], partnum: int) -> str:
    """The row of partition ``partnum`` (rows are not always in order: RHBZ#602997)."""
    for row in rows:
        head = row.split(":", 1)[0]
        if not head.strip().lstrip("+-").isdigit():
            raise AgentError(f"could not parse row from output of parted print command: {row}")
        if int(head) == partnum:
            return row
    raise AgentError(f"partition number {partnum} not found")


def table_field(row: str, n: int) -> str:
    """Field ``n`` of a ``parted -m`` row; fields end at ':' or ';'."""
    pos = 0
    for _ in range(n):
        stop = _field_end(row, pos)
        if stop >= len(row):
            raise AgentError(f"not enough fields in output of parted print command: {row}")
        pos = stop + 1
    return row[pos : _field_end(row, pos)]


def _field_end(row: str, pos: int) -> int:
    ends = [i for i in (row.find(":", pos), row.find(";", pos)) if i >= 0]
    return min(ends) if ends else len(row)


def partitions(rows: list[str]) -> list[dict[str, int]]:
    """part_list's structs from the partition rows: "N:STARTB:ENDB:SIZEB:..."."""
    out = []
    for row in rows:
        fields = row.split(":")
        try:
            num = int(fields[0])
            start, end, size = (int(f.removesuffix("B")) for f in fields[1:4])
        except (ValueError, IndexError):
            raise AgentError(
                f"could not parse row from output of 'parted print' command: {row}"
            ) from None
        out.append({"part_num": num, "part_start": start, "part_end": end, "part_size": size})
    return out
