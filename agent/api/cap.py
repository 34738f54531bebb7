"""The ``cap`` family: file capabilities through the appliance's libcap
(``libcap.so.2``), as guestfsd 1.48's ``daemon/cap.c`` calls it."""

from __future__ import annotations

import ctypes
import errno

from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library
from ..registry import procedure, provides_group, require_group
from ..resolve import GuestPath

_SONAME = "libcap.so.2"


def _lib() -> ctypes.CDLL:
    require_group("linuxcaps")
    lib = load_library(_SONAME)
    assert lib is not None  # the group test loaded it
    lib.cap_get_file.restype = ctypes.c_void_p
    lib.cap_get_file.argtypes = [ctypes.c_char_p]
    lib.cap_to_text.restype = ctypes.c_void_p
    lib.cap_to_text.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.cap_from_text.restype = ctypes.c_void_p
    lib.cap_from_text.argtypes = [ctypes.c_char_p]
    lib.cap_set_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.cap_free.argtypes = [ctypes.c_void_p]
    return lib


provides_group("linuxcaps", lambda: load_library(_SONAME) is not None)


@procedure("cap_get_file")
def cap_get_file(call: CallContext, path: GuestPath) -> str:
    """The file's capabilities as text; "" when it has none (getcap ignores ENODATA
    too, RHBZ#989356)."""
    lib = _lib()
    cap = lib.cap_get_file(path.host().encode("utf-8", "surrogateescape"))
    if not cap:
        code = ctypes.get_errno()
        if code == errno.ENODATA:
            return ""
        raise AgentError.from_errno(code, path)
    try:
        text = lib.cap_to_text(cap, None)
        if not text:
            raise AgentError.from_errno(ctypes.get_errno(), "cap_to_text")
        try:
            return ctypes.string_at(text).decode("utf-8", "surrogateescape")
        finally:
            lib.cap_free(text)
    finally:
        lib.cap_free(cap)


@procedure("cap_set_file")
def cap_set_file(call: CallContext, path: GuestPath, cap: str) -> None:
    lib = _lib()
    parsed = lib.cap_from_text(cap.encode("utf-8", "surrogateescape"))
    if not parsed:
        raise AgentError.from_errno(
            ctypes.get_errno(), f"could not parse cap string: {cap}: cap_from_text"
        )
    try:
        if lib.cap_set_file(path.host().encode("utf-8", "surrogateescape"), parsed) == -1:
            raise AgentError.from_errno(ctypes.get_errno(), path)
    finally:
        lib.cap_free(parsed)
