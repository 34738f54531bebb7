"""Filesystems: labels, UUIDs, checks, resizing, zeroing, copying devices.

Behaviour, argument checks and error texts follow libguestfs 1.48's daemon
(``blkid.c``, ``labels.c``, ``uuids.c``, ``ext2.c``, ``fsck.c``, ``df.c``, ``zero.c``,
``copy.c``, ``dd.c``, ``fstrim.c``, ``zerofree.c``, ``fs-min-size.c``, ``listfs.ml``).
Messages name devices as the user does (``/dev/sda1``); where a tool's own output names
the guest kernel's node, :func:`user_names` rewrites it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import re
import string
import struct
import subprocess
from collections.abc import Sequence

from .api_block import device_node
from .commands import ENV, run
from .context import CallContext
from .errors import AgentError
from .guest import mounts_under
from .registry import has_program, implements, provides_group

provides_group("xfs", has_program("mkfs.xfs"))  # guestfsd's own test for the group
provides_group("zerofree", has_program("zerofree"))
provides_group("fstrim", has_program("fstrim"))
provides_group("wipefs", has_program("wipefs"))

#: Label length limits of guestfsd (``daemon.h``).
EXT2_LABEL_MAX = 16
XFS_LABEL_MAX = 12
SWAP_LABEL_MAX = 16

#: Bytes per read/write in the zero and copy loops. guestfsd uses 4 KiB / BUFSIZ (8 KiB)
#: steps; larger ones give the same bytes on disk for far fewer system calls.
_BLOCK = 1 << 20
#: guestfsd's copy unit: the sparse flag skips writing each all-zero run of this size.
_SPARSE_UNIT = 8192

_EXTFS = ("ext2", "ext3", "ext4")

#: GPT partition types that never hold a filesystem (Windows LDM metadata and data,
#: Microsoft reserved, Windows snapshot); list_filesystems skips them as 1.48 does.
_NO_FS_GPT_TYPES = frozenset(
    {
        "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3",
        "AF9B60A0-1431-4F62-BC68-3311714A69AD",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
        "CADDEBF1-4400-4DE8-B103-12117DCF3CCF",
    }
)
#: MBR ids that are extended partitions, and the one sgdisk maps to Windows LDM data.
_MBR_EXTENDED = frozenset({0x05, 0x0F, 0x85})
_MBR_LDM = 0x42


# -- running tools -----------------------------------------------------------------------


def user_names(ctx: CallContext, text: str) -> str:
    """Rewrite the guest kernel's disk nodes in a tool's output to the user's names."""
    devices = ctx.agent.devices
    if devices is None or "/dev/" not in text:
        return text
    disks = devices.kernel_disks()
    if not disks:
        return text
    names = "|".join(re.escape(d) for d in sorted(disks, key=len, reverse=True))
    pattern = rf"/dev/(?:{names})(?:p?\d+)?(?![\w])"
    return re.sub(pattern, lambda m: devices.reverse(m.group(0)), text)


def _exec(ctx: CallContext, argv: Sequence[str], *, fold: bool = False) -> tuple[int, str, str]:
    """Run a tool, return (exit status, stdout, stderr) like guestfsd's ``commandr``; with
    ``fold`` stdout is merged into stderr (``COMMAND_FLAG_FOLD_STDOUT_ON_STDERR``)."""
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if fold else subprocess.PIPE,
            env=ENV,
            check=False,
        )
    except FileNotFoundError:
        raise AgentError(f"{argv[0]}: command not found in the appliance", "ENOENT") from None
    out = proc.stdout.decode("utf-8", "surrogateescape")
    err = out if fold else proc.stderr.decode("utf-8", "replace")
    if fold:
        out = ""
    if proc.returncode < 0:
        raise AgentError(f"{argv[0]} killed by signal {-proc.returncode}")
    return proc.returncode, user_names(ctx, out), user_names(ctx, err).strip()


def _tool(ctx: CallContext, argv: Sequence[str], fmt: str = "{err}", *, fold: bool = False) -> str:
    """Run a tool that must succeed (guestfsd's ``command``); on failure the error is
    ``fmt`` with the tool's stderr put in for ``{err}``."""
    rc, out, err = _exec(ctx, argv, fold=fold)
    if rc != 0:
        raise AgentError(fmt.format(err=err))
    return out


# -- blkid -----------------------------------------------------------------------------------


def blkid_tag(ctx: CallContext, device: str, tag: str) -> str:
    """One tag of a device as blkid reads it from disk (no cache); "" when absent."""
    node = device_node(ctx, device)
    rc, out, err = _exec(ctx, ["blkid", "-c", "/dev/null", "-o", "value", "-s", tag, node])
    if rc == 2:  # blkid's "nothing found"
        return ""
    if rc != 0:
        raise AgentError(f"{device}: {err} (blkid returned {rc})")
    return out[:-1] if out.endswith("\n") else out


@implements("vfs_type")
def vfs_type(ctx: CallContext, mountable: str) -> str:
    node = device_node(ctx, mountable)
    rc, out, err = _exec(ctx, ["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", node])
    if rc == 2:
        return ""
    if rc != 0:
        raise AgentError(f"blkid: {mountable}: TYPE: {err}")
    return out.rstrip("\n")


def _btrfs_usable() -> bool:
    return has_program("btrfs")()


def _ntfsprogs_usable() -> bool:
    return has_program("ntfsresize")()  # guestfsd's test for the ntfsprogs group


@implements("vfs_label")
def vfs_label(ctx: CallContext, mountable: str) -> str:
    kind = vfs_type(ctx, mountable)
    node = device_node(ctx, mountable)
    # blkid truncates or mangles some labels; the filesystem's own tool reads them whole.
    if kind == "btrfs" and _btrfs_usable():
        return _tool(ctx, ["btrfs", "filesystem", "label", node]).removesuffix("\n")
    if kind == "ntfs" and _ntfsprogs_usable():
        return _tool(ctx, ["ntfslabel", node]).removesuffix("\n")
    return blkid_tag(ctx, mountable, "LABEL")


