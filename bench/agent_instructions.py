"""Instructions our agent executes per call, counted by valgrind: a figure the machine's
load cannot move.

Under TCG the appliance's cost per call is, to a first approximation, the number of
guest instructions the agent (and the guest kernel) runs; wall-clock timings on a shared
machine swing several-fold from hour to hour. This script runs the agent natively
(``python -m pyguestfs.agent --listen``) under ``valgrind --tool=cachegrind
--cache-sim=no``, which counts every instruction executed (its ``I refs``), once with no
call and once per call kind with N calls of it; the difference divided by N is the
agent's own user-space instructions per call (start-up and exit cancel out; the kernel's
work is not counted). The client is our host library, outside valgrind.

    .venv/bin/python bench/agent_instructions.py [--calls 200]
        [--variant NAME=DIR ...] [--out bench/instructions]

Each ``--variant`` puts DIR first on the agent's ``PYTHONPATH`` (a tree with compiled
modules beside the sources, say); "plain" (DIR empty) is the sources as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from pyguestfs.host import GuestFS  # noqa: E402

#: name -> what one call does, on a handle whose sysroot holds /f and /big (1 MiB).
CALLS: dict[str, Callable[[GuestFS, Path], object]] = {
    "ping_daemon": lambda g, _: g.ping_daemon(),
    "exists": lambda g, _: g.exists("/f"),
    "statns": lambda g, _: g.statns("/f"),
    "write_100B": lambda g, _: g.write("/w", b"x" * 100),
    "upload_1MiB": lambda g, tmp: g.upload(str(tmp / "payload"), "/up"),
    "download_1MiB": lambda g, tmp: g.download("/big", str(tmp / "back")),
}


def count(path: str, calls: int, kind: str | None, tmp: Path) -> int:
    """Instructions valgrind counted in one agent run that served ``calls`` calls of
    ``kind`` (none if ``kind`` is None)."""
    root = tmp / "root"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    (root / "f").write_bytes(b"hello\n")
    (root / "big").write_bytes(os.urandom(1 << 20))
    sock = tmp / "agent.sock"
    out = tmp / "cachegrind.out"
    argv = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={out}",
        sys.executable,
        "-m",
        "pyguestfs.agent",
        "--listen",
        str(sock),
        "--sysroot",
        str(root),
    ]
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 300
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the agent did not listen: {argv}")
            time.sleep(0.1)
        g = GuestFS(python_return_dict=True, environment=False)
        g.attach(str(sock), timeout=300)
        if kind is not None:
            fn = CALLS[kind]
            for _ in range(calls):
                fn(g, tmp)
        g.close()
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for line in out.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no summary in {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--out", default=str(REPO / "bench" / "instructions"))
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    variants = dict(v.split("=", 1) for v in args.variant) or {"plain": ""}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="agent-insn-") as t:
        tmp = Path(t)
        (tmp / "payload").write_bytes(os.urandom(1 << 20))
        for name, path in variants.items():
            base = count(path, 0, None, tmp)
            row = {"startup": float(base)}
            for kind in CALLS:
                row[kind] = (count(path, args.calls, kind, tmp) - base) / args.calls
                print(f"{name} {kind}: {row[kind]:,.0f} instructions/call", file=sys.stderr)
            results[name] = row
    lines = [
        f"Agent user-space instructions per call (valgrind cachegrind, {args.calls} calls "
        "of each kind, start-up subtracted), natively:",
        "",
        "| call | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for kind in ("startup", *CALLS):
        cells = [f"{results[v][kind]:,.0f}" for v in results]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
