"""The ``parted`` family: partition tables (``daemon/parted.c``, ``parted.ml`` of 1.48).

``parted -s`` writes partition tables and ``parted -m`` reads them
(:mod:`pyguestfs.agent.parted`), sfdisk reads and writes MBR type bytes, sgdisk GPT GUIDs
and attributes; the kernel's disk names in their messages are the user's (``call.run``).
"""

from __future__ import annotations

import os
import re
import time

from ..context import CallContext
from ..errors import AgentError
from ..parted import (
    check_partnum,
    parted_print,
    partition_row,
    partitions,
    table_field,
    table_type,
)
from ..registry import has_program, procedure, provides_group
from ..resolve import Device

provides_group("gdisk", has_program("sgdisk"))

_have_sgdisk = has_program("sgdisk")


def _tool(call: CallContext, argv: list[str], *, fold: bool = False) -> tuple[int, str, str]:
    """Run a tool (guestfsd's ``commandr``): status, stdout, stderr. With ``fold`` the
    whole output is the third element (stdout folded into stderr, as guestfsd does)."""
    done = call.run(argv, fold=fold, check=False)
    return done.status, done.out, done.err


def _command(call: CallContext, argv: list[str]) -> str:
    """OCaml guestfsd's ``command``: a failure reads "<prog> exited with status N: <err>"."""
    rc, out, err = _tool(call, argv)
    if rc != 0:
        raise AgentError(f"{argv[0]} exited with status {rc}: {err}")
    return out


def _require_gdisk() -> None:
    """The stub's check for an optional group (reply_with_unavailable_feature)."""
    if not _have_sgdisk():
        raise AgentError(
            "feature 'gdisk' is not available in this\nbuild of libguestfs.  Read "
            "'AVAILABILITY' in the guestfs(3) man page for\nhow to check for the "
            "availability of features.",
            "ENOTSUP",
        )


def _check_guid(guid: str) -> None:
    """The 1.48 library refuses a malformed GUID argument before the daemon sees it."""
    inner = guid[1:-1] if len(guid) == 38 and guid[0] == "{" and guid[-1] == "}" else guid
    ok = len(inner) == 36 and all(
        (c == "-") if i in (8, 13, 18, 23) else c.isascii() and c.isalnum()
        for i, c in enumerate(inner)
    )
    if not ok:
        raise AgentError("guid: parameter is not a valid GUID")


# -- partition tables with parted ------------------------------------------------------------


def _parted_change(call: CallContext, device: Device, *words: str, colon: str = "") -> None:
    """``parted -s -- NODE WORDS...``; a failure is "parted: <device>: <output>"."""
    rc, _, out = _tool(call, ["parted", "-s", "--", device.node, *words], fold=True)
    if rc != 0:
        raise AgentError(f"parted: {device}: {out.strip()}{colon}")
    call.agent.devices.refresh()  # type: ignore[union-attr]


@procedure("part_init")
def part_init(call: CallContext, device: Device, parttype: str) -> None:
    label = table_type(parttype)
    _parted_change(call, device, "mklabel", label)


_PRLOGEX = {
    "primary": "primary",
    "logical": "logical",
    "extended": "extended",
    "p": "primary",
    "l": "logical",
    "e": "extended",
}


@procedure("part_add")
def part_add(call: CallContext, device: Device, prlogex: str, startsect: int, endsect: int) -> None:
    kind = _PRLOGEX.get(prlogex)
    if kind is None:
        raise AgentError(
            f'unknown partition type: {prlogex}: this should be "primary", "logical" or "extended"'
        )
    if startsect < 0:
        raise AgentError("startsect cannot be negative")
    # On GPT parted takes the word as the new partition's name, as in libguestfs.
    _parted_change(call, device, "mkpart", kind, f"{startsect}s", f"{endsect}s")


@procedure("part_disk")
def part_disk(call: CallContext, device: Device, parttype: str) -> None:
    label = table_type(parttype)
    # As libguestfs: partitions aligned to 128 sectors and the last 128 left free (room
    # for GPT's backup). parted names the partition on GPT; on msdos it is the kind.
    _parted_change(
        call,
        device,
        "mklabel",
        label,
        "mkpart",
        "p1" if label == "gpt" else "primary",
        "128s",
        "-128s",
    )
    _settle(call, f"{device}1")


