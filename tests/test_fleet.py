"""guestfs-fleet on a real Dask cluster: a ``dask scheduler`` and two ``dask worker``
processes on loopback, started and stopped here, inspecting ten tiny Debian-like guests
with known hostnames and packages, a Fedora-like one and the phony Windows 7 guest beside
broken images (corrupt, missing, not a disk, a
FIFO that never answers); one worker is SIGKILLed mid-run; then ``--resume``, a job that
hangs in the guest, and the same inspection by libguestfs 1.48 for comparison.

One run of the command serves most tests (module fixture): each image is one launch from
the warm snapshot, so the module's time is a few launches per worker plus the two
appliances' preparation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from guest_images import (
    TinyGuest,
    WindowsImage,
    tiny_debian_guest,
    tiny_rpm_guest,
    windows_guest,
)
from test_bindings_compat import REAL_PYTHON, needs_real_libguestfs

# The first test's setup is the whole fleet run, and the comparison boots real libguestfs:
# on a loaded machine either can outlast pytest's default 600 s per test.
pytestmark = [pytest.mark.boot, pytest.mark.timeout(1800)]

TESTS = Path(__file__).resolve().parent
BENCH = TESTS.parent / "bench"
GOOD = 10
#: Generous: under TCG on a loaded 2-core machine a launch takes many times its idle time.
RUN_TIMEOUT = 1800


@dataclass
class FleetImages:
    good: list[TinyGuest]
    corrupt: Path
    not_a_disk: Path
    missing: Path
    fifo: Path
    #: A Fedora-like guest with a real RPM database (None where rpm is not installed).
    rpm: TinyGuest | None
    #: The phony Windows 7 guest (registry hives on NTFS).
    windows: WindowsImage

    def all(self) -> list[str]:
        broken = [self.corrupt, self.not_a_disk, self.missing, self.fifo]
        paths = [str(g.path) for g in self.good]
        if self.rpm is not None:
            paths.append(str(self.rpm.path))
        paths.append(str(self.windows.path))
        # Broken ones spread among the good ones, as in a real fleet.
        for i, b in enumerate(broken):
            paths.insert(2 + 3 * i, str(b))
        return paths


@pytest.fixture(scope="module")
def fleet_images(tmp_path_factory: pytest.TempPathFactory, cachedir: str) -> FleetImages:
    d = tmp_path_factory.mktemp("fleet-images")
    good = [
        tiny_debian_guest(
            d / f"guest{i:02d}.img",
            f"fleet-host-{i:02d}",
            # Odd guests' package has an epoch, even ones' none (dpkg writes no "0:").
            {
                "common-tool": "1.0-1",
                f"only-on-{i:02d}": f"{i}:2.{i}-{i + 1}" if i % 2 else f"2.{i}",
            },
        )
        for i in range(GOOD)
    ]
    corrupt = d / "corrupt.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(corrupt), "64M"], check=True)
    with open(corrupt, "r+b") as f:
        f.seek(4)
        f.write(b"\xff" * 60)  # the version, backing file and cluster fields: garbage
    not_a_disk = d / "notes.txt"
    not_a_disk.write_text("these are not the droids\n" * 200)
    fifo = d / "stuck.img"
    os.mkfifo(fifo)
    rpm = tiny_rpm_guest(d / "fedora.img", "fleet-rpm-host")
    windows = windows_guest(cachedir)  # shared with test_windows through the cache
    return FleetImages(good, corrupt, not_a_disk, d / "missing.img", fifo, rpm, windows)


@dataclass
class DaskCluster:
    scheduler_file: Path
    address: str
    workers: dict[str, subprocess.Popen[bytes]]


def _dask(*args: str) -> list[str]:
    return [sys.executable, "-m", "distributed.cli." + args[0], *args[1:]]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    sched_file = d / "scheduler.json"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(argv: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(d / f"{name}.log", "wb")  # noqa: SIM115
        logs.append(log)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=d)
        procs.append(p)
        return p

    start(
        _dask("dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
              "--scheduler-file", str(sched_file)),
        "scheduler",
    )  # fmt: skip
    workers = {}
    for name in ("w1", "w2"):
        workers[name] = start(
            _dask("dask_worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                  "--no-nanny", "--name", name, "--no-dashboard", "--memory-limit", "0"),
            name,
        )  # fmt: skip
    try:
        with Client(scheduler_file=str(sched_file), timeout=120) as client:
            client.wait_for_workers(2, timeout=300)
            address = client.scheduler.address
        yield DaskCluster(sched_file, address, workers)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


def fleet_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pyguestfs.fleet.cli", *args]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@dataclass
class FirstRun:
    output: Path
    lines: list[dict[str, Any]]
    returncode: int
    stderr: str
    #: Lines already written when the worker was killed.
    before_kill: int


@pytest.fixture(scope="module")
def first_run(
    dask_cluster: DaskCluster,
    fleet_images: FleetImages,
    cachedir: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> FirstRun:
    """One inspect run over every image; w1 is SIGKILLed once two results are out."""
    out = tmp_path_factory.mktemp("fleet-run") / "results.jsonl"
    argv = fleet_argv(
        "inspect", "--scheduler", dask_cluster.address, "--cachedir", cachedir,
        "--output", str(out), "--timeout", "600", "--retries", "1", *fleet_images.all(),
    )  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=TESTS)
    # Wait for results to come out, then kill a worker while the run goes on.
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    before_kill = len(out.read_text().splitlines()) if out.exists() else 0
    victim = dask_cluster.workers["w1"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    _, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    return FirstRun(out, read_lines(out), proc.returncode, stderr.decode(), before_kill)


def test_every_image_appears_exactly_once(first_run: FirstRun, fleet_images: FleetImages) -> None:
    images = [line["image"] for line in first_run.lines]
    assert sorted(images) == sorted(fleet_images.all())
    assert len(images) == len(set(images))
    # The worker was killed while the run was under way, not after it.
    assert first_run.before_kill < len(images)
    # Some images failed, so the command says so.
    assert first_run.returncode == 1
    assert "| failed |" in first_run.stderr and f"| {len(images)} |" in first_run.stderr


def test_good_images_are_inspected_as_their_guests_say(
    first_run: FirstRun, fleet_images: FleetImages
) -> None:
    by_image = {line["image"]: line for line in first_run.lines}
    for guest in fleet_images.good:
        line = by_image[str(guest.path)]
        assert line["ok"], line
        assert line["error"] is None and line["seconds"] > 0 and line["worker"] in ("w1", "w2")
        (root,) = line["roots"]
        assert root["root"] == "/dev/sda1"
        assert (root["type"], root["distro"], root["hostname"]) == (
            "linux",
            "debian",
            guest.hostname,
        )
        assert (root["package_format"], root["package_management"]) == ("deb", "apt")
        assert root["major_version"] == int(guest.os_release["VERSION_ID"])
        assert root["mountpoints"] == {"/": "/dev/sda1"}
        assert root["filesystems"] == [
            {"device": "/dev/sda1", "type": "ext4", "label": "tinyroot", "uuid": guest.root_uuid}
        ]
        apps = {
            a["name"]: (f"{a['epoch']}:" if a["epoch"] else "")
            + a["version"]
            + (f"-{a['release']}" if a["release"] else "")
            for a in root["applications"]
        }
        assert apps == guest.packages  # "removed-one" is not installed: not listed
        assert set(root) >= {
            "root", "type", "distro", "product_name", "product_variant", "major_version",
            "minor_version", "arch", "hostname", "package_format", "package_management",
            "mountpoints", "filesystems", "applications",
        }  # fmt: skip


def test_rpm_guest_lists_its_rpm_packages(first_run: FirstRun, fleet_images: FleetImages) -> None:
    guest = fleet_images.rpm
    if guest is None:
        pytest.skip("rpm and rpmbuild are not installed (ci/setup.sh installs them)")
    (line,) = [x for x in first_run.lines if x["image"] == str(guest.path)]
    assert line["ok"], line
    (root,) = line["roots"]
    assert (root["distro"], root["hostname"], root["package_format"]) == (
        "fedora",
        guest.hostname,
        "rpm",
    )
    assert "warnings" not in root, root["warnings"]
    apps = {
        a["name"]: (f"{a['epoch']}:" if a["epoch"] else "") + f"{a['version']}-{a['release']}"
        for a in root["applications"]
    }
    assert apps == guest.packages
    assert {a["arch"] for a in root["applications"]} == {"noarch"}


def test_windows_guest_is_inspected_from_its_registry(
    first_run: FirstRun, fleet_images: FleetImages
) -> None:
    guest = fleet_images.windows
    (line,) = [x for x in first_run.lines if x["image"] == str(guest.path)]
    assert line["ok"], line
    (root,) = line["roots"]
    assert root["root"] == "/dev/sda2"  # the system volume; sda1 is a data volume
    assert (root["type"], root["distro"], root["product_name"], root["hostname"]) == (
        "windows",
        "windows",
        guest.product_name,
        guest.hostname,
    )
    assert (root["major_version"], root["minor_version"]) == guest.version
    assert (root["product_variant"], root["arch"]) == ("Client", "i386")
    assert root["mountpoints"] == {"/": "/dev/sda2"}
    assert [fs["type"] for fs in root["filesystems"]] == ["ntfs"]
    # The SOFTWARE hive's Uninstall keys, by DisplayName and DisplayVersion.
    apps = {a["name"]: a["version"] for a in root["applications"]}
    assert apps == {"pyg-editor": "2.4.1", "pyg-tool": "0.9"}


def test_broken_images_fail_with_their_reason(
    first_run: FirstRun, fleet_images: FleetImages
) -> None:
    by_image = {line["image"]: line for line in first_run.lines}
    expected = {
        fleet_images.missing: "No such file or directory",
        fleet_images.not_a_disk: "no operating system could be detected",
        fleet_images.corrupt: "not a disk image qemu can open",
        fleet_images.fifo: "reading its header took more than",
    }
    for path, reason in expected.items():
        line = by_image[str(path)]
        assert line["ok"] is False, line
        assert reason in line["error"], line


def test_killed_worker_images_ran_elsewhere(first_run: FirstRun, dask_cluster: DaskCluster) -> None:
    assert dask_cluster.workers["w1"].poll() == -signal.SIGKILL
    after = first_run.lines[first_run.before_kill + 1 :]
    # Everything finished once w1 was surely gone was done by w2, and it finished the run.
    assert after and all(line["worker"] == "w2" for line in after)
    assert all(line["ok"] or "worker" not in (line["error"] or "") for line in first_run.lines)


def test_resume_runs_only_what_is_missing(
    first_run: FirstRun, dask_cluster: DaskCluster, fleet_images: FleetImages, cachedir: str
) -> None:
    out = first_run.output.with_name("resumed.jsonl")
    good = {str(g.path) for g in fleet_images.good}
    kept = [line for line in first_run.lines if line["image"] not in good][:2]
    kept += [line for line in first_run.lines if line["image"] in good][:-2]
    dropped = sorted(good - {line["image"] for line in kept})
    text = "".join(json.dumps(line) + "\n" for line in kept)
    out.write_text(text + '{"image": "' + dropped[0] + '", "ok": tr')  # a cut last line
    r = subprocess.run(
        fleet_argv("inspect", "--scheduler", dask_cluster.address, "--cachedir", cachedir,
                   "--output", str(out), "--resume", "--timeout", "600", *fleet_images.all()),
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=TESTS,
    )  # fmt: skip
    lines = read_lines(out)
    assert out.read_text().startswith(text)  # finished results are left as they were
    assert sorted(line["image"] for line in lines) == sorted(fleet_images.all())
    redone = lines[len(kept) :]
    # Only the images without a line ran again: the two dropped good ones and the
    # broken ones not kept.
    assert {line["image"] for line in redone} == set(fleet_images.all()) - {
        line["image"] for line in kept
    }
    assert all(line["ok"] for line in redone if line["image"] in dropped)
    assert f"| {len(kept)} |" in r.stderr  # the summary counts them as skipped


def test_job_that_hangs_the_guest_times_out(
    dask_cluster: DaskCluster, fleet_images: FleetImages, cachedir: str, tmp_path: Path
) -> None:
    out = tmp_path / "hang.jsonl"
    image = str(fleet_images.good[0].path)
    r = subprocess.run(
        fleet_argv("run", "fleet_jobs:sleepy", "--scheduler", dask_cluster.address,
                   "--cachedir", cachedir, "--output", str(out), "--timeout", "45",
                   "--retries", "0", "--quiet", image),
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=TESTS,
    )  # fmt: skip
    (line,) = read_lines(out)
    assert r.returncode == 1, r.stderr
    assert line["ok"] is False and "timed out after 45 s" in line["error"], line
    assert "slept" not in line
    # The worker goes on: a job with a parameter on the same image, right after.
    r = subprocess.run(
        fleet_argv("run", "fleet_jobs:hostname_file", "--param", "path=/etc/hostname",
                   "--scheduler", dask_cluster.address, "--cachedir", cachedir,
                   "--output", str(out), "--quiet", image),
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=TESTS,
    )  # fmt: skip
    (line,) = read_lines(out)
    assert r.returncode == 0, r.stderr
    assert line["ok"] and line["content"] == fleet_images.good[0].hostname


def test_a_local_pool_takes_the_appliance_from_an_oci_archive(
    fleet_images: FleetImages, cachedir: str, tmp_path: Path
) -> None:
    """As a CI cache would feed workers: the session's appliance exported to an OCI
    archive, and a local pool with an empty cache directory importing it, not building."""
    archive = tmp_path / "appliance.oci.tar"
    r = subprocess.run(
        [sys.executable, "-m", "pyguestfs.builder.cli", "--cachedir", cachedir,
         "--oci-archive", str(archive)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    fresh = tmp_path / "fresh-cache"
    fresh.mkdir()
    out = tmp_path / "from-archive.jsonl"
    guest = fleet_images.good[5]
    r = subprocess.run(
        fleet_argv("inspect", "--local", "1", "--cachedir", str(fresh),
                   "--cache-from-archive", str(archive), "--output", str(out), "--quiet",
                   str(guest.path)),
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=TESTS,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (line,) = read_lines(out)
    assert line["ok"] and line["roots"][0]["hostname"] == guest.hostname, line
    # Imported: the worker froze no agent and built no root of its own.
    (home,) = fresh.glob(".guestfs-*/pyguestfs")
    assert (home / "appliance.d" / "root").is_file()
    assert not (home / "frozen").exists()
    assert list((home / "snapshots").iterdir())  # and made its warm snapshot from it


@needs_real_libguestfs
def test_inspection_says_what_libguestfs_says(
    first_run: FirstRun, fleet_images: FleetImages, tmp_path: Path
) -> None:
    images = [str(fleet_images.good[3].path), str(fleet_images.windows.path)]
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    env.pop("LIBGUESTFS_PATH", None)
    r = subprocess.run(
        [REAL_PYTHON, str(BENCH / "libguestfs_inspect.py"), *images],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    theirs = {line["image"]: line for line in map(json.loads, r.stdout.splitlines())}
    assert sorted(theirs) == sorted(images)
    for image in images:
        ours = next(line for line in first_run.lines if line["image"] == image)
        assert theirs[image]["ok"], theirs[image]
        assert ours["roots"] == theirs[image]["roots"], image
