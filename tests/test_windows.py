"""Windows guests: inspection from the registry, ``case_sensitive_path``,
``file_architecture``, and the real virt tools on our appliance.

* unit: a Windows tree with real hives (made by ``hivexregedit`` from .reg text) is
  inspected directly; GPT drive letters are matched on a disk image partitioned by
  sgdisk; ``case_sensitive_path`` and ``file_architecture`` are compared call by call with
  Debian's real guestfsd;
* boot: the phony Windows 7 disk (``guest_images.windows_guest``, made as libguestfs's
  test data makes its own) is inspected by our appliance, and the real ``virt-inspector``
  gives the same XML whether it boots our appliance (``LIBGUESTFS_PATH``) or its own;
  ``virt-win-reg`` and ``virt-cat`` read a Windows path through our appliance.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import launch_vm, needs_qemu
from guest_images import (
    WINDOWS_SOFTWARE_REG,
    WINDOWS_SYSTEM_REG,
    WindowsImage,
    make_hive,
    pe32_executable,
    windows_guest,
)
from realdaemon import (
    RealDaemonUnavailable,
    check_can_confine,
    daemon_tarball,
    our_agent,
    real_guestfsd,
    require_real_daemon,
)

from pyguestfs.agent.inspect_files import GuestTree
from pyguestfs.agent.inspect_fs import check_filesystem
from pyguestfs.agent.inspect_types import Role
from pyguestfs.agent.inspect_windows import _Disks
from pyguestfs.builder.appliance import BuildOptions, build
from pyguestfs.host import GuestFS, GuestFSError

needs_hivexregedit = pytest.mark.skipif(
    shutil.which("hivexregedit") is None,
    reason="hivexregedit is not installed (Debian's libwin-hivex-perl; ci/setup.sh installs it)",
)


class NoDisks:
    """A device view with no disks (inspection of a tree on the host)."""

    def findfs(self, tag: str, value: str) -> str | None:
        return None

    def lv_canonical(self, device: str) -> str | None:
        return None

    def devices(self) -> list[str]:
        return []

    def is_partition(self, device: str) -> bool:
        return False


def _windows_tree(root: Path, systemroot: str = "Windows") -> None:
    config = root / systemroot / "System32" / "Config"
    config.mkdir(parents=True)
    (root / systemroot / "System32" / "cmd.exe").write_bytes(pe32_executable())
    make_hive(config / "SOFTWARE", r"HKEY_LOCAL_MACHINE\SOFTWARE", WINDOWS_SOFTWARE_REG)
    make_hive(config / "SYSTEM", r"HKEY_LOCAL_MACHINE\SYSTEM", WINDOWS_SYSTEM_REG)


# -- unit: inspection of a tree -------------------------------------------------------------


@needs_hivexregedit
def test_registry_gives_product_version_hostname(tmp_path: Path) -> None:
    _windows_tree(tmp_path)
    expected = WindowsImage(tmp_path)
    role, data = check_filesystem(GuestTree(str(tmp_path)), "/dev/sda2", NoDisks())
    assert role is Role.ROOT
    assert (data.os_type, data.distro, data.arch) == ("windows", "windows", "i386")
    assert data.product_name == expected.product_name
    assert data.product_variant == "Client"
    assert data.version == expected.version
    assert data.windows_systemroot == "/Windows"
    assert data.windows_software_hive == "/Windows/System32/Config/SOFTWARE"
    assert data.windows_system_hive == "/Windows/System32/Config/SYSTEM"
    # Select\Current is 2: the hostname is ControlSet002's, not ControlSet001's.
    assert data.windows_current_control_set == expected.control_set
    assert data.hostname == expected.hostname
    assert data.drive_mappings == []  # no disk here carries the registry's signatures


@needs_hivexregedit
def test_systemroot_named_by_boot_ini(tmp_path: Path) -> None:
    _windows_tree(tmp_path, "OS/NT52")
    (tmp_path / "boot.ini").write_bytes(
        b"[boot loader]\r\ntimeout=30\r\n[operating systems]\r\n"
        b'scsi(0)disk(0)rdisk(0)partition(1)\\Nothing="not here"\r\n'
        b'multi(0)disk(0)rdisk(0)partition(1)\\OS\\NT52="Windows" /fastdetect\r\n'
    )
    role, data = check_filesystem(GuestTree(str(tmp_path)), "/dev/sda1", NoDisks())
    assert role is Role.ROOT
    assert data.windows_systemroot == "/OS/NT52"
    assert data.hostname == "win7-phony"


def test_data_volume_is_not_a_root(tmp_path: Path) -> None:
    (tmp_path / "Program Files").mkdir()
    (tmp_path / "System Volume Information").mkdir()
    role, data = check_filesystem(GuestTree(str(tmp_path)), "/dev/sda1", NoDisks())
    assert role is Role.OTHER and data.os_type is None


class FileDisk(NoDisks):
    """One disk, /dev/sda, backed by an image file; its partitions as sgdisk made them."""

    def __init__(self, image: Path, partitions: int) -> None:
        self.image = image
        self.partitions = {f"/dev/sda{n}" for n in range(1, partitions + 1)}

    def devices(self) -> list[str]:
        return ["/dev/sda"]

    def is_partition(self, device: str) -> bool:
        return device in self.partitions

    def node_of(self, name: str) -> str:
        return str(self.image)


@pytest.mark.skipif(shutil.which("sgdisk") is None, reason="sgdisk (gdisk) is not installed")
def test_gpt_partition_found_by_its_guid(tmp_path: Path) -> None:
    image = tmp_path / "gpt.img"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    guid = str(uuid.uuid4())
    subprocess.run(
        ["sgdisk", "-n", "1:2048:4095", "-n", "2:4096:8191", "-u", f"2:{guid}", str(image)],
        check=True,
        capture_output=True,
    )
    disks = _Disks(FileDisk(image, 2))
    assert disks.parttype("/dev/sda") == "gpt"
    assert disks.by_gpt_guid(guid) == "/dev/sda2"
    assert disks.by_gpt_guid(str(uuid.uuid4())) is None
    assert disks.by_mbr(b"abcd", 4096 * 512) is None  # not an MBR disk


# -- unit: case_sensitive_path and file_architecture against the real guestfsd -----------------


def _initrd(tmp: Path, sh: str) -> bytes:
    """A gzip'd cpio (newc) archive holding bin/sh, as initramfs images are."""
    (tmp / "bin").mkdir(parents=True)
    shutil.copy(sh, tmp / "bin" / "sh")
    archive = subprocess.run(
        ["cpio", "--quiet", "-o", "-H", "newc"],
        input=b"bin/sh\n",
        capture_output=True,
        cwd=tmp,
        check=True,
    ).stdout
    return gzip.compress(archive, mtime=0)


