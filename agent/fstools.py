"""What several filesystem families share (``filesystems``, ``ext2``, ``xfs``, ``btrfs``,
``zero``): running a filesystem tool with guestfsd's two failure conventions, blkid's
view of a device, labels, ``wipefs``, xfs_info's text.

Behaviour, argument checks and error texts follow libguestfs 1.48's daemon (``blkid.c``,
``labels.c``, ``uuids.c``, ``ext2.c``, ``xfs.c``, ``wipefs.c``). Devices are passed as
the appliance's node and the name the user gave (``shown``), which messages use.

The ``literal`` re-exported here is :func:`pyguestfs.agent.runner.literal`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..protocol.types import STRUCTS, FieldType
from .errors import AgentError
from .registry import has_program
from .runner import literal

if TYPE_CHECKING:
    from .context import CallContext

#: Label length limits of guestfsd (``daemon.h``).
EXT2_LABEL_MAX = 16
XFS_LABEL_MAX = 12
SWAP_LABEL_MAX = 16

EXTFS = ("ext2", "ext3", "ext4")


def commandr(call: CallContext, argv: Sequence[str], *, fold: bool = False) -> tuple[int, str, str]:
    """Run a tool, return (exit status, stdout, stderr) like guestfsd's ``commandr``; with
    ``fold`` stdout is merged into stderr (``COMMAND_FLAG_FOLD_STDOUT_ON_STDERR``). Disk
    names in the output are the user's."""
    done = call.run(list(argv), fold=fold, check=False)
    return done.status, done.out, done.err.strip()


def command(
    call: CallContext, argv: Sequence[str], fmt: str = "{err}", *, fold: bool = False
) -> str:
    """Run a tool that must succeed (guestfsd's ``command``); on failure the error is
    ``fmt`` with the tool's stderr put in for ``{err}``."""
    rc, out, err = commandr(call, argv, fold=fold)
    if rc != 0:
        raise AgentError(fmt.format(err=err))
    return out


def power_of_2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# -- blkid -----------------------------------------------------------------------------------


def blkid_tag(call: CallContext, node: str, shown: str, tag: str) -> str:
    """One tag of a device as blkid reads it from disk (no cache); "" when absent."""
    rc, out, err = commandr(call, ["blkid", "-c", "/dev/null", "-o", "value", "-s", tag, node])
    if rc == 2:  # blkid's "nothing found"
        return ""
    if rc != 0:
        raise AgentError(f"{shown}: {err} (blkid returned {rc})")
    return out[:-1] if out.endswith("\n") else out


def fs_type(call: CallContext, node: str, shown: str) -> str:
    """``vfs_type``: the filesystem type blkid sees, "" for none."""
    rc, out, err = commandr(call, ["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", node])
    if rc == 2:
        return ""
    if rc != 0:
        raise AgentError(f"blkid: {shown}: TYPE: {err}")
    return out.rstrip("\n")


def fs_label(call: CallContext, node: str, shown: str) -> str:
    """``vfs_label``: blkid truncates or mangles some labels; the filesystem's own tool
    reads them whole (btrfs, ntfs)."""
    kind = fs_type(call, node, shown)
    if kind == "btrfs" and has_program("btrfs")():
        return command(call, ["btrfs", "filesystem", "label", node]).removesuffix("\n")
    if kind == "ntfs" and has_program("ntfsresize")():  # guestfsd's test for ntfsprogs
        return command(call, ["ntfslabel", node]).removesuffix("\n")
    return blkid_tag(call, node, shown, "LABEL")


# -- labels and UUIDs ------------------------------------------------------------------------


def check_ext_label(label: str) -> None:
    if len(label.encode()) > EXT2_LABEL_MAX:
        raise AgentError(f"{label}: ext2/3/4 labels are limited to {EXT2_LABEL_MAX} bytes")


def set_ext_label(call: CallContext, node: str, label: str) -> None:
    check_ext_label(label)
    command(call, ["e2label", node, label])


def set_ext_uuid(call: CallContext, node: str, uuid: str) -> None:
    command(call, ["tune2fs", "-U", uuid, node])


def check_xfs_label(label: str) -> None:
    if len(label.encode()) > XFS_LABEL_MAX:
        raise AgentError(f"{label}: xfs labels are limited to {XFS_LABEL_MAX} bytes")


