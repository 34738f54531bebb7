"""Load and concurrency: many handles at once, big checksum-verified transfers, and a long
session whose memory must not grow.

Handles run against agent processes on this machine (``RunningAgent``) so that the
load is on the protocol, the host library and the agent rather than on TCG; two real
VMs run side by side as well. Figures are printed as ``LOAD ...`` lines and collected in
``docs/reliability.md``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import RunningAgent, launch_vm, needs_qemu, report_figure

from pyguestfs.host import GuestFS

#: Minutes of calls and hundreds of MiB: heavy, so never in the quick (unit) loop.
heavy = pytest.mark.artifact

MiB = 1 << 20
HANDLES = 8
CALLS = 200
TRANSFER = 32 * MiB
LONG_SESSION = 10_000
#: Allowed RSS growth over the long session, host and agent each (measured: see the doc).
RSS_BOUND = 8 * MiB


def _sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def session(socket_path: str, workdir: str, tag: str) -> dict[str, object]:
    """One handle's work: CALLS calls, then a TRANSFER-byte upload and download whose
    checksums must match. Runs in a thread or in a child process."""
    g = GuestFS(python_return_dict=True)
    g.attach(socket_path)
    started = time.monotonic()
    g.mkdir_p(f"/{tag}")
    for i in range(CALLS - 8):
        if i % 4 == 0:
            g.write(f"/{tag}/f{i % 16}", f"{tag}:{i}".encode())
        elif i % 4 == 1:
            assert g.read_file(f"/{tag}/f{(i - 1) % 16}") == f"{tag}:{i - 1}".encode()
        elif i % 4 == 2:
            assert g.is_dir(f"/{tag}")
        else:
            g.ping_daemon()
    src = os.path.join(workdir, f"{tag}.src")
    back = os.path.join(workdir, f"{tag}.back")
    with open(src, "wb") as f:
        f.write(os.urandom(TRANSFER))
    g.upload(src, f"/{tag}/big")
    assert g.filesize(f"/{tag}/big") == TRANSFER
    guest_sum = g.checksum("sha256", f"/{tag}/big")
    g.download(f"/{tag}/big", back)
    local_sum = _sha(src)
    assert guest_sum == local_sum, "the agent's checksum of the upload differs"
    assert _sha(back) == local_sum, "the download differs from the upload"
    names = g.ls(f"/{tag}")
    g.rm(f"/{tag}/big")
    g.close()
    os.unlink(src)
    os.unlink(back)
    # 8 + (CALLS - 8) calls: mkdir_p, the loop, upload, filesize, checksum, download, ls, rm
    return {"seconds": time.monotonic() - started, "files": len(names), "bytes": 2 * TRANSFER}


@pytest.fixture
def agents(tmp_path: Path) -> list[RunningAgent]:
    started = []
    for i in range(HANDLES):
        d = tmp_path / f"a{i}"
        d.mkdir()
        started.append(RunningAgent(d, verbose=False))
    yield started
    for a in started:
        if a.proc.poll() is None:
            a.proc.kill()
        a.stop()


def _report(what: str, results: list[dict[str, object]], seconds: float) -> None:
    total = sum(int(r["bytes"]) for r in results)  # type: ignore[call-overload]
    report_figure(
        f"LOAD {what}: {len(results)} handles x {CALLS} calls + {TRANSFER // MiB} MiB up "
        f"and down, {total / MiB:.0f} MiB verified by sha256, {seconds:.1f} s"
    )


#: The small files a session leaves (f0, f4, f8, f12: written on every fourth call), plus
#: the big one.
FILES_LEFT = len({i % 16 for i in range(CALLS - 8) if i % 4 == 0}) + 1


@heavy
def test_eight_handles_in_threads(agents: list[RunningAgent], tmp_path: Path) -> None:
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(HANDLES) as pool:
        futures = [
            pool.submit(session, a.socket, str(tmp_path), f"t{i}") for i, a in enumerate(agents)
        ]
        results = [f.result() for f in futures]
    assert all(r["files"] == FILES_LEFT for r in results)
    _report("threads", results, time.monotonic() - started)


@heavy
def test_eight_handles_in_processes(agents: list[RunningAgent], tmp_path: Path) -> None:
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded test process
    with concurrent.futures.ProcessPoolExecutor(HANDLES, mp_context=ctx) as pool:
        futures = [
            pool.submit(session, a.socket, str(tmp_path), f"p{i}") for i, a in enumerate(agents)
        ]
        results = [f.result() for f in futures]
    assert all(r["files"] == FILES_LEFT for r in results)
    _report("processes", results, time.monotonic() - started)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@heavy
def test_long_session_memory_is_bounded(g: GuestFS, agent: RunningAgent) -> None:
    """10,000 calls on one handle: RSS of this process and of the agent, measured after a
    warm-up of 500 calls and at the end, grows by less than RSS_BOUND each."""

    def calls(n: int) -> None:
        for i in range(n):
            k = i % 5
            if k == 0:
                g.write("/f", b"x" * (i % 4096))
            elif k == 1:
                g.read_file("/f")
            elif k == 2:
                g.statns("/f")
            elif k == 3:
                g.ls("/")
            else:
                g.ping_daemon()

    calls(500)
    host0, agent0 = _rss(os.getpid()), _rss(agent.proc.pid)
    started = time.monotonic()
    calls(LONG_SESSION)
    seconds = time.monotonic() - started
    host1, agent1 = _rss(os.getpid()), _rss(agent.proc.pid)
    report_figure(
        f"LOAD long session: {LONG_SESSION} calls in {seconds:.1f} s; host RSS "
        f"{host0 / MiB:.1f} -> {host1 / MiB:.1f} MiB, agent RSS {agent0 / MiB:.1f} -> "
        f"{agent1 / MiB:.1f} MiB (bound +{RSS_BOUND // MiB} MiB each)"
    )
    assert host1 - host0 < RSS_BOUND
    assert agent1 - agent0 < RSS_BOUND


@needs_qemu
def test_two_vms_at_once(cachedir: str, appliance: Path) -> None:
    """Two appliances booted and used at the same time, each with its own disk."""
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def one(tag: str) -> None:
        try:
            g = launch_vm(cachedir, scratch=(128 * MiB,))
            g.mkfs("ext2", "/dev/sda")
            g.mount("/dev/sda", "/")
            with tempfile.TemporaryDirectory() as d:
                src, back = os.path.join(d, "src"), os.path.join(d, "back")
                with open(src, "wb") as f:
                    f.write(os.urandom(TRANSFER))
                for i in range(CALLS - 3):
                    if i % 2:
                        g.write(f"/f{i % 8}", tag.encode())
                    else:
                        g.ping_daemon()
                g.upload(src, "/big")
                g.download("/big", back)
                assert _sha(back) == _sha(src)
            g.close()
            results.append({"bytes": 2 * TRANSFER})
        except BaseException as e:
            errors.append(e)

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(f"vm{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert len(results) == 2
    _report("VMs (boot included)", results, time.monotonic() - started)