def _populate(root: Path, work: Path) -> None:
    (root / "Windows" / "System32").mkdir(parents=True)
    (root / "Windows" / "System32" / "CMD.EXE").write_bytes(pe32_executable())
    (root / "Windows" / "win.ini").write_text("[fonts]\r\n")
    (root / "Program Files").mkdir()
    (root / "Windows" / "System32" / "drivers").mkdir()
    os.symlink("/Windows", root / "winlink")
    os.symlink("System32", root / "Windows" / "sys")
    (root / "text").write_text("plain text\n")
    shutil.copy("/bin/ls", root / "ls")
    (root / "initrd.img").write_bytes(_initrd(work, "/bin/dash"))
    with tarfile.open(root / "archive.tar.gz", "w:gz") as t:
        info = tarfile.TarInfo("x")
        t.addfile(info, io.BytesIO(b""))


Step = tuple[str, tuple[Any, ...]]

STEPS: list[Step] = [
    ("case_sensitive_path", ("/windows/system32/cmd.exe",)),
    ("case_sensitive_path", ("/WINDOWS/SYSTEM32/DRIVERS",)),
    ("case_sensitive_path", ("/windows/system32/missing.dll",)),  # the last may be missing
    ("case_sensitive_path", ("/windows/nodir/x",)),
    ("case_sensitive_path", ("/text/x",)),  # not a directory
    ("case_sensitive_path", ("/program files",)),
    ("case_sensitive_path", ("/",)),
    ("case_sensitive_path", ("/windows//win.INI",)),
    ("case_sensitive_path", ("/windows/",)),
    ("case_sensitive_path", ("/windows/..",)),
    ("case_sensitive_path", ("/windows/./win.ini",)),
    ("case_sensitive_path", ("/WINLINK/System32/cmd.exe",)),  # through an absolute symlink
    ("case_sensitive_path", ("/windows/SYS/cmd.exe",)),
    ("case_sensitive_path", ("relative",)),
    ("file_architecture", ("/Windows/System32/CMD.EXE",)),
    ("file_architecture", ("/ls",)),
    ("file_architecture", ("/initrd.img",)),
    ("file_architecture", ("/text",)),
    ("file_architecture", ("/Windows",)),
    ("file_architecture", ("/winlink",)),
    ("file_architecture", ("/missing",)),
    ("file_architecture", ("/archive.tar.gz",)),
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Any, ...]]]:
    try:
        check_can_confine()
        daemon_tarball()
    except RealDaemonUnavailable as e:
        if require_real_daemon():
            pytest.fail(f"the real guestfsd is required but cannot run: {e}")
        pytest.skip(f"the real guestfsd cannot run here: {e}")
    base = tmp_path_factory.mktemp("windows-paths")
    result: dict[str, list[tuple[Any, ...]]] = {}
    for name, start in (("ours", our_agent), ("real", real_guestfsd)):
        scratch = base / name
        scratch.mkdir()
        _populate(scratch, base / f"{name}-initrd")
        with start(scratch) as daemon:
            g = daemon.handle()
            replies = []
            for api, args in STEPS:
                try:
                    replies.append(("ok", getattr(g, api)(*args)))
                except GuestFSError as e:
                    replies.append(("error", e.errno_name, str(e)))
            result[name] = replies
            g.close()
    return result


