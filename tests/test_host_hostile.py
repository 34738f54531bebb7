"""The host trusts nothing the agent sends: a peer that breaks the protocol gets a clear
error and a dropped connection, never a hang, a crash or an oversized allocation."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest
from rawclient import LAUNCH_FLAG, header

from pyguestfs.host import GuestFS, GuestFSError, ProtocolViolation

Script = Callable[[socket.socket], None]


@pytest.fixture
def fake_agent() -> Iterator[Callable[[Script], str]]:
    threads: list[threading.Thread] = []
    paths: list[str] = []

    def start(script: Script) -> str:
        path = f"/tmp/pyguestfs-fake-{os.getpid()}-{len(paths)}.sock"
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)

        def run() -> None:
            conn, _ = srv.accept()
            srv.close()
            try:
                script(conn)
            finally:
                conn.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
        paths.append(path)
        return path

    yield start
    for t in threads:
        t.join(timeout=5)
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)


def _read_call(conn: socket.socket) -> tuple[int, int]:
    n = struct.unpack(">I", conn.recv(4))[0]
    body = b""
    while len(body) < n:
        body += conn.recv(n - len(body))
    _prog, _vers, proc, _d, serial = struct.unpack(">IIiII", body[:20])
    return proc, serial


def test_wrong_first_word(fake_agent: Callable[[Script], str]) -> None:
    path = fake_agent(lambda c: c.sendall(b"\x00\x00\x00\x28"))
    with pytest.raises(ProtocolViolation, match="expected the launch flag"):
        GuestFS().attach(path, timeout=5)


def test_silent_agent_times_out(fake_agent: Callable[[Script], str]) -> None:
    done = threading.Event()
    path = fake_agent(lambda c: done.wait(5))
    with pytest.raises(GuestFSError, match="sent nothing within"):
        GuestFS().attach(path, timeout=0.5)
    done.set()


def _launch_then(reply: Callable[[socket.socket, int, int], None]) -> Script:
    def script(c: socket.socket) -> None:
        c.sendall(struct.pack(">I", LAUNCH_FLAG))
        proc, serial = _read_call(c)
        reply(c, proc, serial)

    return script


@pytest.mark.parametrize(
    "name,reply,match",
    [
        (
            "wrong serial",
            lambda c, p, s: c.sendall(struct.pack(">I", 40) + header(p, s + 1, direction=1)),
            "does not match the call",
        ),
        (
            "a call, not a reply",
            lambda c, p, s: c.sendall(struct.pack(">I", 40) + header(p, s, direction=0)),
            "does not match the call",
        ),
        (
            "over 4 MiB",
            lambda c, p, s: c.sendall(struct.pack(">I", 0x7FFFFFFF)),
            "maximum possible size",
        ),
        (
            "short body",
            lambda c, p, s: c.sendall(struct.pack(">I", 8) + b"\0" * 8),
            "shorter than a header",
        ),
        (
            "bad status",
            lambda c, p, s: c.sendall(struct.pack(">I", 40) + header(p, s, direction=1, status=7)),
            "bad reply status",
        ),
        (
            "truncated error struct",
            lambda c, p, s: c.sendall(
                struct.pack(">I", 44) + header(p, s, direction=1, status=1) + b"\xff\xff\xff\xff"
            ),
            "malformed message",
        ),
    ],
)
def test_bad_replies(
    fake_agent: Callable[[Script], str],
    name: str,
    reply: Callable[[socket.socket, int, int], None],
    match: str,
) -> None:
    h = GuestFS()
    h.attach(fake_agent(_launch_then(reply)), timeout=5)
    with pytest.raises(GuestFSError, match=match):
        h.exists("/")
    with pytest.raises(GuestFSError, match="unusable"):
        h.exists("/")  # the connection is dropped, not reused out of sync


def test_agent_dies_mid_reply(fake_agent: Callable[[Script], str]) -> None:
    h = GuestFS()
    h.attach(
        fake_agent(_launch_then(lambda c, p, s: c.sendall(struct.pack(">I", 40) + b"\x20\x00"))),
        timeout=5,
    )
    with pytest.raises(GuestFSError, match="connection was lost"):
        h.ping_daemon()
    h.close()