@implements("vfs_uuid")
def vfs_uuid(ctx: CallContext, mountable: str) -> str:
    return blkid_tag(ctx, mountable, "UUID")


@implements("get_e2label")
def get_e2label(ctx: CallContext, device: str) -> str:
    return vfs_label(ctx, device)


@implements("get_e2uuid")
def get_e2uuid(ctx: CallContext, device: str) -> str:
    return vfs_uuid(ctx, device)


@implements("blkid")
def blkid(ctx: CallContext, device: str) -> list[tuple[str, str]]:
    node = device_node(ctx, device)
    out = _tool(ctx, ["blkid", "-c", "/dev/null", "-p", "-i", "-o", "export", node])
    pairs = []
    for line in out.splitlines():
        key, eq, value = line.partition("=")
        if line and eq:
            pairs.append((key, value))
    return pairs


# -- labels and UUIDs ------------------------------------------------------------------------


def _check_ext_label(label: str) -> None:
    if len(label.encode()) > EXT2_LABEL_MAX:
        raise AgentError(f"{label}: ext2/3/4 labels are limited to {EXT2_LABEL_MAX} bytes")


@implements("set_e2label")
def set_e2label(ctx: CallContext, device: str, label: str) -> None:
    _check_ext_label(label)
    _tool(ctx, ["e2label", device_node(ctx, device), label])


@implements("set_e2uuid")
def set_e2uuid(ctx: CallContext, device: str, uuid: str) -> None:
    _tool(ctx, ["tune2fs", "-U", uuid, device_node(ctx, device)])


def _xfs_admin(ctx: CallContext, device: str, *opts: str) -> None:
    _tool(ctx, ["xfs_admin", *opts, device_node(ctx, device)], f"{device}: {{err}}", fold=True)


def _btrfstune(ctx: CallContext, device: str, *opts: str) -> None:
    # guestfsd runs btrfstune with commandr and checks only that it could run it, so a
    # failing btrfstune is not reported; we do the same.
    _exec(ctx, ["btrfstune", "-f", *opts, device_node(ctx, device)])


@implements("set_label")
def set_label(ctx: CallContext, mountable: str, label: str) -> None:
    kind = vfs_type(ctx, mountable)
    node = device_node(ctx, mountable)
    if kind == "btrfs":
        _tool(ctx, ["btrfs", "filesystem", "label", node, label])
    elif kind in ("msdos", "fat", "vfat"):
        _tool(ctx, ["dosfslabel", node, label])
    elif kind in _EXTFS:
        set_e2label(ctx, mountable, label)
    elif kind == "ntfs":
        _tool(ctx, ["ntfslabel", node, label])
    elif kind == "xfs":
        if label == "---":  # xfs_admin's "clear the label" value
            raise AgentError("xfs: invalid new label")
        if len(label.encode()) > XFS_LABEL_MAX:
            raise AgentError(f"{label}: xfs labels are limited to {XFS_LABEL_MAX} bytes")
        _xfs_admin(ctx, mountable, "-L", label)
    elif kind == "swap":
        if len(label.encode()) > SWAP_LABEL_MAX:
            raise AgentError(f"{label}: Linux swap labels are limited to {SWAP_LABEL_MAX} bytes")
        _tool(ctx, ["swaplabel", "-L", label, node])
    else:
        raise AgentError(f"don't know how to set the label for '{kind}' filesystems", "ENOTSUP")


@implements("set_uuid")
def set_uuid(ctx: CallContext, device: str, uuid: str) -> None:
    kind = blkid_tag(ctx, device, "TYPE")
    if kind in _EXTFS:
        if uuid in ("clear", "random", "time"):  # tune2fs's magic words are refused here
            raise AgentError("e2: invalid new UUID")
        set_e2uuid(ctx, device, uuid)
    elif kind == "xfs":
        if uuid in ("nil", "generate"):
            raise AgentError("xfs: invalid new UUID")
        _xfs_admin(ctx, device, "-U", uuid)
    elif kind == "swap":
        _tool(ctx, ["swaplabel", "-U", uuid, device_node(ctx, device)])
    elif kind == "btrfs":
        _btrfstune(ctx, device, "-U", uuid)
    else:
        raise AgentError(f"don't know how to set the UUID for '{kind}' filesystems", "ENOTSUP")


def _random_uuid() -> str:
    with open("/proc/sys/kernel/random/uuid") as f:
        return f.read().strip()


@implements("set_uuid_random")
def set_uuid_random(ctx: CallContext, device: str) -> None:
    kind = blkid_tag(ctx, device, "TYPE")
    if kind in _EXTFS:
        set_e2uuid(ctx, device, "random")
    elif kind == "xfs":
        _xfs_admin(ctx, device, "-U", "generate")
    elif kind == "swap":
        _tool(ctx, ["swaplabel", "-U", _random_uuid(), device_node(ctx, device)])
    elif kind == "btrfs":
        _btrfstune(ctx, device, "-u")
    else:
        raise AgentError(
            f"don't know how to set the random UUID for '{kind}' filesystems", "ENOTSUP"
        )


# -- listing ---------------------------------------------------------------------------------


def _has_partitions(node: str) -> bool:
    """Whether /sys/block/<disk> holds a partition entry (sda1 under sda)."""
    name = os.path.basename(os.path.realpath(node))
    try:
        return any(e.startswith(name) and e != name for e in os.listdir(f"/sys/block/{name}"))
    except OSError:
        return False


