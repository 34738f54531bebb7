"""Warm launch's wait for hot-plugged disks (agent/warm.py, agent/uevents.py):
a disk counts only once the kernel has announced it, which it does after reading the
partition table; without announcements, presence in sysfs and an open() stand in.
Real hot-plugs are in test_snapshot.py; these use a fake sysfs and scripted uevents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyguestfs.agent import warm
from pyguestfs.agent.devices import DeviceMap
from pyguestfs.agent.errors import AgentError
from pyguestfs.agent.uevents import DiskAnnouncements, UeventsLost, disk_added


def _uevent(action: str, devpath: str, **env: str) -> bytes:
    fields = [f"{action}@{devpath}", f"ACTION={action}", f"DEVPATH={devpath}"]
    fields += [f"{k}={v}" for k, v in env.items()]
    return "\0".join(fields).encode() + b"\0"


def test_only_a_whole_disk_being_added_counts() -> None:
    path = "/devices/pci0000:00/0000:00:03.0/virtio1/host0/target0:0:1/0:0:1:0/block/sda"
    disk = dict(SUBSYSTEM="block", DEVNAME="sda", DEVTYPE="disk", SEQNUM="1501")
    assert disk_added(_uevent("add", path, **disk)) == "sda"
    assert disk_added(_uevent("add", path, **{**disk, "DEVNAME": "/dev/sdb"})) == "sdb"
    assert disk_added(_uevent("change", path, **disk)) is None
    assert disk_added(_uevent("remove", path, **disk)) is None
    partition = dict(SUBSYSTEM="block", DEVNAME="sda1", DEVTYPE="partition")
    assert disk_added(_uevent("add", path + "/sda1", **partition)) is None
    assert disk_added(_uevent("add", "/devices/.../0:0:1:0", SUBSYSTEM="scsi")) is None
    assert disk_added(b"libudev\0garbage") is None
    assert disk_added(b"") is None


class _Scripted:
    """Stands in for DiskAnnouncements: each wait() delivers the next batch (or fails)."""

    def __init__(self, batches: list[set[str] | Exception]) -> None:
        self.announced: set[str] = set()
        self.batches = batches
        self.waits = 0
        self.closed = False

    def wait(self, timeout: float) -> None:
        self.waits += 1
        if self.batches:
            batch = self.batches.pop(0)
            if isinstance(batch, Exception):
                raise batch
            self.announced |= batch

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def devices(tmp_path: Path) -> DeviceMap:
    """Two user disks in sysfs and /dev (SCSI targets 0 and 1), the appliance's at 2."""
    sys_block, dev = tmp_path / "sys" / "block", tmp_path / "dev"
    sys_block.mkdir(parents=True)
    dev.mkdir()
    base = tmp_path / "sys" / "devices" / "pci0000:00" / "0000:00:03.0" / "virtio1" / "host0"
    for target, name in enumerate(("sda", "sdb", "sdc")):
        real = base / f"target0:0:{target}" / f"0:0:{target}:0" / "block" / name
        real.mkdir(parents=True)
        (real / "dev").write_text(f"8:{16 * target}\n")
        os.symlink(os.path.relpath(real, sys_block), sys_block / name)
        (dev / name).write_bytes(b"")
    return DeviceMap(str(sys_block), dev=str(dev), root_dev=os.makedev(8, 32))


def test_present_disks_wait_for_their_announcement(devices: DeviceMap) -> None:
    # sysfs and /dev show both disks from the start, as while their partitions are
    # still being read; only the announcements say they are ready.
    events = _Scripted([set(), {"sda"}, {"sdc"}, {"sdb"}])
    how = warm.wait_for_hotplugged_disks(devices, 2, events)  # type: ignore[arg-type]
    assert how == "announced by the kernel" and events.waits == 4
    assert devices.kernel_disks() == ["sda", "sdb"]


def test_lost_announcements_fall_back_to_sysfs(devices: DeviceMap) -> None:
    events = _Scripted([{"sda"}, UeventsLost("No buffer space available")])
    how = warm.wait_for_hotplugged_disks(devices, 2, events)  # type: ignore[arg-type]
    assert how == "seen in sysfs, no uevents" and events.closed and events.waits == 2


def test_without_a_uevent_socket_presence_is_enough(devices: DeviceMap) -> None:
    how = warm.wait_for_hotplugged_disks(devices, 2, None)
    assert how == "seen in sysfs, no uevents"


def test_a_disk_never_announced_times_out_with_etimedout(
    devices: DeviceMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm, "DISK_WAIT", 0.05)
    events = _Scripted([{"sda"}])
    with pytest.raises(AgentError, match="did not finish adding sdb") as err:
        warm.wait_for_hotplugged_disks(devices, 2, events)  # type: ignore[arg-type]
    assert err.value.errno_name == "ETIMEDOUT"


def test_the_socket_opens_and_reads_nothing_when_nothing_happens() -> None:
    listener = DiskAnnouncements.open()
    if listener is None:
        pytest.skip("this kernel or sandbox refuses uevent netlink sockets")
    try:
        listener.wait(0.05)
        assert listener.announced == set()
    finally:
        listener.close()