@pytest.mark.parametrize(
    "index", range(len(STEPS)), ids=[f"{i:02d}-{s[0]}" for i, s in enumerate(STEPS)]
)
def test_same_reply_as_guestfsd(both: dict[str, list[tuple[Any, ...]]], index: int) -> None:
    assert both["ours"][index] == both["real"][index], STEPS[index]


def test_replies_are_the_expected_ones(both: dict[str, list[tuple[Any, ...]]]) -> None:
    ours = both["ours"]
    assert ours[0] == ("ok", "/Windows/System32/CMD.EXE")
    assert ours[2] == ("ok", "/Windows/System32/missing.dll")
    assert ours[14] == ("ok", "i386")
    assert ours[16] == ("ok", ours[15][1])  # the initrd's sh: this machine's architecture


# -- boot: the phony Windows 7 guest ----------------------------------------------------------


@pytest.fixture(scope="module")
def windows(cachedir: str) -> WindowsImage:
    if shutil.which("guestfish") is None or shutil.which("hivexregedit") is None:
        pytest.skip("the real guestfish and hivexregedit make the Windows image (ci/setup.sh)")
    return windows_guest(cachedir)


@pytest.fixture(scope="module")
def vm(cachedir: str, appliance: Path, windows: WindowsImage) -> Iterator[GuestFS]:
    g = launch_vm(cachedir, readonly=(str(windows.path),))
    yield g
    g.close()


@needs_qemu
def test_inspection_of_the_windows_guest(vm: GuestFS, windows: WindowsImage) -> None:
    roots = vm.inspect_os()
    assert roots == ["/dev/sda2"]
    root = roots[0]
    assert vm.inspect_get_type(root) == "windows"
    assert vm.inspect_get_distro(root) == "windows"
    assert vm.inspect_get_product_name(root) == windows.product_name
    assert vm.inspect_get_product_variant(root) == "Client"
    assert (vm.inspect_get_major_version(root), vm.inspect_get_minor_version(root)) == (6, 1)
    assert vm.inspect_get_arch(root) == "i386"
    assert vm.inspect_get_hostname(root) == windows.hostname
    assert vm.inspect_get_windows_systemroot(root) == "/Windows"
    assert vm.inspect_get_windows_current_control_set(root) == windows.control_set
    assert vm.inspect_get_windows_software_hive(root) == "/Windows/System32/Config/SOFTWARE"
    assert vm.inspect_get_windows_system_hive(root) == "/Windows/System32/Config/SYSTEM"
    # C: and E: match the disk's signature and their partitions' offsets; F: names a
    # disk that is not here.
    assert dict(vm.inspect_get_drive_mappings(root)) == {"C": "/dev/sda2", "E": "/dev/sda1"}
    assert vm.inspect_get_mountpoints(root) == {"/": "/dev/sda2"}


