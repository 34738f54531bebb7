"""Devices and partitions on a booted appliance: blockdev queries, MBR and GPT tables
written with parted, type bytes with sfdisk, GUIDs and attributes with sgdisk, device
names both ways and libguestfs 1.48's errors.

One VM serves the module; its disks, as the user names them:

* /dev/sda  128 MiB scratch, label "alpha"  -> GPT tests (and list_disk_labels)
* /dev/sdb  128 MiB scratch                  -> MBR tests
* /dev/sdc   64 MiB scratch                  -> errors on a blank disk, blockdev ro/rw
* /dev/sdd   64 MiB image whose GPT was written for 32 MiB -> part_expand_gpt
* /dev/sde    8 MiB read-only image with an MBR

The tests run in file order and build on each other's tables.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunningAgent, needs_qemu

from pyguestfs.agent.api.devices import _split_device_partition
from pyguestfs.agent.parted import partition_row, table_field
from pyguestfs.host import GuestFS, GuestFSError

MIB = 1 << 20
SECTOR = 512
GUID = "01234567-89AB-CDEF-0123-456789ABCDEF"
LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


def _raises(fn: object, *args: object, errno_name: str = "") -> GuestFSError:
    """Call, expect a GuestFSError with exactly this errno name; return it for its text."""
    with pytest.raises(GuestFSError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.errno_name == errno_name, str(info.value)
    return info.value


def _gpt_alternate_lba(image: Path) -> int:
    """The primary GPT header's pointer to the backup header (LBA 1, offset 32)."""
    with open(image, "rb") as f:
        f.seek(SECTOR)
        header = f.read(92)
    assert header[:8] == b"EFI PART"
    return int.from_bytes(header[32:40], "little")


# -- pure helpers, no VM ---------------------------------------------------------------------


def test_split_device_partition_as_guestfsd() -> None:
    assert _split_device_partition("/dev/sdb1") == ("sdb", 1)
    assert _split_device_partition("/dev/sdb") == ("sdb", 0)
    assert _split_device_partition("/dev/vdaa12") == ("vdaa", 12)
    assert _split_device_partition("/dev/md0p1") == ("md0", 1)
    assert _split_device_partition("/dev/nvme0n1p2") == ("nvme0n1", 2)


def test_parted_rows() -> None:
    rows = ["2:1048576B:2097151B:1048576B::data:;", "1:512B:1048575B:1048064B:ext4::boot, esp;"]
    assert table_field(partition_row(rows, 1), 6) == "boot, esp"
    assert table_field(partition_row(rows, 2), 5) == "data"
    with pytest.raises(Exception, match="partition number 3 not found"):
        partition_row(rows, 3)


# -- tests on paths (a host agent serving a scratch sysroot) ---------------------------------


