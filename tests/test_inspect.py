"""OS inspection (inspect_os, inspect_get_*), as libguestfs 1.48's daemon does it.

Three tiers: the parsers on trees and fstab text made here (no VM), the agent standalone
(no block devices), and one VM booted on a real Debian 12 disk (debootstrap, cached; see
``guest_images.py``) plus an empty disk.
"""

from __future__ import annotations

import platform
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import launch_vm, needs_qemu

from pyguestfs.agent.errors import AgentError
from pyguestfs.agent.inspect_files import GuestTree, binary_architecture
from pyguestfs.agent.inspect_fs import check_filesystem
from pyguestfs.agent.inspect_fstab import check_fstab
from pyguestfs.agent.inspect_types import Role
from pyguestfs.host import GuestFS, GuestFSError

HOST_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine(), platform.machine())
NOT_A_ROOT = (
    "{}: root device not found: only call this function with a root device previously "
    "returned by guestfs_inspect_os"
)


class FakeView:
    """Devices as fstab resolution sees them: two disks, sda with three partitions."""

    def __init__(self) -> None:
        self.uuids = {"1111-aaaa": "/dev/sda1", "2222-bbbb": "/dev/sda2"}
        self.labels = {"BOOT": "/dev/sda2", "my data": "/dev/sdb1"}

    def findfs(self, tag: str, value: str) -> str | None:
        return (self.uuids if tag == "UUID" else self.labels).get(value)

    def lv_canonical(self, device: str) -> str | None:
        return {"/dev/mapper/vg0-lv--root": "/dev/vg0/lv-root"}.get(device)

    def devices(self) -> list[str]:
        return ["/dev/sda", "/dev/sdb"]

    def is_partition(self, device: str) -> bool:
        return device in ("/dev/sda1", "/dev/sda2", "/dev/sda3", "/dev/sdb1")


def _tree(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> GuestTree:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for path, dest in (links or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(dest)
    return GuestTree(str(root))


def _merged_usr_with_ls(root: Path) -> None:
    """Debian 12's layout: /bin → usr/bin, and a real /usr/bin/ls (the host's)."""
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copyfile("/usr/bin/ls", root / "usr" / "bin" / "ls")
    (root / "bin").symlink_to("usr/bin")


# -- parsers, no VM ----------------------------------------------------------------------------


def test_debian_root_takes_version_and_product_from_debian_version(tmp_path: Path) -> None:
    # os-release's VERSION_ID="12" has no minor: 1.48 goes on to /etc/debian_version,
    # whose first line becomes the product name.
    _merged_usr_with_ls(tmp_path)
    tree = _tree(
        tmp_path,
        {
            "/usr/lib/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
            'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
            "/etc/debian_version": "12.8\n",
            "/etc/hostname": "# comment\n\nweb1\n",
            "/etc/fstab": "UUID=1111-aaaa / ext4 defaults 0 1\n"
            "LABEL=BOOT /boot ext4 defaults 0 2\n",
        },
        {"/etc/os-release": "../usr/lib/os-release"},
    )
    role, data = check_filesystem(tree, "/dev/sda1", FakeView())
    assert role is Role.ROOT
    assert (data.os_type, data.distro, data.version) == ("linux", "debian", (12, 8))
    assert data.product_name == "12.8"
    assert (data.package_format, data.package_management) == ("deb", "apt")
    assert data.hostname == "web1"
    assert data.arch == HOST_ARCH
    assert data.fstab == [("/dev/sda1", "/"), ("/dev/sda2", "/boot")]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "/etc/os-release": 'ID=ubuntu\nPRETTY_NAME="Ubuntu 22.04.3 LTS"\n'
                'VERSION_ID="22.04"\n'
            },
            ("ubuntu", (22, 4), "Ubuntu 22.04.3 LTS", "deb", "apt"),
        ),
        (
            {
                "/etc/redhat-release": "Fedora release 38 (Thirty Eight)\n",
                "/usr/bin/dnf": "",
            },
            ("fedora", (38, 0), "Fedora release 38 (Thirty Eight)", "rpm", "dnf"),
        ),
        (
            {"/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n"},
            ("centos", (7, 9), "CentOS Linux release 7.9.2009 (Core)", "rpm", "yum"),
        ),
        (
            {"/etc/redhat-release": "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n"},
            (
                "rhel",
                (6, 10),
                "Red Hat Enterprise Linux Server release 6.10 (Santiago)",
                "rpm",
                "yum",
            ),
        ),
        (
            {
                "/etc/os-release": 'ID="rhel"\nPRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"\n'
                'VERSION_ID="9.2"\n'
            },
            ("rhel", (9, 2), "Red Hat Enterprise Linux 9.2 (Plow)", "rpm", "dnf"),
        ),
        (
            {"/etc/os-release": 'ID=arch\nPRETTY_NAME="Arch Linux"\n'},
            ("archlinux", (0, 0), "Arch Linux", "pacman", "pacman"),
        ),
        (
            {
                "/etc/lsb-release": "DISTRIB_ID=LinuxMint\nDISTRIB_RELEASE=10\n"
                "DISTRIB_CODENAME=julia\n"
                'DISTRIB_DESCRIPTION="Linux Mint 10 Julia"\n'
            },
            ("linuxmint", (10, 0), "Linux Mint 10 Julia", "deb", "apt"),
        ),
        (
            {"/etc/alpine-release": "3.18.4\n"},
            ("alpinelinux", (3, 18), "3.18.4", "apk", "apk"),
        ),
        (
            {"/etc/redhat-release": "Something Else 5\n"},
            ("redhat-based", (5, 0), "Something Else 5", "rpm", "yum"),
        ),
    ],
)
def test_release_files(tmp_path: Path, files: dict[str, str], expected: tuple[object, ...]) -> None:
    tree = _tree(tmp_path, {"/etc/hosts": "127.0.0.1 localhost\n", "/bin/.keep": "", **files})
    role, data = check_filesystem(tree, "/dev/sda1", FakeView())
    assert role is Role.ROOT
    got = (
        data.distro,
        data.version,
        data.product_name,
        data.package_format,
        data.package_management,
    )
    assert got == expected


