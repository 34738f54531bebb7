"""What one mounted filesystem is: an OS root, a /usr, a /boot, a Windows volume ...

The tests and their order are libguestfs 1.48's ``check_filesystem``
(``daemon/inspect_fs.ml``): the first match decides the role. Roots get their distro,
version, architecture, hostname and fstab; a Linux /usr gets what its os-release and
binaries say (merged into its root later). Windows roots are recognised by their
systemroot and read by :mod:`.inspect_windows` (their registry, through libhivex).
"""

from __future__ import annotations

import sys

from . import inspect_windows
from .inspect_files import GuestTree
from .inspect_fstab import MAX_FSTAB_SIZE, DeviceView, check_fstab
from .inspect_types import InspectionData, Role, package_format, package_management
from .inspect_unix import (
    HURD_ROOT_TESTS,
    LINUX_ROOT_TESTS,
    RE_MINIX,
    RE_NETBSD,
    check_architecture,
    check_hostname_bsd,
    check_hostname_linux,
    generic,
    hostname_from_file,
    parse_lsb_release,
    parse_os_release,
    run_release_tests,
)


def _debug(mountable: str, what: str) -> None:
    print(f"inspect: check_filesystem: {mountable} matched {what}", file=sys.stderr, flush=True)


def _fstab(
    tree: GuestTree, view: DeviceView, mountable: str, os_type: str
) -> list[tuple[str, str]]:
    data = tree.read_bytes("/etc/fstab", limit=MAX_FSTAB_SIZE)
    if data is None:  # missing, not a regular file, or too large to hand to a parser
        return []
    return check_fstab(data.decode("utf-8", "replace"), view, mountable, os_type)


def _is_symlink_to(tree: GuestTree, path: str, target: str) -> bool:
    return tree.is_symlink(path) and tree.readlink(path) == target


def _is_dir_nocase(tree: GuestTree, path: str) -> bool:
    found = tree.case_sensitive_path(path)
    return found is not None and tree.is_dir(found)


def _is_file_nocase(tree: GuestTree, path: str) -> bool:
    found = tree.case_sensitive_path(path)
    return found is not None and tree.is_file(found)