def _settle(call: CallContext, partition: str, timeout: float = 10.0) -> None:
    """Wait for the node of a partition parted announced (guestfsd's udev_settle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.path.exists(call.agent.devices.translate(partition)):  # type: ignore[union-attr]
                return
        except AgentError:
            pass
        time.sleep(0.01)


@procedure("part_list")
def part_list(call: CallContext, device: Device) -> list[dict[str, int]]:
    _, rows = _print(call, device)
    return partitions(rows)


@procedure("part_del")
def part_del(call: CallContext, device: Device, partnum: int) -> None:
    check_partnum(partnum)
    _parted_change(call, device, "rm", str(partnum))


@procedure("part_resize")
def part_resize(call: CallContext, device: Device, partnum: int, endsect: int) -> None:
    check_partnum(partnum)
    # 1.48's message for this one call ends in a stray colon.
    _parted_change(call, device, "resizepart", str(partnum), f"{endsect}s", colon=":")


@procedure("part_set_bootable")
def part_set_bootable(call: CallContext, device: Device, partnum: int, bootable: bool) -> None:
    check_partnum(partnum)
    _parted_change(call, device, "set", str(partnum), "boot", "on" if bootable else "off")


@procedure("part_set_name")
def part_set_name(call: CallContext, device: Device, partnum: int, name: str) -> None:
    check_partnum(partnum)
    _parted_change(call, device, "name", str(partnum), name)


def _print(call: CallContext, device: Device, *, c_style: bool = False) -> tuple[str, list[str]]:
    return parted_print(call, device, c_style=c_style)


def _has_bogus_mbr(node: str) -> bool:
    """The MBR mkfs.fat ≥ 4.2 writes on a whole-disk filesystem, which parted reports as a
    "loop" label: one bootable FAT entry covering the disk from LBA 0 (RHBZ#1931821)."""
    try:
        with open(node, "rb") as f:
            sector = f.read(512)
    except OSError:
        return False
    if len(sector) < 512 or sector[0x1FE:0x200] != b"\x55\xaa":
        return False
    entry = sector[0x1BE:0x1CE]
    return (
        sector[3:11] == b"mkfs.fat"
        and entry[0] == 0x80
        and entry[1:4] == b"\x00\x01\x00"
        and entry[4] in (0x01, 0x04, 0x06, 0x0C, 0x0E)
        and entry[8:12] == b"\x00\x00\x00\x00"
    )


def _parttype(call: CallContext, device: Device) -> str:
    device_line, _ = _print(call, device)
    # "/dev/sda:134217728B:scsi:512:512:gpt:QEMU QEMU HARDDISK:;"
    fields = device_line.split(":")
    if len(fields) < 6:
        raise AgentError(f"{device}: cannot parse the output of parted")
    if fields[5] == "loop":
        # A filesystem on the whole disk: not a table (RHBZ#634246).
        if _has_bogus_mbr(device.node):
            return "msdos"
        raise AgentError(f"{device}: not a partitioned device")
    return fields[5]


@procedure("part_get_parttype")
def part_get_parttype(call: CallContext, device: Device) -> str:
    return _parttype(call, device)


@procedure("part_get_bootable")
def part_get_bootable(call: CallContext, device: Device, partnum: int) -> bool:
    check_partnum(partnum)
    _, rows = _print(call, device, c_style=True)
    return "boot" in table_field(partition_row(rows, partnum), 6)


@procedure("part_get_name")
def part_get_name(call: CallContext, device: Device, partnum: int) -> str:
    if _parttype(call, device) != "gpt":
        raise AgentError("part-get-name can only be used on GUID Partition Tables")
    _, rows = _print(call, device, c_style=True)
    return table_field(partition_row(rows, partnum), 5)


# -- MBR type bytes with sfdisk --------------------------------------------------------------


def _mbr_id(call: CallContext, node: str, partnum: int) -> int:
    check_partnum(partnum)
    out = _command(call, ["sfdisk", "--part-type", node, str(partnum)])
    # Printed in hex. On GPT sfdisk prints the type GUID, whose first group 1.48 reads
    # as if it were the byte (an int, so it wraps like C's).
    m = re.match(r"\s*(?:0[xX])?([0-9a-fA-F]+)", out)
    if not m:
        raise AgentError(f"sfdisk: cannot parse the type: {out.strip()}")
    value = int(m.group(1), 16) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@procedure("part_get_mbr_id")
def part_get_mbr_id(call: CallContext, device: Device, partnum: int) -> int:
    return _mbr_id(call, device.node, partnum)


@procedure("part_set_mbr_id")
def part_set_mbr_id(call: CallContext, device: Device, partnum: int, idbyte: int) -> None:
    node = device.node
    check_partnum(partnum)
    rc, _, err = _tool(
        call, ["sfdisk", "--part-type", node, str(partnum), f"{idbyte & 0xFFFFFFFF:x}"]
    )
    if rc != 0:
        raise AgentError(f"sfdisk --part-type: {err}")


@procedure("part_get_mbr_part_type")
def part_get_mbr_part_type(call: CallContext, device: Device, partnum: int) -> str:
    node = device.node
    parttype = _parttype(call, device)
    mbr_id = _mbr_id(call, node, partnum)
    if parttype != "msdos":
        return "primary"
    if partnum <= 4:
        # 0x05 and 0x0f (LBA) are the extended partition's type bytes.
        return "extended" if mbr_id in (0x05, 0x0F) else "primary"
    return "logical"


# -- GPT details with sgdisk -----------------------------------------------------------------


def _sgdisk_info(call: CallContext, device: Device, partnum: int, field: str) -> str:
    """The value after "FIELD:" in ``sgdisk -i N``, as parted.ml's sgdisk_info_extract_field."""
    _require_gdisk()
    node = device.node
    check_partnum(partnum)
    rc, _, out = _tool(call, ["sgdisk", node, "-i", str(partnum)], fold=True)
    if rc != 0:
        raise AgentError(f"sgdisk: {out.rstrip(chr(10))}")
    for line in out.strip().split("\n"):
        if line.startswith(field + ":") and len(line) >= len(field) + 2:
            return line[len(field) + 1 :].lstrip()
    raise AgentError(f"{device}: sgdisk output did not contain '{field}'")


def _leading(value: str, allowed: str) -> str:
    n = 0
    while n < len(value) and value[n] in allowed:
        n += 1
    return value[:n]


_GUID_CHARS = "-0123456789ABCDEF"


@procedure("part_get_gpt_type")
def part_get_gpt_type(call: CallContext, device: Device, partnum: int) -> str:
    return _leading(_sgdisk_info(call, device, partnum, "Partition GUID code"), _GUID_CHARS)


@procedure("part_get_gpt_guid")
def part_get_gpt_guid(call: CallContext, device: Device, partnum: int) -> str:
    return _leading(_sgdisk_info(call, device, partnum, "Partition unique GUID"), _GUID_CHARS)


@procedure("part_get_gpt_attributes")
def part_get_gpt_attributes(call: CallContext, device: Device, partnum: int) -> int:
    digits = _leading(_sgdisk_info(call, device, partnum, "Attribute flags"), "0123456789ABCDEF")
    if not digits:
        raise AgentError("Int64.of_string")  # what OCaml's conversion fails with
    value = int(digits, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _sgdisk_change(call: CallContext, argv: list[str], what: str) -> None:
    rc, _, out = _tool(call, argv, fold=True)
    if rc != 0:
        raise AgentError(f"{what}: {out.rstrip(chr(10))}")


@procedure("part_set_gpt_type")
def part_set_gpt_type(call: CallContext, device: Device, partnum: int, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = device.node
    check_partnum(partnum)
    code = f"{partnum}:{guid}"
    _sgdisk_change(call, ["sgdisk", node, "-t", code], f"sgdisk {device} -t {code}")


@procedure("part_set_gpt_guid")
def part_set_gpt_guid(call: CallContext, device: Device, partnum: int, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = device.node
    check_partnum(partnum)
    code = f"{partnum}:{guid}"
    _sgdisk_change(call, ["sgdisk", node, "-u", code], f"sgdisk {device} -u {code}")


@procedure("part_set_gpt_attributes")
def part_set_gpt_attributes(
    call: CallContext, device: Device, partnum: int, attributes: int
) -> None:
    _require_gdisk()
    node = device.node
    check_partnum(partnum)
    arg = f"{partnum}:=:{attributes & 0xFFFFFFFFFFFFFFFF:X}"
    _sgdisk_change(call, ["sgdisk", node, "-A", arg], "sgdisk")


@procedure("part_get_disk_guid")
def part_get_disk_guid(call: CallContext, device: Device) -> str:
    _require_gdisk()
    node = device.node
    rc, _, out = _tool(call, ["sgdisk", node, "-p"], fold=True)
    if rc != 0:
        raise AgentError(f"sgdisk {device} -p: {out.rstrip(chr(10))}")
    for line in out.split("\n"):
        if line.startswith("Disk identifier (GUID):"):
            return _leading(line.split(":", 1)[1].lstrip(" \t"), _GUID_CHARS)
    raise AgentError(
        "sgdisk output did not contain disk GUID. See LIBGUESTFS_DEBUG output for more details"
    )


@procedure("part_set_disk_guid")
def part_set_disk_guid(call: CallContext, device: Device, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = device.node
    _sgdisk_change(call, ["sgdisk", node, "-U", guid], f"sgdisk {device} -U {guid}")


@procedure("part_set_disk_guid_random")
def part_set_disk_guid_random(call: CallContext, device: Device) -> None:
    _require_gdisk()
    node = device.node
    _sgdisk_change(call, ["sgdisk", node, "-U", "R"], f"sgdisk {device} -U R")


@procedure("part_expand_gpt")
def part_expand_gpt(call: CallContext, device: Device) -> None:
    _require_gdisk()
    node = device.node
    _sgdisk_change(call, ["sgdisk", "-e", node], f"sgdisk -e {device}")
