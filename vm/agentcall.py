"""The few calls the VM layer makes to the agent itself, without the host library.

Warm launch asks the agent to park before its VM is saved (``internal_pyguestfs_park``)
and, after a restore, to take fresh entropy and the host's clock
(``internal_pyguestfs_restored``). Those are single calls with small arguments and no
file transfer, so this module frames them with the protocol package directly; the host
library's :class:`~pyguestfs.host.connection.Connection` then takes over the stream,
continuing the serial numbers from :func:`call`'s. A reply that does not fit the
protocol is an :class:`AgentCallError` like any other failure: the caller's remedy (a
cold boot, a failed snapshot) is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.errors import GuestFSError
from ..protocol import constants as C
from ..protocol.messages import (
    Header,
    decode_error,
    decode_progress,
    decode_ret,
    encode_args,
    frame,
)
from ..protocol.procedures import BY_NAME
from ..protocol.stream import ByteStream, StreamClosed
from ..protocol.xdr import XdrError

ProgressCallback = Callable[[int, int, int, int], None]


class AgentCallError(GuestFSError):
    """The agent answered a call with an error, broke the protocol, or went away."""


def call(
    stream: ByteStream,
    name: str,
    args: dict[str, Any],
    *,
    serial: int = C.FIRST_SERIAL,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[Any, int]:
    """Call procedure ``name`` with ``args`` (no optional arguments, no file transfer)
    as serial ``serial``; its decoded result, and the serial for the next call.

    ``timeout`` bounds each wait for the agent's next bytes; progress messages go to
    ``on_progress``."""
    proc = BY_NAME[name]
    body = encode_args(proc, args, {}) if proc.has_args_struct else b""
    try:
        stream.write(frame(Header(proc=proc.proc_nr, serial=serial).pack() + body))
        while True:
            length = stream.read_word(timeout)
            if length == C.PROGRESS_FLAG:
                raw = stream.read_exact(C.PROGRESS_SIZE, timeout)
                if on_progress is not None:
                    on_progress(*decode_progress(raw))
                continue
            if length in (C.CANCEL_FLAG, C.LAUNCH_FLAG):
                continue  # a stray flag, as the host library skips it
            if not C.HEADER_SIZE <= length <= C.MESSAGE_MAX:
                raise AgentCallError(f"{name}: a reply of {length} bytes")
            reply = stream.read_exact(length, timeout)
            break
        header = Header.unpack(reply)
        if (
            header.prog != C.PROGRAM
            or header.vers != C.PROTOCOL_VERSION
            or header.direction != C.DIRECTION_REPLY
            or header.proc != proc.proc_nr
            or header.serial != serial
        ):
            raise AgentCallError(f"{name}: the reply does not match the call")
        payload = memoryview(reply)[C.HEADER_SIZE :]
        if header.status == C.STATUS_ERROR:
            errno_name, message = decode_error(payload)
            raise AgentCallError(f"{name}: {message}", errno_name)
        if header.status != C.STATUS_OK:
            raise AgentCallError(f"{name}: bad reply status {header.status}")
        result = decode_ret(proc, payload)
    except TimeoutError:
        raise AgentCallError(f"{name}: the agent did not answer within {timeout} s") from None
    except (StreamClosed, EOFError, OSError) as e:
        raise AgentCallError(f"{name}: the agent connection was lost: {e}") from None
    except XdrError as e:
        raise AgentCallError(f"{name}: malformed reply: {e}") from None
    return result, (serial + 1) & 0xFFFFFFFF
