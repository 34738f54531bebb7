"""Runtime figures for pyguestfs beside libguestfs 1.48, same machine, same run.

Each run is a fresh process per implementation, interleaved (the machine is noisy), on a
1 GiB scratch disk: launch to the first answered call; small-call round trip (``exists``);
1000 small calls (one by one on libguestfs, ``GuestFS.pipeline`` on pyguestfs);
100-byte ``write``; part_disk + mkfs ext4 + mount; upload and download of random data
(checksums verified on both sides); qemu's peak RSS; shutdown. pyguestfs is measured twice:
``cold`` (warm launch off: a real boot) and ``warm`` (restored from its snapshot, made
first if needed). Writes JSON and a Markdown table (medians, min-max in brackets).

    .venv/bin/python bench/runtime.py [--runs 3] [--mb 256] [--out bench/results]

libguestfs runs through Debian's python3-guestfs under /usr/bin/python3. Both run under
KVM where KVM truly works (the same probe launch() uses: the appliance kernel booted
under KVM must reach its root-mount panic), else both under TCG; BENCH_KVM=0/1 forces.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKLOAD = r"""
import hashlib, json, os, sys, tempfile, time
impl, mode, size_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
if impl == "libguestfs":
    import guestfs
else:
    import pyguestfs.host as guestfs
clock = time.perf_counter
tmp = tempfile.mkdtemp()
disk = os.path.join(tmp, "disk.img")
with open(disk, "wb") as f:
    f.truncate(1 << 30)
payload = os.path.join(tmp, "payload.bin")
with open(payload, "wb") as f:
    f.write(os.urandom(size_mb << 20))
g = guestfs.GuestFS(python_return_dict=True)
if not os.environ.get("BENCH_KVM"):
    g.set_backend_settings(["force_tcg"])
if impl == "pyguestfs":
    g.set_warm_launch(mode == "warm")
g.add_drive_opts(disk, format="raw")
out = {}
t = clock(); g.launch(); g.ping_daemon(); out["launch_s"] = clock() - t
t = clock()
g.part_disk("/dev/sda", "mbr"); g.mkfs("ext4", "/dev/sda1"); g.mount("/dev/sda1", "/")
out["part_mkfs_mount_s"] = clock() - t
# Small calls need a mounted filesystem ("exists" refuses to run without one).
n = 300
t = clock()
for _ in range(n):
    g.exists("/")
out["small_call_ms"] = (clock() - t) / n * 1000
# 1000 small calls: libguestfs has only one by one; pyguestfs sends them pipelined.
t = clock()
if impl == "pyguestfs":
    assert g.pipeline([("exists", "/")] * 1000) == [True] * 1000
else:
    for _ in range(1000):
        g.exists("/")
out["calls_1000_s"] = clock() - t
t = clock()
for i in range(100):
    g.write(f"/f{i}", b"x" * 100)
out["write_100B_ms"] = (clock() - t) / 100 * 1000
t = clock(); g.upload(payload, "/payload.bin"); g.sync()
out["upload_MBps"] = size_mb / (clock() - t)
back = os.path.join(tmp, "back.bin")
t = clock(); g.download("/payload.bin", back)
out["download_MBps"] = size_mb / (clock() - t)
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return h.hexdigest()
out["checksums_ok"] = sha(back) == sha(payload) == g.checksum("sha256", "/payload.bin")
with open(f"/proc/{g.get_pid()}/status") as f:
    hwm = next(line for line in f if line.startswith("VmHWM:"))
out["qemu_peak_rss_MB"] = int(hwm.split()[1]) / 1024
t = clock(); g.shutdown(); g.close(); out["shutdown_s"] = clock() - t
for name in os.listdir(tmp):
    os.unlink(os.path.join(tmp, name))