@needs_qemu
def test_windows_paths_and_registry_in_the_appliance(vm: GuestFS, windows: WindowsImage) -> None:
    vm.mount_ro("/dev/sda2", "/")
    try:
        hive = vm.case_sensitive_path("/windows/system32/config/system")
        assert hive == "/Windows/System32/Config/SYSTEM"
        assert vm.file_architecture(vm.case_sensitive_path("/windows/system32/CMD.exe")) == "i386"
        vm.hivex_open(hive)
        select = vm.hivex_node_get_child(vm.hivex_root(), "Select")
        current = vm.hivex_node_get_value(select, "Current")
        assert vm.hivex_value_value(current) == b"\x02\x00\x00\x00"
        vm.hivex_close()
    finally:
        vm.umount_all()


# -- boot: the real virt tools on our appliance --------------------------------------------------


@pytest.fixture(scope="module")
def fixed(cachedir: str, appliance: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fixed")
    build(BuildOptions(cachedir=cachedir, output=str(out)))
    return out


def _tool(argv: list[str], appliance_dir: Path | None, tmp: Path, cachedir: str) -> str:
    # libguestfs's own appliance is cached in the session's cache directory.
    env = dict(
        os.environ,
        LIBGUESTFS_BACKEND="direct",
        LIBGUESTFS_BACKEND_SETTINGS="force_tcg",
        LIBGUESTFS_CACHEDIR=cachedir,
    )
    env.pop("LIBGUESTFS_PATH", None)
    if appliance_dir is not None:
        env["LIBGUESTFS_PATH"] = str(appliance_dir)
    env["TMPDIR"] = str(tmp)
    # Bytes, decoded by hand: text mode would turn the guest's CRLF into LF.
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=1200)
    assert proc.returncode == 0, f"{argv}: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode()


needs_virt_tools = pytest.mark.skipif(
    shutil.which("virt-inspector") is None or shutil.which("virt-win-reg") is None,
    reason="libguestfs-tools is not installed (ci/setup.sh installs it)",
)


@needs_qemu
@needs_virt_tools
@pytest.mark.timeout(2400)  # real tools, each a launch under TCG
def test_virt_inspector_same_on_both_appliances(
    windows: WindowsImage, fixed: Path, cachedir: str, tmp_path: Path
) -> None:
    argv = ["virt-inspector", "--format=raw", "-a", str(windows.path)]
    ours = _tool(argv, fixed, tmp_path, cachedir)
    real = _tool(argv, None, tmp_path, cachedir)
    assert ours == real
    assert f"<hostname>{windows.hostname}</hostname>" in ours
    assert f"<product_name>{windows.product_name}</product_name>" in ours
    assert '<drive_mapping name="C">/dev/sda2</drive_mapping>' in ours


@needs_qemu
@needs_virt_tools
@pytest.mark.timeout(2400)  # real tools, each a launch under TCG
def test_virt_win_reg_and_virt_cat_on_our_appliance(
    windows: WindowsImage, fixed: Path, cachedir: str, tmp_path: Path
) -> None:
    exported = _tool(
        ["virt-win-reg", "--format=raw", str(windows.path), r"HKLM\SYSTEM\Select"],
        fixed,
        tmp_path,
        cachedir,
    )
    assert '"Current"=dword:00000002' in exported
    # The path as a Windows user would write it, resolved ignoring case.
    text = _tool(
        ["virt-cat", "--format=raw", "-a", str(windows.path), r"c:\windows\WIN.INI"],
        fixed,
        tmp_path,
        cachedir,
    )
    assert text == "[fonts]\r\n"
