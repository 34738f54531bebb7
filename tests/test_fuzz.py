"""Protocol fuzzing of both ends of the wire: the agent's decoder and dispatch against a
hostile library, and the host's reply decoder against a hostile agent.

Two kinds of input:

* **structured** messages whose framing is intact (the length word matches the body):
  random, type-driven or mutated headers and argument structs, stray flags, chunk streams.
  The peer must answer every one and keep serving; the agent answers ``ping_daemon`` after
  each batch.
* **byte-level mutations** of whole valid conversations (bit flips, inserted, deleted and
  replaced words, truncation): the stream may be beyond resynchronising, so the peer must
  either keep answering or close cleanly -- never raise, hang or allocate beyond the
  message limit.

Both agent and host run in this process over ``socketpair()`` so a case costs well under a
millisecond and ``tracemalloc`` sees every allocation. The default run is the CI run
(a few thousand messages per side, well under a minute); ``PYGUESTFS_FUZZ_FULL=1`` runs
at least 100,000 messages per side. The seed is fixed (``PYGUESTFS_FUZZ_SEED``
picks another) and printed, so a failure can be replayed. Figures are in ``docs/reliability.md``.
"""

from __future__ import annotations

import io
import os
import random
import socket
import struct
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import report_figure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyguestfs.agent import registry, server
from pyguestfs.agent.server import Agent
from pyguestfs.agent.sysroot import Sysroot
from pyguestfs.host import GuestFSError
from pyguestfs.host.connection import Connection
from pyguestfs.protocol import constants as C
from pyguestfs.protocol.messages import (
    Header,
    decode_args,
    decode_chunk,
    decode_error,
    decode_ret,
    encode_args,
    encode_chunk,
    encode_error,
    encode_progress,
    encode_ret,
    frame,
)
from pyguestfs.protocol.procedures import BY_NUMBER, PROCEDURES, Procedure
from pyguestfs.protocol.stream import ByteStream
from pyguestfs.protocol.types import LIST_KINDS, ArgType, FieldType, OptType, RetType
from pyguestfs.protocol.xdr import XdrError

FULL = os.environ.get("PYGUESTFS_FUZZ_FULL") == "1"
SEED = int(os.environ.get("PYGUESTFS_FUZZ_SEED", "20261125"))
#: Framed messages per side: at least 100,000 in the full run.
AGENT_STRUCTURED = 80_000 if FULL else 800
AGENT_MUTATED_CASES = 5_000 if FULL else 60  # each case is a conversation of ~6 messages
HOST_STRUCTURED = 70_000 if FULL else 700
HOST_MUTATED = 30_000 if FULL else 300
HYPOTHESIS_EXAMPLES = 5_000 if FULL else 200
BATCH = 50  # messages between two ping_daemon checks
#: Bound on the memory traced while fuzzing with messages of at most 64 KiB: the 4 MiB
#: message limit. A decoder that trusted a length word would blow through it at once.
MEMORY_BOUND = C.MESSAGE_MAX
#: What a 4 MiB message may cost the agent: four copies of it (the stream's read buffer,
#: the body read from it, the opaque and the string decoded from that) and a little more.
MAX_MESSAGE_BOUND = 5 * C.MESSAGE_MAX

#: Procedures whose implementations may run on this machine with random arguments: they
#: only touch the test's scratch sysroot. Mounting, partitioning, formatting and syncing
#: are left out (the fuzzed agent answers them as unknown procedures, which is also a
#: path worth fuzzing); internal_exit would end the session.
UNSAFE_ON_HOST = {
    "mount",
    "mount_ro",
    "mount_options",
    "mount_vfs",
    "umount",
    "umount_all",
    "mkfs",
    "part_disk",
    "sync",
    "internal_autosync",
    "internal_exit",
    "tar_in",
    "tar_out",
    # cp -a of a directory into itself doubles the tree each time: after tens of
    # thousands of calls, du/find/rm_rf have real work measured in minutes.
    "cp_a",
}

#: The fuzzed agent runs as the test's user on this machine (root in CI), so only the core
#: path APIs are served: the later families can make device nodes (mknod, then write to
#: them), allocate real blocks (fallocate64), run programs (command, sh), set the host's
#: clock (internal_pyguestfs_restored) or park the agent (internal_pyguestfs_park).
FUZZED_ON_HOST = frozenset(
    """ping_daemon internal_feature_available internal_autosync internal_exit
    available_all_groups exists is_file is_dir is_symlink mkdir mkdir_p rmdir rm rm_rf touch
    chmod chown ln_s readlink realpath cp cp_a mv statns lstatns readdir ls0 find0 ll filesize
    checksum statvfs du internal_write internal_write_append upload upload_offset download
    download_offset tar_in tar_out list_devices list_partitions blockdev_getsize64 part_disk
    part_list mkfs mount mount_ro mount_options mount_vfs umount umount_all mounts mountpoints
    sync""".split()
)

