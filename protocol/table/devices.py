"""The guest's disks and partitions: listing them, naming them, telling them apart."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "list_devices",
        7,
        "",
        "RStringList Device",
        "list the guest's disks, /dev/sda ..., the appliance disk hidden",
    ),
    _def("list_partitions", 8, "", "RStringList Device", "list the partitions of every disk"),
    _def(
        "part_to_dev",
        272,
        "Device partition",
        "RString Device",
        "the disk a partition is on (/dev/sda1 -> /dev/sda)",
    ),
    _def(
        "part_to_partnum",
        293,
        "Device partition",
        "RInt",
        "the number of a partition (/dev/sda1 -> 1)",
    ),
    _def("nr_devices", 336, "", "RInt", "number of whole block devices (disks) added"),
    _def(
        "list_disk_labels",
        369,
        "",
        "RHashtable String Device",
        "map the labels given to add_drive (and label+N for partitions) to devices",
    ),
    _def("is_whole_device", 395, "Device device", "RBool", "test if a device is a whole disk"),
)