def test_hostname_from_sysconfig_network_and_unknown_arch(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "/etc/fstab": "",
            "/bin/ls": "#!/bin/sh\n",  # not ELF: the architecture stays unknown
            "/etc/redhat-release": "CentOS release 5.11 (Final)\n",
            "/etc/sysconfig/network": 'NETWORKING=yes\nHOSTNAME="old.example.com"\n',
        },
    )
    role, data = check_filesystem(tree, "/dev/sda1", FakeView())
    assert role is Role.ROOT
    assert data.hostname == "old.example.com"
    assert data.arch is None
    assert (data.distro, data.version, data.package_management) == ("centos", (5, 11), "yum")


def test_filesystems_that_are_not_roots(tmp_path: Path) -> None:
    boot = _tree(tmp_path / "boot", {"/grub/grub.cfg": "", "/vmlinuz": ""})
    assert check_filesystem(boot, "/dev/sda2", FakeView())[0] is Role.OTHER
    data_fs = _tree(tmp_path / "data", {"/notes.txt": "hello"})
    role, data = check_filesystem(data_fs, "/dev/sdb1", FakeView())
    assert role is Role.OTHER and data.os_type is None
    var = _tree(tmp_path / "var", {"/log/x": "", "/run/x": "", "/spool/x": ""})
    assert check_filesystem(var, "/dev/sda5", FakeView())[0] is Role.OTHER


def test_separate_usr(tmp_path: Path) -> None:
    usr = _tree(
        tmp_path,
        {
            "/lib/os-release": 'ID=fedora\nPRETTY_NAME="Fedora Linux 39"\nVERSION_ID=39\n',
            "/local/.keep": "",
            "/share/.keep": "",
            "/src/.keep": "",
            "/bin/.keep": "",
        },
    )
    role, data = check_filesystem(usr, "/dev/sda3", FakeView())
    assert role is Role.USR
    assert (data.os_type, data.distro, data.version) == ("linux", "fedora", (39, 0))


