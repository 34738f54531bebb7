"""Block devices, partitions, filesystems and mounts: enough to use a disk.

Tools and their arguments are libguestfs 1.48's (``daemon/mount.ml``): mount under the
sysroot. Partition tables (part_disk, part_list ...) are in :mod:`.api_disks`; mkfs and
vfs_type live with the other filesystem APIs in :mod:`.api_filesystems`. Devices are
named as users see them (``/dev/sda1``) and translated to the guest kernel's nodes by
:class:`~pyguestfs.agent.devices.DeviceMap`.
"""

from __future__ import annotations

import errno
import os

from .commands import run
from .context import CallContext
from .errors import AgentError
from .guest import lv_canonical_name
from .registry import implements


def device_node(ctx: CallContext, name: str) -> str:
    devices = ctx.agent.devices
    if devices is None:
        raise AgentError.from_errno(errno.ENOENT, name)  # standalone: no block devices
    return devices.translate(name)


@implements("list_devices")
def list_devices(ctx: CallContext) -> list[str]:
    return ctx.agent.devices.list_devices() if ctx.agent.devices else []


@implements("list_partitions")
def list_partitions(ctx: CallContext) -> list[str]:
    return ctx.agent.devices.list_partitions() if ctx.agent.devices else []


def _mount(ctx: CallContext, options: str, vfstype: str, mountable: str, mountpoint: str) -> None:
    if mountable.startswith("btrfsvol:"):
        # A btrfs subvolume: its device, mounted with subvol= before the caller's options
        # (guestfsd's mount.ml).
        vol = ctx.agent.resolver.mountable("mount_vfs_stub", mountable)
        assert vol.device is not None
        node = vol.device.node
        options = f"subvol={vol.volume}" + (f",{options}" if options else "")
    else:
        node = device_node(ctx, mountable)
    target = ctx.sysroot.resolve(mountpoint if mountpoint.startswith("/") else "/" + mountpoint)
    argv = ["mount"]
    if options:
        argv += ["-o", options]
    if vfstype:
        argv += ["-t", vfstype]
    argv += [node, target]
    try:
        run(argv)
    except AgentError as e:
        raise AgentError(
            f"{mountable} on {mountpoint} (options: '{options}'): {e.message}", e.errno_name
        ) from None


@implements("mount")
def mount(ctx: CallContext, mountable: str, mountpoint: str) -> None:
    _mount(ctx, "", "", mountable, mountpoint)


@implements("mount_ro")
def mount_ro(ctx: CallContext, mountable: str, mountpoint: str) -> None:
    _mount(ctx, "ro", "", mountable, mountpoint)


@implements("mount_options")
def mount_options(ctx: CallContext, options: str, mountable: str, mountpoint: str) -> None:
    _mount(ctx, options, "", mountable, mountpoint)


@implements("mount_vfs")
def mount_vfs(
    ctx: CallContext, options: str, vfstype: str, mountable: str, mountpoint: str
) -> None:
    _mount(ctx, options, vfstype, mountable, mountpoint)


def _sysroot_mounts(ctx: CallContext) -> list[tuple[str, str]]:
    """(source, host mountpoint) of every mount at or below the sysroot, in mount order."""
    root = ctx.sysroot.root
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            source = fields[0]
            mp = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            if mp == root or mp.startswith(root.rstrip("/") + "/"):
                out.append((source, mp))
    return out


@implements("umount")
def umount(
    ctx: CallContext, pathordevice: str, force: bool = False, lazyunmount: bool = False
) -> None:
    if pathordevice.startswith("/dev/"):
        target = device_node(ctx, pathordevice)
    else:
        target = ctx.sysroot.resolve(pathordevice)
    argv = ["umount"]
    if force:
        argv.append("-f")
    if lazyunmount:
        argv.append("-l")
    run([*argv, target], error_prefix=f"{pathordevice}: ")


def umount_all_under_sysroot(ctx: CallContext) -> None:
    """Unmount everything below the sysroot, deepest first (also used by autosync)."""
    for _source, mp in sorted(_sysroot_mounts(ctx), key=lambda m: -len(m[1])):
        run(["umount", mp], error_prefix="umount: ")


@implements("umount_all")
def umount_all(ctx: CallContext) -> None:
    umount_all_under_sysroot(ctx)


def _user_name(ctx: CallContext, source: str) -> str:
    # A mounted LV is named /dev/VG/LV as 1.48 names it (RHBZ#646432), not by the
    # /dev/mapper node the kernel's mount table shows.
    if source.startswith(("/dev/mapper/", "/dev/dm-")):
        canonical = lv_canonical_name(source)
        if canonical is not None:
            return canonical
    return ctx.agent.devices.reverse(source) if ctx.agent.devices else source


@implements("mounts")
def mounts(ctx: CallContext) -> list[str]:
    return [_user_name(ctx, src) for src, _ in _sysroot_mounts(ctx)]


@implements("mountpoints")
def mountpoints(ctx: CallContext) -> list[tuple[str, str]]:
    return [(_user_name(ctx, src), ctx.sysroot.to_guest(mp)) for src, mp in _sysroot_mounts(ctx)]


@implements("sync")
def sync(ctx: CallContext) -> None:
    os.sync()