INTERESTING_WORDS = (
    0,
    1,
    3,
    4,
    39,
    40,
    0x7F,
    0xFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    C.MESSAGE_MAX,
    C.MESSAGE_MAX + 1,
    C.MAX_CHUNK_SIZE,
    C.MAX_CHUNK_SIZE + 1,
    C.CANCEL_FLAG,
    C.LAUNCH_FLAG,
    C.PROGRESS_FLAG,
    C.PROGRAM,
)
PATH_ATOMS = ("/", "..", ".", "a", "etc", "passwd", "", "\udcff", "x" * 300, "dir", "lnk")


#: A hang fails the test instead of stalling the run.
pytestmark = pytest.mark.timeout(3600 if FULL else 300)


# -- the fuzzed agent ----------------------------------------------------------------------


@pytest.fixture
def safe_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve only the implementations that are safe on this machine."""
    registry.load_all_families()
    safe = {
        k: v
        for k, v in registry.IMPLEMENTATIONS.items()
        if k in FUZZED_ON_HOST and k not in UNSAFE_ON_HOST
    }
    monkeypatch.setattr(server, "load_implementation", safe.get)


def _reads_chunks(proc: Procedure) -> bool:
    """After a valid header of any FileIn procedure of the table, the agent reads its
    chunks: to run it, or to drain them before its error (ENOTSUP when not served)."""
    return proc.file_in


class AgentUnderTest:
    """An :class:`Agent` serving one end of a socketpair in a thread; the test holds the
    other end. Any exception escaping ``serve()`` is a crash and is kept for the test."""

    def __init__(self, sysroot: Path) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.sock.settimeout(120)  # generous: the machine may be loaded; a hang is forever
        self.log = io.StringIO()
        self.agent = Agent(
            ByteStream(theirs.detach()),
            Sysroot(str(sysroot)),
            log=self.log,
            progress_timing=(0.0, 0.0),  # progress on every chunk: more to fuzz around
        )
        self.status: int | None = None
        self.crash: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._buf = bytearray()
        assert self.word() == C.LAUNCH_FLAG

    def _run(self) -> None:
        try:
            self.status = self.agent.serve()
        except BaseException as e:
            self.crash = e
        finally:
            self.agent.stream.close()

    # reading, with the socket's timeout turning a hang into a failure
    def recv_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            part = self.sock.recv(1 << 16)
            if not part:
                raise EOFError("the agent closed the connection")
            self._buf += part
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def word(self) -> int:
        return int(struct.unpack(">I", self.recv_exact(4))[0])

    def unit(self) -> bytes:
        """The next framed body, skipping progress messages and cancel flags."""
        while True:
            w = self.word()
            if w == C.PROGRESS_FLAG:
                self.recv_exact(C.PROGRESS_SIZE)
            elif w == C.CANCEL_FLAG:
                continue
            else:
                assert w <= C.MESSAGE_MAX, f"the agent sent a length word of {w}"
                return self.recv_exact(w)

    def reply(self, serial: int) -> Header:
        """Read the reply to ``serial`` (and its FileOut chunks): one reply per call."""
        body = self.unit()
        h = Header.unpack(body)
        assert (h.direction, h.serial, h.prog, h.vers) == (
            C.DIRECTION_REPLY,
            serial,
            C.PROGRAM,
            C.PROTOCOL_VERSION,
        ), f"bad reply header {h}"
        if h.status == C.STATUS_ERROR:
            decode_error(memoryview(body)[C.HEADER_SIZE :])  # well-formed error struct
        else:
            assert h.status == C.STATUS_OK
            proc = BY_NUMBER[h.proc]
            if proc.file_out:
                while True:
                    cancel, data = decode_chunk(self.unit())
                    if cancel or not data:
                        break
            else:
                decode_ret(proc, memoryview(body)[C.HEADER_SIZE :])
        return h

    def ping(self, serial: int) -> None:
        self.sock.sendall(frame(Header(proc=92, serial=serial).pack()))
        h = self.reply(serial)
        assert (h.proc, h.status) == (92, C.STATUS_OK)

    def finish(self, timeout: float = 20) -> int | None:
        """Close our end and wait for the agent to end; it must not have crashed."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            while self.sock.recv(1 << 16):
                pass
        except OSError:
            pass
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the agent hung after its peer closed"
        self.sock.close()
        if self.crash is not None:
            raise AssertionError(f"the agent crashed: {self.crash!r}") from self.crash
        return self.status


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    root = tmp_path / "sysroot"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "a").write_bytes(b"hello\n" * 100)
    (root / "dir" / "f").write_bytes(os.urandom(30000))
    (root / "lnk").symlink_to("../../../../etc")
    (root / "dir" / "up").symlink_to("/etc/passwd")
    return root


