"""Warm launch beside cold launch and beside libguestfs 1.48, same machine, same run.

Each figure is "launch() to the first answered call" (``launch`` then ``list_devices``)
with one 1 GiB scratch disk, in a fresh process per launch, interleaved: libguestfs
(it always boots), pyguestfs cold (warm launch off) and pyguestfs warm (restored from
the appliance's snapshot, made first if needed). Warm launches also report where their
time went (vm/snapshot.py ``restore`` stages: qemu's monitor up, the VM running again,
disks hot-plugged, the agent awake, ready).

This machine's speed changes several-fold from minute to minute (it is itself a VM on
a shared host), so after every launch the script also times a fixed CPU-bound Python
loop and the faulting-in of 64 MiB of fresh memory (qemu's work is page faults as much
as CPU: guest RAM, TCG's code buffer); read absolute times beside them.

    .venv/bin/python bench/warm_launch.py [--runs 3] [--warm-per-run 3] [--out bench/warm]

Targets (issue #9): warm launch to the first answered call at most 0.1 of libguestfs's
launch, and at most 1 s under TCG.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKLOAD = r"""
import json, os, sys, tempfile, time
impl, mode = sys.argv[1], sys.argv[2]
if impl == "libguestfs":
    import guestfs
else:
    import pyguestfs.host as guestfs
fd, disk = tempfile.mkstemp(suffix=".img")
os.ftruncate(fd, 1 << 30)
os.close(fd)
g = guestfs.GuestFS(python_return_dict=True)
if not os.environ.get("BENCH_KVM"):
    g.set_backend_settings(["force_tcg"])
if impl == "pyguestfs":
    g.set_warm_launch(mode == "warm")
g.add_drive_opts(disk, format="raw")
t = time.perf_counter()
g.launch()
devices = g.list_devices()
out = {"launch_s": time.perf_counter() - t, "devices": devices}
if impl == "pyguestfs":
    out["stages"] = dict(g._machine.timings) if g._machine else {}
    out["restored"] = bool(out["stages"])
if out.get("restored") and not os.environ.get("BENCH_KVM"):
    # The guest's work in a machine-independent unit: the blocks of guest code TCG had
    # to translate (a restored qemu starts with none), from qemu's own counters.
    import re
    jit = g._machine.monitor().hmp("info jit")
    out["tcg_blocks"] = int(re.search(r"TB count\s+(\d+)", jit).group(1))
