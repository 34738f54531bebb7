"""Faults injected into a running session: processes killed mid-call, transfers cancelled
from either side, a full disk, a read-only drive, launches that cannot succeed.

Each fault must end in a clear error, never a hang, and leave what can be kept usable
(the connection after a cancelled transfer; the machine, so that a new handle launches
after qemu was killed). Times from the fault to the error are measured and printed as
``FAULT ...`` lines (figures in ``docs/reliability.md``); they are not asserted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningAgent, launch_vm, needs_qemu, report_figure

from pyguestfs.host import ClosedHandle, GuestFS, GuestFSError
from pyguestfs.host import connection as host_connection
from pyguestfs.vm.machine import LaunchError

MiB = 1 << 20


def _report(what: str, seconds: float) -> None:
    report_figure(f"FAULT {what}: {seconds:.2f} s")


class FailingFile(io.FileIO):
    """A local file whose reads fail with EIO after ``good`` bytes: a disk error on the
    library's side in the middle of an upload."""

    def __init__(self, path: str, good: int) -> None:
        super().__init__(path, "rb")
        self.good = good

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if self.tell() >= self.good:
            raise OSError(5, "Input/output error")
        return super().read(min(size, self.good - self.tell()))

    def readinto(self, buffer: Any) -> int:
        if self.tell() >= self.good:
            raise OSError(5, "Input/output error")
        with memoryview(buffer) as view:
            return super().readinto(view[: self.good - self.tell()]) or 0


def _failing_open(good: int) -> Any:
    return lambda api, filename: FailingFile(filename, good)


def _random_file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# -- without a VM: the agent process on the host ---------------------------------------------


class KillWhen(threading.Thread):
    """Send SIGKILL to ``pid`` as soon as ``started()`` is true (the transfer is under
    way: a file has begun to grow, which nothing announces, so it is polled), and note
    that it did and when."""

    def __init__(self, pid: int, started: Any) -> None:
        super().__init__(daemon=True)
        self.pid, self.started = pid, started
        self.killing = threading.Event()
        self.killed_at = 0.0
        self.start()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.started() and time.monotonic() < deadline:
            time.sleep(0.005)
        # Set before the signal goes: the call may raise before this thread runs again.
        self.killed_at = time.monotonic()
        self.killing.set()
        os.kill(self.pid, signal.SIGKILL)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _kill_during(pid: int, started: Any, call: Any) -> float:
    """Run ``call``, SIGKILL ``pid`` once the transfer has started; the call must raise.
    Returns the seconds from the kill to the error."""
    killer = KillWhen(pid, started)
    with pytest.raises(GuestFSError, match=r"connection was lost|unusable|closed"):
        call()
    raised_at = time.monotonic()
    # The error came from the kill: the kill had been decided when the call raised.
    assert killer.killing.is_set(), "the call failed before the process was killed"
    killer.join()
    return raised_at - killer.killed_at