def _pe32plus() -> bytes:
    header = bytearray(512)
    header[:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x80)
    header[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", header, 0x80 + 24, 0x20B)
    return bytes(header)


def test_windows_root_with_a_corrupt_registry(tmp_path: Path) -> None:
    # The registry is read with libhivex; a hive it cannot open fails the inspection (as
    # in 1.48), with an error naming the hive and the reason. (tests/test_windows.py reads
    # real hives.)
    for d in ("Windows/System32/config",):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "Windows/System32/cmd.exe").write_bytes(_pe32plus())
    (tmp_path / "Windows/System32/config/SOFTWARE").write_bytes(b"regf")
    (tmp_path / "Windows/System32/config/SYSTEM").write_bytes(b"regf")
    with pytest.raises(AgentError) as e:
        check_filesystem(GuestTree(str(tmp_path)), "/dev/sda2", FakeView())
    assert e.value.message == (
        "hivex: /Windows/System32/config/SOFTWARE: Invalid argument"  # too small a file
    )


def test_fstab_resolution() -> None:
    text = """
# comment
UUID="1111-aaaa"   /          ext4   defaults 0 1
LABEL=my\\040data /data ext4 defaults 0 2
LABEL="BOOT"       /boot      ext4   defaults 0 2
UUID=9999-dead     /gone      ext4   nofail   0 2
/dev/vdb1          /srv//     ext4   defaults 0 2
/dev/xvda3         /var       xfs    defaults 0 2
/dev/sdc1          /other     ext4   defaults 0 2
/dev/mapper/vg0-lv--root /lv  ext4   defaults 0 2
/dev/root          /rootdev   ext4   defaults 0 0
/dev/sda2          /home      btrfs  subvol=@home,compress=zstd 0 0
/dev/disk/by-id/ata-QEMU-part2 /byid ext4 defaults 0 0
/dev/sda3          none       swap   sw       0 0
proc               /proc      proc   defaults 0 0
tmpfs              /tmp       tmpfs  defaults 0 0
/dev/cdrom         /cdrom     auto   noauto   0 0
/dev/fd0           /floppy    auto   noauto   0 0
/dev/sdb1          /media/usb ext4   noauto   0 0
/dev/sda1          /dev/shm   ext4   noauto   0 0
"""
    got = check_fstab(text, FakeView(), "/dev/sda1", "linux")
    assert got == [
        ("/dev/sda1", "/"),
        ("/dev/sda2", "/boot"),
        ("/dev/sdb1", "/srv"),
        ("/dev/sda3", "/var"),
        ("/dev/sdc1", "/other"),  # no third disk: kept as the guest wrote it
        ("/dev/vg0/lv-root", "/lv"),
        ("/dev/sda1", "/rootdev"),
        ("btrfsvol:/dev/sda2/@home", "/home"),
        ("/dev/disk/by-id/ata-QEMU-part2", "/byid"),  # two disks: by-id cannot be mapped
        ("/dev/sda3", "none"),
    ]


def test_bsd_fstab_names() -> None:
    text = "/dev/ada0p2 / ufs rw 1 1\n/dev/ada0p3 /usr ufs rw 2 2\n/dev/vtbd1s1e /data ufs rw 2 2\n"
    assert check_fstab(text, FakeView(), "/dev/sda2", "freebsd") == [
        ("/dev/sda2", "/"),  # a BSD root is the root being inspected
        ("/dev/sda3", "/usr"),
        ("/dev/sdb8", "/data"),
    ]


@pytest.mark.parametrize(
    ("ident", "machine", "expected"),
    [
        (b"\x7fELF\x02\x01", 62, "x86_64"),
        (b"\x7fELF\x01\x01", 3, "i386"),
        (b"\x7fELF\x02\x01", 183, "aarch64"),
        (b"\x7fELF\x02\x01", 21, "ppc64le"),
        (b"\x7fELF\x02\x02", 21, "ppc64"),
        (b"\x7fELF\x02\x01", 243, "riscv64"),
        (b"\x7fELF\x02\x02", 22, "s390x"),
        (b"\x7fELF\x01\x01", 40, "arm"),
    ],
)
def test_elf_architecture(ident: bytes, machine: int, expected: str) -> None:
    order = "<" if ident[5] == 1 else ">"
    header = ident.ljust(16, b"\0") + struct.pack(order + "HH", 2, machine) + b"\0" * 44
    assert binary_architecture(header) == expected


def test_not_an_executable() -> None:
    assert binary_architecture(b"#!/bin/sh\n" + b"\0" * 60) is None


# -- the agent standalone: no block devices -----------------------------------------------------


