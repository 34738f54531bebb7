"""Linux software RAID (md)."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "md_create",
        299,
        "String name, DeviceList devices",
        "RErr",
        "create a Linux software RAID device from devices",
        optargs="OInt64 missingbitmap, OInt nrdevices, OInt spare, OInt64 chunk, OString level",
        group="mdadm",
    ),
    _def("list_md_devices", 300, "", "RStringList Device", "the Linux software RAID devices"),
    _def(
        "md_detail",
        301,
        "Device md",
        "RHashtable",
        "what mdadm reports about a RAID device, as key/value pairs",
        group="mdadm",
    ),
    _def(
        "md_stop",
        302,
        "Device md",
        "RErr",
        "stop a RAID device, freeing its member devices",
        group="mdadm",
    ),
    _def(
        "md_stat",
        316,
        "Device md",
        "RStructList mdstat",
        "the member devices of a RAID device with their role and flags",
        group="mdadm",
    ),
)