def test_agent_killed_during_download(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    _random_file(agent.sysroot / "big", 256 * MiB)
    out = tmp_path / "out"
    seconds = _kill_during(
        agent.proc.pid, lambda: _size(out) > 0, lambda: g.download("/big", str(out))
    )
    _report(f"host agent SIGKILLed {_size(out) / MiB:.0f} MiB into a download -> error", seconds)
    with pytest.raises(GuestFSError, match="unusable"):
        g.ping_daemon()  # never reused out of sync
    g.close()


def test_agent_killed_during_upload(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    _random_file(tmp_path / "big", 256 * MiB)
    dst = agent.sysroot / "big"
    seconds = _kill_during(
        agent.proc.pid, lambda: _size(dst) > 0, lambda: g.upload(str(tmp_path / "big"), "/big")
    )
    _report(f"host agent SIGKILLed {_size(dst) / MiB:.0f} MiB into an upload -> error", seconds)
    g.close()


def test_library_cancels_upload_then_connection_is_usable(
    g: GuestFS, agent: RunningAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _random_file(tmp_path / "src", 4 * MiB)
    monkeypatch.setattr(host_connection, "_open_local_in", _failing_open(1 * MiB))
    with pytest.raises(GuestFSError, match=r"error reading .*Input/output error"):
        g.upload(str(tmp_path / "src"), "/dst")
    monkeypatch.undo()
    g.ping_daemon()
    g.write("/after", b"still in sync")
    assert g.read_file("/after") == b"still in sync"


def test_library_cancels_download_then_connection_is_usable(
    g: GuestFS, agent: RunningAgent
) -> None:
    _random_file(agent.sysroot / "big", 4 * MiB)
    with pytest.raises(GuestFSError, match="No space left on device") as info:
        g.download("/big", "/dev/full")  # the local write fails mid-transfer: cancel
    assert "write: /dev/full" in str(info.value)
    g.ping_daemon()
    assert g.filesize("/big") == 4 * MiB


def test_daemon_refuses_upload_then_connection_is_usable(g: GuestFS, tmp_path: Path) -> None:
    _random_file(tmp_path / "src", 4 * MiB)
    with pytest.raises(GuestFSError) as info:
        g.upload(str(tmp_path / "src"), "/no/such/dir/f")  # the daemon cancels
    assert info.value.errno_name == "ENOENT"
    g.ping_daemon()


# -- with a VM -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ro_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A 16 MiB ext2 image holding one file, and its sha256."""
    d = tmp_path_factory.mktemp("ro")
    tree = d / "tree"
    tree.mkdir()
    (tree / "hello").write_text("read-only\n")
    img = d / "ro.img"
    with open(img, "wb") as f:
        f.truncate(16 * MiB)
    subprocess.run(
        ["mkfs.ext2", "-q", "-F", "-d", str(tree), str(img)], check=True, capture_output=True
    )
    return str(img), hashlib.sha256(img.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def vm(cachedir: str, ro_image: tuple[str, str]) -> Iterator[GuestFS]:
    """/dev/sda: a 24 MiB scratch disk (to fill); /dev/sdb: a 1 GiB one (to download while
    qemu is killed); /dev/sdc: the read-only image."""
    g = launch_vm(cachedir, scratch=(24 * MiB, 1024 * MiB), readonly=(ro_image[0],))
    yield g
    # The last test closes it itself (after killing its qemu); closing a closed handle
    # raises ClosedHandle, as python3-guestfs does.
    with contextlib.suppress(GuestFSError, ClosedHandle):
        g.close()


@needs_qemu
def test_full_disk_upload_is_enospc(vm: GuestFS, tmp_path: Path) -> None:
    vm.mkfs("ext2", "/dev/sda")
    vm.mount("/dev/sda", "/")
    _random_file(tmp_path / "big", 32 * MiB)
    with pytest.raises(GuestFSError) as info:
        vm.upload(str(tmp_path / "big"), "/big")
    assert info.value.errno_name == "ENOSPC"
    vm.ping_daemon()  # the upload's remaining chunks were drained: still in sync
    vm.rm("/big")
    vm.write("/small", b"fits")
    assert vm.read_file("/small") == b"fits"
    vm.umount_all()


@needs_qemu
def test_read_only_drive(vm: GuestFS, ro_image: tuple[str, str]) -> None:
    """As libguestfs: a drive added read-only is mounted writable over a throwaway
    overlay (the image never changes); mounted read-only, writes are refused (EROFS)."""
    vm.mount_ro("/dev/sdc", "/")
    assert vm.read_file("/hello") == b"read-only\n"
    with pytest.raises(GuestFSError) as info:
        vm.write("/new", b"x")
    assert info.value.errno_name == "EROFS"
    with pytest.raises(GuestFSError) as info:
        vm.touch("/hello")
    assert info.value.errno_name == "EROFS"
    vm.umount_all()
    vm.mount("/dev/sdc", "/")
    vm.write("/new", b"into the overlay")
    vm.umount_all()
    vm.sync()
    image, digest = ro_image
    assert hashlib.sha256(Path(image).read_bytes()).hexdigest() == digest


@needs_qemu
def test_cancels_in_the_vm_leave_a_usable_connection(
    vm: GuestFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm.mount("/dev/sda", "/")
    _random_file(tmp_path / "src", 8 * MiB)
    monkeypatch.setattr(host_connection, "_open_local_in", _failing_open(2 * MiB))
    with pytest.raises(GuestFSError, match="Input/output error"):
        vm.upload(str(tmp_path / "src"), "/up")
    monkeypatch.undo()
    vm.ping_daemon()
    vm.upload(str(tmp_path / "src"), "/up")
    with pytest.raises(GuestFSError, match="No space left on device"):
        vm.download("/up", "/dev/full")
    vm.ping_daemon()
    vm.download("/up", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == (tmp_path / "src").read_bytes()
    vm.umount_all()


@needs_qemu
def test_qemu_killed_during_a_call_then_relaunch(
    vm: GuestFS, cachedir: str, tmp_path: Path
) -> None:
    """Last user of the module's VM: qemu is SIGKILLed in the middle of a download of the
    1 GiB disk; the call raises, the handle closes, a new handle launches; then the
    new appliance's agent exits (as on a crash) and the next call raises instead of hanging."""
    disk = tmp_path / "disk"
    seconds = _kill_during(
        vm.get_pid(), lambda: _size(disk) > 0, lambda: vm.download("/dev/sdb", str(disk))
    )
    _report(f"qemu SIGKILLed {_size(disk) / MiB:.0f} MiB into a download -> error", seconds)
    vm.close()

    g2 = launch_vm(cachedir, scratch=(8 * MiB,))
    try:
        g2.ping_daemon()
        # An agent that dies (here: told to exit) ends the appliance; the next call
        # sees the channel close instead of waiting forever.
        g2._call("internal_exit", {}, {})
        started = time.monotonic()
        with pytest.raises(GuestFSError, match=r"connection was lost|unusable"):
            g2.ping_daemon()
        _report("agent exited in the appliance -> next call errors", time.monotonic() - started)
    finally:
        g2.close()


@needs_qemu
def test_kernel_panic_at_boot_reports_the_console(cachedir: str, appliance: Path) -> None:
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    g.set_append("rdinit=/no/such/init")
    g.set_launch_timeout(600)
    started = time.monotonic()
    with pytest.raises(LaunchError) as info:
        g.launch()
    _report("kernel panic (rdinit missing) -> LaunchError", time.monotonic() - started)
    text = str(info.value)
    assert "Kernel panic" in text or "No working init" in text
    assert "--- console (last lines) ---" in text
    g.close()


@needs_qemu
def test_root_never_appears_reports_within_the_launch_timeout(
    cachedir: str, appliance: Path
) -> None:
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    # A root UUID no disk has; the mini init would wait 600 s, the launch timeout is 90 s.
    g.set_append("root=UUID=01234567-89ab-cdef-0123-456789abcdef guestfs_root_timeout=600")
    g.set_launch_timeout(90)
    started = time.monotonic()
    with pytest.raises(LaunchError) as info:
        g.launch()
    elapsed = time.monotonic() - started
    _report("root device never appears, launch timeout 90 s -> LaunchError", elapsed)
    text = str(info.value)
    assert "within 90 s" in text
    # The console tail says what the boot is stuck on (quiet boots print only this).
    assert "waiting for the root device" in info.value.console
    g.close()
