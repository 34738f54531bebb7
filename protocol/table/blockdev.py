"""Block device settings and sizes (blockdev)."""

from __future__ import annotations

from ..tabledef import NO_REPLACEMENT, Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
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
        deprecated_by=NO_REPLACEMENT,
    ),
    _def("blockdev_getsz", 62, "Device device", "RInt64", "size in 512-byte sectors"),
    _def("blockdev_getsize64", 63, "Device device", "RInt64", "size of a device in bytes"),
    _def("blockdev_flushbufs", 64, "Device device", "RErr", "flush the device's buffers"),
    _def("blockdev_rereadpt", 65, "Device device", "RErr", "make the kernel reread the table"),
    _def(
        "blockdev_setra",
        424,
        "Device device, Int sectors",
        "RErr",
        "set readahead in 512-byte sectors",
    ),
)
