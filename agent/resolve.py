"""Arguments checked and translated once, in dispatch, by their kind in the table.

guestfsd's generated stubs (``generator/daemon.ml`` of 1.48 with the macros of
``daemon/stubs-macros.h``) check every argument before the implementation runs; this
module is that step, driven by :class:`~pyguestfs.protocol.types.ArgType`:

=====================  ========================================================  =============
kind                   check, in guestfsd's words                                value passed
=====================  ========================================================  =============
``Pathname``           "<api>_stub: path must start with a / character", then    :class:`GuestPath`
                       "<api>_stub: you must call 'mount' first ..." (once)
``Device``             translated; "<api>_stub: <dev>: <strerror>" (errno set)   :class:`Device`
                       or "<api>_stub: <dev>: expecting a device name"
``DeviceList``         each element as ``Device``                                 ``list[Device]``
``Mountable``          ``btrfsvol:DEV/VOL`` or a ``Device``;                      :class:`Mountable`
                       "<api>_stub: <s>: expecting a btrfs volume"
``Dev_or_Path``        a ``Device`` when it is a device parameter, else a root   :class:`Device` or
                       check and an absolute ``Pathname``                         :class:`GuestPath`
``Mountable_or_Path``  a ``Mountable`` when a device or relative, else a path    :class:`Mountable`
``FilenameList``       "<api>_stub: '<name>' is not a file name"                  ``list[str]``
=====================  ========================================================  =============

The resolved values are ``str`` subclasses whose text is what the user passed, so they
print, compare and format as the user's names; their attributes carry what the
implementation needs (the node to open, the host path under the sysroot).

Replies go the other way in :func:`reverse_result`: strings the table marks as device
names (``RString (RDevice, _)`` and friends) are translated back to the user's names
here, in one place, as guestfsd's ``reverse_device_name_translation`` does.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from typing import TYPE_CHECKING, Any

from ..protocol.procedures import Procedure
from ..protocol.types import ArgType, RetType, StrKind
from .errors import AgentError
from .sysroot import PATH_MAX

if TYPE_CHECKING:
    from .devices import DeviceMap
    from .sysroot import Sysroot

#: ioctl number of BLKGETSIZE64 (``_IOR(0x12, 114, size_t)`` on Linux).
_BLKGETSIZE64 = 0x80081272


class Device(str):
    """A device argument: its text is the user's name (``/dev/sda1``), ``node`` the
    appliance's block device node that backs it (``/dev/vda1``)."""

    node: str

    def __new__(cls, name: str, node: str) -> Device:
        self = super().__new__(cls, name)
        self.node = node
        return self


class GuestPath(str):
    """An absolute guest path (its text, as the user gave it) bound to the sysroot.

    ``host()`` resolves it component by component inside the sysroot (no escape, see
    :class:`~pyguestfs.agent.sysroot.Sysroot`); ``host(follow=False)`` leaves a final
    symlink alone (for lstat, readlink, rm ...)."""

    sysroot: Sysroot

    def __new__(cls, path: str, sysroot: Sysroot) -> GuestPath:
        self = super().__new__(cls, path)
        self.sysroot = sysroot
        return self

    def host(self, *, follow: bool = True) -> str:
        return self.sysroot.resolve(str(self), follow=follow)

    def display(self) -> str:
        """The path as guestfsd's messages show it (under ``/sysroot``)."""
        return self.sysroot.display(str(self))


class Mountable(str):
    """A mountable argument (libguestfs's ``mountable_t``): its text is what the user
    passed. ``device`` is set for a device or a btrfs volume (``volume`` then names the
    subvolume); ``path`` is set when a ``Mountable_or_Path`` was given a path."""

    device: Device | None
    volume: str | None
    path: GuestPath | None

    def __new__(
        cls,
        text: str,
        *,
        device: Device | None = None,
        volume: str | None = None,
        path: GuestPath | None = None,
    ) -> Mountable:
        self = super().__new__(cls, text)
        self.device, self.volume, self.path = device, volume, path
        return self

    @property
    def is_btrfsvol(self) -> bool:
        return self.volume is not None


