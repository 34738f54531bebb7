"""Exceptions of the host library, shaped like python3-guestfs's."""

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


class ClosedHandle(ValueError):
    """A method was called on a closed handle (python3-guestfs raises the same)."""


class ProtocolViolation(GuestFSError):
    """The agent sent something the protocol does not allow; the connection is dropped,
    because nothing after it can be trusted."""
