"""mount(2) and umount2(2) called directly, for the mounts where mount(8) adds nothing.

Under TCG every program the agent starts costs about a tenth of a second, and mount(8)
costs twice that: it loads libmount and libblkid, reads the mount table and probes the
device. Where the caller already knows the filesystem type, the source is a block device
and the options are plain VFS flags, the system call does exactly what mount(8) would do.

Both functions answer only "done" or "not done here": on False the caller runs mount(8)
or umount(8) as before, which then does the mount its own way (helpers such as
mount.ntfs, loop devices, read-only retries) or fails with the words users know. So a
failure never gets a new wording, and a success is the one mount(8) would have had.
"""

from __future__ import annotations

import ctypes
import os
import stat

from .guest import declare_functions, load_library

#: mount(8) options that are VFS flags (``<sys/mount.h>``), and the bit each one sets.
_FLAGS = {
    "ro": 1,  # MS_RDONLY
    "rw": 0,
    "nosuid": 2,  # MS_NOSUID
    "nodev": 4,  # MS_NODEV
    "noexec": 8,  # MS_NOEXEC
    "sync": 16,  # MS_SYNCHRONOUS
    "noatime": 1024,  # MS_NOATIME
    "relatime": 1 << 21,  # MS_RELATIME
}
#: Where mount(8) looks for a type's helper (``mount.ntfs`` is ntfs-3g's): it runs one
#: whenever one exists, instead of the kernel's driver of that name.
_HELPER_DIRS = ("/sbin", "/usr/sbin", "/usr/local/sbin")
_MNT_FORCE = 1
_MNT_DETACH = 2


def _kernel_filesystems() -> frozenset[str]:
    """Types the kernel mounts from a block device itself (not ``nodev`` ones)."""
    try:
        with open("/proc/filesystems") as f:
            return frozenset(
                line.split()[0] for line in f if line.strip() and not line.startswith("nodev")
            )
    except OSError:
        return frozenset()


_SIGNATURES = {
    "mount": (
        ctypes.c_int,
        [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p],
    ),
    "umount2": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int]),
}
_declared: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL | None:
    libc = load_library("libc.so.6")
    if libc is not None and not _declared:
        declare_functions(libc, _SIGNATURES)
        _declared.append(libc)
    return libc


def _split_options(options: str) -> tuple[int, str] | None:
    """(flags, data) for a mount(2) call, or None when an option is not one of ours."""
    flags = 0
    data = []
    for option in filter(None, options.split(",")):
        if option == "rw":  # the later of "ro" and "rw" wins, as in mount(8)
            flags &= ~_FLAGS["ro"]
        elif option in _FLAGS:
            flags |= _FLAGS[option]
        elif option.startswith("subvol="):  # btrfs's own option: the kernel takes it
            data.append(option)
        else:
            return None
    return flags, ",".join(data)


def _is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def canonical_source(path: str) -> str:
    """The name mount(8) gives the kernel for ``path``: symlinks resolved, and a
    device-mapper node named ``/dev/mapper/NAME`` (libmount's canonical form), so that
    the mount table reads the same whichever of the two mounted it."""
    real = os.path.realpath(path)
    name = os.path.basename(real)
    if real.startswith("/dev/dm-"):
        try:
            with open(f"/sys/block/{name}/dm/name") as f:
                return f"/dev/mapper/{f.read().strip()}"
        except OSError:
            pass
    return real


def mount(source: str, target: str, vfstype: str, options: str = "") -> bool:
    """Mount ``source`` (a block device) of type ``vfstype`` on ``target`` with
    mount(2); False, having changed nothing, when mount(8) should do it instead."""
    split = _split_options(options)
    libc = _libc()
    if split is None or libc is None or vfstype not in _kernel_filesystems():
        return False
    if any(os.path.exists(os.path.join(d, f"mount.{vfstype}")) for d in _HELPER_DIRS):
        return False
    if not _is_block_device(source):
        return False  # a file wants a loop device (mount(8) sets that up), or is missing
    flags, data = split
    source = canonical_source(source)
    done = libc.mount(
        source.encode(), target.encode(), vfstype.encode(), flags, data.encode() if data else None
    )
    return bool(done == 0)


def umount(target: str, *, force: bool = False, lazy: bool = False) -> bool:
    """Unmount the filesystem mounted on directory ``target`` with umount2(2); False
    when umount(8) should try (it then reports why it cannot)."""
    libc = _libc()
    if libc is None:
        return False
    flags = (_MNT_FORCE if force else 0) | (_MNT_DETACH if lazy else 0)
    return bool(libc.umount2(target.encode(), flags) == 0)
