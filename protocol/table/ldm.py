"""Windows dynamic disks (LDM) through ldmtool."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "list_ldm_volumes",
        380,
        "",
        "RStringList Device",
        "the volumes of Windows dynamic disks, as device names",
        group="ldm",
    ),
    _def(
        "list_ldm_partitions",
        381,
        "",
        "RStringList Device",
        "the partitions of Windows dynamic disks, as device names",
        group="ldm",
    ),
    _def(
        "ldmtool_create_all",
        382,
        "",
        "RErr",
        "scan for Windows dynamic disks and make device-mapper devices for them",
        group="ldm",
    ),
    _def(
        "ldmtool_remove_all",
        383,
        "",
        "RErr",
        "remove the device-mapper devices of Windows dynamic disks",
        group="ldm",
    ),
    _def(
        "ldmtool_scan",
        384,
        "",
        "RStringList",
        "the GUIDs of the Windows dynamic disk groups found on every device",
        group="ldm",
    ),
    _def(
        "ldmtool_scan_devices",
        385,
        "DeviceList devices",
        "RStringList",
        "the GUIDs of the Windows dynamic disk groups found on some devices",
        group="ldm",
    ),
    _def(
        "ldmtool_diskgroup_name",
        386,
        "String diskgroup",
        "RString",
        "the name of a Windows dynamic disk group",
        group="ldm",
    ),
    _def(
        "ldmtool_diskgroup_volumes",
        387,
        "String diskgroup",
        "RStringList",
        "the volumes of a Windows dynamic disk group",
        group="ldm",
    ),
    _def(
        "ldmtool_diskgroup_disks",
        388,
        "String diskgroup",
        "RStringList Device",
        "the disks of a Windows dynamic disk group",
        group="ldm",
    ),
    _def(
        "ldmtool_volume_type",
        389,
        "String diskgroup, String volume",
        "RString",
        "the type of a Windows dynamic disk volume (simple, spanned, ...)",
        group="ldm",
    ),
    _def(
        "ldmtool_volume_hint",
        390,
        "String diskgroup, String volume",
        "RString",
        "the drive letter hint of a Windows dynamic disk volume",
        group="ldm",
    ),
    _def(
        "ldmtool_volume_partitions",
        391,
        "String diskgroup, String volume",
        "RStringList Device",
        "the partitions of a Windows dynamic disk volume",
        group="ldm",
    ),
)
