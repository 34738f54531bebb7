"""Bulk transfers: integrity, progress events, and cancellation from either side."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pyguestfs.agent import Agent, Sysroot
from pyguestfs.agent.channel import listen_once
from pyguestfs.host import EVENT_PROGRESS, GuestFS, GuestFSError
from pyguestfs.protocol import constants as C


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_64_mib_round_trip_is_intact(g: GuestFS, agent: object, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    with src.open("wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    g.upload(str(src), "/payload")
    back = tmp_path / "back.bin"
    g.download("/payload", str(back))
    assert _sha(back) == _sha(src)
    assert g.checksum("sha256", "/payload") == _sha(src)


@contextmanager
def _agent_in_thread(
    tmp_path: Path, progress_timing: tuple[float, float]
) -> Iterator[tuple[str, Path]]:
    """An in-process agent with the given progress rate limits (quiet period at the start
    of a call, minimum gap between messages), serving one connection."""
    sysroot = tmp_path / "root"
    sysroot.mkdir()
    sock = f"/tmp/pyguestfs-progress-{os.getpid()}.sock"

    def serve() -> None:
        stream = listen_once(sock)
        Agent(stream, Sysroot(str(sysroot)), progress_timing=progress_timing).serve()
        stream.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield sock, sysroot
    t.join(timeout=5)


@pytest.fixture
def fast_progress_agent(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An in-process agent whose progress rate limits are shortened, so a test does not
    need a transfer that lasts more than the real 2 s quiet period."""
    with _agent_in_thread(tmp_path, (0.0, 0.0)) as agent:
        yield agent


def test_progress_events_during_upload_and_download(
    fast_progress_agent: tuple[str, Path], tmp_path: Path
) -> None:
    sock, _ = fast_progress_agent
    src = tmp_path / "src"
    src.write_bytes(os.urandom(8 << 20))
    seen: list[list[int]] = []
    with GuestFS() as h:
        h.set_event_callback(lambda ev, eh, buf, array: seen.append(array), EVENT_PROGRESS)
        h.attach(sock)
        h.upload(str(src), "/f")
        assert seen, "no progress during upload"
        proc, _serial, position, total = seen[-1]
        assert (proc, position, total) == (66, 8 << 20, 8 << 20)
        assert all(0 < p <= t for _, _, p, t in seen)
        seen.clear()
        h.download("/f", str(tmp_path / "back"))
        assert seen and seen[-1][0] == 67 and seen[-1][2] == seen[-1][3] == 8 << 20


def test_progress_is_rate_limited_by_default(tmp_path: Path) -> None:
    # 1.48's limits: a call is quiet for its first 2 s, then sends at most 3 a second.
    assert (C.PROGRESS_INITIAL_DELAY, C.PROGRESS_PERIOD) == (2.0, 0.333333)
    default = inspect.signature(Agent).parameters["progress_timing"].default
    assert default == (C.PROGRESS_INITIAL_DELAY, C.PROGRESS_PERIOD)
    # A transfer inside the quiet period sends no progress at all. The quiet period here
    # outlasts any transfer, so the outcome does not hang on how fast this one is.
    src = tmp_path / "s"
    src.write_bytes(b"x" * (1 << 20))
    seen: list[object] = []
    with _agent_in_thread(tmp_path, (3600.0, C.PROGRESS_PERIOD)) as (sock, _), GuestFS() as h:
        h.set_event_callback(lambda *a: seen.append(a), EVENT_PROGRESS)
        h.attach(sock)
        h.upload(str(src), "/s")
        h.download("/s", str(tmp_path / "back"))
    assert seen == []


def test_local_write_error_cancels_the_download(g: GuestFS, agent: object) -> None:
    g.write("/big", os.urandom(4 << 20))
    with pytest.raises(GuestFSError, match="write: /dev/full: No space left on device"):
        g.download("/big", "/dev/full")
    assert g.ping_daemon() is None  # the connection is still in sync
    assert g.filesize("/big") == 4 << 20


def test_unopenable_local_destination(g: GuestFS, tmp_path: Path) -> None:
    g.write("/f", b"abc")
    with pytest.raises(GuestFSError, match=r"open: .*: No such file or directory"):
        g.download("/f", str(tmp_path / "no" / "dir" / "f"))
    assert g.cat("/f") == "abc"


def test_daemon_side_write_error_is_reported_and_the_handle_survives(
    g: GuestFS, tmp_path: Path
) -> None:
    src = tmp_path / "s"
    src.write_bytes(b"y" * (1 << 20))
    g.mkdir("/d")
    with pytest.raises(GuestFSError) as info:
        g.upload(str(src), "/d")  # a directory cannot be opened for writing
    assert info.value.errno_name == "EISDIR"
    assert g.exists("/d")
    g.upload(str(src), "/d/ok")
    assert g.filesize("/d/ok") == 1 << 20


# -- big chunks (pyguestfs extension) ------------------------------------------------------


def test_the_agent_clamps_the_chunk_size_it_grants(g: GuestFS) -> None:
    from pyguestfs.protocol.procedures import BY_NAME

    assert g._conn is not None
    proc = BY_NAME["internal_pyguestfs_set_chunk_size"]
    assert g._conn.call(proc, {"size": 10}, {}) == 8192
    assert g._conn.call(proc, {"size": 1 << 30}, {}) == 1 << 20
    assert g._conn.call(proc, {"size": 65536}, {}) == 65536


def test_chunks_over_the_granted_size_lose_sync(g: GuestFS, agent: object) -> None:
    """The host bound is enforced by the agent: a 16 KiB chunk on a connection that
    negotiated nothing is a stream out of sync, and the agent hangs up."""
    from pyguestfs.protocol import constants as C
    from pyguestfs.protocol.messages import encode_chunk

    conn = g._conn
    assert conn is not None
    conn.wanted_chunk_size = 0
    conn.chunk_size = 16384  # as if granted, but never asked
    src = Path(agent.sysroot).parent / "16k.bin"  # type: ignore[attr-defined]
    src.write_bytes(b"x" * 16384)
    with pytest.raises(GuestFSError, match="connection"):
        g.upload(str(src), "/16k.bin")
    assert encode_chunk(b"y" * C.MAX_CHUNK_SIZE)  # the 8 KiB bound still encodes


def test_transfers_in_8k_chunks_when_big_ones_are_off(
    agent: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYGUESTFS_CHUNK_SIZE", "0")
    h = GuestFS()
    h.attach(agent.socket)  # type: ignore[attr-defined]
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1 << 20))
    h.upload(str(src), "/p")
    h.download("/p", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == src.read_bytes()
    assert h._conn is not None and h._conn.chunk_size == 8192
    h.close()


def test_big_chunks_are_asked_for_once_before_the_first_transfer(
    g: GuestFS, tmp_path: Path
) -> None:
    assert g._conn is not None and g._conn.chunk_size == 8192  # nothing moved yet
    g.write("/w", b"small calls never ask")
    assert g._conn.chunk_size == 8192
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5 << 20))
    g.upload(str(src), "/big")
    assert g._conn.chunk_size == 1 << 20 and g._conn.wanted_chunk_size == 0
    g.download("/big", str(tmp_path / "back"))
    assert _sha(tmp_path / "back") == _sha(src)
