"""Encrypted devices: LUKS and cryptsetup."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "luks_open",
        257,
        "Device device, Key key, String mapname",
        "RErr",
        "unlock a LUKS device as /dev/mapper/mapname",
        group="luks",
        deprecated_by="cryptsetup_open",
    ),
    _def(
        "luks_open_ro",
        258,
        "Device device, Key key, String mapname",
        "RErr",
        "unlock a LUKS device read-only as /dev/mapper/mapname",
        group="luks",
        deprecated_by="cryptsetup_open",
    ),
    _def(
        "luks_close",
        259,
        "Device device",
        "RErr",
        "lock a LUKS device opened as /dev/mapper/NAME",
        group="luks",
        deprecated_by="cryptsetup_close",
    ),
    _def(
        "luks_format",
        260,
        "Device device, Key key, Int keyslot",
        "RErr",
        "make a device a LUKS device with a key in a slot",
        group="luks",
    ),
    _def(
        "luks_format_cipher",
        261,
        "Device device, Key key, Int keyslot, String cipher",
        "RErr",
        "make a device a LUKS device with a key in a slot and a cipher",
        group="luks",
    ),
    _def(
        "luks_add_key",
        262,
        "Device device, Key key, Key newkey, Int keyslot",
        "RErr",
        "add a key to a free slot of a LUKS device",
        group="luks",
    ),
    _def(
        "luks_kill_slot",
        263,
        "Device device, Key key, Int keyslot",
        "RErr",
        "remove the key in a slot of a LUKS device",
        group="luks",
    ),
    _def("luks_uuid", 507, "Device device", "RString", "the UUID of a LUKS device", group="luks"),
    _def(
        "cryptsetup_open",
        508,
        "Device device, Key key, String mapname",
        "RErr",
        "unlock an encrypted device (LUKS, BitLocker ...) as /dev/mapper/mapname",
        optargs="OBool readonly, OString crypttype",
        group="luks",
    ),
    _def(
        "cryptsetup_close",
        509,
        "Device device",
        "RErr",
        "lock an encrypted device opened as /dev/mapper/NAME",
        group="luks",
    ),
)
