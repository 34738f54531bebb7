"""The appliance /init without a VM: options, port links, the set-up steps over a scratch
root, and the agent's life cycle (a real fork, with the privileged operations faked)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fake_syscalls import FakeSyscalls, calls_of

from pyguestfs.initrd import appliance_init
from pyguestfs.initrd.appliance_init import (
    DEFAULT_CHANNEL,
    Context,
    Options,
    run,
    setup,
    virtio_port_links,
)

CMDLINE = "panic=1 console=ttyS0 root=UUID=5a28411a-60dc-4ec3-b24c-f6ef803a17e6 TERM=linux"


def make_root(tmp: Path, ports: dict[str, str] | None = None) -> Path:
    """A scratch appliance root with /sys/class/virtio-ports/<dev>/name files."""
    root = tmp / "root"
    for d in ("etc", "sys/class/virtio-ports"):
        (root / d).mkdir(parents=True)
    for dev, name in (ports or {}).items():
        (root / "sys/class/virtio-ports" / dev).mkdir()
        (root / "sys/class/virtio-ports" / dev / "name").write_text(name + "\n")
    return root


def test_options_from_the_kernel_command_line() -> None:
    o = Options(CMDLINE + " guestfs_verbose=1 guestfs_noreboot=1")
    assert (o.verbose, o.quiet, o.noreboot, o.network) == (True, False, True, False)
    assert o.agent_args() == ["--channel", DEFAULT_CHANNEL, "--verbose"]
    o = Options(CMDLINE + " quiet guestfs_channel=/dev/hvc1")
    assert o.quiet and not o.verbose
    assert o.agent_args() == ["--channel", "/dev/hvc1"]


def test_virtio_port_links_skip_unnamed_and_unsafe_names(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {"vport1p1": "org.libguestfs.channel.0", "vport1p2": "", "vport1p3": "../../etc"},
    )
    links = virtio_port_links(os.fspath(root / "sys/class/virtio-ports"))
    assert links == {"org.libguestfs.channel.0": "vport1p1"}
    assert virtio_port_links(os.fspath(tmp_path / "nothing")) == {}


def test_setup_mounts_links_and_directories(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})
    sc = FakeSyscalls()
    ctx = Context(Options(CMDLINE), sc, os.fspath(root))
    assert setup(ctx)
    r = os.fspath(root)
    assert [(c[1], c[2]) for c in calls_of(sc, "mount")] == [
        ("proc", f"{r}/proc"),
        ("sysfs", f"{r}/sys"),
        ("devtmpfs", f"{r}/dev"),
        ("devpts", f"{r}/dev/pts"),
        ("tmpfs", f"{r}/dev/shm"),
        ("tmpfs", f"{r}/run"),
    ]
    assert ("up", "lo") in sc.calls
    assert os.readlink(root / "dev/virtio-ports/org.libguestfs.channel.0") == "../vport1p1"
    assert os.readlink(root / "dev/fd") == "/proc/self/fd"
    assert os.readlink(root / "etc/mtab") == "/proc/mounts"
    for d in ("tmp", "var/tmp"):
        assert stat.S_IMODE((root / d).stat().st_mode) == 0o1777
    # a second run (e.g. /init restarted) changes nothing and does not fail
    assert setup(Context(Options(CMDLINE), FakeSyscalls(), os.fspath(root)))


def test_static_nodes_from_modules_devname(tmp_path: Path) -> None:
    # As libguestfs's /init (kmod static-nodes): the nodes whose open loads a module.
    root = make_root(tmp_path)
    modules = root / "lib/modules" / os.uname().release
    modules.mkdir(parents=True)
    (modules / "modules.devname").write_text(
        "# Device nodes to trigger on-demand module loading.\n"
        "loop loop-control c10:237\ndm_mod mapper/control c10:236\nodd odd x1:2\n"
    )
    (root / "dev").mkdir()
    appliance_init.step_static_nodes(Context(Options(CMDLINE), FakeSyscalls(), str(root)))
    for name, minor in (("loop-control", 237), ("mapper/control", 236)):
        st = (root / "dev" / name).lstat()
        assert stat.S_ISCHR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (10, minor)
    assert sorted(os.listdir(root / "dev")) == ["loop-control", "mapper"]
    # again: the nodes are there, nothing fails
    appliance_init.step_static_nodes(Context(Options(CMDLINE), FakeSyscalls(), str(root)))


def test_setup_does_not_wait_for_a_channel_outside_virtio_ports(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    ctx = Context(Options(CMDLINE + " guestfs_channel=/dev/ttyS1"), FakeSyscalls(), str(root))
    assert setup(ctx)


def test_an_essential_step_failing_stops_the_set_up(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    class NoMounts(FakeSyscalls):
        def mount(self, *args: object, **kwargs: object) -> None:
            raise PermissionError(1, "Operation not permitted")

    ctx = Context(Options(CMDLINE), NoMounts(), os.fspath(make_root(tmp_path)))
    assert not setup(ctx)
    assert "error: mount kernel filesystems" in capfd.readouterr().out


def test_run_forks_the_agent_then_syncs_and_reboots(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})
    proof = tmp_path / "agent-ran"
    sc = FakeSyscalls()

    def agent(opts: Options) -> int:
        # runs in the forked child: prove it got the options, and that it is not PID 1's
        # process
        proof.write_text(f"{opts.channel} {os.getpid()}")
        return 3

    run(agent, cmdline=CMDLINE, sc=sc, root=os.fspath(root))
    channel, pid = proof.read_text().split()
    assert channel == DEFAULT_CHANNEL and int(pid) != os.getpid()
    assert sc.calls[-1] == ("reboot",)
    out = capfd.readouterr().out
    assert "Starting /init script ..." in out
    assert "agent exited with status 3; syncing" in out


def test_run_execs_an_agent_argv(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    sc = FakeSyscalls()
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})
    run(["/bin/sh", "-c", "exit 5"], cmdline=CMDLINE, sc=sc, root=os.fspath(root))
    assert "agent exited with status 5" in capfd.readouterr().out
    assert sc.calls[-1] == ("reboot",)


def test_an_agent_that_raises_exits_1_and_the_vm_still_reboots(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sc = FakeSyscalls()
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})

    def agent(opts: Options) -> int:
        raise RuntimeError("boom")

    run(agent, cmdline=CMDLINE + " quiet", sc=sc, root=os.fspath(root))
    out = capfd.readouterr().out
    assert "agent failed: RuntimeError: boom" in out
    assert "Starting /init" not in out  # quiet
    assert sc.calls[-1] == ("reboot",)


def test_failed_set_up_skips_the_agent_but_reboots(tmp_path: Path) -> None:
    class NoMounts(FakeSyscalls):
        def mount(self, *args: object, **kwargs: object) -> None:
            raise PermissionError(1, "Operation not permitted")

    sc = NoMounts()
    started: list[int] = []
    run(lambda o: started.append(1) or 0, cmdline=CMDLINE, sc=sc, root=str(make_root(tmp_path)))
    assert started == [] and sc.calls[-1] == ("reboot",)


def test_entry_points_refuse_to_run_unless_pid_1(capfd: pytest.CaptureFixture[str]) -> None:
    assert appliance_init.main(["/bin/true"]) == 2
    assert appliance_init.boot(lambda: ["/bin/true"]) == 2
    assert "not PID 1" in capfd.readouterr().out


def test_a_channel_port_that_never_appears_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(appliance_init, "PORT_TIMEOUT", 0.05)
    ctx = Context(Options(CMDLINE), FakeSyscalls(), os.fspath(make_root(tmp_path)))
    assert setup(ctx)  # the agent reports the missing channel itself
    assert f"warning: {DEFAULT_CHANNEL} did not appear within 0.05 s" in capfd.readouterr().out


def test_by_path_names_are_udevs() -> None:
    scsi = "/sys/devices/pci0000:00/0000:00:03.0/virtio2/host0/target0:0:1:0/0:0:1:0/block/sdb"
    assert appliance_init.by_path_name(scsi) == "pci-0000:00:03.0-scsi-0:0:1:0"
    blk = "/sys/devices/pci0000:00/0000:00:05.0/virtio4/block/vda"
    assert appliance_init.by_path_name(blk) == "pci-0000:00:05.0"
    assert appliance_init.by_path_name("/sys/devices/virtual/block/loop0") is None


def _fake_disk(root: Path, name: str, target: int) -> None:
    device = (
        root
        / "sys/devices/pci0000:00/0000:00:03.0/virtio2/host0"
        / f"target0:0:{target}"
        / f"0:0:{target}:0"
        / "block"
        / name
    )
    device.mkdir(parents=True)
    (root / "sys/block").mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(device, root / "sys/block"), root / "sys/block" / name)


def test_a_build_for_guestfsd_execs_it_prepared_as_libguestfs_does(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LVM_SYSTEM_DIR", "restored-after-the-test")
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})
    for name, target in (("sda", 0), ("sdb", 1), ("sdc", 10)):
        _fake_disk(root, name, target)
    (root / "sys/block/loop0").mkdir()
    proof = tmp_path / "daemon-ran"
    daemon = tmp_path / "fake-guestfsd"
    daemon.write_text(f'#!/bin/sh\necho "$* $LVM_SYSTEM_DIR" > {proof}\nexit 4\n')
    daemon.chmod(0o755)
    (root / "etc/pyguestfs").mkdir()
    (root / "etc/pyguestfs/daemon").write_text(f"{daemon}\n")

    run(lambda opts: 99, cmdline=CMDLINE, sc=FakeSyscalls(), root=os.fspath(root))

    assert proof.read_text().split() == ["-c", DEFAULT_CHANNEL, "/tmp/lvm"]
    assert "use_devicesfile = 0" in (root / "tmp/lvm/lvm.conf").read_text()
    by_path = root / "dev/disk/by-path"
    # guestfsd orders disks by `ls -1v` of these names: target 10 after target 1.
    links = {p.name: os.readlink(p) for p in by_path.iterdir()}
    assert links == {
        "pci-0000:00:03.0-scsi-0:0:0:0": "../../sda",
        "pci-0000:00:03.0-scsi-0:0:1:0": "../../sdb",
        "pci-0000:00:03.0-scsi-0:0:10:0": "../../sdc",
    }
    assert "agent exited with status 4" in capfd.readouterr().out


def test_an_unreadable_daemon_marker_fails_the_boot_rather_than_serve_our_agent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_root(tmp_path, {"vport1p1": "org.libguestfs.channel.0"})
    (root / "etc/pyguestfs/daemon").mkdir(parents=True)  # a directory: EISDIR
    ran = tmp_path / "agent-ran"
    sc = FakeSyscalls()
    run(lambda opts: ran.write_text("x") and 0, cmdline=CMDLINE, sc=sc, root=os.fspath(root))
    assert not ran.exists()
    out = capfd.readouterr().out
    assert "error: preparing the build's daemon" in out
    assert "agent exited with status 1" in out
    assert sc.calls[-1] == ("reboot",)
