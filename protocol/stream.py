"""A buffered byte stream over one file descriptor, shared by agent and host.

The protocol runs over a Unix socket on the host, over a virtio-serial port or a serial
line in the guest, and over a socketpair in tests; all of them are file descriptors, so one
small class serves them all. Reads go through a buffer (one system call usually brings a
whole message or several chunks); ``readable()`` looks at that buffer before polling, so
checking for a waiting cancel flag costs nothing when nothing is there.
"""

from __future__ import annotations

import errno
import os
import select
import struct

from . import constants as C
from .errors import StreamClosed
from .xdr import XdrError

__all__ = ["ByteStream", "StreamClosed"]

_WORD = struct.Struct(">I")
_READ_SIZE = 256 * 1024
#: Most bytes :meth:`ByteStream.hold` keeps back before writing them anyway.
_HOLD_MAX = 64 * 1024


class ByteStream:
    """Blocking reads and writes of whole units on a file descriptor."""

    def __init__(self, fd: int, *, owns_fd: bool = True) -> None:
        self.fd = fd
        self._owns_fd = owns_fd
        self._buf = bytearray()
        self._pos = 0
        # Reads land here first. os.read(fd, n) would allocate n bytes anew for every
        # read and shrink them to what came: for n this large, glibc's malloc maps,
        # remaps and unmaps memory on each call -- three system calls, page faults and
        # TLB flushes per message, which an emulated guest pays dearly for.
        self._chunk = bytearray(_READ_SIZE)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self.closed = False
        #: Output held back by hold(), written before anything else and before blocking.
        self._out = bytearray()

    # -- reading -------------------------------------------------------------------------
    def _fill(self, timeout: float | None = None) -> None:
        self.flush()  # never wait for the peer while holding back what it waits for
        if timeout is not None and not self._wait(timeout):
            raise TimeoutError(f"no data within {timeout:.1f} s")
        try:
            n = os.readv(self.fd, [self._chunk])
        except OSError as e:
            if e.errno == errno.EINTR:  # pragma: no cover - retried by Python already
                return
            raise StreamClosed(f"read failed: {e.strerror}") from None
        if not n:
            raise StreamClosed("the peer closed the connection")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        with memoryview(self._chunk) as chunk:
            self._buf += chunk[:n]

    def _wait(self, timeout: float) -> bool:
        return bool(self._poll.poll(max(0, int(timeout * 1000))))

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        while self.buffered() < n:
            self._fill(timeout)
        start = self._pos
        self._pos += n
        with memoryview(self._buf) as view:  # one copy, not a slice and then a copy of it
            return bytes(view[start : self._pos])

    def readinto_exact(self, view: memoryview) -> None:
        """Fill ``view``: first from what is buffered, then by reading the descriptor
        straight into it (a file chunk's data goes from the kernel to its destination
        buffer in one copy, never through the stream's own buffer)."""
        want = len(view)
        have = min(self.buffered(), want)
        if have:
            start = self._pos
            end = start + have
            self._pos = end
            with memoryview(self._buf) as buf:  # released at once: _buf must stay resizable
                view[:have] = buf[start:end]
        got = have
        if got < want:
            self.flush()  # never wait for the peer while holding back what it waits for
        while got < want:
            try:
                n = os.readv(self.fd, [view[got:]])
            except OSError as e:
                raise StreamClosed(f"read failed: {e.strerror}") from None
            if not n:
                raise StreamClosed("the peer closed the connection")
            got += n

    def read_word(self, timeout: float | None = None) -> int:
        return int(_WORD.unpack(self.read_exact(4, timeout))[0])

    def peek_word(self) -> int | None:
        """The next word if four bytes are already buffered, without consuming it."""
        if self.buffered() < 4:
            return None
        return int(_WORD.unpack_from(self._buf, self._pos)[0])

    def read_body(self, length: int, timeout: float | None = None) -> bytes:
        """Read a body announced by a length word, refusing lengths over the 4 MiB limit
        before allocating anything."""
        if length > C.MESSAGE_MAX:
            raise XdrError(f"length word {length} exceeds the {C.MESSAGE_MAX}-byte limit")
        return self.read_exact(length, timeout)

    def readable(self, timeout: float = 0.0) -> bool:
        """True if at least one byte can be read without blocking (or the peer closed)."""
        if self.buffered() > 0:
            return True
        if timeout > 0:
            self.flush()
        return self._wait(timeout)

    # -- writing -------------------------------------------------------------------------
    def hold(self, data: bytes) -> None:
        """Queue ``data`` to go out with the next write, flush or read, in order: many
        small replies to pipelined requests then leave in one system call (each costs
        a lot on a virtio-serial port under TCG)."""
        self._out += data
        if len(self._out) >= _HOLD_MAX:
            self.flush()

    def flush(self) -> None:
        """Write whatever :meth:`hold` queued."""
        if self._out:
            out, self._out = self._out, bytearray()
            self._write_all(out)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._out:
            self._out += data
            data, self._out = self._out, bytearray()
        self._write_all(data)

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:  # pragma: no cover - fds here are blocking
                select.select([], [self.fd], [])
                continue
            except OSError as e:
                raise StreamClosed(f"write failed: {e.strerror}") from None
            view = view[n:]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._owns_fd:
                try:
                    os.close(self.fd)
                except OSError:
                    pass
