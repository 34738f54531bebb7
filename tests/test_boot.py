"""Boot tests: the real appliance (built from this machine's kernel and packages) under
qemu, with the real agent inside. One appliance is built and one VM booted per test
session; every test here shares it (a TCG boot costs tens of seconds)."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_qemu

from pyguestfs.builder.appliance import BuildOptions, build
from pyguestfs.host import EVENT_APPLIANCE, GuestFS, GuestFSError


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
    g.set_warm_launch(False)  # ... which a restored snapshot would skip
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
    build(BuildOptions(cachedir=cachedir, output=str(out)))  # again, over itself
    assert sorted(p.name for p in out.iterdir()) == [
        ".pyguestfs-daemon",  # which daemon the root runs (read by launch())
        ".pyguestfs-key",
        "README.fixed",
        "initrd",
        "kernel",
        "root",
    ]
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


def test_initrd_is_byte_reproducible(appliance: Path, tmp_path: Path) -> None:
    from pyguestfs.builder import appliance as app
    from pyguestfs.builder.kernel import find_kernel
    from pyguestfs.builder.modules import resolve_modules

    kernel = find_kernel()
    modules = resolve_modules(kernel.modules_dir, patterns=app.APPLIANCE_MODULES)
    program = app._frozen_program(appliance.parent)
    app._make_initrd(modules, program, tmp_path / "a")
    app._make_initrd(modules, program, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert (tmp_path / "a").read_bytes() == (appliance / "initrd").read_bytes()


def _seeded_cache(appliance: Path, tmp_path: Path) -> str:
    """A new cache that already holds the frozen program (freezing takes ~20 s), so a
    test pays only for the appliance build itself."""
    base = tmp_path / "cache"
    frozen = base / f".guestfs-{os.geteuid()}" / "pyguestfs" / "frozen"
    shutil.copytree(appliance.parent / "frozen", frozen, symlinks=True)
    os.chmod(base / f".guestfs-{os.geteuid()}", 0o755)
    return str(base)


def test_changed_input_rebuilds_and_says_why(appliance: Path, tmp_path: Path) -> None:
    from pyguestfs.builder.kernel import find_kernel

    cachedir = _seeded_cache(appliance, tmp_path)
    first = build(BuildOptions(cachedir=cachedir))
    assert first.built
    # The same kernel under another name is another input: the appliance is rebuilt.
    copy = tmp_path / "vmlinuz-copy"
    shutil.copy2(find_kernel().path, copy)
    second = build(
        BuildOptions(cachedir=cachedir, kernel=str(copy), modules=find_kernel().modules_dir)
    )
    assert second.built and "kernel changed" in second.why
    third = build(
        BuildOptions(cachedir=cachedir, kernel=str(copy), modules=find_kernel().modules_dir)
    )
    assert not third.built


def test_damaged_cache_entry_is_detected_and_rebuilt(appliance: Path, tmp_path: Path) -> None:
    from pyguestfs.builder.appliance import entry_damage

    cachedir = _seeded_cache(appliance, tmp_path)
    entry = build(BuildOptions(cachedir=cachedir)).directory
    manifest = json.loads((entry / "manifest.json").read_text())
    assert entry_damage(entry, manifest) == ""
    # A root cut short (a full disk while copying, a killed rsync) ...
    with open(entry / "root", "r+b") as f:
        f.truncate(manifest["files"]["root"] // 2)
    again = build(BuildOptions(cachedir=cachedir))
    assert again.built and "damaged (root is" in again.why, again.why
    # ... or a kernel overwritten in place, same size: caught by what it starts with.
    with open(entry / "kernel", "r+b") as f:
        f.write(b"\0" * 4096)
    third = build(BuildOptions(cachedir=cachedir))
    assert third.built and "kernel is neither" in third.why, third.why
    assert entry_damage(entry, json.loads((entry / "manifest.json").read_text())) == ""


def test_concurrent_builders_build_once(appliance: Path, tmp_path: Path) -> None:
    from pyguestfs.builder.appliance import entry_damage

    cachedir = _seeded_cache(appliance, tmp_path)
    argv = [sys.executable, "-m", "pyguestfs.builder.cli", "--cachedir", cachedir, "--json"]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)
    ]
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["built"] for r in results) == [False, False, False, True]
    assert len({r["cache_key"] for r in results}) == 1
    entry = Path(results[0]["directory"])
    assert entry_damage(entry, json.loads((entry / "manifest.json").read_text())) == ""
    leftovers = [
        p.name
        for p in (Path(results[0]["directory"]).parent).iterdir()
        if p.name.startswith(".appliance.d")
    ]
    assert leftovers == []


def test_cli_noop_and_errors(appliance: Path, cachedir: str, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "pyguestfs.builder.cli", "--cachedir", cachedir]
    r = subprocess.run(cli, capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "up to date" in r.stdout
    r = subprocess.run(
        [*cli, "--kernel", str(tmp_path / "missing")], capture_output=True, text=True, check=False
    )
    assert r.returncode == 1
    assert "missing" in r.stderr and "hint:" in r.stderr
    r = subprocess.run([*cli, "--if-newer"], capture_output=True, text=True, check=False)
    assert r.returncode == 2


@needs_qemu
def test_launch_failure_reports_argv_status_and_console(appliance: Path, tmp_path: Path) -> None:
    from pyguestfs.vm.machine import LaunchError

    fixed = tmp_path / "broken"
    fixed.mkdir()
    (fixed / "kernel").write_bytes(b"this is not a kernel")
    for name in ("initrd", "root"):
        os.link(appliance / name, fixed / name)
    g = GuestFS()
    g.set_path(str(fixed))
    g.set_backend_settings(["force_tcg"])
    g.add_drive_scratch(1 << 20)
    with pytest.raises(LaunchError) as info:
        g.launch()
    err = info.value
    assert err.status is not None and err.status != 0
    assert "qemu-system-x86_64" in str(err) and str(fixed / "kernel") in str(err)
    assert g.is_config()  # the handle can be launched again after fixing the problem
    g.close()


def test_qemu_dies_with_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pyguestfs.vm.machine import spawn_tied_to_process\n"
        "p = spawn_tied_to_process(['sleep', '300'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    # A pidfd becomes readable when the process ends (a zombie not yet reaped by its new
    # parent counts as ended): the test waits for that event, not for a while.
    pidfd = os.pidfd_open(child)
    try:
        assert not select.select([pidfd], [], [], 0)[0]  # alive
        parent.kill()  # SIGKILL: no cleanup code runs in the parent
        parent.wait()
        # The parent-death signal was sent as the parent died. The wait only bounds a
        # failure (a child that was never tied to its parent would sleep 300 s).
        ended = select.select([pidfd], [], [], 120)[0]
    finally:
        os.close(pidfd)
    assert ended, "the child outlived its parent"


@needs_qemu
@pytest.mark.skipif(
    shutil.which("libguestfs-test-tool") is None,
    reason="libguestfs-tools is not installed (ci/setup.sh installs it)",
)
def test_real_libguestfs_boots_our_appliance(
    cachedir: str, appliance: Path, tmp_path: Path
) -> None:
    """Debian's libguestfs 1.48, its own qemu command line and all, launches our kernel,
    initrd and root from a fixed appliance directory, and our agent serves it."""
    fixed = tmp_path / "fixed"
    build(BuildOptions(cachedir=cachedir, output=str(fixed)))
    env = dict(
        os.environ,
        LIBGUESTFS_PATH=str(fixed),
        LIBGUESTFS_BACKEND="direct",
        LIBGUESTFS_BACKEND_SETTINGS="force_tcg",
        TMPDIR=str(tmp_path),
    )
    r = subprocess.run(
        ["libguestfs-test-tool"], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "===== TEST FINISHED OK =====" in out
    assert "picked /sys/block/" in out and "received GUESTFS_LAUNCH_FLAG" in out
