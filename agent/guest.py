"""Small facts about the running appliance that many procedure families need: the mount
table, guestfsd's line splitting, and the guest kernel's disk names rewritten to the
user's in a tool's messages. One copy each, so the families agree.
"""

from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import runner
from .errors import AgentError

if TYPE_CHECKING:
    from .devices import DeviceMap

_MOUNT_ESCAPE = re.compile(r"\\([0-7]{3})")


def split_lines(text: str) -> list[str]:
    """guestfsd's ``split_lines``: split at LF; an empty text is no lines, a final LF does
    not start another line, a last line without its LF is kept."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def unescape_mount_field(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in /proc/mounts fields as
    three-digit octal escapes (``\\040`` ...); any such escape is undone."""
    return _MOUNT_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


@dataclass(frozen=True, slots=True)
class MountEntry:
    """One line of /proc/self/mounts, unescaped."""

    source: str
    target: str
    fstype: str
    options: str


def mount_table(path: str = "/proc/self/mounts") -> list[MountEntry]:
    """The mounts of the agent's namespace, in mount order."""
    entries = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4:
                continue
            entries.append(MountEntry(*(unescape_mount_field(x) for x in fields[:4])))
    return entries


def mounts_under(root: str, path: str = "/proc/self/mounts") -> list[MountEntry]:
    """The mounts at or below ``root`` (the sysroot), in mount order."""
    prefix = root.rstrip("/") + "/"
    return [m for m in mount_table(path) if m.target == root or m.target.startswith(prefix)]


def user_device_names(devices: DeviceMap | None, text: str) -> str:
    """Rewrite the guest kernel's disk nodes in a tool's output (``/dev/vda1``) to the
    names the user sees (``/dev/sda1``), as guestfsd's messages name them."""
    if devices is None or "/dev/" not in text:
        return text
    disks = devices.kernel_disks()
    if not disks:
        return text
    names = "|".join(re.escape(d) for d in sorted(disks, key=len, reverse=True))
    pattern = rf"/dev/(?:{names})(?:p?\d+)?(?![\w])"
    return re.sub(pattern, lambda m: devices.reverse(m.group(0)), text)


def umount_all(root: str) -> None:
    """Unmount everything at or below ``root`` (the sysroot), deepest first: what
    ``umount_all`` does, and what ``internal_autosync`` and inspection do before they
    hand the disks back."""
    from . import kmount  # it builds on this module's library loader

    for entry in sorted(mounts_under(root), key=lambda m: -len(m.target)):
        if not kmount.umount(entry.target):
            runner.run(["umount", entry.target], error="umount: {err}")


def open_directory(host: str, what: str) -> str:
    """``host`` once guestfsd's ``open(O_DIRECTORY)`` of it would have succeeded (for
    the batch calls that read many names of one directory); else "<what>: <strerror>"."""
    try:
        os.close(os.open(host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    except OSError as e:
        raise AgentError.from_os(e, what) from None
    return host


def child_in(root: str, directory: str, name: str) -> str | None:
    """Host path of ``name`` in ``directory`` as ``fstatat(dirfd, name)`` sees it inside
    guestfsd's chroot at ``root``: "" names nothing, and ".." of the root is the root."""
    if name == "":
        return None
    if name == ".." and directory == root:
        return directory
    return os.path.join(directory, name)


_DM_NAME_PART = r"((?:[^-]|--)+)"


def lv_canonical_name(node: str) -> str | None:
    """``/dev/VG/LV`` for a node of an active logical volume (``/dev/mapper/VG-LV``,
    ``/dev/dm-N``), else None (a LUKS mapping, a missing node, not a device).

    guestfsd's ``lv_canonical`` compares the node's device number with every LV's that
    ``lvs`` lists; the kernel already knows: device-mapper's ``uuid`` of an LV is
    ``LVM-`` and 64 characters of VG and LV uuids (internal layers add a ``-suffix``
    and are no LV of ``lvs``), and its ``name`` is ``VG-LV`` with each dash inside a
    name doubled."""
    try:
        rdev = os.stat(node).st_rdev
    except OSError:
        return None
    sysdir = f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}/dm"
    try:
        with open(f"{sysdir}/uuid") as f:
            uuid = f.read().strip()
        with open(f"{sysdir}/name") as f:
            name = f.read().strip()
    except OSError:
        return None
    if not uuid.startswith("LVM-") or len(uuid) != 4 + 64:
        return None
    m = re.fullmatch(_DM_NAME_PART + "-" + _DM_NAME_PART, name)
    if m is None:
        return None
    vg, lv = (part.replace("--", "-") for part in m.groups())
    return f"/dev/{vg}/{lv}"


#: Where Debian puts shared libraries; the appliance may have no ld.so.cache to say so.
_LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")
_LIBRARIES: dict[str, ctypes.CDLL | None] = {}


#: A C function's ctypes signature: (result type, argument types).
Signature = tuple[Any, list[Any]]


def declare_functions(lib: ctypes.CDLL, signatures: dict[str, Signature]) -> None:
    """Give each named function of ``lib`` its result and argument types, so that ctypes
    converts and checks every call (the ctypes layers over libaugeas, libhivex, libtsk
    and libyara declare their functions this way)."""
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def load_library(soname: str) -> ctypes.CDLL | None:
    """The appliance's shared library ``soname`` (``libacl.so.1``) opened once, with
    errno kept; None when the appliance does not have it (its feature is then missing).

    The frozen agent's loader path is its own bundle's, and the appliance root may have
    no ld.so.cache, so the library directories are tried by name after the soname."""
    if soname not in _LIBRARIES:
        lib = None
        for candidate in (soname, *(os.path.join(d, soname) for d in _LIBRARY_DIRS)):
            try:
                lib = ctypes.CDLL(candidate, use_errno=True)
                break
            except OSError:
                continue
        _LIBRARIES[soname] = lib
    return _LIBRARIES[soname]
