"""Zeroing, wiping, scrubbing and discarding devices and files."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def("zero", 85, "Device device", "RErr", "zero the first 128 KiB of a device", progress=True),
    _def(
        "scrub_device",
        114,
        "Device device",
        "RErr",
        "overwrite a whole device with patterns so its data cannot be recovered",
        group="scrub",
    ),
    _def(
        "scrub_file",
        115,
        "Pathname file",
        "RErr",
        "overwrite a file with patterns, then remove it",
        group="scrub",
    ),
    _def(
        "scrub_freespace",
        116,
        "Pathname dir",
        "RErr",
        "fill a filesystem's free space with patterns, then remove the fill",
        group="scrub",
    ),
    _def("zero_device", 228, "Device device", "RErr", "zero a whole device", progress=True),
    _def("is_zero", 283, "Pathname path", "RBool", "test if every byte of a file is zero"),
    _def("is_zero_device", 284, "Device device", "RBool", "test if every byte of a device is zero"),
    _def("wipefs", 306, "Device device", "RErr", "wipe filesystem signatures", group="wipefs"),
    _def(
        "zero_free_space",
        311,
        "Pathname directory",
        "RErr",
        "fill the free space of a filesystem with zeroes, then free it",
        progress=True,
    ),
    _def(
        "blkdiscard",
        417,
        "Device device",
        "RErr",
        "discard every block of a device (TRIM)",
        group="blkdiscard",
    ),
    _def(
        "blkdiscardzeroes",
        418,
        "Device device",
        "RBool",
        "test if discarded blocks of a device read back as zeroes",
        group="blkdiscardzeroes",
    ),
)
