"""The ``paths`` family: renaming and copying trees, as guestfsd 1.48's ``daemon/rename.c``
and ``cpmv.c`` do it."""

from __future__ import annotations

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