def test_standalone_agent_finds_nothing(g: GuestFS) -> None:
    assert g.inspect_os() == []
    assert g.inspect_get_roots() == []
    with pytest.raises(GuestFSError) as e:
        g.inspect_get_type("/dev/sda1")
    assert (
        str(e.value)
        == "inspect_get_type: inspect_get_type_stub: /dev/sda1: No such file or directory"
    )
    assert e.value.errno_name == "ENOENT"


# -- one VM on a real Debian disk -------------------------------------------------------------


# Making the Debian tree (debootstrap) and its disk the first time takes many minutes on
# a loaded machine; later runs find both in the cache.
slow_first_build = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def debian(cachedir: str) -> object:
    from guest_images import debian_guest

    return debian_guest(cachedir)


@pytest.fixture(scope="module")
def vm(
    cachedir: str, appliance: Path, debian: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuestFS]:
    empty = tmp_path_factory.mktemp("empty-disk") / "empty.img"
    with open(empty, "wb") as f:
        f.truncate(64 << 20)
    # Read-only drives: the cached image is shared, the tests' writes go to an overlay.
    g = launch_vm(cachedir, readonly=(str(debian.path), str(empty)))  # type: ignore[attr-defined]
    yield g
    g.close()


def _error(call: object, *args: object) -> GuestFSError:
    with pytest.raises(GuestFSError) as e:
        call(*args)  # type: ignore[operator]
    return e.value


@needs_qemu
@slow_first_build
def test_queries_before_inspection(vm: GuestFS) -> None:
    assert vm.inspect_get_roots() == []
    err = _error(vm.inspect_get_type, "/dev/sda1")
    assert str(err) == "inspect_get_type: no inspection data: call guestfs_inspect_os first"


@needs_qemu
def test_inspect_os_finds_debian_and_unmounts_the_users_mounts(vm: GuestFS) -> None:
    vm.mount("/dev/sda3", "/")  # inspect_os starts with umount_all, as in 1.48
    assert vm.inspect_os() == ["/dev/sda1"]
    assert vm.mounts() == []
    assert vm.inspect_get_roots() == ["/dev/sda1"]


@needs_qemu
def test_debian_details(vm: GuestFS, debian: object) -> None:
    version = debian.debian_version  # type: ignore[attr-defined]
    m = re.match(r"(\d+)\.(\d+)", version)
    assert m, f"unexpected /etc/debian_version {version!r}"
    assert vm.inspect_get_type("/dev/sda1") == "linux"
    assert vm.inspect_get_distro("/dev/sda1") == "debian"
    assert vm.inspect_get_major_version("/dev/sda1") == int(m.group(1)) == 12
    assert vm.inspect_get_minor_version("/dev/sda1") == int(m.group(2))
    # 1.48 takes Debian's product name from /etc/debian_version, not os-release.
    assert vm.inspect_get_product_name("/dev/sda1") == version
    assert vm.inspect_get_product_variant("/dev/sda1") == "unknown"
    assert vm.inspect_get_hostname("/dev/sda1") == "inspected-debian"
    assert vm.inspect_get_package_format("/dev/sda1") == "deb"
    assert vm.inspect_get_package_management("/dev/sda1") == "apt"
    assert vm.inspect_get_arch("/dev/sda1") == HOST_ARCH
    assert vm.inspect_get_format("/dev/sda1") == "installed"
    assert vm.inspect_is_live("/dev/sda1") is False
    assert vm.inspect_is_netinst("/dev/sda1") is False
    assert vm.inspect_is_multipart("/dev/sda1") is False
    assert vm.inspect_get_drive_mappings("/dev/sda1") == {}
    # The guest kernel's name for the same partition is accepted too.
    assert vm.inspect_get_distro("/dev/vda1") == "debian"


@needs_qemu
def test_mountpoints_and_filesystems_from_fstab(vm: GuestFS) -> None:
    # fstab: / by UUID=, /boot by LABEL=, /srv as /dev/vda3 (written "//srv//");
    # proc, tmpfs, the CD-ROM and a UUID no filesystem has are left out.
    assert vm.inspect_get_mountpoints("/dev/sda1") == {
        "/": "/dev/sda1",
        "/boot": "/dev/sda2",
        "/srv": "/dev/sda3",
    }
    assert vm.inspect_get_filesystems("/dev/sda1") == ["/dev/sda1", "/dev/sda2", "/dev/sda3"]


