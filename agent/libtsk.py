"""A small ctypes binding of the system's libtsk (``libtsk.so.19``, The Sleuth Kit 4.11),
the library guestfsd 1.48 links for ``internal_filesystem_walk`` and
``internal_find_inode``.

Only what those need: open a device as an image and a filesystem, walk every directory
entry from the root (allocated and deleted ones, recursively, no orphan directory), and
read each entry's name and metadata. The numbers and struct offsets are libtsk 4.11's
(``tsk/fs/tsk_fs.h``, ``tsk/img/tsk_img.h``, ``tsk/base/tsk_base.h``) on x86_64,
measured with ``offsetof`` against the headers of the libtsk-dev matching Debian 12's
libtsk19.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_uint,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from dataclasses import dataclass

from .guest import declare_functions, load_library

SONAME = "libtsk.so.19"

#: tsk_fs_dir_walk flags: ALLOC | UNALLOC | RECURSE | NOORPHAN, guestfsd's choice.
WALK_FLAGS = 0x01 | 0x02 | 0x04 | 0x08
#: TSK_WALK_RET_ENUM.
WALK_CONT = 0
WALK_ERROR = 2
#: TSK_IMG_TYPE_DETECT, TSK_FS_TYPE_DETECT.
_DETECT = 0

#: TSK_FS_NAME_FLAG_UNALLOC; TSK_FS_META_FLAG_ALLOC, TSK_FS_META_FLAG_COMP.
NAME_FLAG_UNALLOC = 0x02
META_FLAG_ALLOC = 0x01
META_FLAG_COMP = 0x10

#: TSK_FS_NAME_TYPE_STR_MAX (12 in 4.11).
NAME_TYPE_STR_MAX = 12

# Offsets (bytes) of the fields read, x86_64.
_FILE_NAME, _FILE_META, _FILE_FS = 8, 16, 24  # TSK_FS_FILE
_NAME_NAME, _NAME_META_ADDR, _NAME_TYPE, _NAME_FLAGS = 8, 40, 80, 84  # TSK_FS_NAME
_FS_ROOT_INUM = 32  # TSK_FS_INFO
# TSK_FS_META: flags (int enum), nlink (int), size (int64), then each time as a time_t
# followed by a uint32 of nanoseconds, and the symlink target (char *).
_META_FLAGS, _META_NLINK, _META_SIZE = 4, 24, 32
_META_MTIME, _META_ATIME, _META_CTIME, _META_CRTIME = 48, 64, 80, 96
_META_LINK = 248

_I32 = struct.Struct("=i")
_U32 = struct.Struct("=I")
_I64 = struct.Struct("=q")
_U64 = struct.Struct("=Q")

#: TSK_WALK_RET_ENUM callback(TSK_FS_FILE *, const char *path, void *)
_WALK_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)


class TskUnavailable(Exception):
    """The library cannot be loaded (not installed in the appliance)."""


class TskError(Exception):
    """A failed libtsk call, worded as guestfsd's ``reply_with_tsk_error``."""


@dataclass
class Entry:
    """One directory entry as guestfsd's ``tsk_dirent`` carries it (spare fields 0)."""

    inode: int
    type: str
    size: int
    name: bytes
    flags: int
    times: tuple[int, int, int, int, int, int, int, int]  # a, m, c, cr: sec, nsec
    nlink: int
    link: bytes


_lib: ctypes.CDLL | None = None


def _load() -> ctypes.CDLL:
    global _lib
    if _lib is not None:
        return _lib
    lib = load_library(SONAME)
    if lib is None:
        raise TskUnavailable(f"{SONAME}: cannot be loaded")
    p = c_void_p
    sigs: dict[str, tuple[object, list[object]]] = {
        "tsk_img_open_utf8": (p, [c_int, POINTER(c_char_p), c_int, c_uint]),
        "tsk_fs_open_img": (p, [p, ctypes.c_int64, c_int]),
        "tsk_fs_dir_walk": (c_uint8, [p, c_uint64, c_int, _WALK_CALLBACK, p]),
        "tsk_fs_close": (None, [p]),
        "tsk_img_close": (None, [p]),
        "tsk_error_get_errno": (c_uint32, []),
        "tsk_error_get": (c_char_p, []),
        "tsk_error_reset": (None, []),
    }
    declare_functions(lib, sigs)
    _lib = lib
    return lib


def available() -> bool:
    """Whether libtsk can be loaded here (the ``libtsk`` feature group)."""
    try:
        _load()
    except TskUnavailable:
        return False
    return True


def _error(lib: ctypes.CDLL, funcname: str) -> TskError:
    if lib.tsk_error_get_errno() != 0:
        text = (lib.tsk_error_get() or b"").decode("utf-8", "replace")
        return TskError(f"{funcname}: {text}")
    return TskError(f"{funcname}: unknown error")