g.close()
os.unlink(disk)
print(json.dumps(out))
"""


def calibrate() -> dict[str, float]:
    """Seconds for a fixed CPU-bound loop, and for faulting in 64 MiB of fresh memory."""
    t = time.perf_counter()
    sum(range(10_000_000))
    cpu = time.perf_counter() - t
    t = time.perf_counter()
    with mmap.mmap(-1, 64 << 20) as memory:
        for offset in range(0, 64 << 20, mmap.PAGESIZE):
            memory[offset] = 1
    return {"cpu_loop_s": cpu, "fault_64MiB_s": time.perf_counter() - t}


def run_once(impl: str, mode: str) -> dict[str, object]:
    python = "/usr/bin/python3" if impl == "libguestfs" else sys.executable
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct")
    proc = subprocess.run(
        [python, "-c", WORKLOAD, impl, mode], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{impl} ({mode}) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["devices"] != ["/dev/sda"]:
        raise SystemExit(f"{impl} ({mode}): the guest saw {result['devices']}")
    if mode == "warm" and not result.get("restored"):
        raise SystemExit("pyguestfs (warm) booted cold: the snapshot was not used")
    result.update(calibrate())
    return result


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def markdown(doc: dict[str, object]) -> str:
    s = doc["summary"]
    assert isinstance(s, dict)
    lib = s["libguestfs"]["median"]
    cold = s["pyguestfs cold"]["median"]
    warm = s["pyguestfs warm"]["median"]
    best = s["pyguestfs warm"]["min"]
    cpu, faults = s["cpu_loop_s"], s["fault_64MiB_s"]
    lines = [
        f"{doc['runs']} interleaved runs ({doc['warm_per_run']} warm launches per run), "
        f"{'KVM' if doc['kvm'] else 'TCG'}; medians (min-max). The machine, after each "
        f"launch: a fixed Python loop {cpu['median']:.2f} s ({cpu['min']:.2f}-"
        f"{cpu['max']:.2f}); faulting in 64 MiB {faults['median']:.2f} s "
        f"({faults['min']:.2f}-{faults['max']:.2f}).",
        "",
        "| launch to the first answered call | seconds | ÷ libguestfs |",
        "|---|---:|---:|",
    ]
    for name, key in (
        ("libguestfs 1.48", "libguestfs"),
        ("pyguestfs cold boot", "pyguestfs cold"),
        ("pyguestfs warm (restored)", "pyguestfs warm"),
    ):
        v = s[key]
        lines.append(
            f"| {name} | {v['median']:.2f} ({v['min']:.2f}-{v['max']:.2f}) "
            f"| {v['median'] / lib:.3f} |"
        )
    lines += [
        "",
        f"Targets: warm ≤ 0.1 of libguestfs — {warm / lib:.3f}: "
        f"**{'met' if warm / lib <= 0.1 else 'not met'}**; warm ≤ 1 s under TCG — median "
        f"{warm:.2f} s, best {best:.2f} s: **{'met' if warm <= 1.0 else 'not met'}**. "
        f"Cold boot ÷ libguestfs: {cold / lib:.2f}.",
        "",
        "Where a warm launch's time goes (seconds after qemu was started, medians):",
        "",
        "| stage | median | min | max |",
        "|---|---:|---:|---:|",
    ]
    stages = doc["stages"]
    assert isinstance(stages, dict)
    for stage, v in stages.items():
        lines.append(f"| {stage} | {v['median']:.2f} | {v['min']:.2f} | {v['max']:.2f} |")
    blocks = s.get("tcg_blocks")
    if blocks:
        lines += [
            "",
            f"Guest code translated by TCG per warm launch (launch and the first call): "
            f"{blocks['median']:.0f} blocks ({blocks['min']:.0f}-{blocks['max']:.0f}).",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds of libguestfs, cold, warm")
    ap.add_argument("--warm-per-run", type=int, default=3, help="warm launches per round")
    ap.add_argument("--out", default=str(REPO / "bench" / "warm"))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from runtime import compile_bytecode, decide_kvm, ensure_snapshot

    kvm = decide_kvm()
    os.environ["BENCH_KVM"] = "1" if kvm else ""
    compile_bytecode()
    ensure_snapshot()
    results: dict[str, list[dict[str, object]]] = {
        "libguestfs": [],
        "pyguestfs cold": [],
        "pyguestfs warm": [],
    }
    for n in range(args.runs):
        plan = [("libguestfs", "cold"), ("pyguestfs", "cold")]
        plan += [("pyguestfs", "warm")] * args.warm_per_run
        for impl, mode in plan:
            side = impl if impl == "libguestfs" else f"{impl} {mode}"
            r = run_once(impl, mode)
            results[side].append(r)
            print(f"run {n + 1} {side}: {json.dumps(r)}", file=sys.stderr)
    summary: dict[str, dict[str, float]] = {
        side: _stats([float(r["launch_s"]) for r in rs])  # type: ignore[arg-type]
        for side, rs in results.items()
    }
    every = [r for rs in results.values() for r in rs]
    for figure in ("cpu_loop_s", "fault_64MiB_s"):
        summary[figure] = _stats([float(r[figure]) for r in every])  # type: ignore[arg-type]
    blocks = [float(r["tcg_blocks"]) for r in results["pyguestfs warm"] if "tcg_blocks" in r]
    if blocks:
        summary["tcg_blocks"] = _stats(blocks)  # type: ignore[arg-type]
    warm_stages = [r["stages"] for r in results["pyguestfs warm"]]
    stage_names = list(warm_stages[0]) if warm_stages else []  # type: ignore[arg-type]
    stages = {
        name: _stats([float(st[name]) for st in warm_stages])  # type: ignore[index]
        for name in stage_names
    }
    doc = {
        "runs": args.runs,
        "warm_per_run": args.warm_per_run,
        "kvm": kvm,
        "results": results,
        "summary": summary,
        "stages": stages,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    table = markdown(doc)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
