"""Per-call cost of our agent beside Debian's real guestfsd, both run natively on the host.

No VM: our agent runs as ``python -m pyguestfs.agent --listen SOCKET --sysroot DIR`` and
the real guestfsd 1.48 (extracted from libguestfs0's ``supermin.d/daemon.tar.gz``) runs
confined in a mount namespace and a chroot with a scratch directory as its sysroot (the
test suite's ``tests/realdaemon.py``; it needs root). The same client -- our host
library, one ``GuestFS`` handle attached to each daemon -- makes the same calls:
``ping_daemon``, ``exists``, ``statns``, a 100-byte ``write``, and an upload and a
download. Rounds alternate between the daemons (the machine is noisy) and each figure is
the median of its rounds.

    .venv/bin/python bench/native_calls.py [--rounds 5] [--calls 300] [--mb 64]
        [--agent-python PYTHON] [--out bench/native]

``--agent-python`` runs our agent under another interpreter (or with another
``PYTHONPATH``), e.g. to compare a compiled build of the agent with plain Python.

This separates the design from the machine it runs on: under TCG every instruction the
daemon executes is emulated, so an interpreted agent pays for each bytecode; natively the
two daemons' protocol work can be compared as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # realdaemon.py, shortpaths.py

from realdaemon import Daemon, our_agent, real_guestfsd  # noqa: E402

from pyguestfs.host import GuestFS  # noqa: E402

#: (figure, unit): per-call figures in microseconds (the client's wall time, and the CPU
#: time the daemon's process spent, which the machine's load disturbs far less), transfers
#: in MB/s.
CALLS = ("ping_daemon", "exists", "statns", "write_100B")
FIGURES = (
    *((f"{c}_us", "µs") for c in CALLS),
    *((f"{c}_cpu_us", "µs") for c in CALLS),
    ("upload_MBps", "MB/s"),
    ("download_MBps", "MB/s"),
)
DAEMONS = ("guestfsd", "pyguestfs")


def cpu_ns(pid: int) -> int:
    """CPU time the (single-threaded) process ``pid`` has run, in ns (the scheduler's
    own account: exact, unlike the 10 ms ticks of /proc/PID/stat)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def daemon_pid(d: Daemon) -> int:
    """The daemon's own process: our agent is the process started; guestfsd runs below
    unshare, sh and chroot (each of which execs or forks into the next)."""
    if d.name != "guestfsd":
        return d.process.pid
    todo = [d.process.pid]
    while todo:
        pid = todo.pop()
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "guestfsd":
                return pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            todo += [int(c) for c in f.read().split()]
    raise SystemExit("cannot find guestfsd's process")


def per_call(out: dict[str, float], name: str, fn: Callable[[], object], n: int, pid: int) -> None:
    clock = time.perf_counter
    cpu = cpu_ns(pid)
    t = clock()
    for _ in range(n):
        fn()
    out[f"{name}_us"] = (clock() - t) / n * 1e6
    out[f"{name}_cpu_us"] = (cpu_ns(pid) - cpu) / n / 1e3


def one_round(
    g: GuestFS, pid: int, calls: int, payload: Path, back: Path, mb: int
) -> dict[str, float]:
    """Every figure once, on an attached handle whose sysroot holds ``/f``; ``pid`` is
    the daemon's process."""
    out: dict[str, float] = {}
    per_call(out, "ping_daemon", g.ping_daemon, calls, pid)
    per_call(out, "exists", lambda: g.exists("/f"), calls, pid)
    per_call(out, "statns", lambda: g.statns("/f"), calls, pid)
    data = b"x" * 100
    names = iter(range(1 << 30))
    per_call(out, "write_100B", lambda: g.write(f"/w{next(names) % 64}", data), calls, pid)
    clock = time.perf_counter
    t = clock()
    g.upload(str(payload), "/payload.bin")
    out["upload_MBps"] = mb / (clock() - t)
    t = clock()
    g.download("/payload.bin", str(back))
    out["download_MBps"] = mb / (clock() - t)
    if back.read_bytes() != payload.read_bytes():
        raise SystemExit("download does not match the upload")
    return out


@contextmanager
def agent_with(python: str | None, scratch: Path) -> Iterator[Daemon]:
    """Our agent, under ``python`` instead of this interpreter when given."""
    if python is None:
        with our_agent(scratch) as d:
            yield d
        return
    saved = sys.executable
    sys.executable = python  # our_agent starts ``sys.executable -m pyguestfs.agent``
    try:
        with our_agent(scratch) as d:
            sys.executable = saved
            yield d
    finally:
        sys.executable = saved


def markdown(summary: dict[str, dict[str, dict[str, float]]], rounds: int, calls: int) -> str:
    lines = [
        f"Natively on the host, no VM: medians of {rounds} alternating rounds "
        f"({calls} calls per per-call figure), same client (pyguestfs.host).",
        "",
        "| figure | guestfsd 1.48 | pyguestfs agent | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, unit in FIGURES:
        a = summary["guestfsd"][key]
        b = summary["pyguestfs"][key]
        ratio = b["median"] / a["median"]
        lines.append(
            f"| {key} | {a['median']:.4g} {unit} ({a['min']:.4g}-{a['max']:.4g}) "
            f"| {b['median']:.4g} {unit} ({b['min']:.4g}-{b['max']:.4g}) | {ratio:.2f} |"
        )
    lines.append("")
    lines.append(
        "Ratio: pyguestfs ÷ guestfsd (µs: lower is better; MB/s: higher is better). "
        "`_us`: the client's wall time per call; `_cpu_us`: the daemon process's CPU time "
        "per call (the scheduler's count)."
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=300, help="calls per per-call figure")
    ap.add_argument("--mb", type=int, default=64, help="upload/download size (MiB)")
    ap.add_argument("--agent-python", default=None, help="interpreter that runs our agent")
    ap.add_argument("--out", default=str(REPO / "bench" / "native"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="native-calls-"))
    payload = work / "payload.bin"
    payload.write_bytes(os.urandom(args.mb << 20))
    back = work / "back.bin"
    results: dict[str, list[dict[str, float]]] = {d: [] for d in DAEMONS}
    try:
        for name in DAEMONS:
            (work / name).mkdir()
            (work / name / "f").write_bytes(b"hello\n")
        with (
            real_guestfsd(work / "guestfsd") as real,
            agent_with(args.agent_python, work / "pyguestfs") as ours,
        ):
            handles = {"guestfsd": real.handle(), "pyguestfs": ours.handle()}
            pids = {"guestfsd": daemon_pid(real), "pyguestfs": daemon_pid(ours)}
            for name, g in handles.items():  # warm-up: first calls, page cache, chunk size
                one_round(g, pids[name], 20, payload, back, args.mb)
            for n in range(args.rounds):
                order = DAEMONS if n % 2 == 0 else DAEMONS[::-1]
                for name in order:
                    r = one_round(handles[name], pids[name], args.calls, payload, back, args.mb)
                    results[name].append(r)
                    print(f"round {n + 1} {name}: {json.dumps(r)}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        name: {
            key: {
                "median": statistics.median(r[key] for r in rs),
                "min": min(r[key] for r in rs),
                "max": max(r[key] for r in rs),
            }
            for key, _ in FIGURES
        }
        for name, rs in results.items()
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"runs": results, "summary": summary, "rounds": args.rounds, "calls": args.calls}
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    table = markdown(summary, args.rounds, args.calls)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