def _partition_table(node: str) -> dict[int, tuple[str, str]]:
    """partition number → (table label "dos"/"gpt"/..., type) from sfdisk, {} if none."""
    rc = subprocess.run(
        ["sfdisk", "--json", node], capture_output=True, env=ENV, stdin=subprocess.DEVNULL
    )
    if rc.returncode != 0:
        return {}
    try:
        table = json.loads(rc.stdout)["partitiontable"]
    except (ValueError, KeyError):
        return {}
    out = {}
    for part in table.get("partitions", []):
        num = re.search(r"(\d+)$", part.get("node", ""))
        if num:
            out[int(num.group(1))] = (table.get("label", ""), str(part.get("type", "")))
    return out


def _can_hold_filesystem(label: str, ptype: str) -> bool:
    if label == "dos":
        try:
            mbr_id = int(ptype, 16)
        except ValueError:
            return True
        return mbr_id not in _MBR_EXTENDED and mbr_id != _MBR_LDM
    if label == "gpt":
        return ptype.upper() not in _NO_FS_GPT_TYPES
    return True


def _logical_volumes(ctx: CallContext) -> list[str]:
    if not has_program("lvm")():
        return []
    rc, out, _err = _exec(
        ctx,
        [
            "lvm",
            "lvs",
            "-o",
            "vg_name,lv_name",
            "-S",
            "lv_role=public && lv_skip_activation!=yes",
            "--noheadings",
            "--separator",
            "/",
        ],
    )
    if rc != 0:
        return []
    lines = (line.strip() for line in out.splitlines())
    return sorted("/dev/" + line for line in lines if line and line != "unknown device")


def _btrfs_subvolumes(ctx: CallContext, device: str) -> list[str]:
    """Subvolume paths of a btrfs filesystem except the default one (mounted briefly)."""
    import tempfile

    node = device_node(ctx, device)
    with tempfile.TemporaryDirectory(prefix="btrfs.") as mp:
        if subprocess.run(["mount", "-o", "ro", node, mp], env=ENV, capture_output=True).returncode:
            return []
        try:
            default = run(["btrfs", "subvolume", "get-default", mp]).split()
            default_id = default[1] if len(default) > 1 else "5"
            out = run(["btrfs", "subvolume", "list", mp])
        except AgentError:
            return []
        finally:
            subprocess.run(["umount", mp], env=ENV, capture_output=True)
    paths = []
    for line in out.splitlines():
        # "ID 256 gen 7 top level 5 path sub"
        fields = line.split(None, 8)
        if len(fields) == 9 and fields[1] != default_id:
            paths.append(fields[8])
    return paths


@implements("list_filesystems")
def list_filesystems(ctx: CallContext) -> list[tuple[str, str]]:
    devices = ctx.agent.devices
    if devices is None:
        return []
    found: list[tuple[str, str]] = []

    def check(name: str) -> None:
        try:
            kind = vfs_type(ctx, name)
        except AgentError:
            kind = ""
        if kind == "":
            found.append((name, "unknown"))
        elif kind.endswith("_member") or kind in ("crypto_LUKS", "BitLocker"):
            return  # containers (LVM PVs, RAID members, encrypted), not filesystems
        elif kind == "btrfs":
            found.append((name, kind))
            found.extend(
                (f"btrfsvol:{name}/{path}", "btrfs") for path in _btrfs_subvolumes(ctx, name)
            )
        else:
            found.append((name, kind))

    for dev in devices.list_devices():
        if not _has_partitions(device_node(ctx, dev)):
            check(dev)
    tables: dict[str, dict[int, tuple[str, str]]] = {}
    for part in devices.list_partitions():
        m = re.fullmatch(r"(/dev/sd[a-z]+)(\d+)", part)
        if m:
            disk, num = m.group(1), int(m.group(2))
            if disk not in tables:
                tables[disk] = _partition_table(device_node(ctx, disk))
            label, ptype = tables[disk].get(num, ("", ""))
            if not _can_hold_filesystem(label, ptype):
                continue
        check(part)
    for lv in _logical_volumes(ctx):
        check(lv)
    return found


# -- making and checking ---------------------------------------------------------------------

_FAT = ("fat", "vfat", "msdos")
#: BLKSSZGET: the logical sector size of a block device.
_BLKSSZGET = 0x1268
_FAT_HAS_MBR_OPTION: list[bool] = []


def _fat_mbr_option(ctx: CallContext) -> list[str]:
    """``--mbr=n`` where mkfs.fat has it: newer ones otherwise write a partition table
    into a whole-disk filesystem (RHBZ#1931821). Its usage text says whether it does."""
    if not _FAT_HAS_MBR_OPTION:
        try:
            rc, _out, err = _exec(ctx, ["mkfs.fat"])
        except AgentError:
            rc, err = -1, ""
        _FAT_HAS_MBR_OPTION.append(rc == 1 and "--mbr[=" in err)
    return ["--mbr=n"] if _FAT_HAS_MBR_OPTION[0] else []


def _sector_size(ctx: CallContext, device: str) -> int:
    fd = _open_device(ctx, device, os.O_RDONLY)
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, _BLKSSZGET, b"\0" * 4))[0])
    except OSError as e:
        raise AgentError.from_os(e, f"blockdev: {device}") from None
    finally:
        os.close(fd)


