"""The ``acl`` family: POSIX ACLs through the appliance's libacl (``libacl.so.1``), as
guestfsd 1.48's ``daemon/acl.c`` calls it: ``acl_get_file`` / ``acl_to_text``,
``acl_from_text`` / ``acl_set_file``, ``acl_delete_def_file``.

Names of users and groups in the text are looked up in the appliance's user database,
not the guest's (guestfsd leaves its chroot before ``acl_to_text`` too).
"""

from __future__ import annotations

import ctypes

from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library
from ..registry import procedure, provides_group, require_group
from ..resolve import GuestPath

_SONAME = "libacl.so.1"
#: <sys/acl.h>: ACL_TYPE_ACCESS, ACL_TYPE_DEFAULT.
_TYPES = {"access": 0x8000, "default": 0x4000}


def _lib() -> ctypes.CDLL:
    require_group("acl")
    lib = load_library(_SONAME)
    assert lib is not None  # the group test loaded it
    lib.acl_get_file.restype = ctypes.c_void_p
    lib.acl_get_file.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.acl_to_text.restype = ctypes.c_void_p
    lib.acl_to_text.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.acl_from_text.restype = ctypes.c_void_p
    lib.acl_from_text.argtypes = [ctypes.c_char_p]
    lib.acl_set_file.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
    lib.acl_delete_def_file.argtypes = [ctypes.c_char_p]
    lib.acl_free.argtypes = [ctypes.c_void_p]
    return lib


provides_group("acl", lambda: load_library(_SONAME) is not None)


def _errno_error(what: str) -> AgentError:
    return AgentError.from_errno(ctypes.get_errno(), what)


def _type(acltype: str) -> int:
    t = _TYPES.get(acltype)
    if t is None:
        raise AgentError(f"invalid acltype parameter: {acltype}")
    return t


@procedure("acl_get_file")
def acl_get_file(call: CallContext, path: GuestPath, acltype: str) -> str:
    lib = _lib()
    t = _type(acltype)
    acl = lib.acl_get_file(path.host().encode("utf-8", "surrogateescape"), t)
    if not acl:
        raise _errno_error(path)
    try:
        text = lib.acl_to_text(acl, None)
        if not text:
            raise _errno_error("acl_to_text")
        try:
            return ctypes.string_at(text).decode("utf-8", "surrogateescape")
        finally:
            lib.acl_free(text)
    finally:
        lib.acl_free(acl)


@procedure("acl_set_file")
def acl_set_file(call: CallContext, path: GuestPath, acltype: str, acl: str) -> None:
    lib = _lib()
    t = _type(acltype)
    parsed = lib.acl_from_text(acl.encode("utf-8", "surrogateescape"))
    if not parsed:
        raise _errno_error(f"could not parse acl string: {acl}: acl_from_text")
    try:
        if lib.acl_set_file(path.host().encode("utf-8", "surrogateescape"), t, parsed) == -1:
            raise _errno_error(path)
    finally:
        lib.acl_free(parsed)


@procedure("acl_delete_def_file")
def acl_delete_def_file(call: CallContext, dir: GuestPath) -> None:
    lib = _lib()
    if lib.acl_delete_def_file(dir.host().encode("utf-8", "surrogateescape")) == -1:
        raise _errno_error(dir)
