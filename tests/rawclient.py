"""A client that knows only the libguestfs wire format (no pyguestfs.host), for tests that
need exact bytes or deliberately broken messages."""

from __future__ import annotations

import socket
import struct
import time

LAUNCH_FLAG = 0xF5F55FF5
CANCEL_FLAG = 0xFFFFEEEE
PROGRESS_FLAG = 0xFFFF5555
PROGRAM = 0x2000F5F5


def header(
    proc: int,
    serial: int,
    *,
    prog: int = PROGRAM,
    vers: int = 4,
    direction: int = 0,
    status: int = 0,
    hint: int = 0,
    mask: int = 0,
) -> bytes:
    return struct.pack(">IIiIIQQI", prog, vers, proc, direction, serial, hint, mask, status)


def xdr_string(s: bytes) -> bytes:
    return struct.pack(">I", len(s)) + s + b"\0" * ((4 - len(s)) & 3)


def chunk(data: bytes, cancel: int = 0) -> bytes:
    body = struct.pack(">i", cancel) + xdr_string(data)
    return struct.pack(">I", len(body)) + body


class RawClient:
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.sock.settimeout(timeout)
        self.received = bytearray()
        self.sent = bytearray()
        self.serial = 0x123400

    def send(self, data: bytes) -> None:
        self.sent += data
        self.sock.sendall(data)

    def call(self, proc: int, args: bytes = b"", **hdr: int) -> None:
        body = header(proc, self.serial, **hdr) + args
        self.serial += 1
        self.send(struct.pack(">I", len(body)) + body)

    def recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise EOFError(f"closed after {len(buf)} of {n} bytes")
            buf += part
        self.received += buf
        return bytes(buf)

    def word(self) -> int:
        return int(struct.unpack(">I", self.recv_exact(4))[0])

    def message(self) -> bytes:
        """The next length-framed body, skipping progress messages."""
        while True:
            n = self.word()
            if n == PROGRESS_FLAG:
                self.recv_exact(24)
                continue
            return self.recv_exact(n)

    def reply(self) -> tuple[int, int, int, bytes]:
        """(proc, serial, status, payload) of the next reply."""
        body = self.message()
        _prog, _vers, proc, direction, serial, _h, _m, status = struct.unpack(
            ">IIiIIQQI", body[:40]
        )
        assert direction == 1
        return proc, serial, status, body[40:]

    def error(self) -> tuple[str, str]:
        """Read a reply that must be an error: (errno name, message)."""
        _proc, _serial, status, payload = self.reply()
        assert status == 1, "expected an error reply"
        n = struct.unpack(">I", payload[:4])[0]
        errno_name = payload[4 : 4 + n].decode()
        off = 4 + n + ((4 - n) & 3)
        m = struct.unpack(">I", payload[off : off + 4])[0]
        return errno_name, payload[off + 4 : off + 4 + m].decode()

    def ping(self) -> bool:
        self.call(92)
        _proc, _serial, status, payload = self.reply()
        return status == 0 and payload == b""

    def at_eof(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
