"""Adding disks (``lib/drives.c``, ``lib/canonical-name.c`` of 1.48): ``add_drive`` and
its older forms, scratch disks, the ``nbd`` protocol, the drive list and device names.

A drive is checked as 1.48 checks it when it is added (the messages are 1.48's), and
kept as a :class:`~pyguestfs.vm.qemu.Drive` for launch. A network drive's ``filename``
is qemu's protocol string (``nbd:unix:SOCKET:exportname=NAME``), as 1.48 hands it to
qemu; only ``nbd`` among 1.48's network protocols is served (the others need qemu block
drivers and servers that pyguestfs neither ships nor tests: ENOTSUP, saying so).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence

from ...vm.qemu import Drive
from ..calls import _H
from ..errors import GuestFSError
from .base import HandleBase

#: The direct backend's limit (lib/launch-direct.c): one SCSI target per disk.
MAX_DISKS = 255
_NETWORK = ("ftp", "ftps", "gluster", "http", "https", "iscsi", "rbd", "sheepdog", "ssh", "tftp")
_HOST_PORT = re.compile(r"^(.+):(\d+)$")
_NBD_PORT = 10809


def _valid(text: str, chars: str, max_len: int = 0) -> bool:
    """1.48's guestfs_int_string_is_valid for its flags as used in drives.c."""
    if not text or (max_len and len(text) > max_len):
        return False
    return all(c.isascii() and (c.isalpha() or c in chars) for c in text)


_FORMAT_CHARS = "0123456789-_"
_HOST_CHARS = "0123456789-.:[]"


def drive_index(suffix: str) -> int:
    """``a`` → 0, ``z`` → 25, ``aa`` → 26 (1.48's guestfs_int_drive_index); -1 if not
    letters."""
    r = 0
    for c in suffix:
        if not "a" <= c <= "z":
            return -1
        r = 26 * r + (ord(c) - ord("a") + 1)
    return r - 1 if suffix else -1


def _disk_suffix(device: str) -> str | None:
    """For ``/dev/hda``, ``/dev/vdb1``, ``/dev/sdc``: the part after ``hd``/``vd``/``sd``
    (1.48's test: no further ``/``, not ``/dev/md``, a ``d`` within the first 3 chars)."""
    if not device.startswith("/dev/"):
        return None
    rest = device[5:]
    if "/" in rest or rest.startswith("m"):
        return None
    n = rest.find("d")
    n = len(rest) if n < 0 else n
    if not 0 < n <= 2:
        return None
    return rest[n + 1 :]


def _nbd_source(api: str, filename: str, servers: Sequence[str]) -> str:
    """qemu's string for an nbd drive (1.48's lib/qemu.c), from ``server``'s one entry:
    ``unix:/path``, ``tcp:host[:port]`` or ``host[:port]``."""
    if len(servers) != 1:
        raise GuestFSError("nbd: you must specify exactly one server")
    server = servers[0]
    if server.startswith("unix:"):
        if server == "unix:":
            raise GuestFSError("missing Unix domain socket path")
        base = f"nbd:unix:{server[5:]}"
    else:
        if server.startswith("tcp:"):
            server = server[4:]
        m = _HOST_PORT.match(server)
        host, port = (m.group(1), int(m.group(2))) if m else (server, _NBD_PORT)
        if m and not 0 < port <= 65535:
            raise GuestFSError(f"invalid port number ‘{m.group(2)}’")
        if not _valid(host, _HOST_CHARS, 255):
            raise GuestFSError(f"invalid hostname or server string ‘{server}’")
        base = f"nbd:{host}:{port}"
    del api
    return f"{base}:exportname={filename}" if filename else base