@implements("mkfs")
def mkfs(
    ctx: CallContext,
    fstype: str,
    device: str,
    *,
    blocksize: int | None = None,
    features: str | None = None,
    inode: int | None = None,
    sectorsize: int | None = None,
    label: str | None = None,
) -> None:
    """mkfs -t fstype with 1.48's per-filesystem spelling of each option."""
    node = device_node(ctx, device)
    ext = fstype in _EXTFS
    # mke2fs itself for ext*: the mkfs wrapper swallows some options, -F among them.
    argv = ["mke2fs" if ext else "mkfs", "-t", fstype]
    if ext:
        argv.append("-F")  # format even a whole disk or a mounted-looking device
    if fstype == "ntfs":
        argv += ["-Q", "-F"]  # quick format; and allow a whole disk
    if fstype in ("reiserfs", "jfs", "xfs"):
        argv.append("-f")  # no questions; xfs: overwrite an existing filesystem
    if fstype in ("gfs", "gfs2"):
        argv += ["-p", "lock_nolock", "-j", "1", "-O"]  # one node, no questions
    if fstype in _FAT:
        argv.append("-I")  # a whole-disk FAT filesystem is fine
        argv += _fat_mbr_option(ctx)
    if blocksize is not None:
        if not _power_of_2(blocksize):
            raise AgentError("block size must be > 0 and a power of 2")
        if fstype in ("vfat", "msdos"):
            # FAT counts sectors per cluster.
            ss = _sector_size(ctx, device)
            per_cluster = blocksize // ss
            if not 1 <= per_cluster <= 128:
                raise AgentError(
                    f"unsupported cluster size for {fstype} filesystem (requested cluster "
                    f"size = {blocksize}, sector size = {ss}, trying sectors per cluster "
                    f"= {per_cluster})"
                )
            argv += ["-s", str(per_cluster)]
        elif fstype == "ntfs":
            argv += ["-c", str(blocksize)]
        elif fstype == "btrfs":
            raise AgentError("blocksize cannot be set on btrfs filesystems, use 'mkfs-btrfs'")
        elif fstype == "xfs":
            argv += ["-b", f"size={blocksize}"]
        else:
            argv += ["-b", str(blocksize)]
    if features is not None:
        argv += ["-O", features]
    if inode is not None:
        if not ext:
            raise AgentError("inode size (-I) can only be set on ext2/3/4 filesystems")
        if inode <= 0:
            raise AgentError("inode size must be larger than zero")
        argv += ["-I", str(inode)]
    if sectorsize is not None:
        if fstype != "ufs":
            raise AgentError("sector size (-S) can only be set on ufs filesystems")
        if sectorsize <= 0:
            raise AgentError("sector size must be larger than zero")
        argv += ["-S", str(sectorsize)]
    if label is not None:
        if ext:
            _check_ext_label(label)
            argv += ["-L", label]
        elif fstype in _FAT:
            argv += ["-n", label]
        elif fstype in ("ntfs", "btrfs"):
            argv += ["-L", label]
        elif fstype == "xfs":
            if len(label.encode()) > XFS_LABEL_MAX:
                raise AgentError(f"{label}: xfs labels are limited to {XFS_LABEL_MAX} bytes")
            argv += ["-L", label]
        elif fstype == "f2fs":
            argv += ["-l", label]
        else:
            raise AgentError(f"don't know how to set the label for '{fstype}' filesystems")
    # Old signatures confuse blkid and some mkfs (btrfs refuses to overwrite): wipe
    # them first, ignoring failure, as guestfsd does.
    _exec(ctx, wipefs_argv(ctx, node))
    _tool(ctx, [*argv, node], f"{fstype}: {device}: {{err}}")


@implements("mkfs_b")
def mkfs_b(ctx: CallContext, fstype: str, blocksize: int, device: str) -> None:
    mkfs(ctx, fstype, device, blocksize=blocksize)


_WIPEFS_FORCE: list[bool] = []


def wipefs_argv(ctx: CallContext, node: str) -> list[str]:
    """``wipefs -a`` (with ``--force`` where this wipefs has it) for one node."""
    if not _WIPEFS_FORCE:
        _rc, out, _err = _exec(ctx, ["wipefs", "--help"])
        _WIPEFS_FORCE.append("--force" in out)
    return ["wipefs", "-a", *(["--force"] if _WIPEFS_FORCE[0] else []), node]


@implements("wipefs")
def wipefs(ctx: CallContext, device: str) -> None:
    _tool(ctx, wipefs_argv(ctx, device_node(ctx, device)))


def _power_of_2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@implements("mkfs_btrfs")
def mkfs_btrfs(
    ctx: CallContext,
    devices: list[str],
    *,
    allocstart: int | None = None,
    bytecount: int | None = None,
    datatype: str | None = None,
    leafsize: int | None = None,
    label: str | None = None,
    metadata: str | None = None,
    nodesize: int | None = None,
    sectorsize: int | None = None,
) -> None:
    if not devices:
        raise AgentError("list of devices must be non-empty")
    argv = ["mkfs.btrfs"]
    # allocstart: --alloc-start is gone from btrfs-progs; 1.48 ignores the value too.
    if bytecount is not None:
        if bytecount <= 0:
            raise AgentError("bytecount must be > 0")
        argv += ["--byte-count", str(bytecount)]
    raids = ("raid0", "raid1", "raid10", "single")
    if datatype is not None:
        if datatype not in raids:
            raise AgentError("datatype not one of the allowed values")
        argv += ["--data", datatype]
    if leafsize is not None:
        if not _power_of_2(leafsize):
            raise AgentError("leafsize must be > 0 and a power of two")
        argv += ["--leafsize", str(leafsize)]
    if label is not None:
        argv += ["--label", label]
    if metadata is not None:
        if metadata not in raids:
            raise AgentError("metadata not one of the allowed values")
        argv += ["--metadata", metadata]
    if nodesize is not None:
        if not _power_of_2(nodesize):
            raise AgentError("nodesize must be > 0 and a power of two")
        argv += ["--nodesize", str(nodesize)]
    if sectorsize is not None:
        if not _power_of_2(sectorsize):
            raise AgentError("sectorsize must be > 0 and a power of two")
        argv += ["--sectorsize", str(sectorsize)]
    nodes = [device_node(ctx, d) for d in devices]
    for node in nodes:
        _exec(ctx, wipefs_argv(ctx, node))
    _tool(ctx, [*argv, *nodes], f"{devices[0]}: {{err}}")