def _at(base: int, offset: int, fmt: struct.Struct) -> int:
    return int(fmt.unpack(ctypes.string_at(base + offset, fmt.size))[0])


def _ptr(base: int, offset: int) -> int:
    return _at(base, offset, _U64)


_NAME_TYPES = "ufcdbrlshwuu"  # UNDEF FIFO CHR DIR BLK REG LNK SOCK SHAD WHT VIRT VIRT_DIR


def _file_type(name_type: int) -> str:
    """guestfsd's ``file_type``: the letter of the name's type. (Its fallback for a name
    type out of range switches on that same out-of-range number, so it always ends in
    ``u``.)"""
    return _NAME_TYPES[name_type] if name_type < NAME_TYPE_STR_MAX else "u"


def _entry(fsfile: int, path: bytes) -> Entry:
    name = _ptr(fsfile, _FILE_NAME)
    meta = _ptr(fsfile, _FILE_META)
    inode = _at(name, _NAME_META_ADDR, _U64)
    name_type = _at(name, _NAME_TYPE, _U32)
    name_flags = _at(name, _NAME_FLAGS, _U32)
    text = ctypes.string_at(_ptr(name, _NAME_NAME))
    flags = 0
    meta_flags = _at(meta, _META_FLAGS, _U32) if meta else 0
    if name_flags & NAME_FLAG_UNALLOC:
        if meta_flags & META_FLAG_ALLOC:
            flags |= 0x02  # DIRENT_REALLOC
    else:
        flags |= 0x01  # DIRENT_ALLOC
    if meta_flags & META_FLAG_COMP:
        flags |= 0x04  # DIRENT_COMPRESSED
    if meta:
        times = tuple(
            v
            for off in (_META_ATIME, _META_MTIME, _META_CTIME, _META_CRTIME)
            for v in (_at(meta, off, _I64), _at(meta, off + 8, _U32))
        )
        link_ptr = _ptr(meta, _META_LINK)
        return Entry(
            inode,
            _file_type(name_type),
            _at(meta, _META_SIZE, _I64),
            path + text,
            flags,
            times,  # type: ignore[arg-type]
            _at(meta, _META_NLINK, _I32),
            ctypes.string_at(link_ptr) if link_ptr else b"",
        )
    return Entry(inode, _file_type(name_type), -1, path + text, flags, (0,) * 8, 0, b"")


def _is_dot(fsfile: int) -> bool:
    """guestfsd's ``entry_is_dot``: ``.`` and ``..`` entries, except the root's ``.``."""
    name = _ptr(fsfile, _FILE_NAME)
    text = ctypes.string_at(_ptr(name, _NAME_NAME))
    if text not in (b".", b".."):
        return False
    root = _at(_ptr(fsfile, _FILE_FS), _FS_ROOT_INUM, _U64)
    return not (root == _at(name, _NAME_META_ADDR, _U64) and text == b".")


def walk(
    device: str,
    on_entry: Callable[[Entry], None],
    inode: int | None = None,
    on_open: Callable[[], None] | None = None,
) -> None:
    """Walk the filesystem on ``device`` from its root as guestfsd does, calling
    ``on_entry`` for every entry (only those naming ``inode`` when it is given), and
    ``on_open`` first, once the filesystem is open.

    Raises TskError when the device cannot be opened (before any entry is reported) or
    the walk fails; an exception from ``on_entry`` stops the walk and is raised again."""
    lib = _load()
    lib.tsk_error_reset()
    images = (c_char_p * 1)(device.encode("utf-8", "surrogateescape"))
    img = lib.tsk_img_open_utf8(1, images, _DETECT, 0)
    if not img:
        raise _error(lib, "tsk_image_open")
    try:
        fs = lib.tsk_fs_open_img(img, 0, _DETECT)
        if not fs:
            raise _error(lib, "tsk_fs_open_img")
        try:
            if on_open is not None:
                on_open()
            failure: list[BaseException] = []

            def callback(fsfile: int | None, path: bytes | None, _data: int | None) -> int:
                try:
                    assert fsfile is not None
                    if inode is not None:
                        name = _ptr(fsfile, _FILE_NAME)
                        if _at(name, _NAME_META_ADDR, _U64) != inode & (2**64 - 1):
                            return WALK_CONT
                    if _is_dot(fsfile):
                        return WALK_CONT
                    on_entry(_entry(fsfile, path or b""))
                except BaseException as e:  # an exception cannot cross the C frames
                    failure.append(e)
                    return WALK_ERROR
                return WALK_CONT

            root = _at(fs, _FS_ROOT_INUM, _U64)
            r = lib.tsk_fs_dir_walk(fs, root, WALK_FLAGS, _WALK_CALLBACK(callback), None)
            if failure:
                raise failure[0]
            if r != 0:
                raise _error(lib, "tsk_fs_dir_walk")
        finally:
            lib.tsk_fs_close(fs)
    finally:
        lib.tsk_img_close(img)
