"""Pieces of the launch that need no VM: the qemu command line, the accelerator choice
and the cache directory's safety checks."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from pyguestfs.builder.cache import cache_root, check_owned, locked, publish, staging_dir
from pyguestfs.builder.errors import BuildError
from pyguestfs.vm.accel import choose_accel
from pyguestfs.vm.qemu import COLD_BOOT, Drive, LaunchPlan, MachineConfig, qemu_argv


def _config(**kw: object) -> MachineConfig:
    base: dict[str, object] = dict(
        qemu="qemu-system-x86_64", kernel="/k", initrd="/i", root="/r", root_uuid="0123-abcd"
    )
    base.update(kw)
    return MachineConfig(**base)  # type: ignore[arg-type]


def _argv(
    config: MachineConfig, channel: str, plan: LaunchPlan = COLD_BOOT, qmp: str | None = None
) -> list[str]:
    return qemu_argv(config, plan, channel, qmp)


def test_command_line_shape() -> None:
    argv = _argv(
        _config(drives=[Drive("/d0.img", format="raw"), Drive("/d1,x.qcow2", readonly=True)]),
        "/s/guestfsd.sock",
    )
    line = " ".join(argv)
    assert argv[0] == "qemu-system-x86_64"
    assert "-nodefaults" in argv and "-no-reboot" in argv
    assert "q35,accel=tcg" in argv and "max" in argv
    # user drives first, in order, then the appliance disk last
    assert line.index("id=hd0") < line.index("id=hd1") < line.index("id=appliance")
    assert "file=/d1,,x.qcow2,snapshot=on" in line  # commas escaped; read-only = overlay
    assert "scsi-id=2,lun=0" in line  # the appliance after the two user disks
    assert "socket,path=/s/guestfsd.sock,id=channel0" in line
    assert "name=org.libguestfs.channel.0" in line
    append = argv[argv.index("-append") + 1]
    assert "root=UUID=0123-abcd" in append and "panic=1" in append and "quiet" in append


def test_verbose_and_virtio_blk() -> None:
    argv = _argv(_config(verbose=True, drives=[Drive("/d", iface="virtio", label="data")]), "/s")
    assert "guestfs_verbose=1" in argv[-1] and "quiet" not in argv[-1]
    assert "virtio-blk-pci,drive=hd0,serial=data" in argv


def test_snapshot_and_restore_command_lines() -> None:
    """The VM that makes a snapshot writes its RAM through to the file; a restore maps it
    copy-on-write, waits for the stream (QMP) and loads no kernel, initrd or cmdline."""
    save = _argv(_config(), "/s", LaunchPlan(ram_file="/c/ram,1", ram_shared=True))
    assert "q35,accel=tcg,memory-backend=pyguestfs-ram" in save
    assert "memory-backend-file,id=pyguestfs-ram,size=1280M,mem-path=/c/ram,,1,share=on" in save
    assert "-kernel" in save and "-incoming" not in save
    restore = _argv(_config(), "/s", LaunchPlan(ram_file="/c/ram", incoming=True))
    assert "memory-backend-file,id=pyguestfs-ram,size=1280M,mem-path=/c/ram,share=off" in restore
    assert restore[restore.index("-incoming") + 1] == "defer"
    assert not {"-kernel", "-initrd", "-append"} & set(restore)
    assert "memory-backend" not in " ".join(_argv(_config(), "/s"))  # a plain boot: anonymous RAM


def test_qemu_connects_to_the_hosts_monitor_socket() -> None:
    """The host listens for QMP as for the channel, so it never polls for qemu's socket."""
    argv = _argv(_config(), "/s/guestfsd.sock", LaunchPlan(monitor=True), "/s/qmp.sock")
    assert argv[argv.index("-mon") + 1] == "chardev=qmp,mode=control"
    assert "socket,path=/s/qmp.sock,id=qmp,server=off" in argv
    assert "-qmp" not in argv and "-mon" not in _argv(_config(), "/s/guestfsd.sock")


def test_qemu_dying_before_its_monitor_connects_is_a_clear_launch_error(tmp_path: Path) -> None:
    from pyguestfs.vm.machine import LaunchError, Machine

    fake = tmp_path / "qemu"
    fake.write_text("#!/bin/sh\necho 'qemu: cannot map the RAM file' >&2\nexit 1\n")
    fake.chmod(0o755)
    config = _config(qemu=str(fake))
    machine = Machine(config, LaunchPlan(monitor=True), tmpdir=str(tmp_path))
    with pytest.raises(LaunchError) as info:
        machine.start(60, on_spawned=lambda: machine.monitor(60) and None)
    assert "qemu exited during launch" in str(info.value)  # not the 60 s timeout
    assert "cannot map the RAM file" in str(info.value)  # the console says why
    assert info.value.status == 1
    assert not os.path.exists(machine.sockdir)  # both listeners and their directory are gone


