"""Copying between devices and files, with offsets and sizes."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "dd",
        217,
        "Dev_or_Path src, Dev_or_Path dest",
        "RErr",
        "copy a file or device onto another, as dd does",
        deprecated_by="copy_device_to_device",
    ),
    _def(
        "copy_size",
        227,
        "Dev_or_Path src, Dev_or_Path dest, Int64 size",
        "RErr",
        "copy the first size bytes of a device or file (deprecated)",
        progress=True,
        deprecated_by="copy_device_to_device",
    ),
    _def(
        "copy_device_to_device",
        294,
        "Device src, Device dest",
        "RErr",
        "copy bytes from a device to a device",
        optargs="OInt64 srcoffset, OInt64 destoffset, OInt64 size, OBool sparse, OBool append",
        progress=True,
    ),
    _def(
        "copy_device_to_file",
        295,
        "Device src, Pathname dest",
        "RErr",
        "copy bytes from a device to a file",
        optargs="OInt64 srcoffset, OInt64 destoffset, OInt64 size, OBool sparse, OBool append",
        progress=True,
    ),
    _def(
        "copy_file_to_device",
        296,
        "Pathname src, Device dest",
        "RErr",
        "copy bytes from a file to a device",
        optargs="OInt64 srcoffset, OInt64 destoffset, OInt64 size, OBool sparse, OBool append",
        progress=True,
    ),
    _def(
        "copy_file_to_file",
        297,
        "Pathname src, Pathname dest",
        "RErr",
        "copy bytes from a file to a file",
        optargs="OInt64 srcoffset, OInt64 destoffset, OInt64 size, OBool sparse, OBool append",
        progress=True,
    ),
)
