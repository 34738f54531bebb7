"""The ``filesystems`` family: whole filesystems, whatever their type: type, label and
UUID, listing, making, checking, minimum size, free space, trimming (``daemon/blkid.c``,
``labels.c``, ``uuids.c``, ``listfs.ml``, ``mkfs.c``, ``fsck.c``, ``fs-min-size.c``,
``df.c``, ``fstrim.c``, ``statvfs.c``, ``du.c`` of 1.48). What the type-specific families
share with this one is in :mod:`pyguestfs.agent.fstools`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import tempfile

from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..fstools import (
    EXTFS,
    SWAP_LABEL_MAX,
    blkid_tag,
    check_ext_label,
    check_xfs_label,
    command,
    commandr,
    fs_label,
    fs_type,
    literal,
    parse_xfs_info,
    power_of_2,
    set_ext_label,
    set_ext_uuid,
    tune2fs_list,
    wipefs_argv,
    xfs_admin,
)
from ..guest import lv_canonical_name, mounts_under
from ..iso9660 import read_pvd
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath, Mountable

provides_group("fstrim", has_program("fstrim"))
provides_group("zerofree", has_program("zerofree"))


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


def _device(mountable: Mountable) -> Device:
    """The device a Mountable argument names (a btrfs volume's is its filesystem's)."""
    assert mountable.device is not None  # a Mountable argument always names a device
    return mountable.device


@procedure("vfs_type")
def vfs_type(call: CallContext, mountable: Mountable) -> str:
    return fs_type(call, _device(mountable).node, mountable)


@procedure("vfs_label")
def vfs_label(call: CallContext, mountable: Mountable) -> str:
    return fs_label(call, _device(mountable).node, mountable)


@procedure("vfs_uuid")
def vfs_uuid(call: CallContext, mountable: Mountable) -> str:
    return blkid_tag(call, _device(mountable).node, mountable, "UUID")


@procedure("blkid")
def blkid(call: CallContext, device: Device) -> list[tuple[str, str]]:
    out = command(call, ["blkid", "-c", "/dev/null", "-p", "-i", "-o", "export", device.node])
    pairs = []
    for line in out.splitlines():
        key, eq, value = line.partition("=")
        if line and eq:
            pairs.append((key, value))
    return pairs


def _btrfstune(call: CallContext, device: Device, *opts: str) -> None:
    # guestfsd runs btrfstune with commandr and checks only that it could run it, so a
    # failing btrfstune is not reported; we do the same.
    commandr(call, ["btrfstune", "-f", *opts, device.node])


@procedure("set_label")
def set_label(call: CallContext, mountable: Mountable, label: str) -> None:
    node = _device(mountable).node
    kind = fs_type(call, node, mountable)
    if kind == "btrfs":
        command(call, ["btrfs", "filesystem", "label", node, label])
    elif kind in ("msdos", "fat", "vfat"):
        command(call, ["dosfslabel", node, label])
    elif kind in EXTFS:
        set_ext_label(call, node, label)
    elif kind == "ntfs":
        command(call, ["ntfslabel", node, label])
    elif kind == "xfs":
        if label == "---":  # xfs_admin's "clear the label" value
            raise AgentError("xfs: invalid new label")
        check_xfs_label(label)
        xfs_admin(call, node, mountable, "-L", label)
    elif kind == "swap":
        if len(label.encode()) > SWAP_LABEL_MAX:
            raise AgentError(f"{label}: Linux swap labels are limited to {SWAP_LABEL_MAX} bytes")
        command(call, ["swaplabel", "-L", label, node])
    else:
        raise AgentError(f"don't know how to set the label for '{kind}' filesystems", "ENOTSUP")


@procedure("set_uuid")
def set_uuid(call: CallContext, device: Device, uuid: str) -> None:
    kind = blkid_tag(call, device.node, device, "TYPE")
    if kind in EXTFS:
        if uuid in ("clear", "random", "time"):  # tune2fs's magic words are refused here
            raise AgentError("e2: invalid new UUID")
        set_ext_uuid(call, device.node, uuid)
    elif kind == "xfs":
        if uuid in ("nil", "generate"):
            raise AgentError("xfs: invalid new UUID")
        xfs_admin(call, device.node, device, "-U", uuid)
    elif kind == "swap":
        command(call, ["swaplabel", "-U", uuid, device.node])
    elif kind == "btrfs":
        _btrfstune(call, device, "-U", uuid)
    else:
        raise AgentError(f"don't know how to set the UUID for '{kind}' filesystems", "ENOTSUP")


def _random_uuid() -> str:
    with open("/proc/sys/kernel/random/uuid") as f:
        return f.read().strip()


@procedure("set_uuid_random")
def set_uuid_random(call: CallContext, device: Device) -> None:
    kind = blkid_tag(call, device.node, device, "TYPE")
    if kind in EXTFS:
        set_ext_uuid(call, device.node, "random")
    elif kind == "xfs":
        xfs_admin(call, device.node, device, "-U", "generate")
    elif kind == "swap":
        command(call, ["swaplabel", "-U", _random_uuid(), device.node])
    elif kind == "btrfs":
        _btrfstune(call, device, "-u")
    else:
        raise AgentError(
            f"don't know how to set the random UUID for '{kind}' filesystems", "ENOTSUP"
        )


def _partition_table(node: str) -> dict[int, tuple[str, str]]:
    """partition number → (table label "dos"/"gpt"/..., type) from sfdisk, {} if none."""
    done = runner.run(["sfdisk", "--json", node], check=False)
    if done.status != 0:
        return {}
    try:
        table = json.loads(done.out)["partitiontable"]
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


def _logical_volumes(call: CallContext) -> list[str]:
    if not has_program("lvm")():
        return []
    rc, out, _err = commandr(
        call,
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


def _btrfs_subvolumes(node: str) -> list[str]:
    """Subvolume paths of a btrfs filesystem except the default one (mounted briefly)."""
    with tempfile.TemporaryDirectory(prefix="btrfs.") as mp:
        if runner.run(["mount", "-o", "ro", node, mp], check=False).status:
            return []
        try:
            default = runner.run(["btrfs", "subvolume", "get-default", mp]).out.split()
            default_id = default[1] if len(default) > 1 else "5"
            out = runner.run(["btrfs", "subvolume", "list", mp]).out
        except AgentError:
            return []
        finally:
            runner.run(["umount", mp], check=False)
    paths = []
    for line in out.splitlines():
        # "ID 256 gen 7 top level 5 path sub"
        fields = line.split(None, 8)
        if len(fields) == 9 and fields[1] != default_id:
            paths.append(fields[8])
    return paths


@procedure("list_filesystems")
def list_filesystems(call: CallContext) -> list[tuple[str, str]]:
    """Every filesystem, by the appliance's node (the dispatcher names them as the user
    does): whole disks without partitions, partitions that can hold one, LVs."""
    devices = call.agent.devices
    if devices is None:
        return []
    found: list[tuple[str, str]] = []

    def check(node: str) -> None:
        try:
            kind = fs_type(call, node, node)
        except AgentError:
            kind = ""
        if kind == "":
            found.append((node, "unknown"))
        elif kind.endswith("_member") or kind in ("crypto_LUKS", "BitLocker"):
            return  # containers (LVM PVs, RAID members, encrypted), not filesystems
        elif kind == "btrfs":
            found.append((node, kind))
            found.extend((f"btrfsvol:{node}/{path}", "btrfs") for path in _btrfs_subvolumes(node))
        else:
            found.append((node, kind))

    disks = devices.kernel_disks()
    for disk in disks:
        if not devices.partitions_of(disk):
            check(os.path.join(devices.dev, disk))
    for disk in disks:
        parts = [p for p in devices.partitions_of(disk) if p[-1].isdigit()]
        table = _partition_table(os.path.join(devices.dev, disk)) if parts else {}
        for part in parts:
            num = int(re.search(r"(\d+)$", part).group(1))  # type: ignore[union-attr]
            label, ptype = table.get(num, ("", ""))
            if _can_hold_filesystem(label, ptype):
                check(os.path.join(devices.dev, part))
    for lv in _logical_volumes(call):
        check(lv)
    return found


_FAT = ("fat", "vfat", "msdos")


#: BLKSSZGET: the logical sector size of a block device.
_BLKSSZGET = 0x1268


_FAT_HAS_MBR_OPTION: list[bool] = []


def _fat_mbr_option(call: CallContext) -> list[str]:
    """``--mbr=n`` where mkfs.fat has it: newer ones otherwise write a partition table
    into a whole-disk filesystem (RHBZ#1931821). Its usage text says whether it does."""
    if not _FAT_HAS_MBR_OPTION:
        try:
            rc, _out, err = commandr(call, ["mkfs.fat"])
        except AgentError:
            rc, err = -1, ""
        _FAT_HAS_MBR_OPTION.append(rc == 1 and "--mbr[=" in err)
    return ["--mbr=n"] if _FAT_HAS_MBR_OPTION[0] else []


def _sector_size(call: CallContext, device: Device) -> int:
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, _BLKSSZGET, b"\0" * 4))[0])
    except OSError as e:
        raise AgentError.from_os(e, f"blockdev: {device}") from None
    finally:
        os.close(fd)


