"""Filesystems: labels, UUIDs, checks, resizing, zeroing, copying devices.

Numbers, argument names and optional arguments are libguestfs 1.48's
(``generator/actions_core.ml``, ``actions_core_deprecated.ml``, ``proc_nr.ml``).
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def

#: The optional arguments the four copy_* calls share.
_COPY_OPTARGS = "OInt64 srcoffset, OInt64 destoffset, OInt64 size, OBool sparse, OBool append"

PROCEDURES: tuple[Procedure, ...] = (
    # -- labels and UUIDs ---------------------------------------------------------------
    _def("vfs_label", 253, "Mountable mountable", "RString", "the filesystem label"),
    _def("vfs_uuid", 254, "Mountable mountable", "RString", "the filesystem UUID"),
    _def(
        "set_label",
        310,
        "Mountable mountable, String label",
        "RErr",
        "set the filesystem label (ext2/3/4, fat, ntfs, xfs, btrfs, swap)",
    ),
    _def(
        "set_uuid",
        403,
        "Device device, String uuid",
        "RErr",
        "set the filesystem UUID (ext2/3/4, xfs, btrfs, swap)",
    ),
    _def("set_uuid_random", 456, "Device device", "RErr", "set a random filesystem UUID"),
    _def("get_e2label", 81, "Device device", "RString", "the ext2/3/4 label (deprecated)"),
    _def(
        "set_e2label",
        80,
        "Device device, String label",
        "RErr",
        "set the ext2/3/4 label (deprecated)",
    ),
    _def("get_e2uuid", 83, "Device device", "RString", "the ext2/3/4 UUID (deprecated)"),
    _def(
        "set_e2uuid",
        82,
        "Device device, String uuid",
        "RErr",
        "set the ext2/3/4 UUID, or clear, random, time (deprecated)",
    ),
    _def(
        "blkid",
        303,
        "Device device",
        "RHashtable",
        "every tag blkid reports for a device (low-level probe)",
    ),
    _def(
        "list_filesystems",
        476,
        "",
        "RHashtable",
        "every filesystem on devices, partitions and logical volumes, with its type",
    ),
    # -- making and checking ------------------------------------------------------------
    _def(
        "mkfs_b",
        187,
        "String fstype, Int blocksize, Device device",
        "RErr",
        "make a filesystem with a block size (deprecated)",
    ),
    _def(
        "mkfs_btrfs",
        317,
        "StringList devices",
        "RErr",
        "make a btrfs filesystem over one or more devices",
        optargs="OInt64 allocstart, OInt64 bytecount, OString datatype, OInt leafsize, "
        "OString label, OString metadata, OInt nodesize, OInt sectorsize",
        group="btrfs",
    ),
    _def("wipefs", 306, "Device device", "RErr", "wipe filesystem signatures", group="wipefs"),
    _def(
        "fsck",
        84,
        "String fstype, Device device",
        "RInt",
        "run fsck -a and return its exit status",
    ),
    _def(
        "e2fsck",
        304,
        "Device device",
        "RErr",
        "check an ext2/3/4 filesystem",
        optargs="OBool correct, OBool forceall",
    ),
    _def(
        "e2fsck_f",
        108,
        "Device device",
        "RErr",
        "check an ext2/3/4 filesystem, correcting without asking (deprecated)",
    ),
    _def(
        "tune2fs_l",
        55,
        "Device device",
        "RHashtable",
        "the ext2/3/4 superblock as tune2fs -l prints it",
    ),
    _def(
        "tune2fs",
        298,
        "Device device",
        "RErr",
        "adjust ext2/3/4 parameters",
        optargs="OBool force, OInt maxmountcount, OInt mountcount, OString errorbehavior, "
        "OInt64 group, OInt intervalbetweenchecks, OInt reservedblockspercentage, "
        "OString lastmounteddirectory, OInt64 reservedblockscount, OInt64 user",
    ),
    # -- resizing -----------------------------------------------------------------------
    _def("resize2fs", 106, "Device device", "RErr", "grow an ext2/3/4 filesystem to its device"),
    _def(
        "resize2fs_size",
        248,
        "Device device, Int64 size",
        "RErr",
        "resize an ext2/3/4 filesystem to a size in bytes",
    ),
    # proc_nr.ml gives 281; the shared procedure list lost it (it drops names with
    # capitals), so tests/test_procedures.py lists it beside the file.
    _def(
        "resize2fs_M",
        281,
        "Device device",
        "RErr",
        "shrink an ext2/3/4 filesystem to its minimum size",
    ),
    _def(
        "vfs_minimum_size",
        457,
        "Mountable mountable",
        "RInt64",
        "the smallest size a filesystem can be shrunk to",
    ),
    # -- space ----------------------------------------------------------------------------
    _def("df", 125, "", "RString", "df of the appliance's mounts"),
    _def("df_h", 126, "", "RString", "df -h of the appliance's mounts"),
    _def(
        "zerofree",
        97,
        "Device device",
        "RErr",
        "zero the unused blocks of an ext2/3/4 filesystem",
        group="zerofree",
    ),
    _def(
        "fstrim",
        334,
        "Pathname mountpoint",
        "RErr",
        "discard the unused blocks of a mounted filesystem",
        optargs="OInt64 offset, OInt64 length, OInt64 minimumfreeextent",
        group="fstrim",
    ),
    _def("zero", 85, "Device device", "RErr", "zero the first 128 KiB of a device", progress=True),
    _def("zero_device", 228, "Device device", "RErr", "zero a whole device", progress=True),
    _def(
        "zero_free_space",
        311,
        "Pathname directory",
        "RErr",
        "fill the free space of a filesystem with zeroes, then free it",
        progress=True,
    ),
    # -- copying ---------------------------------------------------------------------------
    _def(
        "copy_device_to_device",
        294,
        "Device src, Device dest",
        "RErr",
        "copy bytes from a device to a device",
        optargs=_COPY_OPTARGS,
        progress=True,
    ),
    _def(
        "copy_device_to_file",
        295,
        "Device src, Pathname dest",
        "RErr",
        "copy bytes from a device to a file",
        optargs=_COPY_OPTARGS,
        progress=True,
    ),
    _def(
        "copy_file_to_device",
        296,
        "Pathname src, Device dest",
        "RErr",
        "copy bytes from a file to a device",
        optargs=_COPY_OPTARGS,
        progress=True,
    ),
    _def(
        "copy_file_to_file",
        297,
        "Pathname src, Pathname dest",
        "RErr",
        "copy bytes from a file to a file",
        optargs=_COPY_OPTARGS,
        progress=True,
    ),
    _def(
        "copy_size",
        227,
        "Dev_or_Path src, Dev_or_Path dest, Int64 size",
        "RErr",
        "copy the first size bytes of a device or file (deprecated)",
        progress=True,
    ),
    # -- xfs -------------------------------------------------------------------------------
    _def(
        "xfs_info",
        337,
        "Dev_or_Path pathordevice",
        "RStruct xfsinfo",
        "geometry of an xfs filesystem",
        group="xfs",
    ),
    _def(
        "xfs_admin",
        349,
        "Device device",
        "RErr",
        "change parameters of an unmounted xfs filesystem",
        optargs="OBool extunwritten, OBool imgfile, OBool v2log, OBool projid32bit, "
        "OBool lazycounter, OString label, OString uuid",
        group="xfs",
    ),
    _def(
        "xfs_growfs",
        343,
        "Pathname path",
        "RErr",
        "grow a mounted xfs filesystem",
        optargs="OBool datasec, OBool logsec, OBool rtsec, OInt64 datasize, OInt64 logsize, "
        "OInt64 rtsize, OInt64 rtextsize, OInt maxpct",
        group="xfs",
    ),
    _def(
        "xfs_repair",
        366,
        "Dev_or_Path device",
        "RInt",
        "check and repair an xfs filesystem; the status says what it found",
        optargs="OBool forcelogzero, OBool nomodify, OBool noprefetch, OBool forcegeometry, "
        "OInt64 maxmem, OInt64 ihashsize, OInt64 bhashsize, OInt64 agstride, "
        "OString logdev, OString rtdev",
        group="xfs",
    ),
)
