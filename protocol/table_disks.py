"""Devices and partitions: block device queries, partition tables (parted, sfdisk, sgdisk).

Numbers, argument names and return types are libguestfs 1.48's (``generator/actions_core.ml``,
``actions_core_deprecated.ml``). ``list_devices``, ``list_partitions``, ``blockdev_getsize64``,
``part_disk`` and ``part_list`` are in :mod:`table_core`. ``device_index`` and
``canonical_device_name`` are computed by the 1.48 library, not the daemon: they have no
procedure number and are not here.
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def

#: The gdisk group's APIs run sgdisk; guestfsd refuses them with ENOTSUP without it.
_GDISK = {"group": "gdisk"}

PROCEDURES: tuple[Procedure, ...] = (
    # -- which disks the appliance has ----------------------------------------------------
    _def("nr_devices", 336, "", "RInt", "number of whole block devices (disks) added"),
    _def(
        "list_disk_labels",
        369,
        "",
        "RHashtable",
        "map the labels given to add_drive (and label+N for partitions) to devices",
    ),
    _def("is_whole_device", 395, "Device device", "RBool", "test if a device is a whole disk"),
    _def(
        "part_to_dev",
        272,
        "Device partition",
        "RString",
        "the disk a partition is on (/dev/sda1 -> /dev/sda)",
    ),
    _def(
        "part_to_partnum",
        293,
        "Device partition",
        "RInt",
        "the number of a partition (/dev/sda1 -> 1)",
    ),
    # -- tests on paths for device nodes (daemon/is.c) -------------------------------------
    _def(
        "is_blockdev",
        268,
        "Pathname path",
        "RBool",
        "test if a block device",
        optargs="OBool followsymlinks",
        aliases=("is_blockdev_opts",),
    ),
    _def(
        "is_chardev",
        267,
        "Pathname path",
        "RBool",
        "test if a character device",
        optargs="OBool followsymlinks",
        aliases=("is_chardev_opts",),
    ),
    _def(
        "is_fifo",
        269,
        "Pathname path",
        "RBool",
        "test if a FIFO (named pipe)",
        optargs="OBool followsymlinks",
        aliases=("is_fifo_opts",),
    ),
    _def(
        "is_socket",
        271,
        "Pathname path",
        "RBool",
        "test if a Unix domain socket",
        optargs="OBool followsymlinks",
        aliases=("is_socket_opts",),
    ),
    # -- blockdev(8) -----------------------------------------------------------------------
    _def("blockdev_setro", 56, "Device device", "RErr", "set a block device read-only"),
    _def("blockdev_setrw", 57, "Device device", "RErr", "set a block device read-write"),
    _def("blockdev_getro", 58, "Device device", "RBool", "is the block device read-only"),
    _def("blockdev_getss", 59, "Device device", "RInt", "logical sector size in bytes"),
    _def("blockdev_getbsz", 60, "Device device", "RInt", "the kernel's block size of a device"),
    _def(
        "blockdev_setbsz",
        61,
        "Device device, Int blocksize",
        "RErr",
        "deprecated: does nothing (as in libguestfs since RHBZ#1002825)",
    ),
    _def("blockdev_getsz", 62, "Device device", "RInt64", "size in 512-byte sectors"),
    _def("blockdev_flushbufs", 64, "Device device", "RErr", "flush the device's buffers"),
    _def("blockdev_rereadpt", 65, "Device device", "RErr", "make the kernel reread the table"),
    _def(
        "blockdev_setra",
        424,
        "Device device, Int sectors",
        "RErr",
        "set readahead in 512-byte sectors",
    ),
    # -- partition tables with parted ------------------------------------------------------
    _def(
        "part_init",
        208,
        "Device device, String parttype",
        "RErr",
        "create an empty partition table (gpt, mbr/msdos, ...)",
    ),
    _def(
        "part_add",
        209,
        "Device device, String prlogex, Int64 startsect, Int64 endsect",
        "RErr",
        "add a partition from startsect to endsect (negative counts from the end)",
    ),
    _def("part_del", 233, "Device device, Int partnum", "RErr", "delete a partition"),
    _def(
        "part_resize",
        477,
        "Device device, Int partnum, Int64 endsect",
        "RErr",
        "move the end of a partition",
    ),
    _def(
        "part_get_parttype",
        214,
        "Device device",
        "RString",
        "the partition table type (msdos, gpt, ...)",
    ),
    _def(
        "part_set_bootable",
        211,
        "Device device, Int partnum, Bool bootable",
        "RErr",
        "set or clear a partition's bootable flag",
    ),
    _def(
        "part_get_bootable",
        234,
        "Device device, Int partnum",
        "RBool",
        "true if a partition is bootable",
    ),
    _def(
        "part_set_name",
        212,
        "Device device, Int partnum, String name",
        "RErr",
        "set a partition's name (GPT)",
    ),
    _def(
        "part_get_name",
        416,
        "Device device, Int partnum",
        "RString",
        "a partition's name (GPT only)",
    ),
    # -- MBR type bytes with sfdisk ----------------------------------------------------------
    _def(
        "part_get_mbr_id",
        235,
        "Device device, Int partnum",
        "RInt",
        "the MBR type byte of a partition",
    ),
    _def(
        "part_set_mbr_id",
        236,
        "Device device, Int partnum, Int idbyte",
        "RErr",
        "set the MBR type byte of a partition",
    ),
    _def(
        "part_get_mbr_part_type",
        454,
        "Device device, Int partnum",
        "RString",
        "primary, extended or logical",
    ),
    # -- GPT details with sgdisk (group gdisk) -------------------------------------------
    _def(
        "part_set_gpt_type",
        392,
        "Device device, Int partnum, String guid",
        "RErr",
        "set the type GUID of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_get_gpt_type",
        393,
        "Device device, Int partnum",
        "RString",
        "the type GUID of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_set_gpt_guid",
        446,
        "Device device, Int partnum, String guid",
        "RErr",
        "set the unique GUID of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_get_gpt_guid",
        447,
        "Device device, Int partnum",
        "RString",
        "the unique GUID of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_set_gpt_attributes",
        503,
        "Device device, Int partnum, Int64 attributes",
        "RErr",
        "set the attribute flags of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_get_gpt_attributes",
        504,
        "Device device, Int partnum",
        "RInt64",
        "the attribute flags of a GPT partition",
        **_GDISK,
    ),
    _def(
        "part_set_disk_guid",
        459,
        "Device device, String guid",
        "RErr",
        "set the GUID of a GPT-partitioned disk",
        **_GDISK,
    ),
    _def(
        "part_get_disk_guid",
        460,
        "Device device",
        "RString",
        "the GUID of a GPT-partitioned disk",
        **_GDISK,
    ),
    _def(
        "part_set_disk_guid_random",
        461,
        "Device device",
        "RErr",
        "set the GUID of a GPT-partitioned disk to a random value",
        **_GDISK,
    ),
    _def(
        "part_expand_gpt",
        462,
        "Device device",
        "RErr",
        "move the backup GPT header to the end of a grown disk",
        **_GDISK,
    ),
)
