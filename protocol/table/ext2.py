"""ext2, ext3 and ext4: tuning, resizing, journals, attributes."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "tune2fs_l",
        55,
        "Device device",
        "RHashtable",
        "the ext2/3/4 superblock as tune2fs -l prints it",
    ),
    _def(
        "set_e2label",
        80,
        "Device device, String label",
        "RErr",
        "set the ext2/3/4 label (deprecated)",
        deprecated_by="set_label",
    ),
    _def(
        "get_e2label",
        81,
        "Device device",
        "RString",
        "the ext2/3/4 label (deprecated)",
        deprecated_by="vfs_label",
    ),
    _def(
        "set_e2uuid",
        82,
        "Device device, String uuid",
        "RErr",
        "set the ext2/3/4 UUID, or clear, random, time (deprecated)",
        deprecated_by="set_uuid",
    ),
    _def(
        "get_e2uuid",
        83,
        "Device device",
        "RString",
        "the ext2/3/4 UUID (deprecated)",
        deprecated_by="vfs_uuid",
    ),
    _def("resize2fs", 106, "Device device", "RErr", "grow an ext2/3/4 filesystem to its device"),
    _def(
        "e2fsck_f",
        108,
        "Device device",
        "RErr",
        "check an ext2/3/4 filesystem, correcting without asking (deprecated)",
        deprecated_by="e2fsck",
    ),
    _def(
        "mke2journal",
        188,
        "Int blocksize, Device device",
        "RErr",
        "make an ext2/3/4 external journal on a device",
        deprecated_by="mke2fs",
    ),
    _def(
        "mke2journal_L",
        189,
        "Int blocksize, String label, Device device",
        "RErr",
        "make an ext2/3/4 external journal with a label",
        deprecated_by="mke2fs",
    ),
    _def(
        "mke2journal_U",
        190,
        "Int blocksize, String uuid, Device device",
        "RErr",
        "make an ext2/3/4 external journal with a UUID",
        group="linuxfsuuid",
        deprecated_by="mke2fs",
    ),
    _def(
        "mke2fs_J",
        191,
        "String fstype, Int blocksize, Device device, Device journal",
        "RErr",
        "make an ext2/3/4 filesystem using an external journal device",
        deprecated_by="mke2fs",
    ),
    _def(
        "mke2fs_JL",
        192,
        "String fstype, Int blocksize, Device device, String label",
        "RErr",
        "make an ext2/3/4 filesystem using the external journal with a label",
        deprecated_by="mke2fs",
    ),
    _def(
        "mke2fs_JU",
        193,
        "String fstype, Int blocksize, Device device, String uuid",
        "RErr",
        "make an ext2/3/4 filesystem using the external journal with a UUID",
        group="linuxfsuuid",
        deprecated_by="mke2fs",
    ),
    _def(
        "resize2fs_size",
        248,
        "Device device, Int64 size",
        "RErr",
        "resize an ext2/3/4 filesystem to a size in bytes",
    ),
    _def(
        "resize2fs_M",
        281,
        "Device device",
        "RErr",
        "shrink an ext2/3/4 filesystem to its minimum size",
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
    _def(
        "e2fsck",
        304,
        "Device device",
        "RErr",
        "check an ext2/3/4 filesystem",
        optargs="OBool correct, OBool forceall",
    ),
    _def(
        "get_e2attrs",
        318,
        "Pathname file",
        "RString",
        "a file's ext2 attribute letters, as lsattr shows them",
    ),
    _def(
        "set_e2attrs",
        319,
        "Pathname file, String attrs",
        "RErr",
        "set (or clear) ext2 attribute letters on a file, as chattr does",
        optargs="OBool clear",
    ),
    _def("get_e2generation", 320, "Pathname file", "RInt64", "a file's ext2 generation number"),
    _def(
        "set_e2generation",
        321,
        "Pathname file, Int64 generation",
        "RErr",
        "set a file's ext2 generation number",
    ),
    _def(
        "mke2fs",
        368,
        "Device device",
        "RErr",
        "make an ext2/3/4 filesystem with any of mke2fs's settings",
        optargs="OInt64 blockscount, OInt64 blocksize, OInt64 fragsize, OInt64 blockspergroup, "
        "OInt64 numberofgroups, OInt64 bytesperinode, OInt64 inodesize, OInt64 journalsize, "
        "OInt64 numberofinodes, OInt64 stridesize, OInt64 stripewidth, OInt64 maxonlineresize, "
        "OInt reservedblockspercentage, OInt mmpupdateinterval, OString journaldevice, "
        "OString label, OString lastmounteddir, OString creatoros, OString fstype, "
        "OString usagetype, OString uuid, OBool forcecreate, OBool writesbandgrouponly, "
        "OBool lazyitableinit, OBool lazyjournalinit, OBool testfs, OBool discard, "
        "OBool quotatype, OBool extent, OBool filetype, OBool flexbg, OBool hasjournal, "
        "OBool journaldev, OBool largefile, OBool quota, OBool resizeinode, OBool sparsesuper, "
        "OBool uninitbg",
    ),
    _def(
        "mklost_and_found",
        374,
        "Pathname mountpoint",
        "RErr",
        "create the lost+found directory at the root of an ext2/3/4 mount",
    ),
)