@procedure("mkfs")
def mkfs(
    call: CallContext,
    fstype: str,
    device: Device,
    *,
    blocksize: int | None = None,
    features: str | None = None,
    inode: int | None = None,
    sectorsize: int | None = None,
    label: str | None = None,
) -> None:
    """mkfs -t fstype with 1.48's per-filesystem spelling of each option."""
    node = device.node
    ext = fstype in EXTFS
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
        argv += _fat_mbr_option(call)
    if blocksize is not None:
        if not power_of_2(blocksize):
            raise AgentError("block size must be > 0 and a power of 2")
        if fstype in ("vfat", "msdos"):
            # FAT counts sectors per cluster.
            ss = _sector_size(call, device)
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
            check_ext_label(label)
            argv += ["-L", label]
        elif fstype in _FAT:
            argv += ["-n", label]
        elif fstype in ("ntfs", "btrfs"):
            argv += ["-L", label]
        elif fstype == "xfs":
            check_xfs_label(label)
            argv += ["-L", label]
        elif fstype == "f2fs":
            argv += ["-l", label]
        else:
            raise AgentError(f"don't know how to set the label for '{fstype}' filesystems")
    # Old signatures confuse blkid and some mkfs (btrfs refuses to overwrite): wipe
    # them first, ignoring failure, as guestfsd does.
    commandr(call, wipefs_argv(call, node))
    command(call, [*argv, node], literal(f"{fstype}: {device}") + ": {err}")