#: A stand-in for qemu: connects to the channel socket as qemu does, closes it, writes a
#: line to its console and closes that too, then lingers (as a qemu whose guest has just
#: panicked does) and exits 7.
FAKE_QEMU_CLOSING_THE_CHANNEL = """\
import os, socket, sys, time
arg = next(a for a in sys.argv if a.startswith("socket,path=") and a.endswith(",id=channel0"))
s = socket.socket(socket.AF_UNIX)
s.connect(arg[len("socket,path="):-len(",id=channel0")].replace(",,", ","))
s.close()
print("fake qemu: the guest is gone", flush=True)
os.close(1)
os.close(2)
time.sleep(0.5)
os._exit(7)
"""


def test_launch_error_carries_qemus_status_when_the_channel_closes_first(
    tmp_path: Path,
) -> None:
    """The appliance can close the channel while qemu is still exiting: the error waits
    for qemu (bounded), so it carries qemu's real exit status, never "still running"."""
    from pyguestfs.vm.machine import LaunchError, Machine

    fake = tmp_path / "qemu"
    fake.write_text(f"#!{sys.executable}\n{FAKE_QEMU_CLOSING_THE_CHANNEL}")
    fake.chmod(0o755)
    machine = Machine(_config(qemu=str(fake)), tmpdir=str(tmp_path))
    with machine, pytest.raises(LaunchError) as info:
        machine.start(60)
    assert "closed the channel before the agent was ready" in str(info.value)
    assert info.value.status == 7
    assert "qemu (exit status 7)" in str(info.value)
    assert "the guest is gone" in info.value.console
    assert not os.path.exists(machine.sockdir)


def test_socket_paths_fit_however_long_the_socket_directory(tmp_path: Path) -> None:
    """A Unix socket path has 107 usable bytes: under a longer directory the sockets go
    to a short private directory under /tmp instead, as libguestfs's do."""
    from pyguestfs.core import rundir
    from pyguestfs.vm.machine import Machine

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert not rundir.fits(str(deep / "pyguestfs-XXXXXXXX" / "guestfsd.sock"))
    with Machine(_config(), LaunchPlan(monitor=True), tmpdir=str(deep)) as machine:
        assert machine.qmp_path is not None
        for path in (machine.socket_path, machine.qmp_path):
            assert rundir.fits(path) and os.path.dirname(path) == machine.sockdir
        assert os.path.dirname(machine.sockdir) == rundir.FALLBACK_BASE
        st = os.stat(machine.sockdir)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
        assert f"socket,path={machine.socket_path},id=channel0" in machine.argv
    assert not os.path.exists(machine.sockdir)  # the with block removed it
    with rundir.private() as short, Machine(_config(), tmpdir=short) as machine:
        assert os.path.dirname(machine.sockdir) == short  # room enough: used as asked


def test_private_dir_skips_unusable_places(tmp_path: Path) -> None:
    from pyguestfs.core import rundir

    missing = str(tmp_path / "missing")
    with rundir.private() as short:  # a short place, whatever the test's TMPDIR
        with rundir.private(preferred=[None, "", missing, short]) as d:
            assert os.path.dirname(d) == short
        assert not os.path.exists(d)


def test_the_users_settings_are_frozen_and_the_launch_plan_apart() -> None:
    config = _config(drives=[Drive("/d")])
    assert config.drives == (Drive("/d"),)  # a list given is kept as a tuple
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.memsize = 4096  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        LaunchPlan().incoming = True  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"QMP socket path goes with plan\.monitor"):
        qemu_argv(config, LaunchPlan(monitor=True), "/s")


def test_sandbox_support_is_asked_once_per_qemu_binary(tmp_path: Path) -> None:
    from pyguestfs.vm.qemu import qemu_has_sandbox

    fake = tmp_path / "qemu"
    fake.write_text("#!/bin/sh\necho\necho '-sandbox on|off'\n")
    fake.chmod(0o755)
    assert qemu_has_sandbox(str(fake), str(tmp_path)) is True
    cached = json.loads((tmp_path / "qemu-sandbox.json").read_text())
    assert cached["sandbox"] is True and cached["qemu"][0] == str(fake)
    # The answer comes from the cache while the binary is the same file...
    (tmp_path / "qemu-sandbox.json").write_text(json.dumps({**cached, "sandbox": False}))
    qemu_has_sandbox.cache_clear()
    assert qemu_has_sandbox(str(fake), str(tmp_path)) is False
    # ... and the binary is asked again once it changed.
    fake.write_text("#!/bin/sh\necho 'no such option here'\n")
    qemu_has_sandbox.cache_clear()
    assert qemu_has_sandbox(str(fake), str(tmp_path)) is False
    assert json.loads((tmp_path / "qemu-sandbox.json").read_text())["qemu"] != cached["qemu"]