@implements("fsck")
def fsck(ctx: CallContext, fstype: str, device: str) -> int:
    rc, _out, _err = _exec(ctx, ["fsck", "-a", "-t", fstype, device_node(ctx, device)])
    return rc  # the status word itself is the answer (bits of fsck(8))


@implements("e2fsck")
def e2fsck(
    ctx: CallContext, device: str, *, correct: bool | None = None, forceall: bool | None = None
) -> None:
    if correct and forceall:
        raise AgentError("only one of the options 'correct', 'forceall' may be specified")
    argv = ["e2fsck", "-f"]
    if correct:
        argv.append("-p")
    if forceall:
        argv.append("-y")
    rc, _out, err = _exec(ctx, [*argv, device_node(ctx, device)], fold=True)
    # 0: clean, 1: errors corrected. 2 and 3 (corrected, reboot needed) count as
    # failures, as in guestfsd.
    if rc >= 2:
        raise AgentError(err)


@implements("e2fsck_f")
def e2fsck_f(ctx: CallContext, device: str) -> None:
    e2fsck(ctx, device, correct=True)


@implements("tune2fs_l")
def tune2fs_l(ctx: CallContext, device: str) -> list[tuple[str, str]]:
    out = _tool(ctx, ["tune2fs", "-l", device_node(ctx, device)])
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


@implements("tune2fs")
def tune2fs(
    ctx: CallContext,
    device: str,
    *,
    force: bool | None = None,
    maxmountcount: int | None = None,
    mountcount: int | None = None,
    errorbehavior: str | None = None,
    group: int | None = None,
    intervalbetweenchecks: int | None = None,
    reservedblockspercentage: int | None = None,
    lastmounteddirectory: str | None = None,
    reservedblockscount: int | None = None,
    user: int | None = None,
) -> None:
    argv = ["tune2fs"]
    if force:
        argv.append("-f")

    def number(value: int | None, name: str, flag: str, suffix: str = "") -> None:
        if value is None:
            return
        if value < 0:
            raise AgentError(f"{name} cannot be negative")
        argv.extend([flag, f"{value}{suffix}" if value else "0"])

    number(maxmountcount, "maxmountcount", "-c")
    number(mountcount, "mountcount", "-C")
    if errorbehavior is not None:
        if errorbehavior not in ("continue", "remount-ro", "panic"):
            raise AgentError(f"invalid errorbehavior parameter: {errorbehavior}")
        argv += ["-e", errorbehavior]
    number(group, "group", "-g")
    # tune2fs takes "<n>s" for seconds (undocumented, long supported); 0 stays "0".
    number(intervalbetweenchecks, "intervalbetweenchecks", "-i", "s")
    number(reservedblockspercentage, "reservedblockspercentage", "-m")
    if lastmounteddirectory is not None:
        argv += ["-M", lastmounteddirectory]
    number(reservedblockscount, "reservedblockscount", "-r")
    number(user, "user", "-u")
    _tool(ctx, [*argv, device_node(ctx, device)], f"{device}: {{err}}")


# -- resizing --------------------------------------------------------------------------------


def _is_mounted(ctx: CallContext, device: str) -> bool:
    """Whether the device is mounted at or below the sysroot (same st_rdev)."""
    node = device_node(ctx, device)
    try:
        rdev = os.stat(node).st_rdev
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {device}") from None
    for source in (m.source for m in mounts_under(ctx.sysroot.root)):
        try:
            if os.stat(source).st_rdev == rdev:
                return True
        except OSError:
            continue
    return False


def _check_unless_mounted(ctx: CallContext, device: str) -> None:
    """resize2fs refuses a filesystem not checked since its last mount: check it first,
    answering yes to everything, unless it is mounted (an online resize)."""
    if not _is_mounted(ctx, device):
        e2fsck(ctx, device, forceall=True)


@implements("resize2fs")
def resize2fs(ctx: CallContext, device: str) -> None:
    _check_unless_mounted(ctx, device)
    _tool(ctx, ["resize2fs", device_node(ctx, device)])


@implements("resize2fs_size")
def resize2fs_size(ctx: CallContext, device: str, size: int) -> None:
    if size & 1023:
        raise AgentError(f"{size}: size must be a round number of kilobytes")
    _check_unless_mounted(ctx, device)
    _tool(ctx, ["resize2fs", device_node(ctx, device), f"{size // 1024}K"])


@implements("resize2fs_M")
def resize2fs_M(ctx: CallContext, device: str) -> None:
    _check_unless_mounted(ctx, device)
    _tool(ctx, ["resize2fs", "-M", device_node(ctx, device)])


def _leading_int(text: str, what: str) -> int:
    m = re.match(r"\s*(-?\d+)", text)
    if not m:
        raise AgentError(f"cannot parse {what}")
    return int(m.group(1))


def _ext_minimum_size(ctx: CallContext, device: str) -> int:
    out = _tool(ctx, ["resize2fs", "-P", "-f", device_node(ctx, device)])
    pattern = "Estimated minimum size of the filesystem: "
    for line in out.splitlines():
        if line.startswith(pattern):
            blocks = _leading_int(line[len(pattern) :], "minimum size")
            sizes = [v for k, v in tune2fs_l(ctx, device) if k == "Block size"]
            if not sizes:
                raise AgentError("missing 'Block size' in tune2fs_l output")
            return blocks * _leading_int(sizes[0], "block size")
    raise AgentError(f"minimum size not found. Check output format:\n{out}")


def _ntfs_minimum_size(ctx: CallContext, device: str) -> int:
    rc, out, err = _exec(ctx, ["ntfsresize", "--info", "-ff", device_node(ctx, device)])
    lines = out.splitlines()
    if rc != 0:
        # A full volume makes ntfsresize fail; its size rounded to clusters is the answer.
        if any("Volume is full" in line for line in lines):
            cluster = volume = 0
            for line in lines:
                if line.startswith("Cluster size"):
                    cluster = _leading_int(line.split(":", 1)[-1], "cluster size")
                elif line.startswith("Current volume size:"):
                    volume = _leading_int(line.split(":", 1)[1], "volume size")
            if cluster == 0:
                raise AgentError("bad cluster size")
            return (volume + cluster - 1) // cluster * cluster
        raise AgentError(err)
    for line in lines:
        if line.startswith("You might resize at "):
            return _leading_int(line[len("You might resize at ") :], "minimum size")
    raise AgentError(f"minimum size not found. Check output format:\n{out}")


