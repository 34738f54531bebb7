"""The agent's shared core without a VM: argument resolution by kind (agent/resolve.py),
the one program runner (agent/runner.py) and the guest helpers (agent/guest.py). The boot
tests exercise the same code on the appliance's real disks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyguestfs.agent import runner
from pyguestfs.agent.errors import AgentError
from pyguestfs.agent.guest import mounts_under, split_lines, unescape_mount_field
from pyguestfs.agent.resolve import Device, GuestPath, Mountable, Resolver
from pyguestfs.agent.sysroot import Sysroot
from pyguestfs.protocol.procedures import BY_NAME


class FakeDevices:
    """The part of DeviceMap the resolver uses: user disk sda is the kernel's vdb."""

    root_dev = 0

    def translate(self, name: str) -> str:
        return name.replace("/dev/sda", "/dev/vdb")

    def reverse(self, node: str) -> str:
        return node.replace("/dev/vdb", "/dev/sda")


@pytest.fixture
def standalone(tmp_path: Path) -> Resolver:
    return Resolver(None, Sysroot(str(tmp_path)))


def _err(fn: Any, *args: Any, **kwargs: Any) -> AgentError:
    with pytest.raises(AgentError) as info:
        fn(*args, **kwargs)
    return info.value


def test_pathname_is_checked_and_bound_to_the_sysroot(standalone: Resolver, tmp_path: Path) -> None:
    args = standalone.resolve(BY_NAME["mkdir"], {"path": "/a/b"})
    path = args["path"]
    assert isinstance(path, GuestPath) and path == "/a/b"
    assert path.host() == str(tmp_path / "a" / "b")
    err = _err(standalone.resolve, BY_NAME["mkdir"], {"path": "a/b"})
    assert err.message == "mkdir_stub: path must start with a / character"


def test_pathname_needs_a_mounted_root(tmp_path: Path) -> None:
    resolver = Resolver(None, Sysroot(str(tmp_path), mount_required=True))
    err = _err(resolver.resolve, BY_NAME["mkdir"], {"path": "/a"})
    assert err.message == "mkdir_stub: you must call 'mount' first to mount the root filesystem"


def test_device_without_disks_is_enoent(standalone: Resolver) -> None:
    err = _err(standalone.resolve, BY_NAME["blockdev_getsz"], {"device": "/dev/sda"})
    assert (err.message, err.errno_name) == (
        "blockdev_getsz_stub: /dev/sda: No such file or directory",
        "ENOENT",
    )


def test_device_that_is_not_a_block_device(tmp_path: Path) -> None:
    resolver = Resolver(FakeDevices(), Sysroot(str(tmp_path)))  # type: ignore[arg-type]
    err = _err(resolver.resolve, BY_NAME["blockdev_getsz"], {"device": "/dev/null"})
    assert err.message == "blockdev_getsz_stub: /dev/null: expecting a device name"


def test_dev_or_path_takes_a_path_when_not_a_device(standalone: Resolver) -> None:
    args = standalone.resolve(BY_NAME["is_dir"], {"path": "/etc"})
    assert isinstance(args["path"], GuestPath)


def test_filename_lists_refuse_slashes(standalone: Resolver) -> None:
    proc = BY_NAME["internal_lstatnslist"]
    err = _err(standalone.resolve, proc, {"path": "/d", "names": ["ok", "a/b"]})
    assert err.message == "internal_lstatnslist_stub: 'a/b' is not a file name"


def test_btrfsvol_needs_a_device_and_a_volume(standalone: Resolver) -> None:
    err = _err(standalone.mountable, "mount_stub", "btrfsvol:nodev")
    assert err.message == "mount_stub: btrfsvol:nodev: expecting a btrfs volume"


def test_resolved_values_read_as_the_users_text(tmp_path: Path) -> None:
    dev = Device("/dev/sda1", "/dev/vdb1")
    assert dev == "/dev/sda1" and f"{dev}" == "/dev/sda1" and dev.node == "/dev/vdb1"
    m = Mountable("btrfsvol:/dev/sda1/sub", device=dev, volume="sub")
    assert m.is_btrfsvol and m.device is dev


def test_replies_name_devices_as_the_user_does(tmp_path: Path) -> None:
    resolver = Resolver(FakeDevices(), Sysroot(str(tmp_path)))  # type: ignore[arg-type]
    assert resolver.reverse_result(BY_NAME["list_filesystems"], [("/dev/vdb1", "ext4")]) == [
        ("/dev/sda1", "ext4")
    ]
    assert resolver.reverse_result(BY_NAME["part_to_dev"], "/dev/vdb") == "/dev/sda"
    assert resolver.reverse_result(BY_NAME["readlink"], "/dev/vdb") == "/dev/vdb"  # plain string


def test_runner_words_each_failure_once() -> None:
    err = _err(runner.run, ["pyguestfs-no-such-program"])
    assert err.message == "pyguestfs-no-such-program: command not found in the appliance"
    assert err.errno_name == "ENOENT"
    err = _err(runner.run, ["sh", "-c", "kill -9 $$"])
    assert err.message == "external command ‘sh’ killed by signal 9"  # noqa: RUF001
    err = _err(runner.run, ["sh", "-c", "exit 3"])
    assert err.message == "sh exited with status 3"
    err = _err(runner.run, ["sh", "-c", "echo bad >&2; exit 1"], error="tool: {err}")
    assert err.message == "tool: bad"


def test_runner_fold_feed_and_status() -> None:
    done = runner.run(["sh", "-c", "echo out; echo err >&2; exit 2"], fold=True, check=False)
    assert (done.status, done.out, done.err) == (2, "", "out\nerr")
    assert runner.run(["cat"], stdin=b"fed").out == "fed"
    assert runner.run(["echo", "/x"], rewrite=lambda t: t.replace("/x", "/y")).out == "/y\n"


def test_mount_fields_unescape_every_octal_escape(tmp_path: Path) -> None:
    assert unescape_mount_field(r"/a\040b\011c\012d\134e") == "/a b\tc\nd\\e"
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext2 rw 0 0\n"
        "/dev/vdb1 /sysroot ext4 rw 0 0\n"
        "/dev/vdb2 /sysroot/my\\040dir ext4 ro 0 0\n"
        "/dev/vdb3 /sysrootx ext4 rw 0 0\n"
    )
    under = mounts_under("/sysroot", str(mounts))
    assert [(m.source, m.target, m.options) for m in under] == [
        ("/dev/vdb1", "/sysroot", "rw"),
        ("/dev/vdb2", "/sysroot/my dir", "ro"),
    ]


def test_split_lines_as_guestfsd() -> None:
    assert split_lines("") == []
    assert split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\n\nb") == ["a", "", "b"]