def test_forced_accelerators_skip_the_probe(tmp_path: Path) -> None:
    assert choose_accel("/nonexistent-qemu", "/k", ["force_tcg"], str(tmp_path)) == (
        "tcg",
        "force_tcg",
    )
    assert choose_accel("/nonexistent-qemu", "/k", ["force_kvm"], None)[0] == "kvm"


def test_cached_verdict_is_used(tmp_path: Path) -> None:
    from pyguestfs.vm import accel

    key = accel._cache_key("/q") + "|" + accel._cache_key("/k")
    (tmp_path / "kvm-verdict.json").write_text(
        json.dumps({"key": key, "works": False, "why": "probed earlier"})
    )
    assert choose_accel("/q", "/k", [], str(tmp_path)) == ("tcg", "cached: probed earlier")


def test_cache_root_is_created_and_checked(tmp_path: Path) -> None:
    root = cache_root({"LIBGUESTFS_CACHEDIR": str(tmp_path)})
    assert root == tmp_path / f".guestfs-{os.geteuid()}"
    os.chmod(root, 0o775)
    with pytest.raises(BuildError, match="writable by group or others"):
        check_owned(root)
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        os.chown(root, 65534, 65534)
        with pytest.raises(BuildError, match="owned by uid 65534"):
            check_owned(root)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(BuildError, match="not a directory"):
        check_owned(link)


def test_lock_makes_builders_queue(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    order: list[str] = []
    first_in, first_may_leave = threading.Event(), threading.Event()

    def first() -> None:
        with locked(lock):
            order.append("a-in")
            first_in.set()
            first_may_leave.wait(60)
            order.append("a-out")

    def second() -> None:
        with locked(lock):
            order.append("b-in")

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(60)
    # While a builder holds the lock, no one else can take it (an open file of its own,
    # as another process would have) ...
    fd = os.open(lock, os.O_WRONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    # ... so the second builder waits for the first to leave.
    b = threading.Thread(target=second)
    b.start()
    first_may_leave.set()
    a.join()
    b.join()
    assert order == ["a-in", "a-out", "b-in"]


def test_publish_is_atomic_and_failed_builds_leave_nothing(tmp_path: Path) -> None:
    target = tmp_path / "appliance.d"
    with staging_dir(target) as tmp:
        (tmp / "kernel").write_text("v1")
    publish(tmp, target)
    assert (target / "kernel").read_text() == "v1"
    with pytest.raises(RuntimeError), staging_dir(target) as tmp2:
        (tmp2 / "kernel").write_text("half")
        raise RuntimeError("build failed")
    assert not tmp2.exists()
    assert (target / "kernel").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["appliance.d"]


# ---------------------------------------------------------------- the guestfsd build


def test_the_daemon_choice_is_checked_and_cached_apart() -> None:
    from pyguestfs.builder.appliance import entry_name

    assert entry_name("pyguestfs") == "appliance.d"
    assert entry_name("guestfsd") == "appliance-guestfsd.d"
    with pytest.raises(BuildError) as info:
        entry_name("systemd")
    assert "unknown daemon 'systemd'" in info.value.message and "guestfsd" in info.value.hint


def test_a_guestfsd_build_without_libguestfs0_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyguestfs.builder import guestfsd

    monkeypatch.setattr(guestfsd, "DAEMON_TARBALL", tmp_path / "daemon.tar.gz")
    with pytest.raises(BuildError) as info:
        guestfsd.identity()
    assert "daemon.tar.gz is missing" in info.value.message
    assert "libguestfs-tools" in info.value.hint
    (tmp_path / "daemon.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(BuildError) as info:
        guestfsd.extract(tmp_path)
    assert "cannot extract usr/sbin/guestfsd" in info.value.message


def test_a_fixed_appliance_records_its_daemon(tmp_path: Path) -> None:
    from pyguestfs.builder.appliance import fixed_daemon

    assert fixed_daemon(tmp_path) == "unknown"  # e.g. libguestfs's own fixed appliance
    (tmp_path / ".pyguestfs-key").write_text("k\n")
    assert fixed_daemon(tmp_path) == "pyguestfs"  # written before the record existed
    (tmp_path / ".pyguestfs-daemon").write_text("guestfsd\n")
    assert fixed_daemon(tmp_path) == "guestfsd"


def test_the_fast_key_sees_edits_in_subpackages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast (metadata) key decides whether the full check runs at all: an edit in
    # agent/api/ or protocol/table/ must change it, or the appliance keeps the old agent.
    from pyguestfs.builder import appliance
    from pyguestfs.builder.appliance import BuildOptions, fast_key

    for sub in (*appliance.GUEST_PARTS, "builder"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "__init__.py").write_text("")
    (tmp_path / "agent/api").mkdir()
    family = tmp_path / "agent/api/zero.py"
    family.write_text("A = 1\n")
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setattr(appliance, "REPO", tmp_path)
    before = fast_key(BuildOptions())
    assert fast_key(BuildOptions()) == before
    family.write_text("A = 22\n")
    assert fast_key(BuildOptions()) != before
