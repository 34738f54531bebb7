"""Exceptions of the host library, shaped like python3-guestfs's.

:class:`GuestFSError` itself is defined in :mod:`pyguestfs.core.errors` (a launch failure
raised by :mod:`pyguestfs.vm` is one too) and is re-exported here.
"""

from __future__ import annotations

from ..core.errors import GuestFSError

__all__ = ["ClosedHandle", "GuestFSError", "ProtocolViolation"]


class ClosedHandle(ValueError):
    """A method was called on a closed handle (python3-guestfs raises the same)."""


class ProtocolViolation(GuestFSError):
    """The agent sent something the protocol does not allow; the connection is dropped,
    because nothing after it can be trusted."""