def check_filesystem(
    tree: GuestTree, mountable: str, view: DeviceView
) -> tuple[Role, InspectionData]:
    """The role of the filesystem mounted at ``tree`` and what was found on it."""
    data = InspectionData()
    role = Role.OTHER
    t = tree

    def unix_root(os_type: str, distro: str | None = None) -> None:
        data.os_type = os_type
        if distro:
            data.distro = distro

    if t.is_file("/grub/menu.lst") or t.is_file("/grub/grub.conf") or t.is_file("/grub2/grub.cfg"):
        _debug(mountable, "Grub /boot")
    elif (
        t.is_dir("/etc")
        and t.is_dir("/bin")
        and t.is_file("/etc/freebsd-update.conf")
        and t.is_file("/etc/fstab")
    ):
        _debug(mountable, "FreeBSD root")
        role = Role.ROOT
        unix_root("freebsd", "freebsd")
        if t.is_file("/etc/motd", follow=True):
            generic("freebsd")(t, "/etc/motd", data)
        data.arch = check_architecture(t)
        data.fstab = _fstab(t, view, mountable, "freebsd")
        data.hostname = check_hostname_bsd(t)
    elif (
        t.is_dir("/etc")
        and t.is_dir("/bin")
        and t.is_file("/netbsd")
        and t.is_file("/etc/fstab")
        and t.is_file("/etc/release")
    ):
        _debug(mountable, "NetBSD root")
        role = Role.ROOT
        unix_root("netbsd", "netbsd")
        if t.is_file("/etc/release", follow=True):
            generic("netbsd", RE_NETBSD)(t, "/etc/release", data)
        data.arch = check_architecture(t)
        data.fstab = _fstab(t, view, mountable, "netbsd")
        data.hostname = check_hostname_bsd(t)
    elif (
        t.is_dir("/etc")
        and t.is_dir("/bin")
        and t.is_file("/bsd")
        and t.is_file("/etc/fstab")
        and t.is_file("/etc/motd")
    ):
        _debug(mountable, "OpenBSD root")
        role = Role.ROOT
        # 1.48 reports OpenBSD roots with FreeBSD's type and distro; kept for fidelity.
        unix_root("freebsd", "freebsd")
        if t.is_file("/etc/motd", follow=True):
            generic("freebsd")(t, "/etc/motd", data)
        data.arch = check_architecture(t)
        data.fstab = _fstab(t, view, mountable, "freebsd")
        data.hostname = check_hostname_bsd(t)
    elif t.is_file("/hurd/console") and t.is_file("/hurd/hello") and t.is_file("/hurd/null"):
        _debug(mountable, "Hurd root")
        role = Role.ROOT
        unix_root("hurd")
        run_release_tests(t, data, HURD_ROOT_TESTS)
        data.arch = check_architecture(t)
        data.fstab = _fstab(t, view, mountable, "hurd")
        data.hostname = check_hostname_linux(t)
    elif (
        t.is_dir("/etc")
        and t.is_dir("/bin")
        and t.is_file("/service/vm")
        and t.is_file("/etc/fstab")
        and t.is_file("/etc/version")
    ):
        _debug(mountable, "Minix root")
        role = Role.ROOT
        unix_root("minix")
        if t.is_file("/etc/version", follow=True):
            generic("minix", RE_MINIX)(t, "/etc/version", data)
            data.distro = None  # only the version and product name are meaningful
        data.arch = check_architecture(t)
        data.hostname = hostname_from_file(t, "/etc/hostname.file")
    elif (
        t.is_dir("/etc")
        and (t.is_dir("/bin") or _is_symlink_to(t, "/bin", "usr/bin"))
        and (t.is_file("/etc/fstab") or t.is_file("/etc/hosts"))
    ):
        _debug(mountable, "Linux root")
        role = Role.ROOT
        unix_root("linux")
        run_release_tests(t, data, LINUX_ROOT_TESTS)
        data.arch = check_architecture(t)
        data.fstab = _fstab(t, view, mountable, "linux")
        data.hostname = check_hostname_linux(t)
    elif (
        t.is_dir("/etc")
        and t.is_dir("/root")
        and t.is_dir("/home")
        and t.is_dir("/usr")
        and t.is_file("/etc/coreos/update.conf")
    ):
        _debug(mountable, "CoreOS root")
        role = Role.ROOT
        unix_root("linux", "coreos")
        data.hostname = check_hostname_linux(t)
        data.fstab = [(mountable, "/")]  # CoreOS has no fstab
    elif (
        t.is_dir("/etc")
        and t.is_dir("/bin")
        and t.is_dir("/share")
        and not t.is_dir("/local")
        and not t.is_file("/etc/fstab")
    ):
        _debug(mountable, "Linux /usr/local")
    elif (
        t.is_dir("/bin")
        and t.is_dir("/local")
        and t.is_dir("/share")
        and t.is_dir("/src")
        and not t.is_file("/etc/fstab")
    ):
        _debug(mountable, "Linux /usr")
        role = Role.USR
        data.os_type = "linux"
        if t.is_file("/lib/os-release", follow=True):
            parse_os_release(t, "/lib/os-release", data)
        data.arch = check_architecture(t) or data.arch
    elif (
        t.is_dir("/bin") and t.is_dir("/share") and t.is_dir("/local") and t.is_dir("/share/coreos")
    ):
        _debug(mountable, "CoreOS /usr")
        role = Role.USR
        unix_root("linux", "coreos")
        if t.is_file("/lib/os-release", follow=True):
            parse_os_release(t, "/lib/os-release", data)
        elif t.is_file("/share/coreos/lsb-release", follow=True):
            parse_lsb_release(t, "/share/coreos/lsb-release", data)
        data.arch = check_architecture(t) or data.arch
        data.fstab = [(mountable, "/usr")]
    elif t.is_dir("/log") and t.is_dir("/run") and t.is_dir("/spool"):
        _debug(mountable, "Linux /var")
    elif (systemroot := inspect_windows.systemroot(t)) is not None:
        _debug(mountable, "Windows root")
        role = Role.ROOT
        inspect_windows.check_windows_root(t, systemroot, data, view)
    elif _is_dir_nocase(t, "/System Volume Information"):
        _debug(mountable, "Windows volume")
    elif _is_dir_nocase(t, "/FDOS") and _is_file_nocase(t, "/FDOS/FREEDOS.BSS"):
        _debug(mountable, "FreeDOS")
        role = Role.ROOT
        data.os_type, data.distro = "dos", "freedos"
        data.arch = "i386"  # a mix of 16 and 32 bit: assume a 32-bit processor
    elif _is_dir_nocase(t, "/DOS") and _is_file_nocase(t, "/DOS/COMMAND.COM"):
        _debug(mountable, "MS-DOS")
        role = Role.ROOT
        data.os_type, data.distro = "dos", "msdos"
        data.arch = "i386"
    else:
        _debug(mountable, "no known OS partition")

    data.package_format = package_format(data.distro)
    data.package_management = package_management(
        data, has_dnf=t.is_file("/usr/bin/dnf", follow=True)
    )
    return role, data