@procedure("mkfs_b")
def mkfs_b(call: CallContext, fstype: str, blocksize: int, device: Device) -> None:
    mkfs(call, fstype, device, blocksize=blocksize)


@procedure("fsck")
def fsck(call: CallContext, fstype: str, device: Device) -> int:
    rc, _out, _err = commandr(call, ["fsck", "-a", "-t", fstype, device.node])
    return rc  # the status word itself is the answer (bits of fsck(8))


def _leading_int(text: str, what: str) -> int:
    m = re.match(r"\s*(-?\d+)", text)
    if not m:
        raise AgentError(f"cannot parse {what}")
    return int(m.group(1))


def _ext_minimum_size(call: CallContext, device: Device) -> int:
    out = command(call, ["resize2fs", "-P", "-f", device.node])
    pattern = "Estimated minimum size of the filesystem: "
    for line in out.splitlines():
        if line.startswith(pattern):
            blocks = _leading_int(line[len(pattern) :], "minimum size")
            sizes = [v for k, v in tune2fs_list(call, device.node) if k == "Block size"]
            if not sizes:
                raise AgentError("missing 'Block size' in tune2fs_l output")
            return blocks * _leading_int(sizes[0], "block size")
    raise AgentError(f"minimum size not found. Check output format:\n{out}")


def _ntfs_minimum_size(call: CallContext, device: Device) -> int:
    rc, out, err = commandr(call, ["ntfsresize", "--info", "-ff", device.node])
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


def _mountpoint_of(call: CallContext, device: Device) -> str:
    """Host path where ``device`` is mounted under the sysroot."""
    for entry in mounts_under(call.sysroot.root):
        if entry.source == device.node:
            return entry.target
    raise AgentError(f"device not mounted: {device}")


@procedure("vfs_minimum_size")
def vfs_minimum_size(call: CallContext, mountable: Mountable) -> int:
    device = _device(mountable)
    kind = fs_type(call, device.node, mountable)
    if kind in EXTFS:
        return _ext_minimum_size(call, device)
    if kind == "ntfs":
        return _ntfs_minimum_size(call, device)
    if kind == "btrfs":
        path = _mountpoint_of(call, device)
        out = command(call, ["btrfs", "inspect-internal", "min-dev-size", path])
        return _leading_int(out, "minimum size")
    if kind == "xfs":
        # XFS cannot shrink: its minimum is its size.
        info = parse_xfs_info(command(call, ["xfs_info", _mountpoint_of(call, device)]))
        return int(info["xfs_blocksize"]) * int(info["xfs_datablocks"])
    raise AgentError(f"don't know how to get minimum size of '{kind}' filesystems", "ENOTSUP")


def _df(call: CallContext, api: str, argv: list[str]) -> str:
    if call.sysroot.mount_required and not os.path.ismount(call.sysroot.root):
        raise AgentError(f"do_{api}: you must call 'mount' first to mount the root filesystem")
    return command(call, argv)


@procedure("df")
def df(call: CallContext) -> str:
    return _df(call, "df", ["df"])


@procedure("df_h")
def df_h(call: CallContext) -> str:
    return _df(call, "df_h", ["df", "-h"])


