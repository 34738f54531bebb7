"""The ``dirs`` family: directories, as guestfsd 1.48's ``daemon/dir.c`` and ``ls.c``
make and list them."""

from __future__ import annotations

import os

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import GuestPath


@procedure("mkdir_mode")
def mkdir_mode(call: CallContext, path: GuestPath, mode: int) -> None:
    """mkdir(2) with ``mode``; the agent's umask applies, as it does to guestfsd's."""
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    try:
        os.mkdir(path.host(follow=False), mode)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("llz")
def llz(call: CallContext, directory: GuestPath) -> str:
    """``ls -laZ`` of the directory's real path (guestfsd resolves it first, so a
    symlink to a directory lists that directory)."""
    host = directory.host()
    try:
        os.lstat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    return call.run(["ls", "-laZ", host]).out
