"""Library actions of 1.48 that wrap an internal daemon call and reshape its answer:
``mountable_device``/``mountable_subvolume`` (``internal_parse_mountable``),
``journal_get`` (``internal_journal_get``: length-prefixed ``FIELD=value`` records),
``filesystem_walk``/``find_inode`` (``internal_filesystem_walk``/``_find_inode``: a file
of XDR ``tsk_dirent`` structs) and ``yara_scan`` (``internal_yara_scan``: XDR
``yara_detection`` structs) -- 1.48's ``lib/mountable.c``, ``journal.c``, ``tsk.c`` and
``yara.c``.

The files the daemon writes come from the guest side, so they are parsed as hostile: a
bad length or a truncated struct is an error, never an allocation of the size it claims.
"""

from __future__ import annotations

import os
import struct as _struct
from typing import Any

from ...protocol.types import STRUCTS
from ...protocol.xdr import Decoder, XdrError
from ..calls import _H, TskDirent, Xattr, YaraDetection
from ..errors import GuestFSError
from .base import HandleBase
from .files import scratch_file

#: The largest file of records read back (the daemon streams it; the host keeps it in
#: memory to parse, so it is bounded).
MAX_RECORDS_FILE = 1 << 30


def _read_bounded(path: str, api: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_RECORDS_FILE:
        raise GuestFSError(f"{api}: the daemon's answer is too large ({size} bytes)")
    with open(path, "rb") as f:
        return f.read()


def parse_journal(data: bytes) -> list[Xattr]:
    """internal_journal_get's file: big-endian 64-bit length, then ``FIELD=value``."""
    out: list[Xattr] = []
    i = 0
    while i < len(data):
        if i + 8 > len(data):
            raise GuestFSError(
                "invalid data from guestfs_internal_journal_get: truncated: "
                f"size={len(data)}, i={i}"
            )
        (n,) = _struct.unpack_from(">Q", data, i)
        i += 8
        if i + n > len(data):
            raise GuestFSError(
                "invalid data from guestfs_internal_journal_get: truncated: "
                f"size={len(data)}, i={i}, len={n}"
            )
        field = data[i : i + n]
        i += n
        name, eq, value = field.partition(b"=")
        if not eq:
            raise GuestFSError(
                "invalid data from guestfs_internal_journal_get: no '=' found separating "
                "field name and value"
            )
        out.append(Xattr(attrname=name.decode("utf-8", "replace"), attrval=value))
    return out


def parse_structs(data: bytes, struct_name: str, api: str) -> list[dict[str, Any]]:
    """A file of back-to-back XDR structs, as tsk.c and yara.c read them."""
    sdef = STRUCTS[struct_name]
    dec = Decoder(data)
    out: list[dict[str, Any]] = []
    try:
        while dec.remaining():
            out.append(sdef.decode(dec))
    except XdrError as e:
        raise GuestFSError(f"{api}: bad data from the daemon: {e}") from None
    return out


class Mountables(HandleBase[_H]):
    """Mountable names and the daemon calls whose answers come back as files."""

    def mountable_device(self, mountable: str) -> str:
        """The device of a mountable (``/dev/sda1``, or the device of a btrfs
        subvolume ``btrfsvol:/dev/sda1/vol``)."""
        return str(self._parse_mountable(mountable)["im_device"])

    def mountable_subvolume(self, mountable: str) -> str:
        """The btrfs subvolume of a mountable; EINVAL when it names none."""
        volume = self._parse_mountable(mountable)["im_volume"]
        if not volume:
            raise GuestFSError("not a btrfs subvolume identifier", "EINVAL")
        return str(volume)

    def _parse_mountable(self, mountable: str) -> dict[str, Any]:
        """The daemon's split of a mountable (kind, device, volume)."""
        result: dict[str, Any] = self._call(
            "internal_parse_mountable", {"mountable": mountable}, {}
        )
        return result

    def journal_get(self) -> list[Xattr]:
        """The fields of the journal entry at the cursor (``journal_open`` first)."""
        with scratch_file() as tmp:
            self._call("internal_journal_get", {}, {}, file_out=tmp)
            return parse_journal(_read_bounded(tmp, "journal_get"))

    def filesystem_walk(self, device: str) -> list[TskDirent]:
        """Every entry of a filesystem, deleted ones too (the Sleuth Kit, in the
        appliance)."""
        with scratch_file() as tmp:
            self._call("internal_filesystem_walk", {"device": device}, {}, file_out=tmp)
            data = _read_bounded(tmp, "filesystem_walk")
        return parse_structs(data, "tsk_dirent", "filesystem_walk")  # type: ignore[return-value]

    def find_inode(self, device: str, inode: int) -> list[TskDirent]:
        """The entries of a filesystem that refer to ``inode``."""
        with scratch_file() as tmp:
            self._call("internal_find_inode", {"device": device, "inode": inode}, {}, file_out=tmp)
            data = _read_bounded(tmp, "find_inode")
        return parse_structs(data, "tsk_dirent", "find_inode")  # type: ignore[return-value]

    def yara_scan(self, path: str) -> list[YaraDetection]:
        """The loaded Yara rules that match a guest file."""
        with scratch_file() as tmp:
            self._call("internal_yara_scan", {"path": path}, {}, file_out=tmp)
            data = _read_bounded(tmp, "yara_scan")
        return parse_structs(data, "yara_detection", "yara_scan")  # type: ignore[return-value]
