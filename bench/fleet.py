"""Fleet inspection throughput: pyguestfs on a local Dask pool against libguestfs 1.48,
same machine, same run.

N generated guests (tiny Debian-like disks with different hostnames and packages, and
phony Windows 7 disks with different hostnames and programs in their registry, made by
tests/guest_images.py) plus a few broken images (corrupt qcow2, not a disk) are
inspected -- roots, type, distro, product, versions, arch, hostname, packaging, mount
points, filesystems, installed applications -- by:

* pyguestfs: ``guestfs-fleet``'s engine (pyguestfs.fleet) on a local Dask pool of 1, then
  2 workers; each image is one warm launch (a restore of the appliance snapshot). Worker
  preparation (appliance and snapshot) is timed apart, not counted per image;
* libguestfs 1.48 (python3-guestfs, /usr/bin/python3): one handle per image, in K
  parallel processes, K sized as virt-df sizes its pool (free memory / 650 MB, at most
  12; ``--libguestfs-procs`` overrides) -- the issue's baseline -- and again with one
  process per core, which suits TCG better than virt-df's memory-only sizing: the ratio
  against each is reported, so that ours does not rest on libguestfs's worse choice.

Reported: images per hour for each, the ratio, the peak PSS of one running appliance
(qemu; a restored appliance maps the snapshot's RAM file copy-on-write, so appliances of
one machine share it and PSS divides the shared pages among them), and whether both say
the same of every guest. The machine's load average is recorded beside: on a shared VM
the figures move with it, read the ratios first.

    .venv/bin/python bench/fleet.py [--images 16] [--windows 2] [--broken 2] [--out bench/fleet]

The Windows disks are made with the real guestfish (one libguestfs launch each, before
any timing starts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from guest_images import tiny_debian_guest, windows_guest  # noqa: E402

from pyguestfs.fleet.cluster import FleetPlugin, RunSpec, connect, run  # noqa: E402
from pyguestfs.fleet.worker import WorkerOptions  # noqa: E402

REAL_PYTHON = "/usr/bin/python3"
INSPECT_JOB = "pyguestfs.fleet.jobs:inspect"


def virt_df_procs() -> int:
    """virt-df's pool size: free memory / 650 MB, between 1 and 12."""
    with open("/proc/meminfo") as f:
        avail = next(int(x.split()[1]) * 1024 for x in f if x.startswith("MemAvailable:"))
    return max(1, min(12, avail // (650 * 1000 * 1000)))


def spread(images: list[str], others: list[str]) -> list[str]:
    """``images`` with ``others`` inserted at even intervals, as they come in a real fleet
    (not all at the end, where they would only measure the tail of a run)."""
    out = list(images)
    step = len(out) // (len(others) + 1) + 1
    for i, other in enumerate(others):
        out.insert(min(len(out), (i + 1) * step + i), other)
    return out


def make_images(
    directory: Path, good: int, windows: int, broken: int
) -> tuple[list[str], list[str], list[str]]:
    """(Linux guests, Windows guests, broken images), made in ``directory``."""
    win = [str(windows_guest(directory, f"bench-win-{i:02d}").path) for i in range(windows)]
    paths = []
    for i in range(good):
        g = tiny_debian_guest(
            directory / f"guest{i:03d}.img",
            f"bench-host-{i:03d}",
            {
                "base-files": "12.4+deb12u1",
                f"app-{i % 7}": f"1.{i}-{i % 3 + 1}",
                "zlib1g": "1:1.2.13",
            },
        )
        paths.append(str(g.path))
    bad = []
    for i in range(broken):
        p = directory / f"broken{i}.img"
        if i % 2 == 0:
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(p), "64M"], check=True)
            with open(p, "r+b") as f:
                f.seek(4)
                f.write(b"\xff" * 60)
        else:
            p.write_text("not a disk\n" * 100)
        bad.append(str(p))
    return paths, win, bad


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descends_from(pid: int, ancestor: int) -> bool:
    try:
        while pid > 1:
            pid = _parent(pid)
            if pid == ancestor:
                return True
    except (OSError, ValueError, IndexError):
        pass
    return False


class PssSampler:
    """Samples the PSS of every qemu this process started (through its workers or
    children: other qemus of the machine are left out); keeps the peak PSS of one qemu
    and the most running at once."""

    def __init__(self) -> None:
        self.peak_pss_kib = 0
        self.peak_running = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            running = 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"qemu-system" not in cmd or not _descends_from(int(pid), os.getpid()):
                        continue
                    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                pss = next(int(x.split()[1]) for x in text.splitlines() if x.startswith("Pss:"))
                running += 1
                self.samples.append(pss)
                self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self.peak_running = max(self.peak_running, running)


def run_pyguestfs(images: list[str], workers: int, options: WorkerOptions) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    spec = RunSpec(job=INSPECT_JOB, timeout=1800, retries=1, options=options)
    with connect(local=workers) as client:
        t = time.monotonic()
        client.register_plugin(FleetPlugin(options), name=FleetPlugin.name)
        prepare_s = time.monotonic() - t
        with PssSampler() as pss:
            t = time.monotonic()
            run(client, images, spec, lines.append, prepare_workers=False)
            wall = time.monotonic() - t
    return _figures(lines, wall, pss) | {"workers": workers, "prepare_s": round(prepare_s, 2)}


