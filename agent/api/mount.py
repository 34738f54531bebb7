"""The ``mount`` family: mounting under the sysroot and reading the mount table.

Tools and arguments are libguestfs 1.48's (``daemon/mount.ml``, ``mount.c``): mount(8)
and umount(8) on the sysroot. The mount table is :func:`pyguestfs.agent.guest.mounts_under`;
sources are returned as the appliance's nodes and renamed by the dispatcher.
"""

from __future__ import annotations

from ..context import CallContext
from ..errors import AgentError
from ..guest import lv_canonical_name, mounts_under
from ..guest import umount_all as umount_sysroot
from ..registry import procedure
from ..resolve import Device, GuestPath, Mountable
from ..runner import literal


def _mount(
    call: CallContext, options: str, vfstype: str, mountable: Mountable, mountpoint: str
) -> None:
    assert mountable.device is not None  # a Mountable argument always names a device
    target = call.sysroot.resolve(mountpoint if mountpoint.startswith("/") else "/" + mountpoint)
    if mountable.volume is not None:  # btrfsvol:DEV/VOL mounts DEV's subvolume VOL
        subvol = f"subvol={mountable.volume}"
        options = f"{subvol},{options}" if options else subvol
    argv = ["mount"]
    if options:
        argv += ["-o", options]
    if vfstype:
        argv += ["-t", vfstype]
    argv += [mountable.device.node, target]
    try:
        call.run(argv)
    except AgentError as e:
        raise AgentError(
            f"{mountable} on {mountpoint} (options: '{options}'): {e.message}", e.errno_name
        ) from None


@procedure("mount")
def mount(call: CallContext, mountable: Mountable, mountpoint: str) -> None:
    _mount(call, "", "", mountable, mountpoint)


@procedure("mount_ro")
def mount_ro(call: CallContext, mountable: Mountable, mountpoint: str) -> None:
    _mount(call, "ro", "", mountable, mountpoint)


@procedure("mount_options")
def mount_options(call: CallContext, options: str, mountable: Mountable, mountpoint: str) -> None:
    _mount(call, options, "", mountable, mountpoint)


@procedure("mount_vfs")
def mount_vfs(
    call: CallContext, options: str, vfstype: str, mountable: Mountable, mountpoint: str
) -> None:
    _mount(call, options, vfstype, mountable, mountpoint)


@procedure("umount")
def umount(
    call: CallContext,
    pathordevice: Device | GuestPath,
    force: bool = False,
    lazyunmount: bool = False,
) -> None:
    target = pathordevice.node if isinstance(pathordevice, Device) else pathordevice.host()
    argv = ["umount"]
    if force:
        argv.append("-f")
    if lazyunmount:
        argv.append("-l")
    call.run([*argv, target], error=literal(pathordevice) + ": {err}")


@procedure("umount_all")
def umount_all(call: CallContext) -> None:
    umount_sysroot(call.sysroot.root)


def _source(source: str) -> str:
    # A mounted LV is named /dev/VG/LV as 1.48 names it (RHBZ#646432), not by the
    # /dev/mapper node the kernel's mount table shows.
    if source.startswith(("/dev/mapper/", "/dev/dm-")):
        canonical = lv_canonical_name(source)
        if canonical is not None:
            return canonical
    return source


@procedure("mounts")
def mounts(call: CallContext) -> list[str]:
    return [_source(m.source) for m in mounts_under(call.sysroot.root)]


@procedure("mountpoints")
def mountpoints(call: CallContext) -> list[tuple[str, str]]:
    return [
        (_source(m.source), call.sysroot.to_guest(m.target))
        for m in mounts_under(call.sysroot.root)
    ]
