"""LVM: physical volumes, volume groups and logical volumes.

Numbers, argument names and return types are libguestfs 1.48's (``generator/
actions_core.ml``, ``actions_core_deprecated.ml``). ``group="lvm2"`` marks the APIs that
1.48 declares ``optional = Some "lvm2"``; the others (renames, UUIDs, canonical names,
scans) work wherever the daemon runs.
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    # -- listing ------------------------------------------------------------------------
    _def("pvs", 9, "", "RStringList", "list the LVM physical volumes", group="lvm2"),
    _def("vgs", 10, "", "RStringList", "list the LVM volume groups", group="lvm2"),
    _def("lvs", 11, "", "RStringList", "list the LVM logical volumes", group="lvm2"),
    _def(
        "pvs_full",
        12,
        "",
        "RStructList lvm_pv",
        "list the LVM physical volumes with all their fields",
        group="lvm2",
    ),
    _def(
        "vgs_full",
        13,
        "",
        "RStructList lvm_vg",
        "list the LVM volume groups with all their fields",
        group="lvm2",
    ),
    _def(
        "lvs_full",
        14,
        "",
        "RStructList lvm_lv",
        "list the LVM logical volumes with all their fields",
        group="lvm2",
    ),
    # -- creating -----------------------------------------------------------------------
    _def(
        "pvcreate",
        39,
        "Device device",
        "RErr",
        "make a device an LVM physical volume",
        group="lvm2",
    ),
    _def(
        "vgcreate",
        40,
        "String volgroup, StringList physvols",
        "RErr",
        "create a volume group from physical volumes",
        group="lvm2",
    ),
    _def(
        "lvcreate",
        41,
        "String logvol, String volgroup, Int mbytes",
        "RErr",
        "create a logical volume of a size in megabytes",
        group="lvm2",
    ),
    _def(
        "lvcreate_free",
        312,
        "String logvol, String volgroup, Int percent",
        "RErr",
        "create a logical volume from a percentage of the group's free space",
        group="lvm2",
    ),
    # -- removing -----------------------------------------------------------------------
    _def(
        "lvm_remove_all",
        48,
        "",
        "RErr",
        "remove every logical volume, volume group and physical volume",
        group="lvm2",
    ),
    _def(
        "lvremove",
        77,
        "Device device",
        "RErr",
        "remove a logical volume (or all of a group's, given /dev/VG)",
        group="lvm2",
    ),
    _def(
        "vgremove", 78, "String vgname", "RErr", "remove a volume group and its LVs", group="lvm2"
    ),
    _def("pvremove", 79, "Device device", "RErr", "wipe the LVM label of a device", group="lvm2"),
    # -- resizing -----------------------------------------------------------------------
    _def(
        "pvresize",
        98,
        "Device device",
        "RErr",
        "grow or shrink a physical volume to its device's size",
        group="lvm2",
    ),
    _def(
        "pvresize_size",
        249,
        "Device device, Int64 size",
        "RErr",
        "resize a physical volume to a size in bytes",
        group="lvm2",
    ),
    _def(
        "lvresize",
        105,
        "Device device, Int mbytes",
        "RErr",
        "resize a logical volume to a size in megabytes",
        group="lvm2",
    ),
    _def(
        "lvresize_free",
        238,
        "Device lv, Int percent",
        "RErr",
        "grow a logical volume by a percentage of the group's free space",
        group="lvm2",
    ),
    # -- activation and scanning --------------------------------------------------------
    _def(
        "vg_activate_all",
        103,
        "Bool activate",
        "RErr",
        "activate or deactivate every volume group",
        group="lvm2",
    ),
    _def(
        "vg_activate",
        104,
        "Bool activate, StringList volgroups",
        "RErr",
        "activate or deactivate the named volume groups (all of them if none named)",
        group="lvm2",
    ),
    _def("vgscan", 232, "", "RErr", "rescan the disks for LVM (deprecated: use lvm_scan)"),
    _def(
        "lvm_scan",
        506,
        "Bool activate",
        "RErr",
        "rescan the disks for LVM, optionally activating what is found",
    ),
    _def(
        "lvm_set_filter",
        255,
        "StringList devices",
        "RErr",
        "make LVM see only these devices (and the partitions of whole disks)",
        group="lvm2",
    ),
    _def("lvm_clear_filter", 256, "", "RErr", "let LVM see every disk again"),
    # -- renaming and UUIDs -------------------------------------------------------------
    _def("lvrename", 219, "String logvol, String newlogvol", "RErr", "rename a logical volume"),
    _def("vgrename", 220, "String volgroup, String newvolgroup", "RErr", "rename a volume group"),
    _def("pvuuid", 222, "Device device", "RString", "the UUID of a physical volume"),
    _def("vguuid", 223, "String vgname", "RString", "the UUID of a volume group"),
    _def("lvuuid", 224, "Device device", "RString", "the UUID of a logical volume"),
    _def("vgpvuuids", 225, "String vgname", "RStringList", "the UUIDs of a group's PVs"),
    _def("vglvuuids", 226, "String vgname", "RStringList", "the UUIDs of a group's LVs"),
    _def(
        "pvchange_uuid",
        338,
        "Device device",
        "RErr",
        "give a physical volume a new random UUID",
        group="lvm2",
    ),
    _def(
        "pvchange_uuid_all",
        339,
        "",
        "RErr",
        "give every physical volume a new random UUID",
        group="lvm2",
    ),
    _def(
        "vgchange_uuid",
        340,
        "String vg",
        "RErr",
        "give a volume group a new random UUID",
        group="lvm2",
    ),
    _def(
        "vgchange_uuid_all",
        341,
        "",
        "RErr",
        "give every volume group a new random UUID",
        group="lvm2",
    ),
    # -- names --------------------------------------------------------------------------
    _def("is_lv", 264, "Mountable mountable", "RBool", "test if a device is a logical volume"),
    _def(
        "lvm_canonical_lv_name",
        277,
        "String lvname",
        "RString",
        "the /dev/VG/LV name of a logical volume known by another name",
    ),
    _def(
        "list_dm_devices",
        287,
        "",
        "RStringList",
        "list the device-mapper devices that are not logical volumes",
    ),
    _def(
        "vgmeta",
        315,
        "String vgname",
        "RBufferOut",
        "the volume group's LVM metadata, as vgcfgbackup writes it",
        group="lvm2",
    ),
)
