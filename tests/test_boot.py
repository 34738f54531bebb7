"""Boot tests: the real appliance (built from this machine's kernel and packages) under
qemu, with the real agent inside. One appliance is built and one VM booted per test
session; every test here shares it (a TCG boot costs tens of seconds)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyguestfs.builder.appliance import BuildOptions, build
from pyguestfs.host import EVENT_APPLIANCE, GuestFS, GuestFSError

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None,
    reason="qemu-system-x86_64 is not installed (ci/setup.sh installs it)",
)


@pytest.fixture(scope="session")
def cachedir(tmp_path_factory: pytest.TempPathFactory) -> str:
    # The developer's own cache when there is one (builds are minutes under load); else a
    # fresh one for this run.
    base = os.environ.get("PYGUESTFS_TEST_CACHEDIR") or str(tmp_path_factory.mktemp("cache"))
    os.makedirs(base, exist_ok=True)
    return base


@pytest.fixture(scope="session")
def appliance(cachedir: str) -> Path:
    return build(BuildOptions(cachedir=cachedir)).directory


@pytest.fixture(scope="session")
def console() -> list[str]:
    return []


@pytest.fixture(scope="session")
def booted(
    appliance: Path, cachedir: str, console: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuestFS]:
    """One launched handle: a 256 MiB scratch disk and a second, read-only disk."""
    ro = tmp_path_factory.mktemp("ro") / "ro.img"
    with open(ro, "wb") as f:
        f.truncate(64 << 20)
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    g.set_verbose(True)  # the console shows every boot stage (checked below)
    g.set_event_callback(lambda ev, eh, buf, arr: console.append(buf.decode()), EVENT_APPLIANCE)
    g.add_drive_scratch(256 << 20)
    g.add_drive_opts(str(ro), format="raw", readonly=True)
    g.launch()
    yield g
    g.close()


def test_artifacts(appliance: Path) -> None:
    kernel = (appliance / "kernel").read_bytes()[:4]
    assert kernel == b"\x7fELF"  # the PVH vmlinux, not the bzImage
    listing = (
        subprocess.run(
            ["cpio", "-it"],
            input=(appliance / "initrd").read_bytes(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert "init" in listing and "modules" in listing
    mods = (appliance / "initrd").read_bytes()
    assert b"virtio_scsi.ko" in mods and b"ext4.ko" in mods
    root = appliance / "root"
    assert root.stat().st_size == 4 << 30
    assert root.stat().st_blocks * 512 < 200 << 20  # sparse
    out = subprocess.run(
        ["debugfs", "-R", "ls -l /usr/lib/pyguestfs/appliance", str(root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "appliance" in out and "_internal" in out


def test_module_order_puts_dependencies_first(appliance: Path) -> None:
    out = (
        subprocess.run(
            ["cpio", "-i", "--to-stdout", "modules"],
            input=(appliance / "initrd").read_bytes(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert out.index("virtio_ring.ko") < out.index("virtio_pci.ko")
    assert out.index("scsi_mod.ko") < out.index("sd_mod.ko")
    assert out.index("jbd2.ko") < out.index("ext4.ko")


def test_rebuild_is_a_noop(cachedir: str, appliance: Path) -> None:
    before = (appliance / "initrd").stat().st_mtime_ns
    result = build(BuildOptions(cachedir=cachedir))
    assert not result.built
    assert (appliance / "initrd").stat().st_mtime_ns == before


def test_fixed_appliance_output(cachedir: str, appliance: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed"
    build(BuildOptions(cachedir=cachedir, output=str(out)))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "README.fixed",
        "initrd",
        "kernel",
        "root",
    ]
    assert "LIBGUESTFS_PATH" in (out / "README.fixed").read_text()
    assert (out / "root").stat().st_blocks * 512 < 200 << 20  # still sparse


def test_boot_stages_in_order(booted: GuestFS, console: list[str]) -> None:
    text = "".join(console)
    stages = [
        "Linux version",
        "mini-init: ",
        "insmod virtio_scsi",
        "picked /sys/block/",
        "creating /dev/root as block special",
        "mounting new root on /root",
        "chroot",
        "Starting /init script ...",
    ]
    positions = [text.find(s) for s in stages]
    assert all(p >= 0 for p in positions), [
        s for s, p in zip(stages, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions)


def test_devices_and_appliance_disk_hidden(booted: GuestFS) -> None:
    assert booted.list_devices() == ["/dev/sda", "/dev/sdb"]
    assert booted.blockdev_getsize64("/dev/sda") == 256 << 20
    assert booted.blockdev_getsize64("/dev/sdb") == 64 << 20


def test_partition_format_mount_and_files(booted: GuestFS, tmp_path: Path) -> None:
    g = booted
    g.part_disk("/dev/sda", "mbr")
    assert g.list_partitions() == ["/dev/sda1"]
    parts = g.part_list("/dev/sda")
    assert parts[0]["part_num"] == 1 and parts[0]["part_start"] == 128 * 512
    g.mkfs("ext4", "/dev/sda1", label="data")
    assert g.vfs_type("/dev/sda1") == "ext4"
    g.mount("/dev/sda1", "/")
    assert g.mounts() == ["/dev/sda1"]
    assert g.mountpoints() == {"/dev/sda1": "/"}
    g.mkdir_p("/a/b")
    g.write("/a/b/f", b"hello")
    assert g.cat("/a/b/f") == "hello"
    assert g.ls("/") == ["a", "lost+found"]
    assert g.statvfs("/")["blocks"] > 0
    data = os.urandom(8 << 20)
    src = tmp_path / "src"
    src.write_bytes(data)
    g.upload(str(src), "/blob")
    back = tmp_path / "back"
    g.download("/blob", str(back))
    assert back.read_bytes() == data
    assert g.checksum("sha256", "/blob") == hashlib.sha256(data).hexdigest()
    g.tar_out("/a", str(tmp_path / "a.tar"), compress="gzip")
    g.mkdir("/restored")
    g.tar_in(str(tmp_path / "a.tar"), "/restored", compress="gzip")
    assert g.cat("/restored/b/f") == "hello"
    with pytest.raises(GuestFSError) as info:
        g.rmdir("/missing")
    assert info.value.errno_name == "ENOENT"
    g.umount("/")
    assert g.mounts() == []


def test_read_only_drive_writes_go_to_an_overlay(booted: GuestFS, tmp_path: Path) -> None:
    g = booted
    g.mkfs("ext2", "/dev/sdb")
    g.mount("/dev/sdb", "/")
    g.write("/x", b"in the overlay")
    g.umount_all()
    # The image on the host is untouched: still all zeros where mkfs wrote.
    with open(tmp_path.parent / "ro0" / "ro.img", "rb") as f:
        assert f.read(4096).count(0) == 4096


def test_device_names_are_checked(booted: GuestFS) -> None:
    with pytest.raises(GuestFSError) as info:
        booted.blockdev_getsize64("/dev/sdz")
    assert info.value.errno_name == "ENOENT"
    assert booted.ping_daemon() is None
