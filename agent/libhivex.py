"""A small ctypes binding of the system's libhivex (``libhivex.so.0``), the Windows
Registry hive library that guestfsd 1.48 links for the ``hivex_*`` procedures and for
Windows inspection.

Node and value handles are libhivex's (offsets in the hive file, as ``int``). A failed
call raises :class:`HivexError` with the ``errno`` libhivex set, since guestfsd reports
these failures with ``reply_with_perror``.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_int32, c_size_t, c_void_p

from .guest import declare_functions

SONAME = "libhivex.so.0"

#: Flags of hivex_open (hivex.h).
OPEN_VERBOSE = 1
OPEN_DEBUG = 2
OPEN_WRITE = 4
OPEN_UNSAFE = 8

#: Value types (hive_type).
REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_DWORD_BIG_ENDIAN = 5
REG_LINK = 6
REG_MULTI_SZ = 7
REG_QWORD = 11


class HivexUnavailable(Exception):
    """The library cannot be loaded (not installed in the appliance)."""


class HivexError(OSError):
    """A failed libhivex call; ``errno`` is what the library set."""


class _SetValue(Structure):
    _fields_ = (
        ("key", c_char_p),
        ("t", c_int),
        ("len", c_size_t),
        ("value", c_char_p),
    )


_lib: ctypes.CDLL | None = None
_free: ctypes._CFuncPtr | None = None  # type: ignore[name-defined]


def _load() -> ctypes.CDLL:
    global _lib, _free
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL(SONAME, use_errno=True)
    except OSError as e:
        raise HivexUnavailable(f"{SONAME}: {e}") from None
    h, node = c_void_p, c_size_t
    sigs: dict[str, tuple[object, list[object]]] = {
        "hivex_open": (h, [c_char_p, c_int]),
        "hivex_close": (c_int, [h]),
        "hivex_root": (node, [h]),
        "hivex_node_name": (c_void_p, [h, node]),
        "hivex_node_children": (c_void_p, [h, node]),
        "hivex_node_get_child": (node, [h, node, c_char_p]),
        "hivex_node_parent": (node, [h, node]),
        "hivex_node_values": (c_void_p, [h, node]),
        "hivex_node_get_value": (node, [h, node, c_char_p]),
        "hivex_value_key": (c_void_p, [h, node]),
        "hivex_value_type": (c_int, [h, node, POINTER(c_int), POINTER(c_size_t)]),
        "hivex_value_value": (c_void_p, [h, node, POINTER(c_int), POINTER(c_size_t)]),
        "hivex_value_string": (c_void_p, [h, node]),
        "hivex_value_dword": (c_int32, [h, node]),
        "hivex_commit": (c_int, [h, c_char_p, c_int]),
        "hivex_node_add_child": (node, [h, node, c_char_p]),
        "hivex_node_delete_child": (c_int, [h, node]),
        "hivex_node_set_value": (c_int, [h, node, POINTER(_SetValue), c_int]),
    }
    declare_functions(lib, sigs)
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [c_void_p]
    libc.free.restype = None
    _lib, _free = lib, libc.free
    return lib


def available() -> bool:
    """Whether libhivex can be loaded here (the ``hivex`` feature group)."""
    try:
        _load()
    except HivexUnavailable:
        return False
    return True


def _fail(default: int = errno_mod.EINVAL) -> HivexError:
    code = ctypes.get_errno() or default
    return HivexError(code, os.strerror(code))


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Hive:
    """An open hive (``hive_h *``)."""

    def __init__(self, path: str, flags: int = 0) -> None:
        lib = _load()
        self._lib = lib
        ctypes.set_errno(0)
        handle = lib.hivex_open(os.fsencode(path), flags)
        if not handle:
            raise _fail()
        self._h: int | None = handle

    def __enter__(self) -> Hive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def h(self) -> int:
        if self._h is None:
            raise ValueError("the hive is closed")
        return self._h

    def close(self) -> None:
        if self._h is not None:
            self._lib.hivex_close(self._h)
            self._h = None

    # -- helpers over the C conventions -----------------------------------------------------
    def _call_node(self, name: str, *args: object, zero_ok: bool = False) -> int:
        """A call returning a handle: 0 is an error, unless ``zero_ok`` and errno is 0
        ("not found")."""
        ctypes.set_errno(0)
        r = int(getattr(self._lib, name)(self.h, *args) or 0)
        if r == 0 and not (zero_ok and ctypes.get_errno() == 0):
            raise _fail()
        return r

    def _call_string(self, name: str, *args: object) -> str:
        ctypes.set_errno(0)
        p = getattr(self._lib, name)(self.h, *args)
        if not p:
            raise _fail()
        try:
            return (ctypes.string_at(p) or b"").decode("utf-8", "surrogateescape")
        finally:
            assert _free is not None
            _free(p)

    def _call_handles(self, name: str, node: int) -> list[int]:
        ctypes.set_errno(0)
        p = getattr(self._lib, name)(self.h, node)
        if not p:
            raise _fail()
        array = ctypes.cast(p, POINTER(c_size_t))
        out: list[int] = []
        try:
            i = 0
            while array[i]:
                out.append(int(array[i]))
                i += 1
        finally:
            assert _free is not None
            _free(p)
        return out

    # -- the API ------------------------------------------------------------------------------
    def root(self) -> int:
        return self._call_node("hivex_root")

    def node_name(self, node: int) -> str:
        return self._call_string("hivex_node_name", node)

    def node_children(self, node: int) -> list[int]:
        return self._call_handles("hivex_node_children", node)

    def node_get_child(self, node: int, name: str) -> int:
        """The child's handle, 0 if there is none."""
        return self._call_node("hivex_node_get_child", node, _b(name), zero_ok=True)

    def node_parent(self, node: int) -> int:
        return self._call_node("hivex_node_parent", node)

    def node_values(self, node: int) -> list[int]:
        return self._call_handles("hivex_node_values", node)

    def node_get_value(self, node: int, key: str) -> int:
        """The value's handle, 0 if there is none."""
        return self._call_node("hivex_node_get_value", node, _b(key), zero_ok=True)

    def value_key(self, value: int) -> str:
        return self._call_string("hivex_value_key", value)

    def value_type(self, value: int) -> int:
        t, size = c_int(0), c_size_t(0)
        ctypes.set_errno(0)
        if self._lib.hivex_value_type(self.h, value, byref(t), byref(size)) == -1:
            raise _fail()
        return int(t.value)

    def value_value(self, value: int) -> tuple[int, bytes]:
        """(type, raw data)."""
        t, size = c_int(0), c_size_t(0)
        ctypes.set_errno(0)
        p = self._lib.hivex_value_value(self.h, value, byref(t), byref(size))
        if not p:
            raise _fail()
        try:
            return int(t.value), ctypes.string_at(p, size.value)
        finally:
            assert _free is not None
            _free(p)

    def value_string(self, value: int) -> str:
        return self._call_string("hivex_value_string", value)

    def value_dword(self, value: int) -> int:
        ctypes.set_errno(0)
        r = int(self._lib.hivex_value_dword(self.h, value))
        if r == -1 and ctypes.get_errno() != 0:
            raise _fail()
        return r

    def commit(self, path: str | None) -> None:
        ctypes.set_errno(0)
        if self._lib.hivex_commit(self.h, None if path is None else os.fsencode(path), 0) == -1:
            raise _fail()

    def node_add_child(self, parent: int, name: str) -> int:
        return self._call_node("hivex_node_add_child", parent, _b(name))

    def node_delete_child(self, node: int) -> None:
        ctypes.set_errno(0)
        if self._lib.hivex_node_delete_child(self.h, node) == -1:
            raise _fail()

    def node_set_value(self, node: int, key: str, t: int, data: bytes) -> None:
        v = _SetValue(_b(key), t, len(data), data)
        ctypes.set_errno(0)
        if self._lib.hivex_node_set_value(self.h, node, byref(v), 0) == -1:
            raise _fail()
