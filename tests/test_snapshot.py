"""Warm launch (vm/snapshot.py) with real qemu under TCG: a snapshot made, restored
twice with hot-plugged disks, fresh entropy and clock after each restore; stale, truncated
and corrupt snapshots refused; parallel restores of one snapshot."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_qemu, report_figure

from pyguestfs.host import EVENT_LIBRARY, GuestFS
from pyguestfs.vm import snapshot

pytestmark = needs_qemu


def _handle(cachedir: str, logs: list[str] | None = None) -> GuestFS:
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    if logs is not None:
        g.set_event_callback(lambda ev, eh, buf, arr: logs.append(buf.decode()), EVENT_LIBRARY)
    return g


def _disk(path: Path, size: int = 64 << 20) -> str:
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


@pytest.fixture(scope="module")
def snap(cachedir: str, appliance: Path) -> Iterator[snapshot.Snapshot]:
    """The snapshot for the default settings, made in the foreground."""
    g = _handle(cachedir)
    config, cache_dir = g._machine_config()
    assert cache_dir
    made = snapshot.create(config, cache_dir)
    if made is None:  # a background creator holds the lock: wait for its snapshot
        key, _ = snapshot.snapshot_key(config)
        deadline = time.monotonic() + 900
        while (made := snapshot.find(cache_dir, key)) is None and time.monotonic() < deadline:
            time.sleep(1)
    assert made is not None
    g.close()
    yield made


def _ext_uuid(image: str, offset: int) -> str:
    with open(image, "rb") as f:
        f.seek(offset + 1024 + 0x68)
        return str(uuid.UUID(bytes=f.read(16)))


def _restore_and_mkfs(
    cachedir: str, tmp: Path, logs: list[str]
) -> tuple[str, tuple[int, int, int]]:
    """A restore that partitions and formats its second disk: the filesystem's UUID, and
    the host's clock (whole seconds) before the launch, the guest's time stamp on a file
    written after it, and the host's clock after that write."""
    a, b = _disk(tmp / "a.img"), _disk(tmp / "b.img")
    g = _handle(cachedir, logs)
    g.add_drive_opts(a, format="raw")
    g.add_drive_opts(b, format="raw")
    host_before = math.floor(time.time())
    started = time.monotonic()
    g.launch()
    launched = time.monotonic() - started
    assert any("warm launch: restored" in line for line in logs), logs
    report_figure(f"SNAPSHOT warm launch with 2 disks hot-plugged: {launched:.2f} s")
    assert g.list_devices() == ["/dev/sda", "/dev/sdb"]
    assert g.mounts() == []  # nothing from the run that made the snapshot
    g.part_disk("/dev/sdb", "mbr")
    assert g.list_partitions() == ["/dev/sdb1"]
    g.mkfs("ext4", "/dev/sdb1")
    g.mount("/dev/sdb1", "/")
    g.touch("/now")
    host_after = math.ceil(time.time())
    guest_time = g.statns("/now")["st_mtime_sec"]
    start = g.part_list("/dev/sdb")[0]["part_start"]
    g.shutdown()
    g.close()
    return _ext_uuid(b, start), (host_before, guest_time, host_after)


