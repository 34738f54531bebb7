"""Errors the agent sends back: an errno name (maybe empty) and a message, as guestfsd does.

``reply_with_perror("%s", path)`` in the C daemon becomes ``AgentError.from_os(e, path)``
here: the message is "<what>: <strerror>" and the errno name travels beside it, so the
library can set ``last_errno``. ``reply_with_error`` (no errno) is ``AgentError(msg)``.
"""

from __future__ import annotations

import errno
import os


class AgentError(Exception):
    """An error reply for the current call."""

    def __init__(self, message: str, errno_name: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.errno_name = errno_name

    @classmethod
    def from_os(cls, exc: OSError, what: str) -> AgentError:
        """``reply_with_perror``: "<what>: <strerror>" plus the errno name."""
        code = exc.errno or 0
        return cls.from_errno(code, what)

    @classmethod
    def from_errno(cls, code: int, what: str) -> AgentError:
        text = os.strerror(code) if code else "Unknown error"
        return cls(f"{what}: {text}", errno.errorcode.get(code, ""))


class TransferCancelled(AgentError):
    """The library cancelled a FileIn transfer (it sent a chunk with cancel = 1)."""

    def __init__(self) -> None:
        super().__init__("file upload cancelled")


class StreamOutOfSync(Exception):
    """The byte stream can no longer be trusted: the connection must be closed."""