class Resolver:
    """Argument resolution for one agent: its disks and its sysroot."""

    def __init__(self, devices: DeviceMap | None, sysroot: Sysroot) -> None:
        self.devices = devices
        self.sysroot = sysroot

    # -- devices ---------------------------------------------------------------------------
    def translate(self, name: str) -> str:
        """guestfsd's ``device_name_translation`` without the openability check: a
        ``/dev/[shv]dX[N]``-style name to the node of the X-th user disk; any other name
        is used as it is."""
        if self.devices is None:
            return name
        try:
            return self.devices.translate(name)
        except AgentError:
            return name

    def is_device_parameter(self, node: str) -> bool:
        """guestfsd's ``is_device_parameter``: a /dev/sd name, or a block device of the
        appliance that is not its own root disk and answers BLKGETSIZE64 (a directory
        longer than ``/dev/`` passes too: ``lvremove`` takes a VG's directory)."""
        if not node.startswith("/dev/"):
            return False
        if node.startswith("/dev/sd"):
            return True
        try:
            st = os.stat(node)
        except OSError:
            return False
        if stat.S_ISDIR(st.st_mode):
            return len(node) > 5
        if not stat.S_ISBLK(st.st_mode):
            return False
        if self.devices is not None and st.st_rdev == self.devices.root_dev:
            return False
        try:
            fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.ioctl(fd, _BLKGETSIZE64, struct.pack("Q", 0))
        except OSError:
            return False
        finally:
            os.close(fd)
        return True

    def device(self, stub: str, name: str) -> Device:
        """``RESOLVE_DEVICE``: the node backing ``name``, or guestfsd's error."""
        if self.devices is None:  # standalone agent: it serves no block devices at all
            raise AgentError.from_errno(errno.ENOENT, f"{stub}: {name}")
        node = self.translate(name)
        try:
            os.close(os.open(node, os.O_RDONLY | os.O_CLOEXEC))
        except OSError as e:
            # guestfsd tries other spellings on ENOENT/ENXIO, and reports ENOENT in the end.
            code = errno.ENOENT if e.errno in (errno.ENOENT, errno.ENXIO) else (e.errno or 0)
            raise AgentError.from_errno(code, f"{stub}: {name}") from None
        if not self.is_device_parameter(node):
            raise AgentError(f"{stub}: {name}: expecting a device name")
        return Device(name, node)

    def mountable(self, stub: str, text: str) -> Mountable:
        """``RESOLVE_MOUNTABLE``: ``btrfsvol:/dev/sdX/VOL`` or a device."""
        if text.startswith("btrfsvol:"):
            spec = text[len("btrfsvol:") :]
            device, volume = self._split_btrfsvol(spec)
            if device is None:
                raise AgentError(f"{stub}: {text}: expecting a btrfs volume")
            return Mountable(text, device=self.device(stub, device), volume=volume)
        return Mountable(text, device=self.device(stub, text))

    @staticmethod
    def _split_btrfsvol(spec: str) -> tuple[str | None, str]:
        """``/dev/sda1/sub/vol`` → (``/dev/sda1``, ``sub/vol``), as ``parse_btrfsvol``:
        the device is ``/dev/`` and the next component (or ``/dev/mapper/X``,
        ``/dev/VG/LV`` when it names a block device)."""
        if not spec.startswith("/dev/"):
            return None, ""
        parts = spec[len("/dev/") :].split("/")
        # Longest device prefix first: /dev/VG/LV/vol is an LV before it is /dev/VG.
        for n in (2, 1):
            if len(parts) > n:
                dev = "/dev/" + "/".join(parts[:n])
                if n == 1 or os.path.exists(dev):
                    volume = "/".join(parts[n:])
                    if volume:
                        return dev, volume
        return None, ""

    def reverse(self, node: str) -> str:
        """A node → the user's name (``reverse_device_name_translation``)."""
        if self.devices is None:
            return node
        if node.startswith("btrfsvol:/dev/"):
            dev, volume = self._split_btrfsvol(node[len("btrfsvol:") :])
            if dev is not None:
                return f"btrfsvol:{self.devices.reverse(dev)}/{volume}"
            return node
        # Only a name directly in /dev can be a disk: /dev/VG/sda1 is an LV named sda1.
        return self.devices.reverse(node) if os.path.dirname(node) == "/dev" else node

    # -- paths ---------------------------------------------------------------------------
    def need_root(self, stub: str) -> None:
        """``NEED_ROOT``: path arguments need a filesystem mounted on the sysroot."""
        self.sysroot.check_mounted(stub.removesuffix("_stub"))

    def path(self, stub: str, text: str) -> GuestPath:
        if not text.startswith("/"):
            raise AgentError(f"{stub}: path must start with a / character")
        if len(text) >= PATH_MAX:
            # No call can use it (the kernel answers ENAMETOOLONG), and a GuestPath would
            # copy it: a 4 MiB path must not cost the agent another 4 MiB.
            self.need_root(stub)
            self.sysroot.check_length(text)
        return GuestPath(text, self.sysroot)

    # -- a whole call --------------------------------------------------------------------
    def resolve(self, proc: Procedure, args: dict[str, Any]) -> dict[str, Any]:
        """Each required argument checked and translated by its kind, in guestfsd's
        order: every argument in turn, then one root check if any was a Pathname."""
        stub = f"{proc.name}_stub"
        out = dict(args)
        has_pathname = False
        for a in proc.wire_args:
            value = args[a.name]
            kind = a.type
            if kind is ArgType.PATHNAME:
                out[a.name] = self.path(stub, value)
                has_pathname = True
            elif kind is ArgType.DEVICE:
                out[a.name] = self.device(stub, value)
            elif kind is ArgType.DEVICELIST:
                out[a.name] = [self.device(stub, v) for v in value]
            elif kind is ArgType.MOUNTABLE:
                out[a.name] = self.mountable(stub, value)
            elif kind is ArgType.DEV_OR_PATH:
                if self.is_device_parameter(value):
                    out[a.name] = self.device(stub, value)
                else:
                    self.need_root(stub)
                    out[a.name] = self.path(stub, value)
            elif kind is ArgType.MOUNTABLE_OR_PATH:
                if self.is_device_parameter(value) or not value.startswith("/"):
                    out[a.name] = self.mountable(stub, value)
                else:
                    self.need_root(stub)
                    out[a.name] = Mountable(value, path=GuestPath(value, self.sysroot))
            elif kind is ArgType.FILENAMELIST:
                for v in value:
                    if "/" in v:
                        raise AgentError(f"{stub}: '{v}' is not a file name")
            elif kind is ArgType.FILENAME and "/" in value:
                raise AgentError(f"{stub}: '{value}' is not a file name")
        if has_pathname:
            self.need_root(stub)
        return out

    def reverse_result(self, proc: Procedure, result: Any) -> Any:
        """Device names in a reply back to the user's names, as the table says."""
        kind, value_kind = proc.ret_kind, proc.ret_value_kind
        if kind is StrKind.PLAIN and value_kind is StrKind.PLAIN:
            return result
        if proc.ret is RetType.STRING:
            return self.reverse(result)
        if proc.ret is RetType.STRINGLIST:
            return [self.reverse(s) for s in result]
        if proc.ret is RetType.HASHTABLE:
            keys = kind is not StrKind.PLAIN
            values = value_kind is not StrKind.PLAIN
            pairs = result.items() if isinstance(result, dict) else result
            return [
                (self.reverse(k) if keys else k, self.reverse(v) if values else v) for k, v in pairs
            ]
        return result
