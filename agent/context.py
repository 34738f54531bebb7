"""Everything one call needs while it runs: its arguments' home (the sysroot), the stream
for FileIn/FileOut chunks, and rate-limited progress messages.

The chunk rules follow guestfsd 1.48 (``daemon/proto.c``): a FileIn call's chunks follow the
request; if the call fails before it has read them all, the daemon writes a bare
CANCEL_FLAG, drains chunks up to a cancel chunk or the end marker, then replies with the
error. A FileOut call sends its OK reply first and then chunks; after that the only way to
report a failure is a chunk with ``cancel = 1``. Before each chunk it sends, the daemon
looks (without blocking) for a CANCEL_FLAG from the library.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol import constants as C
from ..protocol.chunks import ChunkBatcher, read_chunk_into
from ..protocol.messages import Header, encode_chunk, encode_progress, word
from ..protocol.procedures import Procedure
from ..protocol.xdr import XdrError
from . import runner
from .errors import StreamOutOfSync, TransferCancelled
from .guest import user_device_names

if TYPE_CHECKING:
    from .server import Agent


class FileBuffers:
    """The buffers one connection moves file bodies through, made once per chunk size
    (8 KiB, or what our host negotiated) and reused by every transfer."""

    def __init__(self) -> None:
        self._receive: memoryview | None = None
        self._batcher: ChunkBatcher | None = None

    def receive_buffer(self, limit: int) -> memoryview:
        """About 1 MiB of chunks (at least two), so small chunks reach the file in big
        writes."""
        size = max(_RECEIVE_BYTES, limit) + limit
        if self._receive is None or len(self._receive) != size:
            self._receive = memoryview(bytearray(size))
        return self._receive

    def batcher(self, size: int) -> ChunkBatcher:
        if self._batcher is None or self._batcher.size != size:
            self._batcher = ChunkBatcher(size)
        return self._batcher


#: What a FileIn call hands its sink at a time, at the least.
_RECEIVE_BYTES = 1024 * 1024


class FileOutCancelled(Exception):
    """The library cancelled a FileOut transfer; the daemon has sent its cancel chunk."""


class CallContext:
    """State of the call being served."""

    def __init__(self, agent: Agent, proc: Procedure, header: Header) -> None:
        self.agent = agent
        self.stream = agent.stream
        self.sysroot = agent.sysroot
        self.proc = proc
        self.header = header
        self.started = time.monotonic()
        #: FileIn: chunks are still on the wire that must be drained before any reply.
        self.file_in_pending = proc.file_in
        #: FileOut: the OK reply has gone out; errors can only cancel the transfer now.
        self.reply_sent = False
        self.file_out_ended = False
        self._progress_last = self.started
        self._progress_count = 0

    # -- programs --------------------------------------------------------------------------
    def user_names(self, text: str) -> str:
        """``text`` with the guest kernel's disk names rewritten to the user's."""
        return user_device_names(self.agent.devices, text)

    def run(
        self,
        argv: list[str],
        *,
        stdin: runner.Stdin = None,
        fold: bool = False,
        check: bool = True,
        error: str = "{err}",
        chroot: str | None = None,
    ) -> runner.Completed:
        """:func:`pyguestfs.agent.runner.run` for this call: disk names in the program's
        messages and output become the user's, our host path of the sysroot becomes
        ``/sysroot``."""
        sysroot = self.sysroot

        def rewrite(text: str) -> str:
            return sysroot.hide(self.user_names(text))

        return runner.run(
            argv, stdin=stdin, fold=fold, check=check, error=error, rewrite=rewrite, chroot=chroot
        )

    # -- progress ------------------------------------------------------------------------
    def progress(self, position: int, total: int) -> None:
        """Send a progress message, rate-limited as guestfsd does: none during the first
        2 s of the call, then at most one every 333 ms."""
        now = time.monotonic()
        initial_delay, period = self.agent.progress_timing
        if now - self.started < initial_delay:
            return
        if self._progress_count and now - self._progress_last < period:
            return
        self._send_progress(position, total)
        self._progress_last = now

    def progress_done(self, total: int) -> None:
        """The final 100 % message, sent only if an earlier one was (as in 1.48)."""
        if self._progress_count:
            self._send_progress(total, total)

    def _send_progress(self, position: int, total: int) -> None:
        self._progress_count += 1
        self.stream.write(encode_progress(self.header.proc, self.header.serial, position, total))

    # -- FileIn ----------------------------------------------------------------------------
    def receive_file(
        self,
        sink: Callable[[memoryview], None],
        total: int | None = None,
        *,
        per_chunk: bool = False,
    ) -> int:
        """Feed the incoming file to ``sink`` until the end marker; returns the byte count.
        Raises TransferCancelled if the library cancels. ``sink`` may raise AgentError (a
        write error): the caller's error path then drains the rest.

        Chunks are read straight into one buffer of the connection (no copy, no
        allocation per chunk), and ``sink`` gets about 1 MiB at a time -- a view into
        that buffer, valid only until it returns -- however small the chunks are, or
        each chunk as it comes with ``per_chunk``."""
        received = 0
        total = total if total is not None else self.header.progress_hint
        limit = self.agent.chunk_size
        buf = self.agent.file_buffers.receive_buffer(limit)
        if per_chunk:
            buf = buf[:limit]  # full after every chunk: each one goes to the sink
        fill = 0
        while True:
            cancel, n = self._read_chunk_into(buf[fill:])
            if cancel:
                self.file_in_pending = False
                raise TransferCancelled()
            if not n:
                self.file_in_pending = False
                if fill:
                    sink(buf[:fill])
                self.progress_done(total)
                return received
            fill += n
            received += n
            if len(buf) - fill < limit:
                sink(buf[:fill])
                fill = 0
            if total:
                self.progress(received, total)

    def _read_chunk_into(self, buf: memoryview) -> tuple[bool, int]:
        stream = self.stream
        while True:
            n = stream.read_word()
            if n == C.CANCEL_FLAG:
                continue  # a stray flag: guestfsd ignores it here too
            try:
                return read_chunk_into(stream, n, buf, self.agent.chunk_size)
            except XdrError as e:
                raise StreamOutOfSync(f"bad file chunk: {e}") from None

    def cancel_receive(self) -> None:
        """Tell the library to stop sending chunks, and drain those already sent."""
        if not self.file_in_pending:
            return
        self.file_in_pending = False
        self.stream.write(word(C.CANCEL_FLAG))
        buf = self.agent.file_buffers.receive_buffer(self.agent.chunk_size)
        while True:
            cancel, n = self._read_chunk_into(buf)
            if cancel or not n:
                return

    # -- FileOut ---------------------------------------------------------------------------
    def begin_file_out(self) -> None:
        """Send the OK reply that precedes the chunks of a FileOut call."""
        self.agent.send_reply(self.header, b"")
        self.reply_sent = True

    def send_chunk(self, data: bytes) -> None:
        """Send one chunk (≤ the connection's chunk size), first checking for a library
        cancel."""
        if self._library_cancelled():
            self.end_file_out(cancel=True)
            raise FileOutCancelled()
        self.stream.write(encode_chunk(data, limit=self.agent.chunk_size))

    def send_file(self, read: Callable[[int], bytes], total: int = 0) -> int:
        """Stream everything ``read`` returns (``read(n)`` gives at most n bytes, b""
        at the end), in chunks of the connection's size (8 KiB unless our host asked
        for more). The end marker is sent by the dispatcher once the implementation
        returns without error."""

        def readinto(view: memoryview) -> int:
            data = read(len(view))
            n = len(data)
            view[:n] = data
            return n

        return self.send_from(readinto, total)

    def send_from(self, readinto: Callable[[memoryview], int], total: int = 0) -> int:
        """:meth:`send_file` from a ``readinto``-like source, which puts up to
        ``len(view)`` bytes in the view it is given and returns how many (0 at the end):
        the data goes from the source into the chunks' buffer in place, and batches of
        chunks (about 2 MiB) leave in one write each."""
        sent = 0
        batcher = self.agent.file_buffers.batcher(self.agent.chunk_size)
        while True:
            n = batcher.fill(readinto)
            if not n:
                break
            if self._library_cancelled():
                self.end_file_out(cancel=True)
                raise FileOutCancelled()
            self.stream.write(batcher.view())
            sent += n
            if total:
                self.progress(sent, total)
        self.progress_done(total)
        return sent

    def end_file_out(self, cancel: bool = False) -> None:
        if not self.file_out_ended:
            self.file_out_ended = True
            self.stream.write(encode_chunk(b"", cancel=cancel))

    def _library_cancelled(self) -> bool:
        stream = self.stream
        if not stream.readable(0):
            return False
        if stream.buffered() < 4:
            try:
                stream._fill(0)
            except TimeoutError:
                return False
        # Anything but the flag (a pipelined next request, say) stays in the buffer.
        if stream.peek_word() == C.CANCEL_FLAG:
            stream.read_exact(4)
            return True
        return False
