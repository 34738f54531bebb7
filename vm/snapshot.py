"""Warm launch: save a booted appliance once, restore it in well under a second.

Booting the appliance under TCG takes tens of seconds; restoring qemu's migration stream
of a VM that has already booted takes a fraction of one. The snapshot is made of an
appliance-only VM (no user disks) whose agent has *parked* (agent/warm.py), and
is stored in the appliance cache as these files:

* ``ram``: the guest's RAM. The snapshot VM's memory *is* this (sparse) file, mapped
  shared; a restore maps it copy-on-write, so the guest reads only the pages it touches
  and never writes the file. qemu's migration stream leaves it out (``x-ignore-shared``):
  loading 150 MB of RAM from a stream costs seconds here, mapping it costs nothing;
* ``state``: qemu's migration stream, now only the devices' and CPU's state (~0.5 MB);
* ``overlay.qcow2``: the appliance disk as that VM left it, a qcow2 overlay of ``root``.
  The guest's page cache must match its disk, so the snapshot VM writes through to this
  overlay, and every restore puts a throwaway overlay of its own on top (``snapshot=on``);
* ``meta.json``: the key, and each file's size and CRC-32;
* ``verified.json``: the identity (inode, size, mtime, ctime) each file had when its
  CRC was last found right. A file whose identity still matches is not read again: any
  change to it (a write, a truncation, a copy) changes its ctime, and the CRC is checked
  before that snapshot is used.

Its key hashes everything that must match for a restore to be valid: the qemu binary,
the appliance's kernel, initrd and root (by identity), and the whole qemu command line
of the appliance-only VM (machine type, CPU model, accelerator, memory, kernel command
line, device layout). A restored VM then gets the user's disks hot-plugged through QMP
onto the same SCSI bus, a wake word that makes the agent send the launch flag again, and
``internal_pyguestfs_restored``: fresh entropy, the host's clock, and a wait for the
disks. Anything wrong with a snapshot (missing, stale, truncated, corrupt, refused by
qemu) costs a cold boot, never a failed launch; the broken snapshot is discarded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..core import runner
from ..core.errors import GuestFSError
from ..protocol.stream import ByteStream
from . import agentcall
from .machine import Machine
from .qemu import Drive, LaunchPlan, MachineConfig, qemu_argv
from .qmp import QMP

SNAPSHOT_FORMAT = 3  # 3: qemu connects to the host's QMP listener
_SEED_BYTES = 64
#: The guest's RAM is a file of its own (LaunchPlan.ram_file): the stream leaves it out.
_IGNORE_SHARED = {"capability": "x-ignore-shared", "state": True}


class SnapshotError(GuestFSError):
    """A snapshot could not be made or restored (the caller boots cold instead)."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A stored snapshot: its directory, key and ``meta.json``."""

    directory: Path
    key: str
    meta: dict[str, Any]

    @property
    def state(self) -> Path:
        """qemu's migration stream (devices and CPU)."""
        return self.directory / "state"

    @property
    def overlay(self) -> Path:
        """The appliance disk as the saved VM left it (a qcow2 overlay of the root)."""
        return self.directory / "overlay.qcow2"

    @property
    def ram(self) -> Path:
        """The guest's RAM (a sparse file)."""
        return self.directory / "ram"

    def files(self) -> dict[str, Path]:
        """The files whose sizes and CRCs meta.json records."""
        return {"state": self.state, "ram": self.ram, "overlay.qcow2": self.overlay}


def ineligible(config: MachineConfig) -> str | None:
    """Why this launch cannot be restored from a snapshot, or None when it can."""
    if any(d.iface == "virtio" for d in config.drives):
        return "virtio-blk disks cannot be hot-plugged on q35's root bus"
    return None


def snapshots_dir(cache_dir: str) -> Path:
    """Where an appliance cache keeps its snapshots."""
    return Path(cache_dir) / "snapshots"


def _identity(path: str) -> list[Any]:
    st = os.stat(path)
    return [os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino]


def snapshot_key(config: MachineConfig) -> tuple[str, dict[str, Any]]:
    """The key of the snapshot that can stand in for booting ``config`` (its drives aside)."""
    template = dataclasses.replace(config, drives=())
    plan = LaunchPlan(monitor=True, appliance_overlay="@overlay", ram_file="@ram")
    qemu = shutil.which(config.qemu) or config.qemu
    components = {
        "format": SNAPSHOT_FORMAT,
        "argv": qemu_argv(template, plan, "@channel", "@qmp")[1:],
        "qemu": _identity(qemu),
        "kernel": _identity(config.kernel),
        "initrd": _identity(config.initrd),
        "root": _identity(config.root),
    }
    digest = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()
    return digest[:32], components