def _mountpoint_of(ctx: CallContext, device: str) -> str:
    """Host path where ``device`` is mounted under the sysroot."""
    for source, mp in ((m.source, m.target) for m in mounts_under(ctx.sysroot.root)):
        name = ctx.agent.devices.reverse(source) if ctx.agent.devices else source
        if name == device:
            return mp
    raise AgentError(f"device not mounted: {device}")


@implements("vfs_minimum_size")
def vfs_minimum_size(ctx: CallContext, mountable: str) -> int:
    kind = vfs_type(ctx, mountable)
    if kind in _EXTFS:
        return _ext_minimum_size(ctx, mountable)
    if kind == "ntfs":
        return _ntfs_minimum_size(ctx, mountable)
    if kind == "btrfs":
        path = _mountpoint_of(ctx, mountable)
        out = _tool(ctx, ["btrfs", "inspect-internal", "min-dev-size", path])
        return _leading_int(out, "minimum size")
    if kind == "xfs":
        # XFS cannot shrink: its minimum is its size.
        info = _parse_xfs_info(_tool(ctx, ["xfs_info", _mountpoint_of(ctx, mountable)]))
        return int(info["xfs_blocksize"]) * int(info["xfs_datablocks"])
    raise AgentError(f"don't know how to get minimum size of '{kind}' filesystems", "ENOTSUP")


# -- space -----------------------------------------------------------------------------------


def _df(ctx: CallContext, api: str, argv: list[str]) -> str:
    if ctx.sysroot.mount_required and not os.path.ismount(ctx.sysroot.root):
        raise AgentError(f"do_{api}: you must call 'mount' first to mount the root filesystem")
    return _tool(ctx, argv)


@implements("df")
def df(ctx: CallContext) -> str:
    return _df(ctx, "df", ["df"])


@implements("df_h")
def df_h(ctx: CallContext) -> str:
    return _df(ctx, "df_h", ["df", "-h"])


@implements("zerofree")
def zerofree(ctx: CallContext, device: str) -> None:
    _tool(ctx, ["zerofree", device_node(ctx, device)], f"{device}: {{err}}")


@implements("fstrim")
def fstrim(
    ctx: CallContext,
    mountpoint: str,
    *,
    offset: int | None = None,
    length: int | None = None,
    minimumfreeextent: int | None = None,
) -> None:
    os.sync()  # qemu wants the writes flushed before the discard (as guestfsd does)
    argv = ["fstrim"]
    if offset is not None:
        if offset < 0:
            raise AgentError("offset < 0")
        argv += ["-o", str(offset)]
    if length is not None:
        if length <= 0:
            raise AgentError("length <= 0")
        argv += ["-l", str(length)]
    if minimumfreeextent is not None:
        if minimumfreeextent <= 0:
            raise AgentError("minimumfreeextent <= 0")
        argv += ["-m", str(minimumfreeextent)]
    argv.append(ctx.sysroot.resolve(mountpoint))
    rc, _out, err = _exec(ctx, argv)
    if rc != 0:
        err = ctx.sysroot.hide(err)
        if "discard operation is not supported" in err:
            raise AgentError(err, "ENOTSUP")
        raise AgentError(err)


# -- zeroing ---------------------------------------------------------------------------------


