"""The agent's serving loop: guestfsd's ``main_loop`` over any byte stream.

Send the launch flag; then, forever: read a length word (skipping stray cancel flags),
read the body, check the header, look the procedure up in the table, check and decode its
arguments, run its implementation, reply. A malformed request gets an error reply and the
loop goes on; only a stream that can no longer be trusted (a length beyond 4 MiB, a body
too short to hold a header, garbage where a chunk belongs) or EOF ends it.
"""

from __future__ import annotations

import contextlib
import gc
import select
import sys
import time
import traceback
from typing import Any, TextIO

from ..protocol import constants as C
from ..protocol.messages import (
    Header,
    decode_args,
    encode_error,
    encode_ret,
    frame,
    frame_reply,
    word,
)
from ..protocol.procedures import BY_NUMBER, Procedure
from ..protocol.stream import ByteStream, StreamClosed
from ..protocol.xdr import XdrError
from .context import CallContext, FileBuffers, FileOutCancelled
from .devices import DeviceMap
from .errors import AgentError, StreamOutOfSync
from .registry import group_available, load_implementation, unavailable_feature
from .resolve import Resolver
from .sysroot import Sysroot
from .uevents import DiskAnnouncements


class Agent:
    """Serves one connection of the libguestfs protocol."""

    def __init__(
        self,
        stream: ByteStream,
        sysroot: Sysroot,
        *,
        verbose: bool = False,
        log: TextIO | None = None,
        devices: DeviceMap | None = None,
        autosync_umount: bool = False,
        progress_timing: tuple[float, float] = (C.PROGRESS_INITIAL_DELAY, C.PROGRESS_PERIOD),
    ) -> None:
        self.stream = stream
        self.sysroot = sysroot
        #: What API families keep for this connection (see connstate.PerConnection).
        self.family_state: dict[str, Any] = {}
        self.verbose = verbose
        self.log = log or sys.stderr
        #: In the appliance, internal_autosync unmounts everything (not with -r standalone).
        self.autosync_umount = autosync_umount
        #: The user's disks and their names; None standalone (no block devices served).
        self.devices: DeviceMap | None = devices
        self.exit_requested = False
        #: Set by internal_pyguestfs_park: after its reply, wait for a new host (warm launch).
        self.park_requested = False
        #: Warm launch: the kernel's disk announcements, listened to from the park on, so
        #: that internal_pyguestfs_restored sees those of disks hot-plugged before it runs.
        self.disk_announcements: DiskAnnouncements | None = None
        #: (quiet period at the start of a call, minimum gap between progress messages).
        self.progress_timing = progress_timing
        #: FileIn/FileOut chunk size on this connection: 1.48's 8 KiB until our host asks
        #: for more (internal_pyguestfs_set_chunk_size); back to 8 KiB for each new host.
        self.chunk_size = C.MAX_CHUNK_SIZE
        #: Reused by every FileIn/FileOut transfer on this connection.
        self.file_buffers = FileBuffers()
        #: Checks and translates each argument by its kind (agent/resolve.py).
        self.resolver = Resolver(devices, sysroot)

    def say(self, message: str) -> None:
        print(f"pyguestfs-agent: {message}", file=self.log, flush=True)

    # -- the loop ----------------------------------------------------------------------------
    def serve(self) -> int:
        """Serve until the peer closes (0) or the stream breaks (1)."""
        try:
            self.stream.write(word(C.LAUNCH_FLAG))
            while not self.exit_requested:
                self.serve_one()
                if self.park_requested:
                    self.stream.flush()
                    self.park()
            self.stream.flush()
        except StreamClosed:
            return 0
        except StreamOutOfSync as e:
            self.say(f"closing the connection: {e}")
            with contextlib.suppress(StreamClosed):
                self.stream.flush()  # the replies to the good requests before it
            return 1
        return 0

    def park(self) -> None:
        """Idle until a new host connects and sends WAKE_FLAG; answer with LAUNCH_FLAG.

        The host that asked to park disconnects and saves the VM; each restore of it
        connects a fresh host to the same virtio port. While no host is connected, the
        port reads end-of-file at once and polls as hung up, so the wait sleeps between
        polls instead of spinning. Anything else that arrives is not ours to serve.
        """
        self.park_requested = False
        # Every restore maps the saved RAM copy-on-write: a garbage collection after it
        # would walk (and so copy) every page that holds a Python object. Objects alive
        # now live as long as the agent, so they are taken out of the collector's sight.
        gc.collect()
        gc.freeze()
        poller = select.poll()
        poller.register(self.stream.fd, select.POLLIN)
        while True:
            events = poller.poll(1000)
            if not events:
                continue
            if not events[0][1] & select.POLLIN:
                time.sleep(0.02)  # no host on the other side yet
                continue
            try:
                flag = self.stream.read_word()
            except StreamClosed:
                time.sleep(0.02)
                continue
            if flag == C.WAKE_FLAG:
                self.chunk_size = C.MAX_CHUNK_SIZE
                self.stream.write(word(C.LAUNCH_FLAG))
                return
            self.say(f"parked: ignoring 0x{flag:08x} from the host (waiting for wake)")

    def serve_one(self) -> None:
        """Read and answer one request."""
        length = self.stream.read_word()
        if length == C.CANCEL_FLAG:
            return  # a cancel that arrived after its transfer finished: ignore, as guestfsd
        if length > C.MESSAGE_MAX:
            raise StreamOutOfSync(f"incoming message is too long ({length} bytes)")
        body = self.stream.read_exact(length)
        if length < C.HEADER_SIZE:
            raise StreamOutOfSync(f"could not decode message header ({length}-byte message)")
        header = Header.unpack(body)
        if not self.verbose:  # the common case: no clock, no log line
            self._dispatch(header, memoryview(body)[C.HEADER_SIZE :])
            return
        started = time.monotonic()
        outcome = self._dispatch(header, memoryview(body)[C.HEADER_SIZE :])
        if self.verbose:
            proc = BY_NUMBER.get(header.proc)
            name = proc.name if proc else "UNKNOWN PROCEDURE"
            self.say(
                f"{name} (0x{header.proc:x}) request {length} bytes, "
                f"{(time.monotonic() - started) * 1000:.2f} ms, {outcome}"
            )

    def _dispatch(self, header: Header, payload: memoryview) -> str:
        problem = self._check_header(header)
        if problem:
            self.send_error(header, AgentError(problem))
            return "error: " + problem
        proc = BY_NUMBER.get(header.proc)
        if proc is None:
            err = AgentError(
                f"dispatch_incoming_message: unknown procedure number {header.proc}, "
                "set LIBGUESTFS_PATH to point to the matching libguestfs appliance directory"
            )
            self.send_error(header, err)
            return "error: unknown procedure"
        ctx = CallContext(self, proc, header)
        try:
            impl = load_implementation(proc.name)  # its family is imported on first use
        except ImportError as e:  # a bundle missing a module: say so, keep serving
            return self._fail(ctx, AgentError(f"{proc.name}: cannot load its family: {e}"))
        if impl is None:
            # A procedure of 1.48's table that this agent does not serve: say so plainly
            # (after draining a FileIn's chunks), so the caller can tell it from a bug.
            return self._fail(
                ctx,
                AgentError(f"{proc.name}: not implemented by the pyguestfs agent", "ENOTSUP"),
            )
        if proc.group is not None and not group_available(proc.group):
            # guestfsd's generated stub refuses a procedure of an absent optional group
            # before it decodes a single argument, so bad arguments get the same answer.
            return self._fail(ctx, unavailable_feature(proc.group))
        try:
            args, optargs = self._decode(proc, header, payload)
            args = self.resolver.resolve(proc, args)
            result = self.resolver.reverse_result(proc, impl(ctx, **args, **optargs))
            if proc.file_out:
                ctx.end_file_out()
            else:
                self._send_result(ctx, result)
            return "ok"
        except FileOutCancelled:
            return "cancelled by the library"
        except AgentError as e:
            return self._fail(ctx, e)
        except (StreamClosed, StreamOutOfSync):
            raise
        except OSError as e:  # a system call no implementation expected to fail
            return self._fail(ctx, AgentError.from_os(e, f"{proc.name}"))
        except Exception as e:  # a bug in an implementation: report it, keep serving
            if self.verbose:
                traceback.print_exc(file=self.log)
            return self._fail(
                ctx,
                AgentError(
                    f"internal error: {proc.name}: unhandled exception thrown: "
                    f"{type(e).__name__}: {e}"
                ),
            )

    @staticmethod
    def _check_header(h: Header) -> str | None:
        if h.prog != C.PROGRAM:
            return f"wrong program ({h.prog})"
        if h.vers != C.PROTOCOL_VERSION:
            return f"wrong protocol version ({h.vers})"
        if h.direction != C.DIRECTION_CALL:
            return f"unexpected message direction ({h.direction})"
        if h.status != C.STATUS_OK:
            return f"unexpected message status ({h.status})"
        return None

    def _decode(
        self, proc: Procedure, header: Header, payload: memoryview
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The generated stub's checks, in guestfsd's order."""
        mask = header.optargs_bitmask
        if proc.optargs:
            if mask >> len(proc.optargs):
                raise AgentError(
                    "unknown option in optional arguments bitmask (this can happen if a "
                    "program is compiled against a newer version of libguestfs, then run "
                    "against an older version of the daemon)"
                )
        elif mask:
            raise AgentError(
                "header optargs_bitmask field must be passed as 0 for calls "
                "that don't take optional arguments"
            )
        if proc.has_args_struct:
            try:
                args, optargs = decode_args(proc, payload, mask)
            except XdrError:
                raise AgentError("daemon failed to decode procedure arguments") from None
        else:
            args, optargs = {}, {}
        return args, optargs

    # -- replies -----------------------------------------------------------------------------
    def _send_result(self, ctx: CallContext, result: Any) -> None:
        try:
            payload = encode_ret(ctx.proc, result)
        except XdrError as e:
            raise AgentError(f"failed to encode the reply: {e}") from None
        if len(payload) + C.HEADER_SIZE > C.MESSAGE_MAX:
            raise AgentError(
                "guestfsd: failed to encode reply body\n(maybe the reply exceeds "
                "the maximum message size in the protocol?)"
            )
        self.send_reply(ctx.header, payload)

    def send_reply(self, call: Header, payload: bytes) -> None:
        self._send(frame_reply(call.proc, call.serial, payload))

    def _send(self, message: bytes) -> None:
        """Send a reply; while the next request is already here (pipelined calls), hold
        it back to leave with the following ones in one write. Any read that would block,
        and any other write, sends it first."""
        if self.stream.buffered() >= 4:
            self.stream.hold(message)
        else:
            self.stream.write(message)

    def send_error(self, call: Header, err: AgentError) -> None:
        reply = Header(
            proc=call.proc, serial=call.serial, direction=C.DIRECTION_REPLY, status=C.STATUS_ERROR
        )
        self._send(frame(reply.pack() + encode_error(err.errno_name, err.message)))

    def _fail(self, ctx: CallContext, err: AgentError) -> str:
        if self.verbose:
            self.say(f"error: {ctx.proc.name}: {err.message}")
        if ctx.reply_sent:
            # FileOut after its OK reply: the protocol only allows cancelling the transfer.
            ctx.end_file_out(cancel=True)
        else:
            ctx.cancel_receive()
            self.send_error(ctx.header, err)
        return f"error: {err.errno_name or '-'}"