def find(cache_dir: str, key: str) -> Snapshot | None:
    """The stored snapshot for ``key`` if its files are all there with the recorded sizes."""
    directory = snapshots_dir(cache_dir) / key
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    snap = Snapshot(directory, key, meta)
    recorded = meta.get("files") or {}
    try:
        ok = (
            meta.get("key") == key
            and meta.get("format") == SNAPSHOT_FORMAT
            and all(
                path.stat().st_size == recorded.get(name, {}).get("size")
                for name, path in snap.files().items()
            )
        )
    except OSError:
        ok = False
    if not ok:
        discard(snap)
        return None
    return snap


def discard(snap: Snapshot) -> None:
    """Remove a snapshot (renamed away first, so a concurrent reader never sees it half gone)."""
    doomed = snap.directory.with_name(f".discard-{snap.key}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(snap.directory, doomed)
    except OSError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _crc32(path: Path) -> int:
    """CRC-32 of a file's data extents, each preceded by its offset (holes are skipped:
    the RAM file is 1.25 GiB long with ~150 MB of data)."""
    crc = 0
    buf = bytearray(1 << 22)  # reused: fresh buffers cost a page fault per 4 KiB here
    view = memoryview(buf)
    with open(path, "rb") as f:
        fd = f.fileno()
        end = os.fstat(fd).st_size
        offset = 0
        while offset < end:
            try:
                offset = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            extent_end = os.lseek(fd, offset, os.SEEK_HOLE)
            crc = zlib.crc32(offset.to_bytes(8, "big"), crc)
            while offset < extent_end:
                n = os.preadv(fd, [view[: min(len(buf), extent_end - offset)]], offset)
                if n <= 0:
                    raise OSError(f"{path}: short read at {offset}")
                crc = zlib.crc32(view[:n], crc)
                offset += n
    return crc


def _identity_of(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _read_verified(snap: Snapshot) -> dict[str, Any]:
    try:
        data = json.loads((snap.directory / "verified.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_verified(snap: Snapshot, verified: dict[str, Any]) -> None:
    tmp = snap.directory / f".verified.{os.getpid()}.{threading.get_ident()}"
    try:
        tmp.write_text(json.dumps(verified))
        os.replace(tmp, snap.directory / "verified.json")
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def _creation_lock(cache_dir: str) -> Iterator[bool]:
    """Non-blocking: True when this process may create snapshots now."""
    directory = snapshots_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def create(
    config: MachineConfig,
    cache_dir: str,
    *,
    timeout: float = 600.0,
    log: Callable[[str], None] = lambda _m: None,
) -> Snapshot | None:
    """Boot an appliance-only VM like ``config``, park its agent and save it.

    Returns the snapshot, or None when another process is making one right now.
    """
    key, components = snapshot_key(config)
    with _creation_lock(cache_dir) as mine:
        if not mine:
            log("snapshot: another process is making one")
            return None
        existing = find(cache_dir, key)
        if existing is not None:
            return existing
        tmp = snapshots_dir(cache_dir) / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            return _create_in(tmp, config, cache_dir, key, components, timeout, log)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _create_in(
    tmp: Path,
    config: MachineConfig,
    cache_dir: str,
    key: str,
    components: dict[str, Any],
    timeout: float,
    log: Callable[[str], None],
) -> Snapshot:
    started = time.monotonic()
    overlay = tmp / "overlay.qcow2"
    root = os.path.realpath(config.root)
    try:
        runner.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", root, overlay])
    except runner.CommandNotFound as e:
        raise SnapshotError(f"snapshot: {e.message} (apt-get install qemu-utils)") from None
    except runner.CommandError as e:
        raise SnapshotError(f"snapshot: {e.message}") from None
    ram = tmp / "ram"
    with open(ram, "wb") as f:
        f.truncate(config.memsize << 20)
    plan = LaunchPlan(
        monitor=True, appliance_overlay=str(overlay), ram_file=str(ram), ram_shared=True
    )
    with Machine(dataclasses.replace(config, drives=()), plan) as machine:
        stream = machine.start(timeout)
        booted = time.monotonic() - started
        try:
            agentcall.call(stream, "internal_pyguestfs_park", {}, timeout=timeout)
        finally:
            stream.close()  # the parked agent now waits for a wake word from a new host
        qmp = machine.monitor(timeout)
        qmp.execute("migrate-set-capabilities", {"capabilities": [_IGNORE_SHARED]})
        with open(tmp / "state", "wb") as out:
            qmp.execute("getfd", {"fdname": "snapshot"}, fds=[out.fileno()])
            qmp.execute("migrate", {"uri": "fd:snapshot"})
            _wait_migration(qmp, timeout)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(GuestFSError):
            qmp.execute("quit")
    with open(ram, "rb") as f:
        os.fsync(f.fileno())  # the VM wrote it through a shared mapping
    snap = Snapshot(tmp, key, {})
    files = {
        name: {"size": path.stat().st_size, "crc32": _crc32(path)}
        for name, path in snap.files().items()
    }
    meta: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "key": key,
        "components": components,
        "files": files,
        "ram_allocated": ram.stat().st_blocks * 512,
        "boot_seconds": round(booted, 3),
        "save_seconds": round(time.monotonic() - started - booted, 3),
        "created": time.time(),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    # Just computed from the files as they are: no restore needs to read them again.
    _write_verified(snap, {name: _identity_of(path) for name, path in snap.files().items()})
    final = snapshots_dir(cache_dir) / key
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    _forget_stale(cache_dir, key, components)
    log(
        f"snapshot {key} saved: RAM {meta['ram_allocated'] >> 20} MiB, "
        f"state {files['state']['size'] >> 10} KiB, "
        f"boot {meta['boot_seconds']} s, save {meta['save_seconds']} s"
    )
    return Snapshot(final, key, meta)


def _forget_stale(cache_dir: str, key: str, components: dict[str, Any]) -> None:
    """Remove snapshots of an earlier build of this appliance (same paths, other files):
    they can never be restored again."""
    for other in snapshots_dir(cache_dir).iterdir():
        if other.name == key or other.name.startswith("."):
            continue
        try:
            meta = json.loads((other / "meta.json").read_text())
            theirs = meta["components"]
        except (OSError, ValueError, KeyError):
            continue
        if meta.get("format") != SNAPSHOT_FORMAT:  # made by another pyguestfs version
            discard(Snapshot(other, other.name, meta))
            continue
        same_paths = all(theirs[f][0] == components[f][0] for f in ("kernel", "initrd", "root"))
        if same_paths and any(theirs[f] != components[f] for f in ("kernel", "initrd", "root")):
            discard(Snapshot(other, other.name, theirs))


def _wait_migration(qmp: QMP, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = qmp.execute("query-migrate") or {}
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise SnapshotError(f"snapshot: migration {status}: {info.get('error-desc', '')}")
        if time.monotonic() > deadline:
            raise SnapshotError("snapshot: saving the VM took too long")
        time.sleep(0.01)


class _Checksum(threading.Thread):
    """Checks the CRC-32 of each snapshot file changed since it was last verified, while
    qemu starts; ``bad`` then names the first file that does not match."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__(name="pyguestfs-snapshot-crc", daemon=True)
        self.snap = snap
        self.bad: str | None = None

    def run(self) -> None:
        verified = _read_verified(self.snap)
        recorded = self.snap.meta.get("files") or {}
        changed = False
        for name, path in self.snap.files().items():
            try:
                identity = _identity_of(path)
                if verified.get(name) == identity:
                    continue
                if _crc32(path) != recorded.get(name, {}).get("crc32"):
                    self.bad = name
                    return
            except OSError as e:
                self.bad = f"{name} ({e.strerror or e})"
                return
            verified[name] = identity
            changed = True
        if changed:
            _write_verified(self.snap, verified)


class Restored(NamedTuple):
    """A VM restored from a snapshot, its agent awake and refreshed."""

    machine: Machine
    stream: ByteStream
    #: The serial number the next call on ``stream`` takes.
    next_serial: int


def restore(
    snap: Snapshot,
    config: MachineConfig,
    timeout: float,
    on_console: Callable[[str], None] | None,
    on_progress: agentcall.ProgressCallback | None = None,
) -> Restored:
    """Start qemu from ``snap``, hot-plug ``config.drives``, and return the ready agent.

    The order is chosen so that the guest's slow parts overlap: the disks are plugged as
    soon as the restored VM runs, so the guest's SCSI scan proceeds while the agent wakes.
    Raises :class:`SnapshotError` (or a launch error) when the snapshot is unusable; the
    machine is stopped then.
    """
    checksum = _Checksum(snap)
    checksum.start()
    plan = LaunchPlan(
        monitor=True,
        appliance_overlay=str(snap.overlay),
        overlay_throwaway=True,
        incoming=True,
        ram_file=str(snap.ram),
    )
    machine = Machine(dataclasses.replace(config, drives=()), plan, on_console=on_console)
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    def load_and_plug() -> None:
        qmp = machine.monitor(timeout)
        marks["qemu_up"] = time.monotonic() - t0
        qmp.execute("migrate-set-capabilities", {"capabilities": [_IGNORE_SHARED]})
        fd = os.open(snap.state, os.O_RDONLY)
        try:
            qmp.execute("getfd", {"fdname": "snapshot"}, fds=[fd])
        finally:
            os.close(fd)
        qmp.execute("migrate-incoming", {"uri": "fd:snapshot"})
        _wait_running(qmp, timeout)
        marks["running"] = time.monotonic() - t0
        for index, drive in enumerate(config.drives):
            hotplug(qmp, drive, index)
        marks["hotplugged"] = time.monotonic() - t0

    def refuse_if_corrupt(cause: BaseException | None = None) -> None:
        checksum.join()
        if checksum.bad is not None:
            raise SnapshotError(
                f"snapshot {snap.key}: the {checksum.bad} file does not match its CRC"
            ) from cause

    stream: ByteStream | None = None
    try:
        try:
            stream = machine.start(timeout, wake=True, on_spawned=load_and_plug)
        except GuestFSError as e:
            refuse_if_corrupt(e)  # a corrupt file is the better explanation of a failure
            raise
        marks["awake"] = time.monotonic() - t0
        refuse_if_corrupt()
        now = time.time_ns()
        _, next_serial = agentcall.call(
            stream,
            "internal_pyguestfs_restored",
            {
                "seed": os.urandom(_SEED_BYTES),
                "sec": now // 1_000_000_000,
                "nsec": now % 1_000_000_000,
                "ndisks": len(config.drives),
            },
            on_progress=on_progress,
        )
        marks["ready"] = time.monotonic() - t0
        machine.timings = marks
    except BaseException:
        if stream is not None:
            stream.close()
        machine.stop()
        raise
    return Restored(machine, stream, next_serial)


def _wait_running(qmp: QMP, timeout: float) -> None:
    """Until the incoming migration has been loaded and the VM runs again."""
    deadline = time.monotonic() + timeout
    while True:
        status = (qmp.execute("query-status") or {}).get("status")
        if status == "running":
            return
        if status != "inmigrate":
            info = qmp.execute("query-migrate") or {}
            raise SnapshotError(
                f"snapshot: qemu did not restore the VM ({status}: "
                f"{info.get('error-desc', 'no reason given')})"
            )
        if time.monotonic() > deadline:
            raise SnapshotError("snapshot: restoring the VM took too long")
        time.sleep(0.002)


def hotplug(qmp: QMP, drive: Drive, index: int) -> None:
    """Add one user disk to the running VM on the SCSI bus, after the appliance disk.

    The appliance disk is SCSI target 0 in a snapshot, so user disk N is target N+1: the
    guest orders disks by their bus address, hides the appliance's, and so names the
    user's disks /dev/sda, /dev/sdb ... in the order they were added, as after a cold boot.
    """
    out = qmp.hmp(f"drive_add 0 {drive.drive_opts(index)}")
    if out.strip() != "OK":
        raise SnapshotError(f"hot-plugging {drive.filename}: {out.strip()}")
    props = drive.device_props(index, scsi_id=index + 1)
    qmp.execute("device_add", dict(props))


def spawn_background_creation(config: MachineConfig, cache_dir: str) -> None:
    """Make the snapshot in a detached, low-priority process (the user's launch goes on)."""
    spec = json.dumps({"config": _config_to_json(config), "cache_dir": cache_dir})
    log_path = snapshots_dir(cache_dir) / "background.log"
    snapshots_dir(cache_dir).mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "pyguestfs.vm.snapshot", "--spec", spec],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=lambda: os.nice(10),
        )


def _config_to_json(config: MachineConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    data["drives"] = []
    return data


def _config_from_json(data: dict[str, Any]) -> MachineConfig:
    data = dict(data)
    data["drives"] = tuple(Drive(**d) for d in data.get("drives", []))
    return MachineConfig(**data)


def main(argv: list[str] | None = None) -> int:
    """``python -m pyguestfs.vm.snapshot --spec JSON``: make one snapshot (see
    :func:`spawn_background_creation`)."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m pyguestfs.vm.snapshot",
        description="Make the warm-launch snapshot for one appliance configuration "
        "(launch() runs this in the background after a cold boot).",
    )
    p.add_argument("--spec", required=True, help="JSON: machine config and cache dir")
    args = p.parse_args(argv)
    spec = json.loads(args.spec)
    try:
        create(
            _config_from_json(spec["config"]),
            spec["cache_dir"],
            log=lambda m: print(m, flush=True),
        )
    except GuestFSError as e:
        print(f"snapshot: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
