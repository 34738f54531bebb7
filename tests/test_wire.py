"""The agent driven by a raw-socket client that knows only the libguestfs protocol:
the exact bytes of the captures in the protocol notes, and bad input of every kind."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from conftest import RunningAgent
from rawclient import CANCEL_FLAG, LAUNCH_FLAG, RawClient, chunk, header, xdr_string

from pyguestfs.agent.registry import IMPLEMENTATIONS, load_all_families
from pyguestfs.protocol.procedures import PROCEDURES

load_all_families()  # the agent imports families on first use; these tests read them all


@pytest.fixture
def raw(agent: RunningAgent) -> Iterator[RawClient]:
    c = RawClient(agent.socket)
    assert c.word() == LAUNCH_FLAG
    yield c
    c.close()


def test_ping_daemon_bytes_equal_the_capture(raw: RawClient) -> None:
    raw.call(92)
    assert raw.sent.hex() == (
        "000000282000f5f5000000040000005c00000000001234000000000000000000000000000000000000000000"
    )
    reply = raw.recv_exact(44)
    assert reply.hex() == (
        "000000282000f5f5000000040000005c00000001001234000000000000000000000000000000000000000000"
    )


def test_upload_and_download_bytes_equal_the_capture(raw: RawClient, agent: RunningAgent) -> None:
    # upload of "hello\n" to /h: a request of 52 bytes on the wire (length word included)
    # with progress_hint 6, one chunk, the end marker, then a 40-byte reply.
    request = header(66, raw.serial, hint=6) + xdr_string(b"/h")
    raw.send(struct.pack(">I", len(request)) + request)
    raw.send(chunk(b"hello\n") + chunk(b""))
    assert len(request) + 4 == 52
    assert chunk(b"hello\n").hex() == "00000010000000000000000668656c6c6f0a0000"
    assert chunk(b"").hex() == "000000080000000000000000"
    proc, serial, status, payload = raw.reply()
    assert (proc, serial, status, payload) == (66, 0x123400, 0, b"")
    assert (agent.sysroot / "h").read_bytes() == b"hello\n"

    # download of /h: a 40-byte OK reply, one chunk, the end marker.
    raw.received.clear()
    raw.serial = 0x123401
    raw.call(67, xdr_string(b"/h"))
    raw.reply()
    assert raw.recv_exact(20).hex() == "00000010000000000000000668656c6c6f0a0000"
    assert raw.recv_exact(12).hex() == "000000080000000000000000"
    assert raw.ping()


def test_optional_argument_capture(raw: RawClient, agent: RunningAgent) -> None:
    # is_file("/nonexistent/x", followsymlinks=true): proc 37, bitmask 1, a 44-byte reply.
    raw.call(37, xdr_string(b"/nonexistent/x") + b"\0\0\0\x01", mask=1)
    body = raw.message()
    assert len(body) == 44
    assert body[-4:] == b"\0\0\0\0"


def test_rmdir_error_reply_is_96_bytes(raw: RawClient) -> None:
    raw.call(30, xdr_string(b"/nonexistent/dir"))
    body = raw.message()
    # Header, "ENOENT", then "/nonexistent/dir: No such file or directory".
    assert body[40:52] == b"\0\0\0\x06ENOENT\0\0"
    assert b"/nonexistent/dir: No such file or directory" in body


@pytest.mark.parametrize(
    "fields,expected",
    [
        ({"prog": 0x12345678}, "wrong program (305419896)"),
        ({"vers": 3}, "wrong protocol version (3)"),
        ({"direction": 1}, "unexpected message direction (1)"),
        ({"status": 1}, "unexpected message status (1)"),
    ],
)
def test_bad_headers_get_error_replies(
    raw: RawClient, fields: dict[str, int], expected: str
) -> None:
    raw.call(92, **fields)
    assert raw.error() == ("", expected)
    assert raw.ping()


def test_unknown_procedure_is_named(raw: RawClient) -> None:
    raw.call(9999)
    _errno, message = raw.error()
    assert "unknown procedure number 9999" in message
    assert raw.ping()


def test_procedure_not_served_is_enotsup(raw: RawClient) -> None:
    """A 1.48 procedure the agent does not serve is named, with ENOTSUP, not "unknown"."""
    unserved = [
        p for p in PROCEDURES if p.name not in IMPLEMENTATIONS and not (p.file_in or p.file_out)
    ]
    for proc in unserved[:3]:
        raw.call(proc.proc_nr)  # no arguments at all: the agent refuses before decoding
        assert raw.error() == ("ENOTSUP", f"{proc.name}: not implemented by the pyguestfs agent")
    assert raw.ping()


def test_truncated_and_overlong_arguments(raw: RawClient) -> None:
    raw.call(36, b"\0\0\0\x10/ab")  # exists: string of 16 bytes, 3 present
    assert raw.error() == ("", "daemon failed to decode procedure arguments")
    raw.call(36, b"\x7f\xff\xff\xff" + b"/" * 8)  # a 2 GiB string in a tiny message
    assert raw.error()[1] == "daemon failed to decode procedure arguments"
    raw.call(36, xdr_string(b"/") + b"junk")  # trailing bytes
    assert raw.error()[1] == "daemon failed to decode procedure arguments"
    assert raw.ping()


def test_optargs_bitmask_checks(raw: RawClient) -> None:
    raw.call(37, xdr_string(b"/") + b"\0\0\0\x01", mask=0b10)  # is_file has one optarg
    assert "unknown option in optional arguments bitmask" in raw.error()[1]
    raw.call(36, xdr_string(b"/"), mask=1)  # exists has none
    assert "optargs_bitmask field must be passed as 0" in raw.error()[1]
    assert raw.ping()


def test_relative_path_is_refused(raw: RawClient) -> None:
    raw.call(32, xdr_string(b"relative"))
    assert raw.error() == ("", "mkdir_stub: path must start with a / character")
    assert raw.ping()


def test_stray_cancel_flags_are_ignored(raw: RawClient) -> None:
    raw.send(struct.pack(">I", CANCEL_FLAG) * 3)
    assert raw.ping()


def test_a_length_over_4_mib_closes_the_connection(raw: RawClient, agent: RunningAgent) -> None:
    raw.send(struct.pack(">I", 4 * 1024 * 1024 + 1))
    assert raw.at_eof()
    assert agent.stop() == 1
    assert "incoming message is too long" in agent.log.read_text()


def test_a_body_shorter_than_a_header_closes_cleanly(raw: RawClient, agent: RunningAgent) -> None:
    raw.send(struct.pack(">I", 8) + b"\0" * 8)
    assert raw.at_eof()
    assert agent.stop() == 1


def test_garbage_where_a_chunk_belongs(raw: RawClient, agent: RunningAgent) -> None:
    request = header(66, raw.serial, hint=6) + xdr_string(b"/g")
    raw.send(struct.pack(">I", len(request)) + request)
    raw.send(struct.pack(">I", 12) + struct.pack(">iI", 5, 0) + b"\0\0\0\0")  # cancel=5
    assert raw.at_eof()
    assert "bad file chunk" in (agent.stop() and agent.log.read_text())


def test_cancel_chunk_from_the_library(raw: RawClient, agent: RunningAgent) -> None:
    request = header(66, raw.serial, hint=100) + xdr_string(b"/c")
    raw.send(struct.pack(">I", len(request)) + request)
    raw.send(chunk(b"x" * 50) + chunk(b"", cancel=1))
    assert raw.error() == ("", "file upload cancelled")
    assert raw.ping()


def test_daemon_cancels_an_upload_it_cannot_write(raw: RawClient) -> None:
    request = header(66, raw.serial, hint=20) + xdr_string(b"/no/such/dir/file")
    raw.send(struct.pack(">I", len(request)) + request)
    assert raw.word() == CANCEL_FLAG  # the daemon refuses before reading the chunks
    raw.send(chunk(b"y" * 20) + chunk(b"", cancel=1))
    assert raw.error() == ("ENOENT", "/no/such/dir/file: No such file or directory")
    assert raw.ping()


def test_library_cancels_a_download(raw: RawClient, agent: RunningAgent) -> None:
    (agent.sysroot / "big").write_bytes(b"z" * (4 << 20))
    raw.call(67, xdr_string(b"/big"))
    assert raw.reply()[2] == 0
    raw.send(struct.pack(">I", CANCEL_FLAG))
    cancelled = False
    while True:  # discard chunks until the cancel chunk (or the end, if it won the race)
        body = raw.message()
        cancel, n = struct.unpack(">iI", body[:8])
        if cancel == 1:
            cancelled = True
            break
        if n == 0:
            break
    assert cancelled
    assert raw.ping()
