"""The old sfdisk-based partitioning calls and disk geometries."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "sfdisk",
        43,
        "Device device, Int cyls, Int heads, Int sectors, StringList lines",
        "RErr",
        "partition a device with sfdisk lines (cyls, heads, sectors 0: guessed)",
        deprecated_by="part_add",
    ),
    _def(
        "sfdisk_N",
        99,
        "Device device, Int partnum, Int cyls, Int heads, Int sectors, String line",
        "RErr",
        "change one partition of a device with an sfdisk line",
        deprecated_by="part_add",
    ),
    _def(
        "sfdisk_l",
        100,
        "Device device",
        "RString Device",
        "the partition table of a device, as sfdisk -l prints it",
        deprecated_by="part_list",
    ),
    _def(
        "sfdisk_kernel_geometry",
        101,
        "Device device",
        "RString",
        "the device geometry the kernel reports",
    ),
    _def(
        "sfdisk_disk_geometry",
        102,
        "Device device",
        "RString",
        "the device geometry the partition table implies",
    ),
    _def(
        "sfdiskM",
        139,
        "Device device, StringList lines",
        "RErr",
        "partition a device with sfdisk lines, sizes in megabytes",
        deprecated_by="part_add",
    ),
)
