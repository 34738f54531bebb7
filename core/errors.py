"""The library's error, shared by every layer that can fail a user's call.

:class:`GuestFSError` is defined here, below the VM layer and the host library, so that
a launch failure raised by :mod:`pyguestfs.vm` is the same kind of error as a failed API
call; :mod:`pyguestfs.host` re-exports it as ``pyguestfs.host.GuestFSError``.
"""

from __future__ import annotations

import errno as _errno


class GuestFSError(RuntimeError):
    """An API call failed. A :class:`RuntimeError`, as in python3-guestfs, so existing
    ``except RuntimeError`` code keeps working; it also carries the daemon's errno.

    ``errno_name`` is the symbolic name the daemon sent (``"ENOENT"``), or ``""``;
    ``errno`` is the matching number on this host, or 0.
    """

    def __init__(self, message: str, errno_name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.errno_name = errno_name
        self.errno: int = getattr(_errno, errno_name, 0) if errno_name else 0
