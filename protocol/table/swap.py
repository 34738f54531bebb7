"""Swap areas: making them and turning them on and off."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "mkswap",
        130,
        "Device device",
        "RErr",
        "make a swap area on a device, maybe with a label and UUID",
        optargs="OString label, OString uuid",
        aliases=("mkswap_opts",),
    ),
    _def(
        "mkswap_L",
        131,
        "String label, Device device",
        "RErr",
        "make a swap area with a label",
        deprecated_by="mkswap",
    ),
    _def(
        "mkswap_U",
        132,
        "String uuid, Device device",
        "RErr",
        "make a swap area with a UUID",
        group="linuxfsuuid",
        deprecated_by="mkswap",
    ),
    _def("swapon_device", 170, "Device device", "RErr", "start swapping to a device"),
    _def("swapoff_device", 171, "Device device", "RErr", "stop swapping to a device"),
    _def("swapon_file", 172, "Pathname file", "RErr", "start swapping to a file"),
    _def("swapoff_file", 173, "Pathname file", "RErr", "stop swapping to a file"),
    _def(
        "swapon_label", 174, "String label", "RErr", "start swapping to the swap area with a label"
    ),
    _def(
        "swapoff_label", 175, "String label", "RErr", "stop swapping to the swap area with a label"
    ),
    _def(
        "swapon_uuid",
        176,
        "String uuid",
        "RErr",
        "start swapping to the swap area with a UUID",
        group="linuxfsuuid",
    ),
    _def(
        "swapoff_uuid",
        177,
        "String uuid",
        "RErr",
        "stop swapping to the swap area with a UUID",
        group="linuxfsuuid",
    ),
    _def("mkswap_file", 178, "Pathname path", "RErr", "make an existing file a swap area"),
)
