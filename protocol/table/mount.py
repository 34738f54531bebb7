"""Mounting and unmounting filesystems under the sysroot, mount points, mountables."""

from __future__ import annotations

from ..tabledef import NO_REPLACEMENT, Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "mount",
        1,
        "Mountable mountable, String mountpoint",
        "RErr",
        "mount a guest filesystem at a path of the sysroot",
    ),
    _def(
        "umount",
        45,
        "Dev_or_Path pathordevice",
        "RErr",
        "unmount a filesystem",
        optargs="OBool force, OBool lazyunmount",
        aliases=("umount_opts",),
        fish_aliases=("unmount",),
    ),
    _def("mounts", 46, "", "RStringList Mountable", "the devices mounted under the sysroot"),
    _def(
        "umount_all",
        47,
        "",
        "RErr",
        "unmount every filesystem under the sysroot",
        fish_aliases=("unmount-all",),
    ),
    _def(
        "mount_ro",
        73,
        "Mountable mountable, String mountpoint",
        "RErr",
        "mount a guest filesystem read-only",
    ),
    _def(
        "mount_options",
        74,
        "String options, Mountable mountable, String mountpoint",
        "RErr",
        "mount with options",
    ),
    _def(
        "mount_vfs",
        75,
        "String options, String vfstype, Mountable mountable, String mountpoint",
        "RErr",
        "mount with options and an explicit filesystem type",
    ),
    _def(
        "mount_loop",
        129,
        "Pathname file, Pathname mountpoint",
        "RErr",
        "mount a filesystem image file through a loop device",
    ),
    _def(
        "mountpoints", 147, "", "RHashtable Mountable String", "device to mountpoint of each mount"
    ),
    _def(
        "mkmountpoint",
        148,
        "String exemptpath",
        "RErr",
        "create a mount point outside the guest's root, for multiple-root layouts",
    ),
    _def(
        "rmmountpoint",
        149,
        "String exemptpath",
        "RErr",
        "remove a mount point made by mkmountpoint",
    ),
    _def(
        "list_9p",
        285,
        "",
        "RStringList",
        "the mount tags of the 9p filesystems the appliance can see",
        deprecated_by=NO_REPLACEMENT,
    ),
    _def(
        "mount_9p",
        286,
        "String mounttag, String mountpoint",
        "RErr",
        "mount a 9p filesystem by its tag",
        optargs="OString options",
        deprecated_by=NO_REPLACEMENT,
    ),
    _def(
        "internal_parse_mountable",
        396,
        "Mountable mountable",
        "RStruct internal_mountable",
        "split a mountable into its kind, device and btrfs subvolume",
        internal=True,
    ),
    _def(
        "remount",
        402,
        "Pathname mountpoint",
        "RErr",
        "change a mounted filesystem between read-only and read-write",
        optargs="OBool rw",
    ),
)