def run_libguestfs(images: list[str], procs: int, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    env.pop("LIBGUESTFS_PATH", None)
    shares = [images[i::procs] for i in range(procs)]
    shares = [s for s in shares if s]
    # Warm supermin's appliance cache first, as a libguestfs fleet would have it.
    subprocess.run(
        [REAL_PYTHON, "-c", "import guestfs; g = guestfs.GuestFS(); g.add_drive_scratch(1 << 20); "
         "g.launch(); g.close()"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    lines: list[dict[str, Any]] = []
    with PssSampler() as pss:
        t = time.monotonic()
        children = [
            subprocess.Popen(
                [REAL_PYTHON, str(REPO / "bench" / "libguestfs_inspect.py"), *share],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=tmp,
            )
            for share in shares
        ]
        for child in children:
            out, _ = child.communicate()
            lines += [json.loads(x) for x in out.decode().splitlines() if x.strip()]
        wall = time.monotonic() - t
    return _figures(lines, wall, pss) | {"procs": len(shares)}


def _figures(lines: list[dict[str, Any]], wall: float, pss: PssSampler) -> dict[str, Any]:
    return {
        "images": len(lines),
        "ok": sum(1 for x in lines if x["ok"]),
        "wall_s": round(wall, 2),
        "images_per_hour": round(len(lines) * 3600 / wall) if wall else 0,
        "mean_image_s": round(sum(x["seconds"] or 0 for x in lines) / max(1, len(lines)), 2),
        "peak_pss_mib": round(pss.peak_pss_kib / 1024, 1),
        "peak_appliances": pss.peak_running,
        "results": {x["image"]: x.get("roots") for x in lines},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=16, help="Linux guests (default 16)")
    ap.add_argument("--windows", type=int, default=2, help="Windows guests (default 2)")
    ap.add_argument("--broken", type=int, default=2, help="broken images (default 2)")
    ap.add_argument("--libguestfs-procs", type=int, help="K (default: as virt-df sizes it)")
    ap.add_argument("--cachedir", help="pyguestfs's appliance cache (default: the handle's)")
    ap.add_argument("--out", default=str(REPO / "bench" / "fleet"), help="writes OUT.json, OUT.md")
    args = ap.parse_args()
    options = WorkerOptions(cachedir=args.cachedir)
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        linux, windows, bad = make_images(Path(tmp), args.images, args.windows, args.broken)
        good = linux + windows
        images = spread(linux, windows + bad)
        procs = args.libguestfs_procs or virt_df_procs()
        results = {
            "pyguestfs_1": run_pyguestfs(images, 1, options),
            "pyguestfs_2": run_pyguestfs(images, 2, options),
        }
        load.append(os.getloadavg()[0])
        results["libguestfs"] = run_libguestfs(images, procs, Path(tmp))
        load.append(os.getloadavg()[0])
        cores = len(os.sched_getaffinity(0))
        if cores != procs:
            results["libguestfs_cores"] = run_libguestfs(images, cores, Path(tmp))
            load.append(os.getloadavg()[0])
    ours, theirs = results["pyguestfs_2"]["results"], results["libguestfs"]["results"]
    agree = all(ours.get(p) == theirs.get(p) for p in good)
    disagree = [p for p in good if ours.get(p) != theirs.get(p)]
    if disagree:
        print(f"pyguestfs and libguestfs differ on: {disagree}", file=sys.stderr)
    for r in results.values():
        r.pop("results")
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "good_images": len(good),
        "windows_images": args.windows,
        "broken_images": len(bad),
        "accel": "TCG",
        "load_average_1min": [round(x, 1) for x in load],
        "results_agree": agree,
        "runs": results,
    }
    Path(args.out + ".json").write_text(json.dumps(summary, indent=2) + "\n")
    Path(args.out + ".md").write_text(markdown(summary) + "\n")
    print(markdown(summary))
    return 0


def markdown(s: dict[str, Any]) -> str:
    r = s["runs"]
    lg = r["libguestfs"]
    cols = [(f"libguestfs 1.48, K={lg['procs']}", lg)]
    if "libguestfs_cores" in r:
        cols.append((f"libguestfs 1.48, K={r['libguestfs_cores']['procs']}", r["libguestfs_cores"]))
    cols += [("pyguestfs, 1 worker", r["pyguestfs_1"]), ("pyguestfs, 2 workers", r["pyguestfs_2"])]

    def row(name: str, key: str, fmt: str = "{}") -> str:
        return f"| {name} | " + " | ".join(fmt.format(c[key]) for _, c in cols) + " |"

    def ratio_row(base: dict[str, Any], name: str) -> str:
        ratios = (
            f"{c['images_per_hour'] / base['images_per_hour']:.1f}x"
            if base["images_per_hour"]
            else "-"
            for _, c in cols
        )
        return f"| ratio to {name} | " + " | ".join(ratios) + " |"

    ratios = [ratio_row(lg, cols[0][0])]
    if "libguestfs_cores" in r:
        ratios.append(ratio_row(r["libguestfs_cores"], cols[1][0]))
    lines = [
        f"{s['good_images']} guests ({s.get('windows_images', 0)} of them Windows) + "
        f"{s['broken_images']} broken images, {s['date']}, "
        f"{s['accel']}, same machine, same run; load average {s['load_average_1min']}; "
        f"libguestfs in K processes (K={lg['procs']}: virt-df's sizing), one handle per image; "
        f"both say the same of every guest: {'yes' if s['results_agree'] else 'NO'}.",
        "",
        "| figure | " + " | ".join(n for n, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
        row("images", "images"),
        row("ok", "ok"),
        row("wall time, s", "wall_s"),
        row("images per hour", "images_per_hour", "{:,}"),
        *ratios,
        row("mean seconds per image (in its worker)", "mean_image_s"),
        row("peak PSS of one appliance, MiB", "peak_pss_mib"),
        row("most appliances running at once", "peak_appliances"),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
