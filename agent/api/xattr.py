"""The ``xattr`` family: extended attributes (``daemon/xattr.c`` of 1.48)."""

from __future__ import annotations

import errno
import os
from typing import Any

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure, provides_group
from ..resolve import GuestPath

provides_group("linuxxattrs", lambda: hasattr(os, "setxattr"))


#: An attribute guestfsd never lists (Windows compressed data under ntfs-3g).
_HIDDEN_XATTR = "user.WofCompressedData"


#: Linux's XATTR_SIZE_MAX.
_XATTR_SIZE_MAX = 65536


def _xattrs_of(host: str, follow: bool, list_error: str) -> list[dict[str, Any]]:
    try:
        names = os.listxattr(host, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, list_error) from None
    out = []
    for name in names:
        if name == _HIDDEN_XATTR:
            continue
        try:
            value = os.getxattr(host, name, follow_symlinks=follow)
        except OSError as e:
            raise AgentError.from_os(e, f"getxattr: {name}") from None
        out.append({"attrname": name, "attrval": value})
    out.sort(key=lambda x: os.fsencode(str(x["attrname"])))
    return out


@procedure("getxattrs")
def getxattrs(call: CallContext, path: GuestPath) -> list[dict[str, Any]]:
    return _xattrs_of(path.host(), True, f"listxattr: {path}")


@procedure("lgetxattrs")
def lgetxattrs(call: CallContext, path: GuestPath) -> list[dict[str, Any]]:
    return _xattrs_of(path.host(follow=False), False, f"listxattr: {path}")


def _setxattr(
    call: CallContext, xattr: str, val: str, vallen: int, path: GuestPath, follow: bool
) -> None:
    if vallen > _XATTR_SIZE_MAX:
        raise AgentError("extended attribute is too large")
    if vallen < 0:
        # C hands the negative length to setxattr as a huge size_t: the kernel says E2BIG.
        raise AgentError.from_errno(errno.E2BIG, "setxattr")
    # The value is the first vallen bytes at val, a C string: past its end come its NUL
    # and then whatever follows in memory (zeros here).
    data = val.encode("utf-8", "surrogateescape")
    value = data[:vallen].ljust(vallen, b"\0")
    try:
        os.setxattr(
            call.sysroot.resolve(path, follow=follow), xattr, value, 0, follow_symlinks=follow
        )
    except OSError as e:
        raise AgentError.from_os(e, "setxattr") from None


@procedure("setxattr")
def setxattr(call: CallContext, xattr: str, val: str, vallen: int, path: GuestPath) -> None:
    _setxattr(call, xattr, val, vallen, path, True)


@procedure("lsetxattr")
def lsetxattr(call: CallContext, xattr: str, val: str, vallen: int, path: GuestPath) -> None:
    _setxattr(call, xattr, val, vallen, path, False)


def _removexattr(call: CallContext, xattr: str, path: GuestPath, follow: bool) -> None:
    try:
        os.removexattr(call.sysroot.resolve(path, follow=follow), xattr, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, "removexattr") from None


@procedure("removexattr")
def removexattr(call: CallContext, xattr: str, path: GuestPath) -> None:
    _removexattr(call, xattr, path, True)


@procedure("lremovexattr")
def lremovexattr(call: CallContext, xattr: str, path: GuestPath) -> None:
    _removexattr(call, xattr, path, False)


def _getxattr(call: CallContext, path: GuestPath, name: str, follow: bool) -> bytes:
    try:
        return os.getxattr(call.sysroot.resolve(path, follow=follow), name, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, "getxattr") from None


@procedure("getxattr")
def getxattr(call: CallContext, path: GuestPath, name: str) -> bytes:
    return _getxattr(call, path, name, True)


@procedure("lgetxattr")
def lgetxattr(call: CallContext, path: GuestPath, name: str) -> bytes:
    return _getxattr(call, path, name, False)


@procedure("internal_lxattrlist")
def internal_lxattrlist(
    call: CallContext, path: GuestPath, names: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in names:
        # Each file: an entry with an empty name whose value counts the attributes that
        # follow ("N" plus its NUL); a file that cannot be listed has an empty value.
        marker: dict[str, Any] = {"attrname": "", "attrval": b""}
        out.append(marker)
        host = call.sysroot.resolve(f"{path}/{name}", follow=False)
        try:
            names_here = os.listxattr(host, follow_symlinks=False)
        except OSError:
            continue
        attrs = []
        for attr in names_here:
            if attr == _HIDDEN_XATTR:
                continue
            try:
                value = os.getxattr(host, attr, follow_symlinks=False)
            except OSError as e:
                raise AgentError.from_os(e, f"getxattr: {attr}") from None
            attrs.append({"attrname": attr, "attrval": value})
        attrs.sort(key=lambda x: os.fsencode(str(x["attrname"])))
        marker["attrval"] = f"{len(attrs)}\0".encode()
        out += attrs
    return out