os.rmdir(tmp)
print(json.dumps(out))
"""

#: (figure, unit, better, target): the target is the issue's ratio of pyguestfs to
#: libguestfs ("≤ 0.25"), or "" where there is none.
FIGURES = (
    ("launch_s", "s", "lower", "≤ 0.25"),
    ("small_call_ms", "ms", "lower", "≤ 1.0"),
    ("calls_1000_s", "s", "lower", "≤ 0.3"),
    ("write_100B_ms", "ms", "lower", "≤ 1.0"),
    ("part_mkfs_mount_s", "s", "lower", ""),
    ("upload_MBps", "MB/s", "higher", "≥ 2.0"),
    ("download_MBps", "MB/s", "higher", "≥ 2.0"),
    ("qemu_peak_rss_MB", "MB", "lower", "≤ 0.6"),
    ("shutdown_s", "s", "lower", ""),
)
SIDES = (("libguestfs", "cold"), ("pyguestfs", "cold"), ("pyguestfs", "warm"))


def run_once(impl: str, mode: str, size_mb: int) -> dict[str, float]:
    python = "/usr/bin/python3" if impl == "libguestfs" else sys.executable
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct")
    proc = subprocess.run(
        [python, "-c", WORKLOAD, impl, mode, str(size_mb)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{impl} ({mode}) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result.pop("checksums_ok"):
        raise SystemExit(f"{impl} ({mode}): transferred data does not match")
    return result


def decide_kvm() -> bool:
    """KVM where it works (as launch() decides), unless BENCH_KVM says otherwise."""
    forced = os.environ.get("BENCH_KVM")
    if forced is not None:
        return forced not in ("", "0")
    from pyguestfs.builder.appliance import locate_appliance
    from pyguestfs.vm.accel import kvm_works

    works, _why = kvm_works("qemu-system-x86_64", locate_appliance().kernel)
    return works


def compile_bytecode() -> None:
    """Write the project's .pyc files before measuring, as an installed package has them.

    The launches run in fresh processes; with bytecode caching off (PYTHONDONTWRITEBYTECODE,
    a read-only checkout) each one would compile the modules launch() imports, seconds
    under load that no installed pyguestfs pays and that libguestfs's bindings never pay.
    """
    import compileall

    for part in ("__init__.py", "core", "vm", "host", "protocol", "builder"):
        path = REPO / part
        ok = (
            compileall.compile_file(str(path), quiet=2)
            if path.is_file()
            else compileall.compile_dir(str(path), quiet=2)
        )
        if not ok:
            raise SystemExit(f"cannot compile {path}")


def ensure_snapshot() -> None:
    """The warm runs measure restores, so the snapshot must exist before they start."""
    from pyguestfs.host import GuestFS

    g = GuestFS()
    if not os.environ.get("BENCH_KVM"):
        g.set_backend_settings(["force_tcg"])
    g.make_snapshot()
    g.close()


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        k: {
            "median": statistics.median(r[k] for r in runs),
            "min": min(r[k] for r in runs),
            "max": max(r[k] for r in runs),
        }
        for k, _, _, _ in FIGURES
    }


def markdown(summary: dict[str, dict[str, dict[str, float]]], runs: int, size_mb: int) -> str:
    lib = summary["libguestfs cold"]
    lines = [
        f"Medians of {runs} interleaved runs (min-max), {size_mb} MiB transfers, "
        f"same machine, same run, {'KVM' if os.environ.get('BENCH_KVM') else 'TCG'}.",
        "",
        "| figure | libguestfs 1.48 | pyguestfs cold | pyguestfs warm | ratio warm (cold) "
        "| target | met (warm, cold) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for key, unit, _better, target in FIGURES:
        cells = []
        for side in ("libguestfs cold", "pyguestfs cold", "pyguestfs warm"):
            s = summary[side][key]
            cells.append(f"{s['median']:.3g} {unit} ({s['min']:.3g}-{s['max']:.3g})")
        base = lib[key]["median"]
        warm = summary["pyguestfs warm"][key]["median"] / base if base else float("nan")
        cold = summary["pyguestfs cold"][key]["median"] / base if base else float("nan")
        met = f"{_meets(warm, target)}, {_meets(cold, target)}" if target else ""
        lines.append(
            f"| {key} | {' | '.join(cells)} | {warm:.2f} ({cold:.2f}) | {target} | {met} |"
        )
    return "\n".join(lines) + "\n"


def _meets(ratio: float, target: str) -> str:
    bound = float(target.split()[1])
    ok = ratio <= bound if target.startswith("≤") else ratio >= bound
    return "yes" if ok else "no"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=256, help="upload/download size (MiB)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()
    kvm = decide_kvm()
    os.environ["BENCH_KVM"] = "1" if kvm else ""
    print(f"accelerator: {'kvm' if kvm else 'tcg'}", file=sys.stderr)
    compile_bytecode()
    ensure_snapshot()
    results: dict[str, list[dict[str, float]]] = {f"{i} {m}": [] for i, m in SIDES}
    for n in range(args.runs):
        for impl, mode in SIDES:
            r = run_once(impl, mode, args.mb)
            results[f"{impl} {mode}"].append(r)
            print(f"run {n + 1} {impl} {mode}: {json.dumps(r)}", file=sys.stderr)
    summary = {side: summarise(rs) for side, rs in results.items()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "runs": results,
        "summary": summary,
        "mb": args.mb,
        "kvm": bool(os.environ.get("BENCH_KVM")),
    }
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    table = markdown(summary, args.runs, args.mb)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