def xfs_admin(call: CallContext, node: str, shown: str, *opts: str) -> None:
    command(call, ["xfs_admin", *opts, node], literal(shown) + ": {err}", fold=True)


# -- wipefs ----------------------------------------------------------------------------------

_WIPEFS_FORCE: list[bool] = []


def wipefs_argv(call: CallContext, node: str) -> list[str]:
    """``wipefs -a`` (with ``--force`` where this wipefs has it) for one node."""
    if not _WIPEFS_FORCE:
        _rc, out, _err = commandr(call, ["wipefs", "--help"])
        _WIPEFS_FORCE.append("--force" in out)
    return ["wipefs", "-a", *(["--force"] if _WIPEFS_FORCE[0] else []), node]


# -- ext2: tune2fs -l ------------------------------------------------------------------------


def tune2fs_list(call: CallContext, node: str) -> list[tuple[str, str]]:
    """``tune2fs -l``'s superblock listing as (key, value) pairs, as guestfsd parses it."""
    out = command(call, ["tune2fs", "-l", node])
    lines = out.split("\n")
    if lines and (lines[0].startswith("tune2fs ") or lines[0].startswith("tune4fs ")):
        lines = lines[1:]
    pairs = []
    for line in lines:
        if not line:
            break  # guestfsd stops at the first empty line
        key, colon, value = line.partition(":")
        value = value.lstrip()
        if not colon:
            pairs.append((line, ""))
        elif value in ("<none>", "<not available>", "(none)"):
            pairs.append((key, ""))
        else:
            pairs.append((key, value))
    return pairs


# -- xfs: xfs_info ---------------------------------------------------------------------------

_UNSET32 = (1 << 32) - 1
_UNSET64 = (1 << 64) - 1

#: xfs_info's "key=" → struct field, per section where the key means different things
#: (None: any section). The order matters: the first match in a line wins, as in 1.48.
_XFS_KEYS: tuple[tuple[str, str | None, str], ...] = (
    ("isize=", None, "inodesize"),
    ("agcount=", None, "agcount"),
    ("agsize=", None, "agsize"),
    ("sectsz=", "meta-data", "sectsize"),
    ("sectsz=", "log", "logsectsize"),
    ("attr=", None, "attr"),
    ("bsize=", "data", "blocksize"),
    ("bsize=", "naming", "dirblocksize"),
    ("bsize=", "log", "logblocksize"),
    ("blocks=", "data", "datablocks"),
    ("blocks=", "log", "logblocks"),
    ("blocks=", "realtime", "rtblocks"),
    ("imaxpct=", None, "imaxpct"),
    ("sunit=", "data", "sunit"),
    ("sunit=", "log", "logsunit"),
    ("swidth=", None, "swidth"),
    ("naming   =version ", None, "dirversion"),
    ("ascii-ci=", None, "cimode"),
    ("version=", None, "logversion"),
    ("lazy-count=", None, "lazycount"),
    ("rtextents=", None, "rtextents"),
)
_XFS_NAMES = (("meta-data=", "mntpoint"), ("log      =", "logname"), ("realtime =", "rtname"))


def _xfs_token(text: str) -> str:
    """The value after a key: up to the first space, comma or equals sign."""
    return re.split(r"[ ,=]", text, maxsplit=1)[0]


def parse_xfs_info(out: str) -> dict[str, str | int]:
    """xfs_info's text → the xfsinfo struct. Fields it does not print stay all-ones (the
    C daemon's -1 in an unsigned field), strings stay empty."""
    info: dict[str, str | int] = {}
    for fname, ftype in STRUCTS["xfsinfo"].fields:
        info[fname] = (
            "" if ftype is FieldType.STRING else _UNSET64 if ftype is FieldType.UINT64 else _UNSET32
        )
    section = ""
    for line in out.splitlines():
        if line[:1].isalpha():
            section = _xfs_token(line)
        for key, field in _XFS_NAMES:
            at = line.find(key)
            if at >= 0:
                info[f"xfs_{field}"] = _xfs_token(line[at + len(key) :])
        for key, where, field in _XFS_KEYS:
            at = line.find(key)
            if at < 0 or (where is not None and where != section):
                continue
            token = _xfs_token(line[at + len(key) :])
            m = re.match(r"\s*(\d+)", token)
            if not m:
                raise AgentError(f"cannot parse numeric field from xfs_info: {token}")
            info[f"xfs_{field}"] = int(m.group(1))
    return info
