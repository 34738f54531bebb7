"""The library's side of the protocol: one request in flight, FileIn/FileOut chunk
streams with cancellation in both directions, progress messages wherever they arrive.

Nothing the agent sends is trusted: every length is bounded before anything is
allocated, every header is checked against the request it answers, and a reply that does
not fit the protocol drops the connection (:class:`ProtocolViolation`) instead of leaving
a stream whose position is unknown.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from ..protocol import constants as C
from ..protocol.chunks import ChunkBatcher, read_chunk_into
from ..protocol.messages import (
    Header,
    decode_error,
    decode_progress,
    decode_ret,
    encode_args,
    encode_chunk,
    frame,
    optargs_bitmask,
    word,
)
from ..protocol.procedures import BY_NAME, Procedure
from ..protocol.stream import ByteStream, StreamClosed
from ..protocol.types import ArgType
from ..protocol.xdr import XdrError
from .errors import GuestFSError, ProtocolViolation

ProgressCallback = Callable[[int, int, int, int], None]


class Connection:
    """A connected agent: sends calls, reads replies."""

    def __init__(
        self,
        stream: ByteStream,
        on_progress: ProgressCallback | None = None,
        serial: int = C.FIRST_SERIAL,
    ) -> None:
        """Talk to the agent on ``stream``; the first call takes ``serial`` (a stream on
        which the VM layer already made calls continues their numbering)."""
        self.stream = stream
        self.on_progress = on_progress
        self.serial = serial
        self.broken: str | None = None
        #: FileIn/FileOut chunk size: 1.48's 8 KiB unless negotiate_chunk_size() got more.
        self.chunk_size = C.MAX_CHUNK_SIZE
        #: The chunk size to ask for before the first file transfer (0: never ask).
        self.wanted_chunk_size = 0
        #: Set by ``GuestFS.user_cancel`` (from any thread): the transfer in progress
        #: stops at its next chunk. Reset as each transfer starts, as in 1.48.
        self.user_cancel = False
        #: File-transfer buffers, made at the first transfer and reused by the next ones.
        self._batcher: ChunkBatcher | None = None
        self._receive_buffer: memoryview | None = None

    @classmethod
    def connect_unix(cls, path: str, timeout: float = 10.0) -> Connection:
        """Connect to a listening agent, retrying while the socket is not there yet (the
        agent may still be starting) until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return cls(ByteStream(sock.detach()))
            except (FileNotFoundError, ConnectionRefusedError) as e:
                sock.close()
                if time.monotonic() >= deadline:
                    raise GuestFSError(
                        f"cannot connect to the agent socket {path}: {e.strerror}", _errname(e)
                    ) from None
                time.sleep(0.02)
            except OSError as e:
                sock.close()
                raise GuestFSError(
                    f"cannot connect to the agent socket {path}: {e.strerror}", _errname(e)
                ) from None

    def close(self) -> None:
        self.stream.close()

    # -- launch ------------------------------------------------------------------------------
    def wait_for_launch_flag(self, timeout: float | None) -> None:
        """Block until the agent's first word, which must be the launch flag."""
        try:
            first = self.stream.read_word(timeout)
        except TimeoutError:
            raise GuestFSError(f"the agent sent nothing within {timeout} s") from None
        except StreamClosed as e:
            raise GuestFSError(
                f"the agent closed the connection before it was ready ({e})"
            ) from None
        if first != C.LAUNCH_FLAG:
            self._break(f"expected the launch flag, got 0x{first:08x}")

    def negotiate_chunk_size(self, wanted: int) -> int:
        """Ask the daemon for FileIn/FileOut chunks of ``wanted`` bytes (our agent's
        extension procedure); a daemon that does not know it (a real guestfsd) answers
        with an error and the connection stays at 8 KiB. Returns the size in use."""
        if wanted <= C.MAX_CHUNK_SIZE:
            return self.chunk_size
        try:
            granted: int = self.call(
                BY_NAME["internal_pyguestfs_set_chunk_size"], {"size": wanted}, {}
            )
        except ProtocolViolation:
            raise
        except GuestFSError:
            return self.chunk_size
        if not C.MAX_CHUNK_SIZE <= granted <= min(wanted, C.BIG_CHUNK_MAX):
            self._break(f"the daemon granted an impossible chunk size ({granted})", "launch")
        self.chunk_size = granted
        return granted

    # -- calls -------------------------------------------------------------------------------
    def call(
        self,
        proc: Procedure,
        args: dict[str, Any],
        optargs: dict[str, Any],
        *,
        file_in: str | None = None,
        file_out: str | None = None,
    ) -> Any:
        """Make one call and return its decoded result (hashtables as pairs)."""
        self._check_usable(proc)
        if self.wanted_chunk_size and (file_in is not None or file_out is not None):
            # Asked once, lazily: sessions that never move a file pay no round trip.
            wanted, self.wanted_chunk_size = self.wanted_chunk_size, 0
            self.negotiate_chunk_size(wanted)
        local_in = _open_local_in(proc.name, file_in) if file_in is not None else None
        hint = 0
        if local_in is not None:
            st = os.fstat(local_in.fileno())
            hint = st.st_size if stat.S_ISREG(st.st_mode) else 0
        if file_in is not None or file_out is not None:
            self.user_cancel = False
        try:
            serial, message = self._message(proc, args, optargs, hint)
        except BaseException:
            if local_in:
                local_in.close()
            raise
        try:
            self.stream.write(message)
            local_error = None
            if local_in is not None:
                with local_in:
                    local_error = self._send_file(proc, local_in)
            try:
                payload = self._read_reply(proc, serial)
            except ProtocolViolation:
                raise
            except GuestFSError:
                if local_error is _CANCELLED:
                    raise _cancelled() from None
                if local_error:
                    # The daemon's reply only says "cancelled"; the cause is ours (as
                    # libguestfs, which reports the read error and discards the reply).
                    raise GuestFSError(f"{proc.name}: {local_error}") from None
                raise
            if local_error is _CANCELLED:
                raise _cancelled()
            if local_error:
                raise GuestFSError(f"{proc.name}: {local_error}")
            result = decode_ret(proc, payload)
            if file_out is not None:
                self._receive_file(proc, file_out)
            return result
        except StreamClosed as e:
            self.broken = str(e)
            raise GuestFSError(f"{proc.name}: the agent connection was lost: {e}") from None
        except XdrError as e:
            self._break(f"malformed message from the agent: {e}", proc.name)

    def call_pipelined(
        self, calls: Sequence[tuple[Procedure, dict[str, Any], dict[str, Any]]], window: int
    ) -> list[Any]:
        """Make many calls without waiting for each reply: up to ``window`` calls are in
        flight, their requests written together, and the stream keeps replies in order.
        Returns each call's decoded result, or the :class:`GuestFSError` its error reply
        became (the other calls still run, as they would one by one). Calls with file
        transfers cannot be pipelined (their chunks follow the request on the stream).

        ``window`` bounds what is unanswered at once, so neither side's buffers can fill
        while the other waits to write: small requests and replies, a few KiB in all."""
        for proc, _, _ in calls:
            self._check_usable(proc)
            if any(a.type in (ArgType.FILEIN, ArgType.FILEOUT) for a in proc.args):
                raise ValueError(f"{proc.name}: calls that transfer a file cannot be pipelined")
        # Encode everything first: a bad argument fails the batch before anything is sent.
        messages = [self._message(proc, args, optargs, 0) for proc, args, optargs in calls]
        results: list[Any] = []
        in_flight: deque[tuple[Procedure, int]] = deque()
        sent = 0
        try:
            while len(results) < len(messages):
                if sent < len(messages) and len(in_flight) <= window // 2:
                    batch = messages[sent : sent + window - len(in_flight)]
                    self.stream.write(b"".join(m for _, m in batch))
                    in_flight.extend(
                        (calls[sent + i][0], serial) for i, (serial, _) in enumerate(batch)
                    )
                    sent += len(batch)
                proc, serial = in_flight.popleft()
                try:
                    results.append(decode_ret(proc, self._read_reply(proc, serial)))
                except ProtocolViolation:
                    raise
                except GuestFSError as e:
                    results.append(e)
        except StreamClosed as e:
            self.broken = str(e)
            raise GuestFSError(f"pipeline: the agent connection was lost: {e}") from None
        except XdrError as e:
            self._break(f"malformed message from the agent: {e}", "pipeline")
        return results

    def _check_usable(self, proc: Procedure) -> None:
        if self.broken:
            raise GuestFSError(
                f"{proc.name}: the connection to the agent is unusable: {self.broken}"
            )

    def _message(
        self, proc: Procedure, args: dict[str, Any], optargs: dict[str, Any], hint: int
    ) -> tuple[int, bytes]:
        """The framed request for one call, and the serial it takes."""
        try:
            body = encode_args(proc, args, optargs) if proc.has_args_struct else b""
        except TypeError as e:
            raise TypeError(f"{proc.name}: {e}") from None
        header = Header(
            proc=proc.proc_nr,
            serial=self.serial,
            progress_hint=hint,
            optargs_bitmask=optargs_bitmask(proc, optargs),
        )
        message = header.pack() + body
        if len(message) > C.MESSAGE_MAX:
            raise GuestFSError(f"{proc.name}: message too long ({len(message)} bytes)")
        serial = self.serial
        self.serial = (self.serial + 1) & 0xFFFFFFFF
        return serial, frame(message)

    # -- reading -----------------------------------------------------------------------------
    def _next_unit(self, api: str) -> int:
        """The next length word, after handling any progress messages and stray flags."""
        while True:
            w = self.stream.read_word()
            if w == C.PROGRESS_FLAG:
                self._progress(self.stream.read_exact(C.PROGRESS_SIZE))
            elif w in (C.CANCEL_FLAG, C.LAUNCH_FLAG):
                continue  # a late cancel of the previous transfer; a repeated launch flag
            elif w > C.MESSAGE_MAX:
                self._break(f"message length ({w}) > maximum possible size ({C.MESSAGE_MAX})", api)
            else:
                return w

    def _progress(self, raw: bytes) -> None:
        if self.on_progress is not None:
            self.on_progress(*decode_progress(raw))

    def _read_reply(self, proc: Procedure, serial: int) -> memoryview:
        n = self._next_unit(proc.name)
        body = self.stream.read_exact(n)
        if n < C.HEADER_SIZE:
            self._break(f"reply of {n} bytes is shorter than a header", proc.name)
        h = Header.unpack(body)
        if h.prog != C.PROGRAM or h.vers != C.PROTOCOL_VERSION:
            self._break(f"bad reply header (program 0x{h.prog:x}, version {h.vers})", proc.name)
        if h.direction != C.DIRECTION_REPLY or h.proc != proc.proc_nr or h.serial != serial:
            self._break(
                f"reply does not match the call (proc {h.proc}, serial 0x{h.serial:x}"
                f", direction {h.direction})",
                proc.name,
            )
        payload = memoryview(body)[C.HEADER_SIZE :]
        if h.status == C.STATUS_ERROR:
            errno_name, message = decode_error(payload)
            raise GuestFSError(f"{proc.name}: {message}", errno_name)
        if h.status != C.STATUS_OK:
            self._break(f"bad reply status {h.status}", proc.name)
        return payload

    def _break(self, why: str, api: str = "launch") -> Any:
        self.broken = why
        self.stream.close()
        raise ProtocolViolation(f"{api}: {why}")

    # -- FileIn ------------------------------------------------------------------------------
    def _send_file(self, proc: Procedure, f: BinaryIO) -> str | None:
        """Stream a local file as chunks. Returns a local error text, if reading failed
        (the transfer is then cancelled and the daemon's error reply still read).

        The file is read straight into the chunks' reused buffer (no copy, nothing
        allocated per chunk) and each batch of chunks leaves in one write."""
        stream = self.stream
        batcher = self._batcher_for(self.chunk_size)

        def readinto(view: memoryview) -> int:
            return f.readinto(view) or 0  # type: ignore[attr-defined]

        while True:
            if stream.readable(0) and self._daemon_cancelled():
                stream.write(encode_chunk(b"", cancel=True))
                return None  # the daemon's error reply explains why
            if self.user_cancel:
                stream.write(encode_chunk(b"", cancel=True))
                return _CANCELLED
            try:
                n = batcher.fill(readinto)
            except OSError as e:
                stream.write(encode_chunk(b"", cancel=True))
                return f"error reading {getattr(f, 'name', 'the local file')}: {e.strerror}"
            if not n:
                stream.write(encode_chunk(b""))
                return None
            stream.write(batcher.view())

    def _batcher_for(self, size: int) -> ChunkBatcher:
        if self._batcher is None or self._batcher.size != size:
            self._batcher = ChunkBatcher(size)
        return self._batcher

    def _daemon_cancelled(self) -> bool:
        """Consume progress messages waiting on the wire; True if a cancel flag came."""
        stream = self.stream
        while stream.readable(0):
            if stream.buffered() < 4:
                stream._fill()
                continue
            w = stream.peek_word()
            if w == C.CANCEL_FLAG:
                stream.read_exact(4)
                return True
            if w == C.PROGRESS_FLAG:
                stream.read_exact(4)
                self._progress(stream.read_exact(C.PROGRESS_SIZE))
                continue
            return False  # an early reply: read after the upload, as the library does
        return False

    # -- FileOut -----------------------------------------------------------------------------
    def _receive_file(self, proc: Procedure, filename: str) -> None:
        try:
            out: BinaryIO | None = _open_local_out(filename)
            local_error = None
        except OSError as e:
            out, local_error = None, f"open: {filename}: {e.strerror}"
            self.stream.write(word(C.CANCEL_FLAG))
        # Each chunk's data is read straight into one reused buffer and written from it.
        if self._receive_buffer is None or len(self._receive_buffer) < self.chunk_size:
            self._receive_buffer = memoryview(bytearray(self.chunk_size))
        buf = self._receive_buffer
        try:
            while True:
                length = self._next_unit(proc.name)
                cancel, n = read_chunk_into(self.stream, length, buf, self.chunk_size)
                if cancel:
                    if local_error == _CANCELLED:
                        raise _cancelled()
                    if local_error:
                        break
                    raise GuestFSError(
                        f"{proc.name}: the daemon cancelled the transfer "
                        "(a read error in the appliance; see the verbose log)"
                    )
                if not n:
                    break
                if out is not None:
                    try:
                        out.write(buf[:n])
                    except OSError as e:
                        local_error = f"write: {filename}: {e.strerror}"
                        out.close()
                        out = None
                        self.stream.write(word(C.CANCEL_FLAG))
                if self.user_cancel and local_error is None:
                    # As 1.48: tell the daemon, then discard what it still sends until
                    # it acknowledges with a cancel chunk.
                    local_error = _CANCELLED
                    if out is not None:
                        out.close()
                        out = None
                    self.stream.write(word(C.CANCEL_FLAG))
        finally:
            if out is not None:
                out.close()
        if local_error == _CANCELLED:
            raise _cancelled()
        if local_error:
            raise GuestFSError(f"{proc.name}: {local_error}")


#: The local "error" of a transfer stopped by user_cancel.
_CANCELLED = "operation cancelled by user"


def _cancelled() -> GuestFSError:
    """1.48's error for a transfer stopped by ``user_cancel``: EINTR, no API name."""
    return GuestFSError(_CANCELLED, "EINTR")


def _open_local_out(filename: str) -> BinaryIO:
    """The local file a download writes. /dev/stdout and /dev/stderr are a copy of the
    process's descriptor, as libguestfs does (lib/proto.c): opening them by name would
    truncate a regular file they are redirected to (guestfish's ``download FILE -``)."""
    if filename in ("/dev/stdout", "/dev/stderr"):
        return os.fdopen(os.dup(1 if filename == "/dev/stdout" else 2), "wb")
    return open(filename, "wb")


def _open_local_in(api: str, filename: str) -> BinaryIO:
    try:
        return open(filename, "rb")
    except OSError as e:
        raise GuestFSError(f"{api}: {filename}: {e.strerror}", _errname(e)) from None


def _errname(e: OSError) -> str:
    import errno

    return errno.errorcode.get(e.errno or 0, "")
