"""Build and launch figures for pyguestfs beside libguestfs 1.48 (supermin), same machine,
same run: cold build (our frozen agent already cached), no-op rebuild check, launch to
the first answered call, shutdown, and appliance sizes. Prints one JSON document.

    .venv/bin/python bench/build_and_launch.py [--runs N]

libguestfs is driven through Debian's python3-guestfs in a /usr/bin/python3 subprocess,
under TCG (LIBGUESTFS_BACKEND_SETTINGS=force_tcg), as pyguestfs is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUPERMIN_D = "/usr/lib/x86_64-linux-gnu/guestfs/supermin.d"

LAUNCH_SCRIPT = r"""
import json, os, sys, time
impl = sys.argv[1]
if impl == "libguestfs":
    import guestfs
else:
    import pyguestfs.host as guestfs
g = guestfs.GuestFS(python_return_dict=True)
g.set_backend_settings(["force_tcg"])
g.add_drive_scratch(256 << 20)
t = time.perf_counter(); g.launch(); g.ping_daemon(); launch = time.perf_counter() - t
t = time.perf_counter(); g.shutdown(); g.close(); shutdown = time.perf_counter() - t
print(json.dumps({"launch_s": launch, "shutdown_s": shutdown}))
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def sizes(d: Path) -> dict[str, int]:
    out = {}
    for name in ("kernel", "initrd", "root"):
        st = (d / name).stat()
        out[name] = st.st_size
        out[f"{name}_allocated"] = st.st_blocks * 512
    return out


def median(xs: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(xs), 3),
        "min": round(min(xs), 3),
        "max": round(max(xs), 3),
        "n": len(xs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent.parent
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    result: dict[str, dict[str, object]] = {"pyguestfs": {}, "libguestfs": {}}
    work = Path(tempfile.mkdtemp(prefix="pyguestfs-bench-", dir="/var/tmp"))
    try:
        # -- pyguestfs: freeze once, then cold builds with the frozen agent cached ------------
        seed = work / "seed"
        seed.mkdir()
        cli = [str(here / ".venv/bin/guestfs-build-appliance")]
        subprocess.run([*cli, "--cachedir", str(seed)], check=True, stdout=subprocess.DEVNULL)
        frozen = seed / f".guestfs-{os.geteuid()}" / "pyguestfs" / "frozen"
        cold, noop = [], []
        for i in range(args.runs):
            c = work / f"ours{i}"
            shutil.copytree(
                frozen, c / f".guestfs-{os.geteuid()}" / "pyguestfs" / "frozen", symlinks=True
            )
            # the kernel extraction is cached per kernel beside the frozen agent in a real
            # cache; a cold build here pays it, as a first build does
            cold.append(timed([*cli, "--cachedir", str(c)]))
            noop.append(timed([*cli, "--cachedir", str(c)]))
        ours_dir = work / "ours0" / f".guestfs-{os.geteuid()}" / "pyguestfs" / "appliance.d"
        sys.path.insert(0, str(here))
        from pyguestfs.builder.appliance import BuildOptions, build

        t = time.perf_counter()
        r = build(BuildOptions(cachedir=str(work / "ours0")))
        inproc = time.perf_counter() - t
        assert not r.built
        result["pyguestfs"].update(
            cold_build_s=median(cold),
            noop_cli_s=median(noop),
            noop_inprocess_s=round(inproc, 4),
            sizes=sizes(ours_dir),
        )

        # -- libguestfs: supermin build and its --if-newer check ---------------------------------
        cold, noop = [], []
        for i in range(args.runs):
            out = work / f"sm{i}"
            sm = [
                "supermin",
                "--build",
                "--if-newer",
                "--lock",
                str(work / f"sm{i}.lock"),
                "--copy-kernel",
                "-f",
                "ext2",
                "--host-cpu",
                "x86_64",
                SUPERMIN_D,
                "-o",
                str(out),
            ]
            cold.append(timed(sm))
            for name in ("kernel", "initrd", "root"):  # libguestfs touches the outputs
                os.utime(out / name)
            noop.append(timed(sm))
        result["libguestfs"].update(
            cold_build_s=median(cold), noop_cli_s=median(noop), sizes=sizes(work / "sm0")
        )

        # -- launch, interleaved ---------------------------------------------------------------
        launches: dict[str, list[float]] = {"pyguestfs": [], "libguestfs": []}
        shutdowns: dict[str, list[float]] = {"pyguestfs": [], "libguestfs": []}
        for _ in range(args.runs):
            for impl, py in (
                ("libguestfs", "/usr/bin/python3"),
                ("pyguestfs", str(here / ".venv/bin/python")),
            ):
                e = dict(env)
                if impl == "pyguestfs":
                    e["LIBGUESTFS_CACHEDIR"] = str(work / "ours0")
                    # Boots only: from the second launch on, the default would restore the
                    # snapshot the first one left behind; bench/warm_launch.py times that.
                    e["PYGUESTFS_WARM_LAUNCH"] = "0"
                out = subprocess.run(
                    [py, "-c", LAUNCH_SCRIPT, impl],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=e,
                ).stdout
                d = json.loads(out.strip().splitlines()[-1])
                launches[impl].append(d["launch_s"])
                shutdowns[impl].append(d["shutdown_s"])
        for impl in launches:
            result[impl]["launch_s"] = median(launches[impl])
            result[impl]["shutdown_s"] = median(shutdowns[impl])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