def test_restores_get_their_own_entropy_clock_and_disks(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    logs1: list[str] = []
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    uuid1, clock1 = _restore_and_mkfs(cachedir, tmp_path / "1", logs1)
    logs2: list[str] = []
    uuid2, clock2 = _restore_and_mkfs(cachedir, tmp_path / "2", logs2)
    # The same saved RAM, restored twice, must not hand out the same "random" UUIDs.
    assert uuid1 != uuid2
    # The guest clock is the host's, not the moment of the save: the file was written
    # between the launch and the host's next look at its clock. One second either side
    # for whole-second time stamps and the kernel's coarse clock.
    for before, guest, after in (clock1, clock2):
        assert before - 1 <= guest <= after + 1, (clock1, clock2)


def test_readonly_drive_stays_readonly_after_hotplug(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    ro = _disk(tmp_path / "ro.img")
    logs: list[str] = []
    g = _handle(cachedir, logs)
    g.add_drive_opts(ro, format="raw", readonly=True)
    g.launch()
    assert any("warm launch: restored" in line for line in logs)
    g.part_disk("/dev/sda", "mbr")  # lands in qemu's throwaway overlay
    g.close()
    with open(ro, "rb") as f:
        assert f.read(512) == bytes(512)  # the image itself was never written


def test_partitions_of_hotplugged_disks_are_there_when_launch_returns(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    # The kernel shows a hot-plugged disk in sysfs and /dev before it has read its
    # partition table; launch() must not return in between (it did, 1 launch in 4,
    # before the agent waited for the kernel's announcement of the disk).
    image = _disk(tmp_path / "parted.img", 96 << 20)
    subprocess.run(
        ["parted", "-s", image, "mklabel", "gpt", "mkpart", "a", "1MiB", "32MiB",
         "mkpart", "b", "32MiB", "64MiB", "mkpart", "c", "64MiB", "95MiB"],
        check=True,
    )  # fmt: skip
    blank = _disk(tmp_path / "blank.img")
    for _ in range(3):
        logs: list[str] = []
        g = _handle(cachedir, logs)
        g.add_drive_opts(blank, format="raw", readonly=True)
        g.add_drive_opts(image, format="raw", readonly=True)
        g.launch()
        assert any("warm launch: restored" in line for line in logs)
        assert g.list_partitions() == ["/dev/sdb1", "/dev/sdb2", "/dev/sdb3"]
        g.close()


def test_parallel_launches_share_one_snapshot(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    results: dict[int, object] = {}

    def launch(i: int) -> None:
        logs: list[str] = []
        g = _handle(cachedir, logs)
        g.add_drive_opts(_disk(tmp_path / f"p{i}.img"), format="raw")
        try:
            g.launch()
            g.part_disk("/dev/sda", "gpt")
            results[i] = (g.list_partitions(), any("restored" in m for m in logs))
            g.close()
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: (["/dev/sda1"], True), 1: (["/dev/sda1"], True)}


def test_truncated_or_corrupt_snapshot_is_refused(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    cache_dir = str(snap.directory.parent.parent)
    copy_dir = snapshot.snapshots_dir(cache_dir) / "copy-for-test"
    # A truncated state file: find() sees its size is wrong and discards it.
    truncated = tmp_path / "truncated"
    _clone(snap, truncated, "copy-for-test")
    with open(truncated / "state", "r+b") as f:
        f.truncate(snap.meta["files"]["state"]["size"] // 2)
    os.rename(truncated, copy_dir)
    assert snapshot.find(cache_dir, "copy-for-test") is None
    assert not copy_dir.exists()
    # Same size, one byte flipped: the CRC refuses it before any user call is made.
    corrupt = tmp_path / "corrupt"
    _clone(snap, corrupt, snap.key)
    _flip_byte(corrupt / "state", snap.meta["files"]["state"]["size"] // 2)
    bad = snapshot.Snapshot(corrupt, snap.key, snap.meta)
    config, _ = _handle(cachedir)._machine_config()
    with pytest.raises(snapshot.SnapshotError, match="state file does not match its CRC"):
        snapshot.restore(bad, config, 600, None)


def test_file_changed_after_verification_is_checked_again(
    snap: snapshot.Snapshot, tmp_path: Path
) -> None:
    """Restores skip the CRC of files whose identity (inode, size, mtime, ctime) is the
    one last verified; a byte changed in place afterwards changes that identity."""
    clone = tmp_path / "clone"
    _clone(snap, clone, snap.key, copy_ram=True)
    copy = snapshot.Snapshot(clone, snap.key, snap.meta)
    first = snapshot._Checksum(copy)
    first.run()
    assert first.bad is None
    assert set(json.loads((clone / "verified.json").read_text())) == {
        "state",
        "ram",
        "overlay.qcow2",
    }
    # One byte of the saved RAM (the middle of its first data extent) flipped in place.
    with open(clone / "ram", "rb") as f:
        start = os.lseek(f.fileno(), 0, os.SEEK_DATA)
        end = os.lseek(f.fileno(), start, os.SEEK_HOLE)
    _flip_byte(clone / "ram", (start + end) // 2)
    again = snapshot._Checksum(copy)
    again.run()
    assert again.bad == "ram"


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def _clone(snap: snapshot.Snapshot, dest: Path, key: str, copy_ram: bool = False) -> None:
    """A copy of ``snap`` under another key: the state copied, the files that are only
    read hard-linked (the RAM copied, sparse, when the test changes it)."""
    dest.mkdir()
    (dest / "state").write_bytes(snap.state.read_bytes())
    os.link(snap.overlay, dest / "overlay.qcow2")
    if copy_ram:
        _sparse_copy(snap.ram, dest / "ram")
    else:
        os.link(snap.ram, dest / "ram")
    (dest / "meta.json").write_text(
        (snap.directory / "meta.json").read_text().replace(snap.key, key)
    )


def _sparse_copy(src: Path, dest: Path) -> None:
    with open(src, "rb") as f, open(dest, "wb") as out:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                offset = os.lseek(f.fileno(), offset, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(f.fileno(), offset, os.SEEK_HOLE)
            f.seek(offset)
            out.seek(offset)
            out.write(f.read(end - offset))
            offset = end
        out.truncate(size)


def test_ram_is_left_out_of_the_migration_stream(snap: snapshot.Snapshot) -> None:
    """The state is a qemu migration stream of the devices only; the guest's RAM is the
    sparse ``ram`` file, as long as the VM's memory and holding what the guest wrote."""
    with open(snap.state, "rb") as f:
        magic, version = struct.unpack(">II", f.read(8))
    assert magic == 0x5145564D  # "QEVM"
    assert version == 3
    state_size = snap.state.stat().st_size
    ram = snap.ram.stat()
    report_figure(
        f"SNAPSHOT state {state_size >> 10} KiB, RAM file {ram.st_size >> 20} MiB long "
        f"with {ram.st_blocks * 512 >> 20} MiB allocated"
    )
    assert state_size < 4 << 20
    assert ram.st_size == _memsize(snap) << 20
    assert 16 << 20 < ram.st_blocks * 512 < ram.st_size


def _memsize(snap: snapshot.Snapshot) -> int:
    argv = snap.meta["components"]["argv"]
    return int(argv[argv.index("-m") + 1])


@pytest.mark.timeout(1800)  # a cold boot, then a snapshot made: minutes on a busy machine
def test_stale_snapshot_is_not_used_and_launch_boots_cold(
    snap: snapshot.Snapshot, cachedir: str, tmp_path: Path
) -> None:
    """An appliance rebuilt since the save (here: its root touched) changes the key: the
    old snapshot is never restored, launch() boots cold and has a new one made."""
    config, cache_dir = _handle(cachedir)._machine_config()
    assert cache_dir
    root = config.root
    st = os.stat(root)
    os.utime(root, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    try:
        _stale_then_regenerated(snap, cachedir, config, cache_dir, tmp_path)
    finally:
        # Later modules boot the appliance as built (and make its snapshot again).
        os.utime(root, ns=(st.st_atime_ns, st.st_mtime_ns))


def _stale_then_regenerated(
    snap: snapshot.Snapshot, cachedir: str, config: Any, cache_dir: str, tmp_path: Path
) -> None:
    new_key, _ = snapshot.snapshot_key(config)
    assert new_key != snap.key and snapshot.find(cache_dir, new_key) is None
    logs: list[str] = []
    g = _handle(cachedir, logs)
    g.add_drive_opts(_disk(tmp_path / "d.img"), format="raw")
    g.launch()
    assert any("no snapshot yet; booting cold" in m for m in logs), logs
    assert g.list_devices() == ["/dev/sda"]
    g.close()
    # A snapshot for the new key is made (in the background, or here if that one has
    # not started yet); the stale one is then forgotten.
    made = snapshot.create(config, cache_dir)
    deadline = time.monotonic() + 900
    while made is None and time.monotonic() < deadline:
        time.sleep(1)
        made = snapshot.find(cache_dir, new_key)
    assert made is not None and made.key == new_key
    assert not snap.directory.exists()