def test_is_device_kinds(g: GuestFS, agent: RunningAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    root = agent.sysroot
    os.mkfifo(root / "fifo")
    monkeypatch.chdir(root)  # bound by a relative name: the sysroot's path may be too long
    with socket.socket(socket.AF_UNIX) as s:
        s.bind("sock")
    monkeypatch.undo()
    os.symlink("fifo", root / "link")
    assert g.is_fifo("/fifo") and not g.is_fifo("/sock") and not g.is_fifo("/missing")
    assert g.is_socket("/sock") and not g.is_socket("/fifo")
    assert not g.is_fifo("/link") and g.is_fifo("/link", followsymlinks=True)
    assert not g.is_blockdev("/fifo") and not g.is_chardev("/")
    if os.geteuid() == 0:  # only root can make device nodes on the host
        os.mknod(root / "chr", 0o600 | 0o020000, os.makedev(1, 3))
        os.mknod(root / "blk", 0o600 | 0o060000, os.makedev(7, 0))
        assert g.is_chardev("/chr") and not g.is_blockdev("/chr")
        assert g.is_blockdev("/blk") and not g.is_chardev("/blk")
    _raises(g.is_blockdev, "relative")


# -- on the appliance ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Host images: a GPT written for 32 MiB in a 64 MiB file, and a small MBR disk."""
    d = tmp_path_factory.mktemp("disks")
    grown = d / "grown.img"
    with open(grown, "wb") as f:
        f.truncate(32 * MIB)
    subprocess.run(
        ["parted", "-s", "--", str(grown), "mklabel", "gpt", "mkpart", "p1", "2048s", "10239s"],
        check=True,
        capture_output=True,
    )
    with open(grown, "r+b") as f:
        f.truncate(64 * MIB)  # the backup GPT header now sits in the middle of the disk
    ro = d / "ro.img"
    with open(ro, "wb") as f:
        f.truncate(8 * MIB)
    subprocess.run(
        ["parted", "-s", "--", str(ro), "mklabel", "msdos", "mkpart", "primary", "64s", "-1s"],
        check=True,
        capture_output=True,
    )
    return {"grown": grown, "ro": ro}


@pytest.fixture(scope="module")
def vm(cachedir: str, appliance: Path, images: dict[str, Path]) -> Iterator[GuestFS]:
    # launch_vm has no disk labels; list_disk_labels needs one, so the drives are added here.
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    g.add_drive_scratch(128 * MIB, label="alpha")
    g.add_drive_scratch(128 * MIB)
    g.add_drive_scratch(64 * MIB)
    g.add_drive_opts(str(images["grown"]), format="raw")
    g.add_drive_opts(str(images["ro"]), format="raw", readonly=True)
    g.launch()
    yield g
    g.close()


@needs_qemu
class TestOnAppliance:
    """In file order: devices, blank-disk errors, blockdev, MBR, GPT, expand, read-only."""

    def test_devices_and_names(self, vm: GuestFS) -> None:
        devices = ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd", "/dev/sde"]
        assert vm.list_devices() == devices  # the appliance's own disk is not there
        assert vm.nr_devices() == 5
        assert vm.list_partitions() == ["/dev/sdd1", "/dev/sde1"]
        assert vm.list_disk_labels() == {"alpha": "/dev/sda"}
        assert vm.is_whole_device("/dev/sda") and vm.is_whole_device("/dev/sde")
        assert not vm.is_whole_device("/dev/sdd1")
        assert vm.part_to_dev("/dev/sdd1") == "/dev/sdd"
        assert vm.part_to_partnum("/dev/sde1") == 1
        # Other spellings of a disk mean the same index, as guestfsd's translation.
        assert vm.blockdev_getsize64("/dev/vdc") == 64 * MIB

    def test_errors_on_names(self, vm: GuestFS) -> None:
        e = _raises(vm.blockdev_getss, "/dev/sdz", errno_name="ENOENT")
        assert "blockdev_getss_stub: /dev/sdz: No such file or directory" in str(e)
        e = _raises(vm.part_to_dev, "/dev/sda9", errno_name="ENOENT")
        assert "/dev/sda9: No such file or directory" in str(e)
        e = _raises(vm.part_to_dev, "/dev/sda")
        assert str(e) == "part_to_dev: device name is not a partition"
        _raises(vm.part_to_partnum, "/dev/sdb")
        e = _raises(vm.blockdev_getss, "/dev/null")
        assert "/dev/null: expecting a device name" in str(e)

    def test_errors_on_a_blank_disk(self, vm: GuestFS) -> None:
        e = _raises(vm.part_get_parttype, "/dev/sdc", errno_name="EINVAL")
        assert "unrecognised disk label" in str(e) and str(e).endswith("Invalid argument")
        _raises(vm.part_list, "/dev/sdc", errno_name="EINVAL")
        e = _raises(vm.part_get_bootable, "/dev/sdc", 1, errno_name="EINVAL")
        assert str(e).startswith("part_get_bootable: parted print: /dev/sdc: ")
        e = _raises(vm.part_get_mbr_id, "/dev/sdc", 1)
        assert str(e).startswith("part_get_mbr_id: sfdisk exited with status 1: ")
        e = _raises(vm.part_init, "/dev/sdc", "dos")  # not a 1.48 name: mbr or msdos
        assert 'common choices are "gpt" and "msdos"' in str(e)
        e = _raises(vm.part_add, "/dev/sdc", "x", 64, 128)
        assert "unknown partition type: x:" in str(e)
        e = _raises(vm.part_add, "/dev/sdc", "p", -1, 128)
        assert str(e) == "part_add: startsect cannot be negative"
        for fn in (vm.part_del, vm.part_get_bootable, vm.part_set_name):
            args = ("/dev/sdc", 0, "x") if fn == vm.part_set_name else ("/dev/sdc", 0)
            assert "partition number must be >= 1" in str(_raises(fn, *args))
        assert "readahead sectors must be >= 0" in str(_raises(vm.blockdev_setra, "/dev/sdc", -1))

    def test_blockdev_queries(self, vm: GuestFS) -> None:
        assert vm.blockdev_getss("/dev/sda") == 512
        assert vm.blockdev_getsz("/dev/sda") == 128 * MIB // SECTOR
        assert vm.blockdev_getsize64("/dev/sdc") == 64 * MIB
        assert vm.blockdev_getbsz("/dev/sda") in (512, 1024, 2048, 4096)
        vm.blockdev_setbsz("/dev/sda", 4096)  # a no-op since libguestfs 1.24
        vm.blockdev_setra("/dev/sda", 1024)
        vm.blockdev_flushbufs("/dev/sda")
        vm.blockdev_rereadpt("/dev/sdc")
        # A read-only drive is still writable inside: its writes go to a throwaway
        # overlay, so the kernel's ro flag is off, as in libguestfs 1.48.
        assert vm.blockdev_getro("/dev/sde") is False

    def test_blockdev_setro_setrw(self, vm: GuestFS) -> None:
        assert vm.blockdev_getro("/dev/sdc") is False
        vm.blockdev_setro("/dev/sdc")
        assert vm.blockdev_getro("/dev/sdc") is True
        e = _raises(vm.part_init, "/dev/sdc", "gpt")  # parted cannot write it now
        assert str(e).startswith("part_init: parted: /dev/sdc: ")
        vm.blockdev_setrw("/dev/sdc")
        assert vm.blockdev_getro("/dev/sdc") is False
        vm.part_init("/dev/sdc", "gpt")
        assert vm.part_get_parttype("/dev/sdc") == "gpt"

    def test_mbr(self, vm: GuestFS) -> None:
        d = "/dev/sdb"
        vm.part_init(d, "mbr")
        assert vm.part_get_parttype(d) == "msdos"
        assert vm.part_list(d) == []
        vm.part_add(d, "p", 64, 20479)
        vm.part_add(d, "e", 20480, 200000)
        vm.part_add(d, "l", 20544, 40000)
        assert vm.part_list(d) == [
            {"part_num": 1, "part_start": 64 * 512, "part_end": 20480 * 512 - 1,
             "part_size": (20480 - 64) * 512},
            {"part_num": 2, "part_start": 20480 * 512, "part_end": 200001 * 512 - 1,
             "part_size": (200001 - 20480) * 512},
            {"part_num": 5, "part_start": 20544 * 512, "part_end": 40001 * 512 - 1,
             "part_size": (40001 - 20544) * 512},
        ]  # fmt: skip
        assert "/dev/sdb5" in vm.list_partitions()
        assert [vm.part_get_mbr_part_type(d, n) for n in (1, 2, 5)] == [
            "primary",
            "extended",
            "logical",
        ]
        assert vm.part_get_mbr_id(d, 1) == 0x83
        assert vm.part_get_mbr_id(d, 2) in (0x05, 0x0F)
        vm.part_set_mbr_id(d, 1, 0x7F)
        assert vm.part_get_mbr_id(d, 1) == 0x7F
        assert vm.part_get_bootable(d, 1) is False
        vm.part_set_bootable(d, 1, True)
        assert vm.part_get_bootable(d, 1) is True and vm.part_get_bootable(d, 5) is False
        vm.part_set_bootable(d, 1, False)
        assert vm.part_get_bootable(d, 1) is False
        assert "partition number 3 not found" in str(_raises(vm.part_get_bootable, d, 3))
        e = _raises(vm.part_get_name, d, 1)
        assert str(e) == "part_get_name: part-get-name can only be used on GUID Partition Tables"
        e = _raises(vm.part_set_name, d, 1, "x")
        assert str(e).startswith("part_set_name: parted: /dev/sdb: ")
        vm.part_del(d, 5)
        assert [p["part_num"] for p in vm.part_list(d)] == [1, 2]
        vm.part_del(d, 2)
        vm.part_resize(d, 1, -1)  # grow to the last sector of the disk
        assert vm.part_list(d)[0]["part_end"] == 128 * MIB - 1
        assert vm.part_to_dev("/dev/sdb1") == d and vm.part_to_partnum("/dev/sdb1") == 1

    def test_gpt(self, vm: GuestFS) -> None:
        d = "/dev/sda"
        vm.part_init(d, "gpt")
        assert vm.part_get_parttype(d) == "gpt"
        vm.part_add(d, "p", 2048, 100000)
        vm.part_add(d, "p", 100001, -34)  # up to GPT's last usable sector
        parts = vm.part_list(d)
        assert [(p["part_num"], p["part_start"], p["part_end"]) for p in parts] == [
            (1, 2048 * 512, 100001 * 512 - 1),
            (2, 100001 * 512, (128 * MIB // SECTOR - 33) * 512 - 1),
        ]
        assert vm.list_disk_labels() == {
            "alpha": "/dev/sda",
            "alpha1": "/dev/sda1",
            "alpha2": "/dev/sda2",
        }
        # parted takes part_add's "primary" as the GPT name (a quirk libguestfs documents).
        assert vm.part_get_name(d, 1) == "primary"
        vm.part_set_name(d, 1, "thepartname")
        assert vm.part_get_name(d, 1) == "thepartname"
        assert vm.part_get_gpt_type(d, 1) == LINUX_FS
        vm.part_set_gpt_type(d, 1, GUID)
        assert vm.part_get_gpt_type(d, 1) == GUID
        vm.part_set_gpt_guid(d, 2, GUID)
        assert vm.part_get_gpt_guid(d, 2) == GUID
        assert vm.part_get_gpt_guid(d, 1) != GUID
        assert vm.part_get_gpt_attributes(d, 1) == 0
        vm.part_set_gpt_attributes(d, 1, 4)  # legacy BIOS bootable
        assert vm.part_get_gpt_attributes(d, 1) == 4
        vm.part_set_gpt_attributes(d, 1, 1 << 60)
        assert vm.part_get_gpt_attributes(d, 1) == 1 << 60
        vm.part_set_disk_guid(d, GUID)
        assert vm.part_get_disk_guid(d) == GUID
        vm.part_set_disk_guid_random(d)
        new = vm.part_get_disk_guid(d)
        assert new != GUID and len(new) == 36 and new.count("-") == 4
        e = _raises(vm.part_set_gpt_type, d, 1, "f")
        assert str(e) == "part_set_gpt_type: guid: parameter is not a valid GUID"
        _raises(vm.part_set_disk_guid, d, "0123")
        # On GPT sfdisk prints the type GUID; 1.48 reads its first group as the "byte".
        assert vm.part_get_mbr_id(d, 2) == 0x0FC63DAF
        assert vm.part_get_mbr_part_type(d, 2) == "primary"
        e = _raises(vm.part_get_gpt_type, d, 9)
        assert "sgdisk output did not contain 'Partition GUID code'" in str(e)
        assert vm.available(["gdisk"]) is None
        vm.part_del(d, 2)
        vm.part_resize(d, 1, 200000)
        assert vm.part_list(d)[0]["part_end"] == 200001 * 512 - 1
        assert vm.part_get_name(d, 1) == "thepartname"  # resizing keeps the entry

    def test_part_disk(self, vm: GuestFS) -> None:
        vm.part_disk("/dev/sdc", "gpt")
        assert vm.part_get_name("/dev/sdc", 1) == "p1"
        (p,) = vm.part_list("/dev/sdc")
        # From sector 128 to -128s, which parted counts from the last sector (-1s).
        assert (p["part_start"], p["part_end"]) == (128 * 512, 64 * MIB - 127 * 512 - 1)
        vm.part_disk("/dev/sdc", "mbr")
        assert vm.part_get_parttype("/dev/sdc") == "msdos"

    def test_part_expand_gpt(self, vm: GuestFS, images: dict[str, Path]) -> None:
        image = images["grown"]
        assert _gpt_alternate_lba(image) == 32 * MIB // SECTOR - 1
        vm.part_expand_gpt("/dev/sdd")
        vm.sync()
        # The backup header moved to the new last sector; the primary points at it.
        assert _gpt_alternate_lba(image) == 64 * MIB // SECTOR - 1
        with open(image, "rb") as f:
            f.seek(64 * MIB - SECTOR)
            assert f.read(8) == b"EFI PART"
        vm.part_add("/dev/sdd", "p", 20480, -34)
        assert vm.part_list("/dev/sdd")[1]["part_end"] == (64 * MIB // SECTOR - 33) * 512 - 1

    def test_read_only_drive(self, vm: GuestFS, images: dict[str, Path]) -> None:
        before = hashlib.sha256(images["ro"].read_bytes()).hexdigest()
        assert vm.part_get_parttype("/dev/sde") == "msdos"
        vm.part_init("/dev/sde", "gpt")  # allowed: it lands in the overlay
        assert vm.part_get_parttype("/dev/sde") == "gpt"
        vm.sync()
        assert hashlib.sha256(images["ro"].read_bytes()).hexdigest() == before
