"""Guest disk naming from a fake sysfs tree: order, the hidden appliance disk, partitions,
and translation both ways (the boot tests check the same against a real guest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyguestfs.agent.devices import DeviceMap, disk_letters
from pyguestfs.agent.errors import AgentError


def _disk(
    sys_block: Path, devices: Path, name: str, devpath: str, majmin: str, parts: int = 0
) -> None:
    """/sys/block/NAME -> ../devices/<devpath>/block/NAME, with dev files and partitions."""
    real = devices / devpath / "block" / name
    real.mkdir(parents=True)
    (real / "dev").write_text(majmin + "\n")
    major, minor = majmin.split(":")
    for i in range(1, parts + 1):
        p = real / f"{name}{i}"
        p.mkdir()
        (p / "dev").write_text(f"{major}:{int(minor) + i}\n")
        (p / "partition").write_text(f"{i}\n")
    os.symlink(os.path.relpath(real, sys_block), sys_block / name)


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    sys_block = tmp_path / "sys" / "block"
    sys_block.mkdir(parents=True)
    devices = tmp_path / "sys" / "devices"
    # SCSI targets 0..2 on one virtio-scsi HBA; the kernel named them out of order
    # (async scan), and target 2 is the appliance disk.
    base = "pci0000:00/0000:00:03.0/virtio1/host0"
    _disk(sys_block, devices, "sdb", f"{base}/target0:0:0/0:0:0:0", "8:16", parts=2)
    _disk(sys_block, devices, "sda", f"{base}/target0:0:1/0:0:1:0", "8:0")
    _disk(sys_block, devices, "sdc", f"{base}/target0:0:2/0:0:2:0", "8:32")
    _disk(sys_block, devices, "loop0", "virtual/block/loop0", "7:0")
    return sys_block


def test_order_and_hidden_appliance(sysfs: Path) -> None:
    dm = DeviceMap(str(sysfs), dev="/dev", root_dev=os.makedev(8, 32))
    assert dm.kernel_disks() == ["sdb", "sda"]  # by SCSI target, not by kernel name
    assert dm.list_devices() == ["/dev/sda", "/dev/sdb"]
    assert dm.list_partitions() == ["/dev/sda1", "/dev/sda2"]


def test_translation_both_ways(sysfs: Path) -> None:
    dm = DeviceMap(str(sysfs), dev="/dev", root_dev=os.makedev(8, 32))
    assert dm.translate("/dev/sda") == "/dev/sdb"
    assert dm.translate("/dev/sda2") == "/dev/sdb2"
    assert dm.translate("/dev/vdb") == "/dev/sda"  # vd/hd names mean the same index
    assert dm.reverse("/dev/sdb1") == "/dev/sda1"
    assert dm.reverse("/dev/sda") == "/dev/sdb"
    with pytest.raises(AgentError) as info:
        dm.translate("/dev/sdc")  # the appliance disk is not the user's
    assert info.value.errno_name == "ENOENT"


def test_appliance_on_a_partition_hides_its_disk(sysfs: Path) -> None:
    dm = DeviceMap(str(sysfs), dev="/dev", root_dev=os.makedev(8, 17))
    assert dm.kernel_disks() == ["sda", "sdc"]


def test_disk_letters() -> None:
    assert [disk_letters(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "a",
        "b",
        "z",
        "aa",
        "ab",
        "zz",
        "aaa",
    ]