# -- generators ------------------------------------------------------------------------------


def _path(rng: random.Random) -> str:
    parts = [rng.choice(PATH_ATOMS) for _ in range(rng.randrange(4))]
    p = "/".join(parts)
    return p if rng.random() < 0.1 else "/" + p


def _value_for_arg(rng: random.Random, t: ArgType) -> Any:
    if t in (ArgType.PATHNAME, ArgType.DEV_OR_PATH):
        return _path(rng)
    if t in LIST_KINDS:
        return [_path(rng) for _ in range(rng.randrange(4))]
    if t is ArgType.OPTSTRING:
        return None if rng.random() < 0.5 else _path(rng)
    if t is ArgType.BOOL:
        return rng.random() < 0.5
    if t is ArgType.INT:
        return rng.choice((0, 1, -1, 0o777, 0x7FFFFFFF, -0x80000000, rng.randrange(-9, 99999)))
    if t is ArgType.INT64:
        # No offsets between 1 MiB and the maximum file size: a sparse terabyte file would
        # turn the next checksum or download into an hour of honest work, not a hang.
        return rng.choice((0, -1, (1 << 63) - 1, -(1 << 63), rng.randrange(0, 1 << 20)))
    if t is ArgType.BUFFER:
        return rng.randbytes(rng.choice((0, 1, 7, 100, 5000)))
    # String, Device, Mountable, Filename, Key, GUID...: any short text
    return rng.choice((_path(rng), "/dev/sda", "/dev/sda1", "x", "", "a" * 1000))


def _value_for_opt(rng: random.Random, t: OptType) -> Any:
    if t is OptType.BOOL:
        return rng.random() < 0.5
    if t is OptType.INT:
        return rng.choice((0, -1, 4096, 0x7FFFFFFF))
    if t is OptType.INT64:
        return rng.choice((0, -1, 1 << 40))
    if t is OptType.STRING:
        return rng.choice(("", "gzip", "x" * 100, "/"))
    return [_path(rng) for _ in range(rng.randrange(3))]


def valid_args(rng: random.Random, proc: Procedure) -> tuple[bytes, int]:
    """A well-formed args struct for ``proc`` with random values, and its optargs mask."""
    args = {a.name: _value_for_arg(rng, a.type) for a in proc.wire_args}
    optargs = {o.name: _value_for_opt(rng, o.type) for o in proc.optargs if rng.random() < 0.5}
    mask = sum(1 << i for i, o in enumerate(proc.optargs) if o.name in optargs)
    if not proc.wire_args and not proc.optargs:
        return b"", mask
    return encode_args(proc, args, optargs), mask