@needs_qemu
def test_errors_for_roots_inspection_did_not_return(vm: GuestFS) -> None:
    err = _error(vm.inspect_get_type, "/dev/sda2")
    assert str(err) == "inspect_get_type: " + NOT_A_ROOT.format("/dev/sda2")
    err = _error(vm.inspect_get_mountpoints, "/dev/sdb")
    assert str(err) == "inspect_get_mountpoints: " + NOT_A_ROOT.format("/dev/sdb")
    err = _error(vm.inspect_get_hostname, "/dev/sdz1")
    assert str(err) == (
        "inspect_get_hostname: inspect_get_hostname_stub: /dev/sdz1: No such file or directory"
    )
    assert err.errno_name == "ENOENT"
    for api, what in (
        ("inspect_get_windows_systemroot", "systemroot could not be determined"),
        ("inspect_get_windows_software_hive", "software hive not found"),
        ("inspect_get_windows_system_hive", "system hive not found"),
        ("inspect_get_windows_current_control_set", "CurrentControlSet could not be determined"),
    ):
        err = _error(getattr(vm, api), "/dev/sda1")
        assert str(err) == f"{api}: not a Windows guest, or {what}"


def _png(width: int, height: int) -> bytes:
    """A real PNG image (grey, 8 bits), as ``file`` recognises it."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + bytes(width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@needs_qemu
def test_osinfo_and_icon(vm: GuestFS) -> None:
    """1.48's library-side mapping to a libosinfo id, and the icon search (favicon first;
    a file must be a PNG of sane geometry to count)."""
    assert vm.inspect_os() == ["/dev/sda1"]
    major = vm.inspect_get_major_version("/dev/sda1")
    assert vm.inspect_get_osinfo("/dev/sda1") == f"debian{major}"
    vm.mount("/dev/sda1", "/")  # a read-only drive: the writes go to its overlay
    try:
        # Without a favicon, 1.48 looks for Debian's logo; the guest image may carry it.
        logo = "/usr/share/pixmaps/debian-logo.png"
        fallback = vm.read_file(logo) if vm.is_file(logo) else b""
        assert vm.inspect_get_icon("/dev/sda1") == fallback
        icon = _png(32, 32)
        vm.write("/etc/favicon.png", icon)
        assert vm.inspect_get_icon("/dev/sda1") == icon
        assert vm.inspect_get_icon("/dev/sda1", favicon=False) == fallback
        # Favicons are never high quality, but Debian's logo still counts: 1.48's
        # inspect-icon.c skips only Ubuntu's and Windows's icons then.
        assert vm.inspect_get_icon("/dev/sda1", highquality=True) == fallback
        vm.write("/etc/favicon.png", _png(8, 8))  # too small to be an icon
        assert vm.inspect_get_icon("/dev/sda1") == fallback
        vm.write("/etc/favicon.png", b"not a png")
        assert vm.inspect_get_icon("/dev/sda1") == fallback
    finally:
        vm.rm_f("/etc/favicon.png")
        vm.umount_all()


@needs_qemu
def test_inspection_leaves_no_mount_behind(vm: GuestFS) -> None:
    # Had inspection left its read-only mount, this read-write mount would be refused.
    vm.mount("/dev/sda1", "/")
    vm.mkdir("/after-inspection")
    assert vm.is_dir("/etc")
    vm.umount_all()


@needs_qemu
def test_non_os_filesystem_and_empty_disk_are_no_roots(vm: GuestFS) -> None:
    vm.mkfs("ext4", "/dev/sdb")
    vm.mount("/dev/sdb", "/")
    vm.mkdir_p("/etc/app")
    vm.mkdir("/bin")
    vm.umount_all()
    assert vm.inspect_os() == ["/dev/sda1"]
    # Now wipe the guest: a fresh partition table with one empty partition.
    vm.part_disk("/dev/sda", "mbr")
    assert vm.inspect_os() == []
    assert vm.inspect_get_roots() == []
    # This inspection's data (sdb, a plain filesystem) is there; sda1 is no root.
    err = _error(vm.inspect_get_type, "/dev/sda1")
    assert str(err) == "inspect_get_type: " + NOT_A_ROOT.format("/dev/sda1")
