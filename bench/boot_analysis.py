"""Where a launch spends its time: boot the appliance with a timestamped console and
report each stage, as a table (Markdown) and a PNG timeline.

    .venv/bin/python bench/boot_analysis.py [--runs 3] [--out bench/boot]

Under KVM where KVM truly works (as bench/runtime.py decides; BENCH_KVM=0/1 forces),
else TCG. Each run launches a handle on a 64 MiB scratch disk with the verbose console (so every
stage prints a line) and answers one call. Guest lines carry the guest's uptime (the
kernel's printk time, the same clock our inits stamp their lines with); they are put on
the host's clock by the smallest (host arrival - guest stamp) over all lines, i.e. the
line that reached the host fastest. Host-side stages (qemu started, launch flag seen,
first call answered) are read on the host's clock. Times are seconds after ``launch()``
was called; each stage's length is the time since the stage before it.

The verbose console costs time itself under TCG (every line crosses an emulated UART),
so the total is longer than a quiet launch; ``bench/runtime.py`` measures those.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from png_timeline import render  # noqa: E402
from runtime import decide_kvm  # noqa: E402

from pyguestfs.host import EVENT_APPLIANCE, GuestFS  # noqa: E402

#: Guest stages: (name, pattern on a console line); the first line matching counts.
#: "module {} loaded" stages repeat, one per kernel module the mini init loads.
GUEST_STAGES: tuple[tuple[str, str], ...] = (
    ("kernel started", r"Linux version"),
    ("kernel runs the initramfs /init", r"Run /init as init process"),
    ("mini init started", r"mini-init: .*starting up"),
    ("module {} loaded", r"internal insmod (\S+)"),
    ("agent imports preloaded", r"preloaded the appliance program"),
    ("root disk found", r"picked /sys/block/"),
    ("root mounted, chroot", r"mini-init: chroot"),
    ("appliance /init started", r"Starting /init script"),
    ("channel port ready", r"virtio-serial port .* ready"),
)
_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
_PRELOAD = re.compile(r"preloaded the appliance program in (\d+\.\d+) s")


@dataclass
class Stage:
    name: str
    at: float  # seconds after launch() was called


def _lines(chunks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Console chunks (host arrival time, text) as whole lines with the arrival time of
    the chunk that completed each."""
    out: list[tuple[float, str]] = []
    pending = ""
    for t, text in chunks:
        pending += text
        *done, pending = pending.split("\n")
        out += [(t, line.rstrip("\r")) for line in done]
    return out


def analyse(chunks: list[tuple[float, str]], host: dict[str, float]) -> list[Stage]:
    """The stages of one launch from its console and host-side times."""
    stamped = []
    for arrived, line in _lines(chunks):
        m = _STAMP.match(line)
        if m:
            stamped.append((arrived, float(m.group(1)), m.group(2)))
    if not stamped:
        raise SystemExit("no timestamped console line: is the console verbose?")
    guest_zero = min(arrived - guest for arrived, guest, _ in stamped)
    stages = [Stage("qemu started", host["qemu started"])]
    for name, pattern in GUEST_STAGES:
        rx = re.compile(pattern)
        for i, (_, guest, text) in enumerate(stamped):
            m = rx.search(text)
            if not m:
                continue
            if not m.groups():
                stages.append(Stage(name, guest_zero + guest))
                break
            # "internal insmod X" is printed before X loads: X is loaded when the mini init
            # says its next thing (kernel lines in between do not count). When that is the
            # preload's "in N s" line, the preload began N s before it: right after the
            # last module.
            done = guest
            for _, later, later_text in stamped[i + 1 :]:
                if later_text.startswith("mini-init:"):
                    took = _PRELOAD.search(later_text)
                    done = later - float(took.group(1)) if took else later
                    break
            stages.append(Stage(name.format(*m.groups()), guest_zero + done))
    stages += [
        Stage("launch flag seen", host["launch flag seen"]),
        Stage("first call answered", host["first call answered"]),
    ]
    stages.sort(key=lambda s: s.at)
    return stages


def run_once(warm: bool, kvm: bool) -> list[Stage]:
    chunks: list[tuple[float, str]] = []
    g = GuestFS()
    if not kvm:
        g.set_backend_settings(["force_tcg"])
    g.set_warm_launch(warm)
    g.set_verbose(True)
    g.set_event_callback(
        lambda _ev, _eh, buf, _arr: chunks.append((time.monotonic(), buf.decode(errors="replace"))),
        EVENT_APPLIANCE,
    )
    g.add_drive_scratch(64 << 20)
    t0 = time.monotonic()
    g.launch()
    flag = time.monotonic()
    g.ping_daemon()
    answered = time.monotonic()
    machine = g._machine  # the qemu process's start time is ours to read
    qemu = (machine.started_at - t0) if machine is not None else 0.0
    g.close()
    shifted = [(t - t0, text) for t, text in chunks]
    host = {
        "qemu started": qemu,
        "launch flag seen": flag - t0,
        "first call answered": answered - t0,
    }
    return analyse(shifted, host)


def summarise(runs: list[list[Stage]]) -> list[tuple[str, float, float, float]]:
    """(stage, median at, median length, min-max spread of at) over the runs, in the order
    of the first run; a stage missing from a run is left out of that run's figures."""
    rows = []
    for stage in runs[0]:
        ats = [s.at for r in runs for s in r if s.name == stage.name]
        lengths = []
        for r in runs:
            names = [s.name for s in r]
            if stage.name in names:
                i = names.index(stage.name)
                lengths.append(r[i].at - (r[i - 1].at if i else 0.0))
        rows.append(
            (stage.name, statistics.median(ats), statistics.median(lengths), max(ats) - min(ats))
        )
    return rows


def markdown(rows: list[tuple[str, float, float, float]], runs: int, warm: bool, accel: str) -> str:
    kind = "warm (restored)" if warm else "cold"
    lines = [
        f"Boot analysis, {kind} launch under {accel}, verbose console, median of {runs} runs.",
        "",
        "| # | stage | at (s after launch()) | took (s) | spread of at (s) |",
        "|---:|---|---:|---:|---:|",
    ]
    for i, (name, at, took, spread) in enumerate(rows, 1):
        lines.append(f"| {i} | {name} | {at:.3f} | {took:.3f} | {spread:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warm", action="store_true", help="analyse warm (restored) launches")
    ap.add_argument(
        "--out",
        default=str(REPO / "bench" / "boot"),
        help="writes OUT.md, OUT.json and OUT.png (default bench/boot)",
    )
    args = ap.parse_args()
    kvm = decide_kvm()
    accel = "KVM" if kvm else "TCG"
    runs = []
    for n in range(args.runs):
        stages = run_once(args.warm, kvm)
        runs.append(stages)
        print(f"run {n + 1}: {stages[-1].at:.2f} s to the first answer", file=sys.stderr)
    rows = summarise(runs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, args.runs, args.warm, accel)
    out.with_suffix(".md").write_text(table)
    out.with_suffix(".json").write_text(
        json.dumps([[s.__dict__ for s in r] for r in runs], indent=1)
    )
    render(
        f"pyguestfs {'warm' if args.warm else 'cold'} launch, {accel}, median of {args.runs}",
        [(name, at - took, took) for name, at, took, _ in rows],
        out.with_suffix(".png"),
    )
    print(table)
    print(f"wrote {out.with_suffix('.md')}, .json and .png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
