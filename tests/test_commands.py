"""command, command_lines, sh, sh_lines in a booted appliance, on a guest made here.

The guest is an ext4 filesystem holding the least that runs: this host's dash as /bin/sh,
echo and cat, and the libraries ``ldd`` lists for them, unpacked with tar_in. Commands run
chrooted into it with the appliance's /dev, /proc and /sys bound in only while they run
(libguestfs 1.48's daemon/sh.c). compress_device_out, which needs a block device, is
tested here too, on a second small disk.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import launch_vm, needs_qemu

from pyguestfs.host import GuestFS, GuestFSError

# A TCG guest on a shared machine: the guest set-up alone can take minutes.
pytestmark = [needs_qemu, pytest.mark.timeout(1200)]

#: The guest's programs: where they go in the guest, where they come from on this host.
PROGRAMS = {"bin/sh": "/bin/dash", "bin/echo": "/bin/echo", "bin/cat": "/bin/cat"}
#: Empty directories of the guest; dev, proc and sys are the bind mount points.
DIRS = ("dev", "proc", "sys", "etc", "tmp")

_LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)$")


def _libraries(program: str) -> list[str]:
    """The shared libraries and the loader ``ldd`` lists for a program, as absolute paths."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        m = _LDD_PATH.search(line.strip())
        if m:
            found.append(m.group(1))
    return found


def guest_tarball() -> bytes:
    """A tar of the minimal runnable tree (symlinks on the host dereferenced)."""
    if shutil.which("ldd") is None or not all(os.path.exists(p) for p in PROGRAMS.values()):
        pytest.skip("this host lacks dash, echo, cat or ldd to build a guest from")
    files = dict(PROGRAMS)
    for program in PROGRAMS.values():
        for lib in _libraries(program):
            files[lib.lstrip("/")] = lib
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tf:
        for d in DIRS:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        for inside, host in sorted(files.items()):
            tf.add(host, arcname=inside)
    return buf.getvalue()


@pytest.fixture(scope="module")
def vm(appliance: Path, cachedir: str) -> Iterator[GuestFS]:
    """The appliance with a 256 MiB disk for the guest and a 4 MiB one for
    compress_device_out; nothing mounted yet."""
    g = launch_vm(cachedir, scratch=(256 << 20, 4 << 20))
    yield g
    g.close()


@pytest.fixture(scope="module")
def guest(vm: GuestFS, tmp_path_factory: pytest.TempPathFactory) -> GuestFS:
    """The guest filesystem made, mounted on / and filled with the runnable tree."""
    tarball = tmp_path_factory.mktemp("guest") / "guest.tar"
    tarball.write_bytes(guest_tarball())
    vm.mkfs("ext4", "/dev/sda")
    vm.mount("/dev/sda", "/")
    vm.tar_in(str(tarball), "/")
    return vm


def test_a_command_needs_a_mounted_root(vm: GuestFS) -> None:
    assert vm.mounts() == []
    for call in (
        lambda: vm.command(["/bin/echo"]),
        lambda: vm.command_lines(["/bin/echo"]),
        lambda: vm.sh("echo"),
        lambda: vm.sh_lines("echo"),
    ):
        with pytest.raises(GuestFSError, match="do_command: you must call 'mount' first"):
            call()


def test_command_returns_stdout_as_is(guest: GuestFS) -> None:
    assert guest.command(["/bin/echo", "hello", "world"]) == "hello world\n"
    assert guest.command(["/bin/echo", "-n", "no newline"]) == "no newline"
    assert guest.command(["/bin/echo", "-n"]) == ""
    # Arguments reach the program unchanged: no shell in between.
    assert guest.command(["/bin/echo", "$HOME", "a  b", "*"]) == "$HOME a  b *\n"
    # The program is looked up on the daemon's PATH, inside the guest.
    assert guest.command(["echo", "found"]) == "found\n"


def test_command_lines_splits_on_newlines(guest: GuestFS) -> None:
    assert guest.command_lines(["/bin/echo", "one"]) == ["one"]
    assert guest.command_lines(["/bin/echo", "-n", "one"]) == ["one"]
    assert guest.command_lines(["/bin/echo", "-n"]) == []
    assert guest.command_lines(["/bin/echo", "-e", "a\\n\\nb\\n"]) == ["a", "", "b", ""]