class Drives(HandleBase[_H]):
    """``add_drive`` and friends, the drive list, ``device_index`` and device names."""

    def add_drive(
        self,
        filename: str,
        readonly: bool | None = None,
        format: str | None = None,
        iface: str | None = None,
        name: str | None = None,
        label: str | None = None,
        protocol: str | None = None,
        server: Sequence[str] | None = None,
        username: str | None = None,
        secret: str | None = None,
        cachemode: str | None = None,
        discard: str | None = None,
        copyonread: bool | None = None,
        blocksize: int | None = None,
    ) -> None:
        """Add a disk image; the guest sees drives as /dev/sda, /dev/sdb ... in order.

        ``readonly=True`` lets the guest write only to a throwaway overlay, as libguestfs.
        ``protocol="nbd"`` with ``server=["unix:/path"]`` or ``["host:port"]`` adds an NBD
        export (``filename`` is the export name). The checks and messages are 1.48's."""
        self._check_not_closed()
        if self._state != "CONFIG":
            raise GuestFSError("hotplugging support was removed in libguestfs 1.48")
        readonly = bool(readonly)
        protocol = protocol or "file"
        if discard is not None and discard not in ("disable", "enable", "besteffort"):
            raise GuestFSError("discard parameter must be ‘disable’, ‘enable’ or ‘besteffort’")
        if readonly and discard == "enable":
            raise GuestFSError("discard support cannot be enabled on read-only drives")
        if format is not None and not _valid(format, _FORMAT_CHARS):
            raise GuestFSError("format parameter is empty or contains disallowed characters")
        if iface is not None and not _valid(iface, _FORMAT_CHARS):
            raise GuestFSError("iface parameter is empty or contains disallowed characters")
        if label is not None and not _valid(label, "", 20):
            raise GuestFSError(
                "label parameter is empty, too long, or contains disallowed characters"
            )
        if cachemode not in (None, "writeback", "unsafe"):
            raise GuestFSError("cachemode parameter must be ‘writeback’ (default) or ‘unsafe’")
        if blocksize not in (None, 0, 512, 4096):
            raise GuestFSError("blocksize parameter is invalid")
        if len(self._drives) >= MAX_DISKS:
            raise GuestFSError(
                f"too many drives have been added, the current backend only "
                f"supports {MAX_DISKS} drives"
            )
        source = filename
        if protocol == "file":
            if server:
                raise GuestFSError("you cannot specify a server with file-backed disks")
            if username is not None:
                raise GuestFSError("you cannot specify a username with file-backed disks")
            if secret is not None:
                raise GuestFSError("you cannot specify a secret with file-backed disks")
            if filename == "/dev/null":
                if format not in (None, "raw"):
                    raise GuestFSError("for device ‘/dev/null’, format must be ‘raw’")
                # 1.48 gives qemu a 4 KiB raw disk in its place; no overlay is needed.
                format, readonly, discard, copyonread = "raw", False, None, False
                source = self._scratch_disk(4096)
            else:
                if not os.access(filename, os.R_OK):
                    err = "No such file or directory"
                    errno_name = "ENOENT"
                    if os.path.lexists(filename):
                        err, errno_name = "Permission denied", "EACCES"
                    raise GuestFSError(f"{filename}: {err}", errno_name)
                source = os.path.abspath(filename)
        elif protocol == "nbd":
            if username is not None:
                raise GuestFSError("nbd: you cannot specify a username with this protocol")
            if secret is not None:
                raise GuestFSError("nbd: you cannot specify a secret with this protocol")
            source = _nbd_source("add_drive", filename, list(server or ()))
        elif protocol in _NETWORK:
            raise self._enotsup(
                "add_drive",
                f"protocol ‘{protocol}’ is not supported by pyguestfs (file and nbd are)",
            )
        else:
            raise GuestFSError(f"unknown protocol ‘{protocol}’")
        self._drives.append(
            Drive(
                filename=source,
                format=format,
                readonly=readonly,
                iface=iface,
                label=label,
                cachemode=cachemode,
                discard=discard if discard != "disable" else None,
                copyonread=bool(copyonread),
                blocksize=blocksize or None,
            )
        )
        shown = source if protocol == "file" else filename
        self._drive_strings.append(
            shown
            + (" readonly" if readonly else "")
            + (f" format={format}" if format else "")
            + f" protocol={protocol}"
            + (f" iface={iface}" if iface else "")
            + (f" name={name}" if name else "")
            + (f" label={label}" if label else "")
            + (f" cache={cachemode}" if cachemode else "")
            + (f" discard={discard}" if discard in ("enable", "besteffort") else "")
            + (" copyonread" if copyonread else "")
            + (f" blocksize={blocksize}" if blocksize else "")
        )

    add_drive_opts = add_drive

    def add_drive_ro(self, filename: str) -> None:
        """Add a disk read-only (writes go to a throwaway overlay)."""
        self.add_drive(filename, readonly=True)

    def add_cdrom(self, filename: str) -> None:
        """Deprecated: ``add_drive_ro`` (1.48 adds a CD-ROM image as a read-only disk)."""
        self._require_config("add_cdrom")
        self.add_drive_ro(filename)

    def add_drive_with_if(self, filename: str, iface: str) -> None:
        """Deprecated: ``add_drive(filename, iface=iface)``."""
        self._require_config("add_drive_with_if")
        self.add_drive(filename, iface=iface)

    def add_drive_ro_with_if(self, filename: str, iface: str) -> None:
        """Deprecated: ``add_drive(filename, readonly=True, iface=iface)``."""
        self._require_config("add_drive_ro_with_if")
        self.add_drive(filename, readonly=True, iface=iface)

    def add_drive_scratch(
        self,
        size: int,
        name: str | None = None,
        label: str | None = None,
        blocksize: int | None = None,
    ) -> None:
        """Add a temporary sparse disk of ``size`` bytes, deleted when the handle closes."""
        if size < 0:
            raise GuestFSError("add_drive_scratch: size must be >= 0")
        path = self._scratch_disk(size)
        self.add_drive(
            path, format="raw", name=name, label=label, blocksize=blocksize, cachemode="unsafe"
        )

    def _scratch_disk(self, size: int) -> str:
        fd, path = tempfile.mkstemp(
            prefix="pyguestfs-scratch-", suffix=".img", dir=self._settings.temp_base()
        )
        os.ftruncate(fd, size)
        os.close(fd)
        self._scratch.append(path)
        return path

    def remove_drive(self, label: str) -> None:
        """Deprecated; always fails, as in 1.48 (hot-plugging was removed)."""
        del label
        raise GuestFSError("hotplugging support was removed in libguestfs 1.48")

    def max_disks(self) -> int:
        """How many drives may be added: 255, the direct backend's limit."""
        return MAX_DISKS

    def debug_drives(self) -> list[str]:
        """The drives added, one line each, worded as 1.48's debug_drives."""
        return list(self._drive_strings)

    def device_index(self, device: str) -> int:
        """The index of ``/dev/sdX`` (or hdX, vdX) among the drives added, from 0."""
        suffix = _disk_suffix(device)
        index = -1 if suffix is None else drive_index(suffix.rstrip("0123456789"))
        if index < 0:
            raise GuestFSError(f"{device}: device not found")
        return index

    def canonical_device_name(self, device: str) -> str:
        """``/dev/hda1``, ``/dev/vda1`` → ``/dev/sda1``; ``/dev/mapper/VG-LV`` →
        ``/dev/VG/LV`` (via lvm_canonical_lv_name, the name itself when that fails)."""
        suffix = _disk_suffix(device)
        if suffix is not None:
            return f"/dev/sd{suffix}"
        if device.startswith(("/dev/mapper/", "/dev/dm-")):
            try:
                return str(self._call("lvm_canonical_lv_name", {"lvname": device}, {}))
            except GuestFSError:
                return device
        return device

    def config(self, hvparam: str, hvvalue: str | None) -> None:
        """Extra qemu parameters: not supported (ENOTSUP). pyguestfs builds qemu's whole
        command line from its settings, and warm launch keys snapshots on it."""
        self._require_config("config")
        del hvvalue
        raise self._enotsup(
            "config", f"extra qemu parameters ({hvparam}) are not supported by pyguestfs"
        )
