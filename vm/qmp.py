"""A minimal QMP client: qemu's JSON machine protocol on a Unix socket.

Enough for warm launch: negotiate capabilities, run commands and wait for their
answers (events that arrive meanwhile are skipped), and hand qemu a file descriptor
(``getfd`` with SCM_RIGHTS), which is how a migration stream gets a file without a shell.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from ..core.errors import GuestFSError


class QMPError(GuestFSError):
    """qemu refused a QMP command, or the monitor went away."""


class QMP:
    """One connection to qemu's QMP monitor, on a socket qemu connected to the host.

    The host listens and qemu connects (``-chardev socket,server=off``) as soon as it
    has parsed its options, so nobody polls for qemu's monitor socket to appear: that
    polling took CPU time from qemu, which needs it most while it starts.
    """

    def __init__(self, sock: socket.socket, timeout: float = 30.0) -> None:
        """Take over ``sock``, read qemu's greeting (sent once qemu's main loop runs) and
        negotiate capabilities."""
        self._sock = sock
        self._sock.settimeout(timeout)
        self._buf = b""
        self.closed = False
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"not a QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                raise QMPError("qemu's monitor did not answer") from None
            if not data:
                raise QMPError("qemu's monitor closed the connection")
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def execute(
        self, command: str, arguments: dict[str, Any] | None = None, fds: list[int] | None = None
    ) -> Any:
        """Run ``command``; its ``return`` value, or :class:`QMPError` with qemu's text."""
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        data = json.dumps(msg).encode() + b"\n"
        if fds:
            socket.send_fds(self._sock, [data], fds)
        else:
            self._sock.sendall(data)
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise QMPError(f"qemu: {command}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def hmp(self, command_line: str) -> str:
        """A human-monitor command (``drive_add``); its output, which holds any error."""
        return str(self.execute("human-monitor-command", {"command-line": command_line}))

    def close(self) -> None:
        """Close the connection (qemu keeps running)."""
        if not self.closed:
            self.closed = True
            self._sock.close()
