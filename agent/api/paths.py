"""The ``paths`` family: renaming and copying trees, as guestfsd 1.48's ``daemon/rename.c``
and ``cpmv.c`` do it."""

from __future__ import annotations

import errno
import os

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import GuestPath


@procedure("rename")
def rename(call: CallContext, oldpath: GuestPath, newpath: GuestPath) -> None:
    """rename(2): neither a final symlink of ``oldpath`` nor of ``newpath`` is followed."""
    try:
        os.rename(oldpath.host(follow=False), newpath.host(follow=False))
    except OSError as e:
        raise AgentError.from_os(e, f"rename: {oldpath}: {newpath}") from None


@procedure("cp_r")
def cp_r(call: CallContext, src: GuestPath, dest: GuestPath) -> None:
    """``cp -rP SRC DEST``: a tree copied without following its symlinks; the copy goes
    into ``dest`` when that is a directory (or a symlink to one, which cp follows)."""
    host_dest = dest.host(follow=False)
    if os.path.islink(host_dest) and os.path.isdir(dest.host()):
        host_dest = dest.host()
    call.run(["cp", "-rP", src.host(follow=False), host_dest])


# -- case_sensitive_path ----------------------------------------------------------------------


def _find_entry(directory: str, name: str) -> str | None:
    """The first entry of ``directory``, in readdir order, equal to ``name`` ignoring
    ASCII case (1.48 compares with ``String.lowercase_ascii``; an exact match is not
    preferred)."""
    wanted = _ascii_lower(name)
    try:
        entries = os.listdir(directory)
    except OSError as e:
        # 1.48's Sys.readdir failure is a Sys_error: "<dir>: <strerror>".
        raise AgentError(f".: {os.strerror(e.errno or 0)}") from None
    return next((e for e in entries if _ascii_lower(e) == wanted), None)


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


@procedure("case_sensitive_path")
def case_sensitive_path(call: CallContext, path: GuestPath) -> str:
    """The path with each component spelled as the directory spells it, found ignoring
    case (Windows guests, NTFS mounted by ntfs-3g); the last component may be missing
    and is then returned as given. 1.48 walks the tree with chdir inside its chroot;
    here each directory is resolved inside the sysroot, so a symlink cannot lead out."""
    sysroot = call.sysroot
    elems = str(path).split("/")[1:]
    found: list[str] = []
    while elems:
        elem = elems.pop(0)
        if not elem:  # "//" in the middle, or a trailing "/": ignored, as in 1.48
            continue
        if not elems and elem in (".", ".."):
            raise AgentError('path contains "." or ".." elements')
        here = sysroot.resolve("/" + "/".join(found))
        match = _find_entry(here, elem)
        if not elems:
            found.append(match if match is not None else elem)
            break
        if match is None:
            raise AgentError(f"{elem}: not found")
        # 1.48 chdirs into it: a file is ENOTDIR, a dangling symlink ENOENT.
        target = sysroot.resolve("/" + "/".join([*found, match]))
        if not os.path.isdir(target):
            code = errno.ENOTDIR if os.path.lexists(target) else errno.ENOENT
            raise AgentError.from_errno(code, f"chdir: {match}")
        found.append(match)
    return "/" + "/".join(found)