def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    """A few random edits: bit flips, replaced/inserted/deleted words, truncation,
    duplication -- the classic mutations of a byte-level fuzzer."""
    buf = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.randrange(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and len(buf) >= 4:
            i = rng.randrange(len(buf) - 3) & ~3
            buf[i : i + 4] = struct.pack(">I", rng.choice(INTERESTING_WORDS))
        elif op == 2:
            buf[pos:pos] = struct.pack(">I", rng.choice(INTERESTING_WORDS))
        elif op == 3:
            del buf[pos : pos + rng.choice((1, 4, 8, 40))]
        elif op == 4:
            del buf[rng.randrange(len(buf) + 1) :]
        elif op == 5:
            buf[pos:pos] = rng.randbytes(rng.choice((1, 3, 4, 16)))
        else:
            start = rng.randrange(len(buf) + 1)
            buf[pos:pos] = buf[start : start + rng.randrange(64)]
    return bytes(buf)


def random_header(rng: random.Random, proc_nr: int, serial: int, mask: int) -> Header:
    h = Header(proc=proc_nr, serial=serial, optargs_bitmask=mask, progress_hint=0)
    if rng.random() < 0.3:
        h.progress_hint = rng.choice((0, 1, 1 << 40, (1 << 64) - 1))
    if rng.random() < 0.1:
        h.optargs_bitmask = rng.choice((1, 2, 0xFF, (1 << 64) - 1))
    for name, choices in (
        ("prog", (0, C.PROGRAM + 1, 0xFFFFFFFF)),
        ("vers", (0, 3, 5, 0xFFFFFFFF)),
        ("direction", (1, 2, 0xFFFFFFFF)),
        ("status", (1, 2, 0xFFFFFFFF)),
    ):
        if rng.random() < 0.04:
            setattr(h, name, rng.choice(choices))
    return h


def header_is_valid(h: Header) -> bool:
    return (h.prog, h.vers, h.direction, h.status) == (
        C.PROGRAM,
        C.PROTOCOL_VERSION,
        C.DIRECTION_CALL,
        C.STATUS_OK,
    )


def chunks(rng: random.Random, data_size: int, cancel: bool) -> bytes:
    data = rng.randbytes(data_size)
    out = [encode_chunk(data[i : i + C.MAX_CHUNK_SIZE]) for i in range(0, data_size, 8192)]
    out.append(encode_chunk(b"", cancel=cancel))
    if rng.random() < 0.1:
        out.insert(rng.randrange(len(out)), struct.pack(">I", C.CANCEL_FLAG))  # a stray flag
    return b"".join(out)


@dataclass
class Call:
    """One generated call: its framed bytes, and whether it asks for a reply."""

    wire: bytes
    serial: int
    replies: bool = True
    messages: int = 1


def structured_call(rng: random.Random, serial: int) -> Call:
    """A call whose framing is intact: the agent can always answer and stay in sync."""
    kind = rng.random()
    if kind < 0.03:
        return Call(struct.pack(">I", C.CANCEL_FLAG), serial, replies=False)
    if kind < 0.8:
        proc = rng.choice(PROCEDURES)
        proc_nr = proc.proc_nr
    else:
        proc_nr = rng.choice((0, -1, 9999, C.MAX_PROC_NR + 1, rng.randrange(-(1 << 31), 1 << 31)))
        proc = BY_NUMBER.get(proc_nr)
    if proc is not None:
        payload, mask = valid_args(rng, proc)
        if rng.random() < 0.4:
            payload = mutate(rng, payload)
    else:
        payload, mask = rng.randbytes(rng.choice((0, 4, 8, 33))), 0
    h = random_header(rng, proc_nr, serial, mask)
    body = h.pack() + payload
    wire = frame(body)
    messages = 1
    if (
        proc is not None
        and proc.file_in
        and header_is_valid(h)
        and proc_nr in BY_NUMBER
        and _reads_chunks(proc)
    ):
        # The agent reads chunks after any valid FileIn header (on an error it drains them).
        size = rng.choice((0, 1, 100, 8192, 20000))
        wire += chunks(rng, size, cancel=rng.random() < 0.3)
        messages += size // 8192 + 2
    return Call(wire, serial, messages=messages)


def conversation(rng: random.Random) -> tuple[bytes, int]:
    """A valid stream of a few calls (uploads with their chunks included)."""
    out = []
    serial = C.FIRST_SERIAL
    messages = 0
    for _ in range(rng.randrange(2, 8)):
        call = structured_call(rng, serial)
        serial += 1
        out.append(call.wire)
        messages += call.messages
    return b"".join(out), messages


# -- agent side --------------------------------------------------------------------------


@dataclass
class Figures:
    messages: int = 0
    cases: int = 0
    pings: int = 0
    closed_cleanly: int = 0
    kept_serving: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    peak_bytes: int = 0
    seconds: float = 0.0

    def report(self, title: str) -> None:
        report_figure(
            f"FUZZ {title}: seed {SEED}, {self.messages} messages in {self.cases} cases, "
            f"{self.pings} pings answered, {self.kept_serving} kept serving, "
            f"{self.closed_cleanly} closed cleanly, outcomes {self.errors}, "
            f"traced peak {self.peak_bytes / 1024:.0f} KiB, {self.seconds:.1f} s"
        )


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def test_agent_survives_structured_messages(
    sysroot: Path, safe_dispatch: None, traced: None
) -> None:
    """Every framed message gets exactly one well-formed reply; ping_daemon answers after
    each batch; the traced memory never reaches the 4 MiB message limit."""
    rng = random.Random(SEED)
    figures = Figures()
    started = time.monotonic()
    agent = AgentUnderTest(sysroot)
    tracemalloc.reset_peak()
    serial = C.FIRST_SERIAL
    while figures.messages < AGENT_STRUCTURED:
        for _ in range(BATCH):
            call = structured_call(rng, serial)
            serial = (serial + 1) & 0xFFFFFFFF
            agent.sock.sendall(call.wire)
            figures.messages += call.messages
            figures.cases += 1
            if call.replies:
                try:
                    h = agent.reply(call.serial)
                except TimeoutError:
                    raise AssertionError(f"no reply within 120 s to {call.wire[:200]!r}") from None
                key = "ok" if h.status == C.STATUS_OK else "error"
                figures.errors[key] = figures.errors.get(key, 0) + 1
        agent.ping(serial)
        serial += 1
        figures.pings += 1
        figures.messages += 1
    figures.peak_bytes = tracemalloc.get_traced_memory()[1]
    assert agent.finish() == 0
    figures.seconds = time.monotonic() - started
    figures.report("agent structured")
    assert figures.peak_bytes < MEMORY_BOUND


def test_agent_survives_mutated_conversations(
    sysroot: Path, safe_dispatch: None, traced: None
) -> None:
    """Byte-level mutations of valid conversations: whatever the agent makes of them, it
    answers or closes cleanly when its peer closes -- no crash, no hang, bounded memory."""
    rng = random.Random(SEED + 1)
    figures = Figures()
    started = time.monotonic()
    tracemalloc.reset_peak()
    for _ in range(AGENT_MUTATED_CASES):
        stream, messages = conversation(rng)
        stream = mutate(rng, stream, rounds=rng.randrange(1, 6))
        agent = AgentUnderTest(sysroot)
        writer = threading.Thread(target=_send_then_close, args=(agent.sock, stream))
        writer.start()
        # finish() reads everything the agent says until it closes, then joins it.
        try:
            while agent.sock.recv(1 << 16):
                pass
        except OSError:
            pass
        writer.join(20)
        status = agent.finish()
        figures.cases += 1
        figures.messages += messages
        if status == 1:
            figures.closed_cleanly += 1  # out of sync: said why and closed
        else:
            figures.kept_serving += 1  # served until our EOF
    figures.peak_bytes = tracemalloc.get_traced_memory()[1]
    figures.seconds = time.monotonic() - started
    figures.report("agent mutated")
    assert figures.peak_bytes < MEMORY_BOUND


def _send_then_close(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the agent closed first: that is an allowed outcome


def test_agent_resynchronises_after_each_structured_batch_of_garbage_headers(
    sysroot: Path, safe_dispatch: None
) -> None:
    """Header fields out of range with intact framing: an error reply each, then ping."""
    rng = random.Random(SEED + 2)
    agent = AgentUnderTest(sysroot)
    serial = 1
    for _ in range(200):

        def field(good: int, bits: int = 32) -> int:
            return good if rng.random() < 0.6 else rng.randrange(1 << bits)

        fields = struct.pack(
            ">IIIIIQQI",
            field(C.PROGRAM),
            field(C.PROTOCOL_VERSION),
            rng.randrange(1 << 32),  # proc: a signed int on the wire
            field(C.DIRECTION_CALL),
            serial,
            rng.randrange(1 << 64),
            field(0, 64),
            field(C.STATUS_OK),
        )
        body = fields + rng.randbytes(rng.randrange(64))
        agent.sock.sendall(frame(body))
        h = Header.unpack(body)
        proc = BY_NUMBER.get(h.proc)
        if header_is_valid(h) and proc is not None and proc.file_in and _reads_chunks(proc):
            agent.sock.sendall(encode_chunk(b"", cancel=True))
        agent.reply(serial)
        serial += 1
        agent.ping(serial)
        serial += 1
    assert agent.finish() == 0


def test_agent_refuses_huge_lengths_without_allocating(
    sysroot: Path, safe_dispatch: None, traced: None
) -> None:
    """Lengths that claim gigabytes inside tiny messages: error replies, ~nothing allocated."""
    agent = AgentUnderTest(sysroot)
    tracemalloc.reset_peak()
    serial = 1
    exists = 36
    write = next(p for p in PROCEDURES if p.name == "internal_write").proc_nr  # Pathname, Buffer
    slash = b"\x00\x00\x00\x02/x\x00\x00"
    for payload, proc_nr in (
        (b"\x7f\xff\xff\xff/", exists),  # a 2 GiB string
        (b"\xff\xff\xff\xff", exists),  # a 4 GiB string
        (slash + b"\xff\xff\xff\xff" * 4, write),  # a 4 GiB buffer
        (b"\x00\x00\x00\x02\x7f\xff\xff\xf0", write),  # a truncated path
    ):
        agent.sock.sendall(frame(Header(proc=proc_nr, serial=serial).pack() + payload))
        if BY_NUMBER[proc_nr].file_in:
            agent.sock.sendall(encode_chunk(b"", cancel=True))
        assert agent.reply(serial).status == C.STATUS_ERROR
        serial += 1
    agent.ping(serial)
    peak = tracemalloc.get_traced_memory()[1]
    assert agent.finish() == 0
    report_figure(f"FUZZ huge lengths: traced peak {peak / 1024:.0f} KiB")
    assert peak < 1 << 20


def test_agent_at_the_message_limit(sysroot: Path, safe_dispatch: None, traced: None) -> None:
    """A 4 MiB call is read and answered (a path that long is ENAMETOOLONG, as the kernel
    says, without walking its two million components); 4 MiB + 1 closes the connection
    before a byte of the body is read. The agent's memory for it stays within 5 x 4 MiB."""
    agent = AgentUnderTest(sysroot)
    body = Header(proc=36, serial=1).pack()
    body += struct.pack(">I", C.MESSAGE_MAX - len(body) - 4)
    body += b"/a" * ((C.MESSAGE_MAX - len(body)) // 2)
    wire = frame(body)
    del body
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    writer = threading.Thread(target=agent.sock.sendall, args=(wire,))
    writer.start()
    reply = agent.unit()
    writer.join()
    assert Header.unpack(reply).status == C.STATUS_ERROR
    assert decode_error(reply[C.HEADER_SIZE :])[0] == "ENAMETOOLONG"
    del wire, reply
    agent.ping(2)
    peak = tracemalloc.get_traced_memory()[1] - base
    agent.sock.sendall(struct.pack(">I", C.MESSAGE_MAX + 1) + b"\0" * 64)
    assert agent.finish() == 1
    assert "incoming message is too long" in agent.log.getvalue()
    report_figure(f"FUZZ 4 MiB call: traced peak {peak / 1048576:.1f} MiB")
    assert peak < MAX_MESSAGE_BOUND


# -- property-based (hypothesis): the decoders alone ----------------------------------------

_fuzz_settings = settings(
    max_examples=HYPOTHESIS_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not FULL,
)

procs = st.sampled_from(PROCEDURES)


@_fuzz_settings
@given(proc=procs, body=st.binary(max_size=512), mask=st.integers(0, (1 << 64) - 1))
def test_decode_args_raises_only_xdr_errors(proc: Procedure, body: bytes, mask: int) -> None:
    try:
        decode_args(proc, body, mask)
    except XdrError:
        pass


@_fuzz_settings
@given(proc=procs, body=st.binary(max_size=512))
def test_decode_ret_raises_only_xdr_errors(proc: Procedure, body: bytes) -> None:
    try:
        value = decode_ret(proc, body)
    except XdrError:
        return
    _check_type(proc, value)


@_fuzz_settings
@given(body=st.binary(max_size=256))
def test_decode_error_and_chunk_raise_only_xdr_errors(body: bytes) -> None:
    for decode in (decode_error, decode_chunk):
        try:
            decode(body)
        except XdrError:
            pass


@_fuzz_settings
@given(proc=procs, seed=st.integers(0, 1 << 32))
def test_args_round_trip_and_survive_mutation(proc: Procedure, seed: int) -> None:
    """A valid encoding decodes back to itself; any mutation of it decodes or is refused."""
    rng = random.Random(seed)
    payload, mask = valid_args(rng, proc)
    if proc.wire_args or proc.optargs:
        args, optargs = decode_args(proc, payload, mask)
        assert encode_args(proc, args, optargs) == payload
    try:
        decode_args(proc, mutate(rng, payload), mask)
    except XdrError:
        pass


# -- host side: the reply decoder against a hostile agent -----------------------------------

HOST_PROCS = [p for p in PROCEDURES if not p.file_in]  # FileIn: needs a local file, see below


def _random_value(rng: random.Random, proc: Procedure) -> Any:
    """A valid return value of ``proc``'s type."""
    r = proc.ret

    def s() -> str:
        return rng.choice(("", "x", "/dev/sda1", "é", "a" * rng.randrange(300)))

    if r is RetType.BOOL:
        return rng.random() < 0.5
    if r is RetType.INT:
        return rng.randrange(-(1 << 31), 1 << 31)
    if r is RetType.INT64:
        return rng.randrange(-(1 << 63), 1 << 63)
    if r is RetType.STRING:
        return s()
    if r is RetType.STRINGLIST:
        return [s() for _ in range(rng.randrange(5))]
    if r is RetType.HASHTABLE:
        return [(s(), s()) for _ in range(rng.randrange(4))]
    if r is RetType.BUFFER:
        return rng.randbytes(rng.randrange(100))
    if r in (RetType.STRUCT, RetType.STRUCTLIST):
        assert proc.struct is not None
        sd = proc.struct

        def one() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, ft in sd.fields:
                if ft is FieldType.STRING:
                    out[name] = s()
                elif ft is FieldType.BUFFER:
                    out[name] = rng.randbytes(rng.randrange(10))
                elif ft is FieldType.UUID:
                    out[name] = "0" * 32
                elif ft is FieldType.CHAR:
                    out[name] = rng.choice("rdlf?")
                elif ft is FieldType.OPTPERCENT:
                    out[name] = -1.0
                elif ft is FieldType.UINT32:
                    out[name] = rng.randrange(1 << 32)
                elif ft is FieldType.UINT64:
                    out[name] = rng.randrange(1 << 64)
                elif ft is FieldType.INT32:
                    out[name] = rng.randrange(-(1 << 31), 1 << 31)
                else:
                    out[name] = rng.randrange(-(1 << 63), 1 << 63)
            return out

        return one() if r is RetType.STRUCT else [one() for _ in range(rng.randrange(4))]
    return None


def _check_type(proc: Procedure, value: Any) -> None:
    """A decoded value has the shape the procedure's return type promises."""
    r = proc.ret
    expected: dict[RetType, Callable[[Any], bool]] = {
        RetType.ERR: lambda v: v is None,
        RetType.BOOL: lambda v: isinstance(v, bool),
        RetType.INT: lambda v: isinstance(v, int) and -(1 << 31) <= v < 1 << 31,
        RetType.INT64: lambda v: isinstance(v, int) and -(1 << 63) <= v < 1 << 63,
        RetType.STRING: lambda v: isinstance(v, str),
        RetType.STRINGLIST: lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        RetType.HASHTABLE: lambda v: (
            isinstance(v, list) and all(isinstance(k, str) and isinstance(x, str) for k, x in v)
        ),
        RetType.BUFFER: lambda v: isinstance(v, bytes),
        RetType.STRUCT: lambda v: isinstance(v, dict),
        RetType.STRUCTLIST: lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    }
    assert expected[r](value), f"{proc.name} decoded to {value!r}"


def good_reply(rng: random.Random, proc: Procedure, serial: int) -> bytes:
    """What an honest agent could answer: OK + ret (+ chunks), or an error reply."""
    if rng.random() < 0.25:
        h = Header(proc=proc.proc_nr, serial=serial, direction=1, status=C.STATUS_ERROR)
        errno_name = rng.choice(("", "ENOENT", "EIO", "X" * 32))
        message = rng.choice(("", "no", "é" * 100, "m" * 70000))
        return frame(h.pack() + encode_error(errno_name, message))
    h = Header(proc=proc.proc_nr, serial=serial, direction=1)
    out = []
    if rng.random() < 0.2:
        out.append(encode_progress(proc.proc_nr, serial, 1, 2))
    out.append(frame(h.pack() + encode_ret(proc, _random_value(rng, proc))))
    if proc.file_out:
        out.append(chunks(rng, rng.choice((0, 10, 9000)), cancel=rng.random() < 0.2))
    return b"".join(out)


def _host_args(rng: random.Random, proc: Procedure) -> tuple[dict[str, Any], dict[str, Any]]:
    args = {a.name: _value_for_arg(rng, a.type) for a in proc.wire_args}
    for a in proc.wire_args:
        if a.type in LIST_KINDS:
            args[a.name] = [x.replace("\udcff", "") for x in args[a.name]]
        elif isinstance(args[a.name], str):
            args[a.name] = args[a.name].replace("\udcff", "")
    return args, {}


def host_case(
    rng: random.Random, proc: Procedure, hostile: bytes, then_ping: bool, out_file: str
) -> str:
    """Run one call of the real host Connection against ``hostile`` bytes. Returns the
    outcome; anything but a value of the right type or a GuestFSError fails the test."""
    ours, theirs = socket.socketpair()
    for s in (ours, theirs):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    # The whole hostile stream fits in the socket buffer: written up front, then EOF, so
    # a host that waited for more would see the end instead of hanging.
    assert len(hostile) < 1 << 19
    _send_then_close(theirs, hostile)
    conn = Connection(ByteStream(ours.detach()))
    args, optargs = _host_args(rng, proc)
    outcome = "ok"
    try:
        value = conn.call(proc, args, optargs, file_out=out_file if proc.file_out else None)
        _check_type(proc, value)
    except GuestFSError as e:
        outcome = type(e).__name__ + ("" if conn.broken is None else ":dropped")
    if then_ping and conn.broken is None:
        try:
            conn.call(BY_NUMBER[92], {}, {})
            outcome += "+ping"
        except GuestFSError as e:
            outcome += "+ping:" + type(e).__name__
    conn.close()
    theirs.close()
    return outcome


def test_host_survives_a_hostile_agent(tmp_path: Path, traced: None) -> None:
    """Structured replies (valid, or with mutated headers/payloads but intact framing) and
    byte-level mutations of whole reply streams: the host returns a value of the right
    type or raises GuestFSError, never anything else, never hangs; bounded memory."""
    rng = random.Random(SEED + 3)
    figures = Figures()
    started = time.monotonic()
    out_file = str(tmp_path / "download")
    tracemalloc.reset_peak()
    total = HOST_STRUCTURED + HOST_MUTATED
    for i in range(total):
        proc = rng.choice(HOST_PROCS)
        serial = C.FIRST_SERIAL
        ping_reply = frame(Header(proc=92, serial=serial + 1, direction=1).pack())
        reply = good_reply(rng, proc, serial)
        if i < HOST_STRUCTURED:
            # intact framing: mutate inside the body only
            if rng.random() < 0.7:
                n = struct.unpack(">I", reply[:4])[0]
                if n < C.MESSAGE_MAX:
                    body = mutate(rng, reply[4 : 4 + n])
                    reply = frame(body) + reply[4 + n :]
        else:
            reply = mutate(rng, reply, rounds=rng.randrange(1, 5))
        outcome = host_case(rng, proc, reply + ping_reply, then_ping=True, out_file=out_file)
        figures.cases += 1
        figures.messages += 1
        key = outcome.split("+")[0]
        figures.errors[key] = figures.errors.get(key, 0) + 1
        if "+ping" in outcome and ":" not in outcome.split("+ping")[1]:
            figures.pings += 1
    figures.peak_bytes = tracemalloc.get_traced_memory()[1]
    figures.seconds = time.monotonic() - started
    figures.report("host")
    assert figures.peak_bytes < MEMORY_BOUND


def test_host_refuses_huge_lengths_without_allocating(tmp_path: Path, traced: None) -> None:
    """Reply lengths that claim gigabytes: a ProtocolViolation, ~nothing allocated."""
    rng = random.Random(SEED + 4)
    tracemalloc.reset_peak()
    ls0 = BY_NUMBER[next(p.proc_nr for p in PROCEDURES if p.ret is RetType.STRINGLIST)]
    h = Header(proc=ls0.proc_nr, serial=C.FIRST_SERIAL, direction=1).pack()
    hostile = (
        struct.pack(">I", 0xFFFFFFF0),
        frame(h + b"\xff\xff\xff\xff"),
        frame(h + b"\x00\x00\x00\x01\x7f\xff\xff\xff"),
        frame(
            Header(
                proc=ls0.proc_nr, serial=C.FIRST_SERIAL, direction=1, status=C.STATUS_ERROR
            ).pack()
            + b"\x00\x00\x00\x00\x7f\xff\xff\xff"
        ),
    )
    for data in hostile:
        outcome = host_case(rng, ls0, data, then_ping=False, out_file=str(tmp_path / "x"))
        assert outcome.endswith(":dropped"), outcome
    peak = tracemalloc.get_traced_memory()[1]
    report_figure(f"FUZZ host huge lengths: traced peak {peak / 1024:.0f} KiB")
    assert peak < 1 << 20


def test_host_upload_against_a_hostile_agent(tmp_path: Path) -> None:
    """FileIn calls: the agent's cancel flag, garbage and early replies while the host
    streams the file; the host ends with an error or success, never a hang."""
    rng = random.Random(SEED + 5)
    local = tmp_path / "local"
    local.write_bytes(os.urandom(100_000))
    upload = next(p for p in PROCEDURES if p.file_in)
    for _ in range(200 if not FULL else 2000):
        serial = C.FIRST_SERIAL
        parts = []
        if rng.random() < 0.5:
            parts.append(struct.pack(">I", C.CANCEL_FLAG))
        parts.append(good_reply(rng, upload, serial))
        hostile = mutate(rng, b"".join(parts)) if rng.random() < 0.5 else b"".join(parts)
        ours, theirs = socket.socketpair()
        drain = threading.Thread(target=_drain_then_reply, args=(theirs, hostile), daemon=True)
        drain.start()
        conn = Connection(ByteStream(ours.detach()))
        try:
            conn.call(upload, _host_args(rng, upload)[0], {}, file_in=str(local))
        except GuestFSError:
            pass
        conn.close()
        drain.join(20)
        assert not drain.is_alive()
        theirs.close()


def _drain_then_reply(sock: socket.socket, hostile: bytes) -> None:
    """Send the hostile bytes at once, read whatever the host sends until it closes."""
    try:
        sock.sendall(hostile)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(1 << 16):
            pass
    except OSError:
        pass