def _open_device(ctx: CallContext, device: str, flags: int) -> int:
    try:
        return os.open(device_node(ctx, device), flags | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None


@implements("zero")
def zero(ctx: CallContext, device: str) -> None:
    """Zero the first 32 blocks of 4 KiB, skipping the blocks that are zero already."""
    block = 4096
    fd = _open_device(ctx, device, os.O_RDWR)
    try:
        for i in range(32):
            try:
                data = os.pread(fd, block, i * block)
            except OSError as e:
                raise AgentError.from_os(e, f"pread: {device}") from None
            if len(data) != block:
                raise AgentError.from_errno(0, f"pread: {device}")
            if data.count(0) != block:
                try:
                    if os.pwrite(fd, bytes(block), i * block) != block:
                        raise AgentError.from_errno(0, f"pwrite: {device}")
                except OSError as e:
                    raise AgentError.from_os(e, f"pwrite: {device}") from None
            ctx.progress(i, 32)
    finally:
        os.close(fd)


@implements("zero_device")
def zero_device(ctx: CallContext, device: str) -> None:
    fd = _open_device(ctx, device, os.O_RDWR)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        pos = 0
        zeroes = bytes(_BLOCK)
        while pos < size:
            n = min(_BLOCK, size - pos)
            try:
                data = os.pread(fd, n, pos)
            except OSError as e:
                raise AgentError.from_os(e, f"pread: {device} at offset {pos}") from None
            if data.count(0) != len(data) or len(data) < n:
                try:
                    pos += os.pwrite(fd, zeroes[:n], pos)
                except OSError as e:
                    raise AgentError.from_os(
                        e, f"pwrite: {device} (with {size} bytes left to write)"
                    ) from None
            else:
                pos += n
            ctx.progress(pos, size)
        os.fsync(fd)
    finally:
        os.close(fd)


_NAME_CHARS = string.ascii_lowercase + string.digits


@implements("zero_free_space")
def zero_free_space(ctx: CallContext, directory: str) -> None:
    # A random 8.3 name: no clash with existing files, and valid on FAT too.
    stem = "".join(random.choices(_NAME_CHARS, k=8))
    name = stem + "." + "".join(random.choices(_NAME_CHARS, k=3))
    host = os.path.join(ctx.sysroot.resolve(directory), name)
    shown = ctx.sysroot.hide(host)
    try:
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {shown}") from None
    try:
        initial = os.fstatvfs(fd).f_bfree
        zeroes = bytes(64 * 1024)
        while True:
            try:
                os.write(fd, zeroes)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    break  # the point: the filesystem is full of zeroes now
                os.close(fd)
                fd = -1
                os.unlink(host)
                raise AgentError.from_os(e, f"write: {shown}") from None
            try:
                ctx.progress(initial - os.fstatvfs(fd).f_bfree, initial)
            except OSError:
                pass
    finally:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass  # delayed allocation may fail here on a full filesystem: expected
    os.sync()
    ctx.progress_done(initial)
    try:
        os.unlink(host)
    except OSError as e:
        raise AgentError.from_os(e, f"unlink: {shown}") from None


# -- copying ---------------------------------------------------------------------------------


def _copy(
    ctx: CallContext,
    src: str,
    src_shown: str,
    dest: str,
    dest_shown: str,
    wrflags: int,
    *,
    unlink_on_failure: bool,
    srcoffset: int | None,
    destoffset: int | None,
    size: int | None,
    sparse: bool | None,
) -> None:
    """guestfsd's copy(): ``size`` bytes (all, if unset) from ``srcoffset`` of ``src``
    to ``destoffset`` of ``dest``; with ``sparse`` all-zero runs are seeked over."""
    if srcoffset is not None and srcoffset < 0:
        raise AgentError("srcoffset is negative")
    if destoffset is not None and destoffset < 0:
        raise AgentError("destoffset is negative")
    if size is not None and size < 0:
        raise AgentError("size is negative")
    srcoffset = srcoffset or 0
    destoffset = destoffset or 0
    try:
        src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, src_shown) from None
    dest_fd = -1

    def fail(exc: OSError | None, what: str) -> AgentError:
        for fd in (src_fd, dest_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if unlink_on_failure:
            try:
                os.unlink(dest)
            except OSError:
                pass
        if exc is None:
            return AgentError(what)
        return AgentError.from_os(exc, what)

    try:
        if srcoffset:
            os.lseek(src_fd, srcoffset, os.SEEK_SET)
    except OSError as e:
        raise fail(e, f"lseek: {src_shown}") from None
    try:
        dest_fd = os.open(dest, wrflags | os.O_CLOEXEC, 0o666)
    except OSError as e:
        os.close(src_fd)
        raise AgentError.from_os(e, dest_shown) from None
    try:
        if destoffset:
            os.lseek(dest_fd, destoffset, os.SEEK_SET)
    except OSError as e:
        raise fail(e, f"lseek: {dest_shown}") from None

    total = size or 0
    left = size
    while left is None or left > 0:
        n = _BLOCK if left is None else min(_BLOCK, left)
        try:
            data = os.read(src_fd, n)
        except OSError as e:
            raise fail(e, f"read: {src_shown}") from None
        if not data:
            if left is None:
                break
            raise fail(None, f"{src_shown}: input too short")
        view = memoryview(data)
        for i in range(0, len(view), _SPARSE_UNIT):
            piece = view[i : i + _SPARSE_UNIT]
            try:
                if sparse and piece.tobytes().count(0) == len(piece):
                    os.lseek(dest_fd, len(piece), os.SEEK_CUR)
                    continue
            except OSError as e:
                raise fail(e, f"{dest_shown}: seek (because of sparse flag)") from None
            try:
                while piece:
                    piece = piece[os.write(dest_fd, piece) :]
            except OSError as e:
                raise fail(e, f"{dest_shown}: write") from None
        if left is None:
            ctx.progress(0, 1)  # "pulse mode": progress without a known end
        else:
            left -= len(data)
            ctx.progress(total - left, total)
    if left is None:
        ctx.progress_done(1)
    try:
        os.close(src_fd)
    except OSError as e:
        src_fd = -1
        raise fail(e, f"close: {src_shown}") from None
    src_fd = -1
    try:
        os.close(dest_fd)
    except OSError as e:
        dest_fd = -1
        raise fail(e, f"close: {dest_shown}") from None


def _file_flags(append: bool | None) -> int:
    return os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | (os.O_APPEND if append else os.O_TRUNC)


def _no_append(append: bool | None) -> None:
    if append:
        raise AgentError("the append flag cannot be set for this call")


@implements("copy_device_to_device")
def copy_device_to_device(
    ctx: CallContext,
    src: str,
    dest: str,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _no_append(append)
    _copy(
        ctx,
        device_node(ctx, src),
        src,
        device_node(ctx, dest),
        dest,
        os.O_WRONLY,
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@implements("copy_device_to_file")
def copy_device_to_file(
    ctx: CallContext,
    src: str,
    dest: str,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _copy(
        ctx,
        device_node(ctx, src),
        src,
        ctx.sysroot.resolve(dest),
        dest,
        _file_flags(append),
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@implements("copy_file_to_device")
def copy_file_to_device(
    ctx: CallContext,
    src: str,
    dest: str,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _no_append(append)
    _copy(
        ctx,
        ctx.sysroot.resolve(src),
        src,
        device_node(ctx, dest),
        dest,
        os.O_WRONLY,
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@implements("copy_file_to_file")
def copy_file_to_file(
    ctx: CallContext,
    src: str,
    dest: str,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _copy(
        ctx,
        ctx.sysroot.resolve(src),
        src,
        ctx.sysroot.resolve(dest),
        dest,
        _file_flags(append),
        unlink_on_failure=True,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


def _dev_or_path(ctx: CallContext, name: str) -> str:
    return device_node(ctx, name) if name.startswith("/dev/") else ctx.sysroot.resolve(name)


@implements("copy_size")
def copy_size(ctx: CallContext, src: str, dest: str, size: int) -> None:
    """The deprecated dd-like copy: exactly ``size`` bytes from the start of each."""
    try:
        src_fd = os.open(_dev_or_path(ctx, src), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, src) from None
    flags = os.O_WRONLY | os.O_CLOEXEC
    if not dest.startswith("/dev/"):
        flags |= os.O_CREAT | os.O_TRUNC | os.O_NOCTTY
    try:
        dest_fd = os.open(_dev_or_path(ctx, dest), flags, 0o666)
    except OSError as e:
        os.close(src_fd)
        raise AgentError.from_os(e, dest) from None
    try:
        position = 0
        while position < size:
            try:
                data = os.read(src_fd, min(_BLOCK, size - position))
            except OSError as e:
                raise AgentError.from_os(e, f"{src}: read") from None
            if not data:
                raise AgentError(f"{src}: input file too short")
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(dest_fd, view) :]
            except OSError as e:
                raise AgentError.from_os(e, f"{dest}: write") from None
            position += len(data)
            ctx.progress(position, size)
    finally:
        os.close(src_fd)
        os.close(dest_fd)


# -- xfs -------------------------------------------------------------------------------------

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


def _parse_xfs_info(out: str) -> dict[str, str | int]:
    """xfs_info's text → the xfsinfo struct. Fields it does not print stay all-ones (the
    C daemon's -1 in an unsigned field), strings stay empty."""
    from ..protocol.types import STRUCTS, FieldType

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


@implements("xfs_info")
def xfs_info(ctx: CallContext, pathordevice: str) -> dict[str, str | int]:
    target = (
        device_node(ctx, pathordevice)
        if pathordevice.startswith("/dev/")
        else ctx.sysroot.resolve(pathordevice)
    )
    rc, out, err = _exec(ctx, ["xfs_info", target])
    if rc != 0:
        raise AgentError(ctx.sysroot.hide(err))
    return _parse_xfs_info(ctx.sysroot.hide(out))


@implements("xfs_admin")
def xfs_admin(
    ctx: CallContext,
    device: str,
    *,
    extunwritten: bool | None = None,
    imgfile: bool | None = None,
    v2log: bool | None = None,
    projid32bit: bool | None = None,
    lazycounter: bool | None = None,
    label: str | None = None,
    uuid: str | None = None,
) -> None:
    opts: list[str] = []
    for flag, on in (("-e", extunwritten), ("-f", imgfile), ("-j", v2log), ("-p", projid32bit)):
        if on:
            opts.append(flag)
    if lazycounter is not None:
        opts += ["-c", "1" if lazycounter else "0"]
    if label is not None:
        if len(label.encode()) > XFS_LABEL_MAX:
            raise AgentError(f"{label}: xfs labels are limited to {XFS_LABEL_MAX} bytes")
        opts += ["-L", label]
    if uuid is not None:
        opts += ["-U", uuid]
    _xfs_admin(ctx, device, *opts)


@implements("xfs_growfs")
def xfs_growfs(
    ctx: CallContext,
    path: str,
    *,
    datasec: bool | None = None,
    logsec: bool | None = None,
    rtsec: bool | None = None,
    datasize: int | None = None,
    logsize: int | None = None,
    rtsize: int | None = None,
    rtextsize: int | None = None,
    maxpct: int | None = None,
) -> None:
    argv = ["xfs_growfs"]
    for flag, on in (("-d", datasec), ("-l", logsec), ("-r", rtsec)):
        if on:
            argv.append(flag)
    for flag, value, name in (
        ("-D", datasize, "datasize"),
        ("-L", logsize, "logsize"),
        ("-R", rtsize, "rtsize"),
        ("-e", rtextsize, "rtextsize"),
        ("-m", maxpct, "maxpct"),
    ):
        if value is not None:
            if value < 0:
                raise AgentError(f"{name} must be >= 0")
            argv += [flag, str(value)]
    rc, _out, err = _exec(ctx, [*argv, ctx.sysroot.resolve(path)])
    if rc != 0:
        raise AgentError(f"{path}: {ctx.sysroot.hide(err)}")


@implements("xfs_repair")
def xfs_repair(
    ctx: CallContext,
    device: str,
    *,
    forcelogzero: bool | None = None,
    nomodify: bool | None = None,
    noprefetch: bool | None = None,
    forcegeometry: bool | None = None,
    maxmem: int | None = None,
    ihashsize: int | None = None,
    bhashsize: int | None = None,
    agstride: int | None = None,
    logdev: str | None = None,
    rtdev: str | None = None,
) -> int:
    argv = ["xfs_repair"]
    for flag, on in (("-L", forcelogzero), ("-n", nomodify), ("-P", noprefetch)):
        if on:
            argv.append(flag)
    if forcegeometry:
        argv += ["-o", "force_geometry"]
    if maxmem is not None:
        if maxmem < 0:
            raise AgentError("maxmem must be >= 0")
        argv += ["-m", str(maxmem)]
    for prefix, value, name in (
        ("ihash=", ihashsize, "ihashsize"),
        ("bhash=", bhashsize, "bhashsize"),
        ("ag_stride=", agstride, "agstride"),
    ):
        if value is not None:
            if value < 0:
                raise AgentError(f"{name} must be >= 0")
            argv += ["-o", f"{prefix}{value}"]
    # logdev and rtdev go to xfs_repair as given, as guestfsd passes them.
    if logdev is not None:
        argv += ["-l", logdev]
    if rtdev is not None:
        argv += ["-r", rtdev]
    if device.startswith("/dev/"):
        argv.append(device_node(ctx, device))
    else:
        argv += ["-f", ctx.sysroot.resolve(device)]
    rc, _out, _err = _exec(ctx, argv)
    return rc  # 0 clean, 1 corruption found (with nomodify): the caller reads the status
