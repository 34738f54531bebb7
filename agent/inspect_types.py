"""What inspection learns about each filesystem, and the words it answers with.

The fields and their "unknown" defaults are those of libguestfs 1.48's daemon
(``daemon/inspect_types.ml``): every field is optional, and the ``inspect_get_*`` calls
turn a missing one into ``"unknown"`` (or 0 for versions). Mountables are kept as the
names users see (``/dev/sda1``, ``/dev/VG/LV``, ``btrfsvol:/dev/sda2/@``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Role(enum.Enum):
    """What a filesystem is to an operating system."""

    ROOT = "root"
    USR = "usr"  # a separate /usr whose details are merged into its root
    SWAP = "swap"
    OTHER = "other"


@dataclass
class InspectionData:
    """Facts about one root (or one /usr) filesystem; None means "not found"."""

    os_type: str | None = None
    distro: str | None = None
    package_format: str | None = None
    package_management: str | None = None
    product_name: str | None = None
    product_variant: str | None = None
    version: tuple[int, int] | None = None
    arch: str | None = None
    hostname: str | None = None
    #: (mountable, mountpoint) from the guest's fstab; the mountpoint may be "swap"/"none".
    fstab: list[tuple[str, str]] = field(default_factory=list)
    windows_systemroot: str | None = None
    windows_software_hive: str | None = None
    windows_system_hive: str | None = None
    windows_current_control_set: str | None = None
    drive_mappings: list[tuple[str, str]] = field(default_factory=list)

    def merge_from(self, child: InspectionData) -> None:
        """Fill what this root lacks from its /usr (1.48's merge: the parent wins, lists
        are joined with the child's entries first)."""
        for name in (
            "os_type",
            "distro",
            "package_format",
            "package_management",
            "product_name",
            "product_variant",
            "version",
            "arch",
            "hostname",
            "windows_systemroot",
            "windows_software_hive",
            "windows_system_hive",
            "windows_current_control_set",
        ):
            if getattr(self, name) is None:
                setattr(self, name, getattr(child, name))
        self.fstab = child.fstab + self.fstab
        self.drive_mappings = child.drive_mappings + self.drive_mappings


@dataclass
class Filesystem:
    """One filesystem that inspection looked at."""

    mountable: str
    vfs_type: str
    role: Role
    data: InspectionData = field(default_factory=InspectionData)


# -- package format and management, a function of the distro (1.48's inspect_fs.ml) -------

_RPM = "rpm"
_DEB = "deb"

_PACKAGE_FORMAT = {
    **dict.fromkeys(
        (
            "altlinux",
            "centos",
            "rocky",
            "fedora",
            "mageia",
            "mandriva",
            "meego",
            "neokylin",
            "openmandriva",
            "opensuse",
            "oraclelinux",
            "redhat-based",
            "rhel",
            "scientificlinux",
            "sles",
            "suse-based",
        ),
        _RPM,
    ),
    **dict.fromkeys(("debian", "kalilinux", "kylin", "linuxmint", "ubuntu"), _DEB),
    "archlinux": "pacman",
    "gentoo": "ebuild",
    "pardus": "pisi",
    "alpinelinux": "apk",
    "voidlinux": "xbps",
}


def package_format(distro: str | None) -> str | None:
    """The package format a distro uses, or None (also for distros without one)."""
    return _PACKAGE_FORMAT.get(distro) if distro else None


_SIMPLE_MANAGEMENT = {
    "meego": "yum",
    "neokylin": "dnf",
    **dict.fromkeys(("altlinux", "debian", "kalilinux", "kylin", "linuxmint", "ubuntu"), "apt"),
    "archlinux": "pacman",
    "gentoo": "portage",
    "pardus": "pisi",
    "mageia": "urpmi",
    "mandriva": "urpmi",
    **dict.fromkeys(("opensuse", "sles", "suse-based"), "zypper"),
    "alpinelinux": "apk",
    "voidlinux": "xbps",
    "openmandriva": "dnf",
}

_RED_HAT_LIKE = frozenset(
    ("centos", "rocky", "oraclelinux", "redhat-based", "rhel", "scientificlinux")
)


def package_management(data: InspectionData, has_dnf: bool) -> str | None:
    """The package manager, from the distro and major version (``has_dnf``: the guest
    has /usr/bin/dnf, which decides between dnf and yum on Fedora >= 22)."""
    distro = data.distro
    major = data.version[0] if data.version else 0
    if distro is None:
        return None
    if distro == "fedora":
        if major >= 22 and has_dnf:
            return "dnf"
        # 0: the release file could not be parsed (RHBZ#1332025): say nothing.
        return "yum" if major >= 1 else None
    if distro in _RED_HAT_LIKE:
        if major >= 8:
            return "dnf"
        if major >= 5:
            return "yum"
        if major >= 2:
            return "up2date"
        return None
    return _SIMPLE_MANAGEMENT.get(distro)
