"""The ``mount`` family: mounting under the sysroot and reading the mount table.

Tools and arguments are libguestfs 1.48's (``daemon/mount.ml``, ``mount.c``): mount(8)
and umount(8) on the sysroot. The mount table is :func:`pyguestfs.agent.guest.mounts_under`;
sources are returned as the appliance's nodes and renamed by the dispatcher.
"""

from __future__ import annotations

import os

from .. import kmount
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
    if vfstype and kmount.mount(mountable.device.node, target, vfstype, options):
        return
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
    if not isinstance(pathordevice, Device) and kmount.umount(
        target, force=force, lazy=lazyunmount
    ):
        return
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


@procedure("mount_loop")
def mount_loop(call: CallContext, file: GuestPath, mountpoint: GuestPath) -> None:
    call.run(
        ["mount", "-o", "loop", file.host(), mountpoint.host()],
        error=literal(f"{file} on {mountpoint}") + ": {err}",
    )


@procedure("remount")
def remount(call: CallContext, mountpoint: GuestPath, *, rw: bool | None = None) -> None:
    # 1.48 has rw as its only setting, so it must be given.
    if rw is None:
        raise AgentError("parameter 'rw' must be specified")
    options = "remount,rw" if rw else "remount,ro"
    call.run(
        ["mount", "-o", options, mountpoint.host()],
        error=literal(f"{mountpoint}: {options}") + ": {err}",
    )


def _exempt_path(call: CallContext, path: str) -> str:
    """mkmountpoint and rmmountpoint take a String, not a Pathname: no root needs to be
    mounted, but the path must still be absolute."""
    if not path.startswith("/"):
        # ABS_PATH names the C function it is in: do_mkmountpoint, do_rmmountpoint.
        raise AgentError(f"do_{call.proc.name}: path must start with a / character")
    return call.sysroot.resolve(path, follow=False)


@procedure("mkmountpoint")
def mkmountpoint(call: CallContext, exemptpath: str) -> None:
    try:
        os.mkdir(_exempt_path(call, exemptpath), 0o777)
    except OSError as e:
        raise AgentError.from_os(e, exemptpath) from None


@procedure("rmmountpoint")
def rmmountpoint(call: CallContext, exemptpath: str) -> None:
    try:
        os.rmdir(_exempt_path(call, exemptpath))
    except OSError as e:
        raise AgentError.from_os(e, exemptpath) from None


#: ``mountable_type_t`` of 1.48's daemon.h.
_MOUNTABLE_DEVICE, _MOUNTABLE_BTRFSVOL = 0, 1


@procedure("internal_parse_mountable")
def internal_parse_mountable(call: CallContext, mountable: Mountable) -> dict[str, int | str]:
    assert mountable.device is not None
    return {
        "im_type": _MOUNTABLE_BTRFSVOL if mountable.is_btrfsvol else _MOUNTABLE_DEVICE,
        "im_device": call.agent.resolver.reverse(mountable.device.node),
        "im_volume": mountable.volume or "",
    }


# 9p: 1.48's daemon answers both calls with an error (9p support was removed in 1.48),
# whatever devices the appliance has. It words it with reply_with_perror while errno is 0,
# so glibc's strerror(0) ends the message, and no errno name is sent.
_NO_9P = "9p support was removed in libguestfs 1.48: Success"


@procedure("list_9p")
def list_9p(call: CallContext) -> list[str]:
    raise AgentError(_NO_9P)


@procedure("mount_9p")
def mount_9p(
    call: CallContext, mounttag: str, mountpoint: str, *, options: str | None = None
) -> None:
    raise AgentError(_NO_9P)