@procedure("zerofree")
def zerofree(call: CallContext, device: Device) -> None:
    command(call, ["zerofree", device.node], literal(device) + ": {err}")


@procedure("fstrim")
def fstrim(
    call: CallContext,
    mountpoint: GuestPath,
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
    argv.append(mountpoint.host())
    rc, _out, err = commandr(call, argv)
    if rc != 0:
        err = call.sysroot.hide(err)
        if "discard operation is not supported" in err:
            raise AgentError(err, "ENOTSUP")
        raise AgentError(err)


@procedure("statvfs")
def statvfs(call: CallContext, path: GuestPath) -> dict[str, int]:
    try:
        r = os.statvfs(path.host())
    except OSError as e:
        raise AgentError.from_os(e, f"statvfs: {path}") from None
    fields = {
        "bsize": r.f_bsize,
        "frsize": r.f_frsize,
        "blocks": r.f_blocks,
        "bfree": r.f_bfree,
        "bavail": r.f_bavail,
        "files": r.f_files,
        "ffree": r.f_ffree,
        "favail": r.f_favail,
        "fsid": r.f_fsid,
        "flag": r.f_flag,
        "namemax": r.f_namemax,
    }
    # The struct's fields are int64; C copies the unsigned statvfs values across, so a
    # large fsid wraps to a negative number. Do the same rather than fail to encode.
    return {k: v - (1 << 64) if v >= 1 << 63 else v for k, v in fields.items()}


@procedure("du")
def du(call: CallContext, path: GuestPath) -> int:
    out = call.run(["du", "-s", path.host(follow=False)], error=literal(path) + ": {err}").out
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        raise AgentError(f"{path}: could not read output: {out}") from None


# -- findfs (daemon/findfs.ml) ----------------------------------------------------------------


def _findfs(call: CallContext, tag: str, value: str) -> str:
    # A stale blkid cache would answer for filesystems that are gone.
    for cache in ("/etc/blkid/blkid.tab", "/run/blkid/blkid.tab"):
        try:
            os.unlink(cache)
        except OSError:
            pass
    # runner.run, not call.run: the node findfs prints must stay the appliance's, since
    # the dispatcher names a returned Device as the user does (translating it twice gave
    # another disk's name whenever the kernel's names differ from the user's).
    done = runner.run(["findfs", f"{tag}={value}"], check=False)
    if done.status != 0:
        err = call.user_names(done.err).rstrip("\n")
        raise AgentError(f"findfs exited with status {done.status}: {err}")
    out = done.out.strip()
    if out.startswith(("/dev/mapper/", "/dev/dm-")):
        return lv_canonical_name(out) or out
    return out


@procedure("findfs_uuid")
def findfs_uuid(call: CallContext, uuid: str) -> str:
    return _findfs(call, "UUID", uuid)


@procedure("findfs_label")
def findfs_label(call: CallContext, label: str) -> str:
    return _findfs(call, "LABEL", label)


# -- isoinfo (daemon/isoinfo.ml): the primary volume descriptor, read directly ----------------


@procedure("isoinfo_device")
def isoinfo_device(call: CallContext, device: Device) -> dict[str, int | str]:
    return read_pvd(device.node, device)


@procedure("isoinfo")
def isoinfo(call: CallContext, isofile: GuestPath) -> dict[str, int | str]:
    return read_pvd(isofile.host(), isofile)


# -- f2fs_expand (daemon/f2fs.c), mksquashfs (daemon/squashfs.c) -------------------------------

provides_group("f2fs", has_program("resize.f2fs"))
provides_group("squashfs", has_program("mksquashfs"))


@procedure("f2fs_expand")
def f2fs_expand(call: CallContext, device: Device) -> None:
    command(call, ["resize.f2fs", device.node], fold=True)


@procedure("mksquashfs")
def mksquashfs(
    call: CallContext,
    path: GuestPath,
    *,
    compress: str | None = None,
    excludes: list[str] | None = None,
) -> None:
    source = path.host()
    # /var/tmp, not /tmp: the image may not fit in a tmpfs.
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="squashfs.") as work:
        image = os.path.join(work, "image")
        argv = ["mksquashfs", source, image, "-noappend", "-root-becomes", source]
        argv += ["-wildcards", "-no-recovery"]
        if compress is not None:
            argv += ["-comp", compress]
        if excludes is not None:
            listing = os.path.join(work, "excludes")
            with open(listing, "w", encoding="utf-8") as f:
                f.writelines(e + "\n" for e in excludes)
            argv += ["-ef", listing]
        command(call, argv, literal(path) + ": {err}")
        with open(image, "rb") as f:
            call.begin_file_out()
            call.send_file(f.read)