def test_sh_runs_the_guests_shell(guest: GuestFS) -> None:
    assert guest.sh("echo a; echo b") == "a\nb\n"
    assert guest.sh_lines("echo a; echo b") == ["a", "b"]
    assert guest.sh_lines("printf 'x\\n\\ny'") == ["x", "", "y"]
    assert guest.sh_lines("true") == []
    # stderr of a command that succeeds is not part of the result.
    assert guest.sh("echo to-stderr >&2; echo out") == "out\n"


def test_commands_run_chrooted_in_root_with_no_stdin(guest: GuestFS) -> None:
    assert guest.sh("pwd") == "/\n"
    assert guest.sh("cd / && echo *") == "bin dev etc lib lib64 lost+found proc sys tmp\n"
    # stdin is /dev/null: cat ends at once instead of waiting.
    assert guest.command(["/bin/cat"]) == ""
    # The file the command writes is in the guest filesystem.
    guest.sh("echo written > /tmp/by-sh")
    assert guest.cat("/tmp/by-sh") == "written\n"


def test_a_failure_is_an_error_carrying_stderr(guest: GuestFS) -> None:
    with pytest.raises(GuestFSError) as info:
        guest.sh("echo out; echo first >&2; echo second >&2; exit 3")
    assert str(info.value) == "sh: first\nsecond"  # final newline removed, stdout dropped
    with pytest.raises(GuestFSError) as info:
        guest.command(["/bin/cat", "/missing"])
    assert str(info.value) == "command: /bin/cat: /missing: No such file or directory"
    with pytest.raises(GuestFSError) as info:
        guest.command(["/bin/no-such-program"])
    assert str(info.value) == "command: /bin/no-such-program: No such file or directory"
    with pytest.raises(GuestFSError) as info:
        guest.sh_lines("exit 1")
    assert str(info.value) == "sh_lines: "  # nothing on stderr: an empty message
    with pytest.raises(GuestFSError) as info:
        guest.command([])
    assert str(info.value) == "command: passed an empty list"
    assert guest.sh("echo still fine") == "still fine\n"


def test_dev_proc_sys_are_bound_only_while_the_command_runs(guest: GuestFS) -> None:
    seen = guest.sh_lines(
        "[ -r /proc/self/status ] && echo proc; [ -c /dev/null ] && echo dev; "
        "[ -d /sys/block ] && echo sys; [ -d /dev/pts ] && echo pts"
    )
    assert seen == ["proc", "dev", "sys", "pts"]
    # The command sees the appliance's kernel through /proc.
    assert guest.sh("cat /proc/sys/kernel/ostype") == "Linux\n"
    # /proc/self/cmdline is "/bin/cat\0/proc/self/cmdline\0": guestfsd returns the output
    # as a C string, so it ends at the first NUL.
    assert guest.command(["/bin/cat", "/proc/self/cmdline"]) == "/bin/cat"
    # Afterwards the mount points are empty again and only the guest is mounted.
    for d in ("/dev", "/proc", "/sys"):
        assert guest.ls(d) == []
    assert guest.mounts() == ["/dev/sda"]


def test_no_mount_point_no_bind_mount(guest: GuestFS) -> None:
    guest.rmdir("/proc")
    try:
        assert guest.sh("[ -e /proc/self ] || echo absent") == "absent\n"
        assert not guest.exists("/proc")
    finally:
        guest.mkdir("/proc")


def test_groups_reflect_the_appliance(guest: GuestFS) -> None:
    groups = guest.available_all_groups()
    assert "xz" in groups
    assert guest.feature_available(["xz"]) is True  # the builder puts xz in the appliance
    guest.available(["xz", "realpath"])
    with pytest.raises(GuestFSError, match=r"^no-such-group: unknown group$"):
        guest.available(["no-such-group"])


def test_compress_device_out(vm: GuestFS, tmp_path: Path) -> None:
    content = (b"device bytes " * 400000)[: 4 << 20]  # fills the whole 4 MiB disk
    (tmp_path / "dev.img").write_bytes(content)
    vm.upload(str(tmp_path / "dev.img"), "/dev/sdb")
    out = tmp_path / "sdb.gz"
    vm.compress_device_out("gzip", "/dev/sdb", str(out), level=1)
    assert len(out.read_bytes()) < len(content) // 10
    assert gzip.decompress(out.read_bytes()) == content
    with pytest.raises(GuestFSError, match="gzip: incorrect value for level parameter"):
        vm.compress_device_out("gzip", "/dev/sdb", str(out), level=10)


def test_after_umount_commands_refuse_again(guest: GuestFS) -> None:
    guest.umount_all()
    with pytest.raises(GuestFSError, match=r"^sh: do_command: you must call 'mount' first"):
        guest.sh("echo")
