"""The two inspection actions 1.48 computes in the library from inspection results
(``lib/inspect-osinfo.c``, ``lib/inspect-icon.c``): ``inspect_get_osinfo`` and
``inspect_get_icon``.

The icon is a PNG file of the guest found where each distribution keeps its logo, taken
only if ``file`` calls it a PNG of 16x16 to 1024x1024 pixels and it is no larger than a
bound per distribution (1.48's checks: the bytes come from the guest). Icons that 1.48
converts with host programs (a Windows guest's explorer.exe resources through wrestool
and netpbm, CirrOS's text logo) are not extracted: those guests answer an empty
buffer, which the API documents as "no icon found".
"""

from __future__ import annotations

import re

from ..calls import _H
from ..errors import GuestFSError
from .base import HandleBase

#: Logo files per distribution, with 1.48's size bounds (0: 4 bytes a pixel).
_ICONS: dict[str, tuple[tuple[str, ...], int]] = {
    "fedora": (("/usr/share/icons/hicolor/96x96/apps/fedora-logo-icon.png",), 0),
    "debian": (("/usr/share/pixmaps/debian-logo.png",), 2048),
    "ubuntu": (
        (
            "/usr/share/icons/gnome/24x24/places/ubuntu-logo.png",
            "/usr/share/help/C/ubuntu-help/figures/ubuntu-logo.png",
        ),
        2048,
    ),
    "mageia": (("/usr/share/icons/mageia.png",), 10240),
    "opensuse": (
        (
            "/usr/share/icons/hicolor/48x48/apps/distributor.png",
            "/usr/share/icons/hicolor/24x24/apps/distributor.png",
        ),
        10240,
    ),
    "voidlinux": (("/usr/share/void-artwork/void-logo.png",), 20480),
    "altlinux": (("/usr/share/icons/hicolor/48x48/apps/altlinux.png",), 20480),
    "gentoo": (("/usr/share/icons/gentoo/48x48/gentoo.png",), 10240),
    "openmandriva": (
        (
            "/usr/share/icons/large/mandriva.png",
            "/usr/share/icons/hicolor/48x48/apps/mandriva.png",
        ),
        10240,
    ),
}
_ICONS["suse-based"] = _ICONS["sles"] = _ICONS["opensuse"]
_RHEL_LIKE = ("rhel", "redhat-based", "centos", "rocky", "scientificlinux", "oraclelinux")
_PNG = re.compile(r"^PNG image data, (\d+) x (\d+)")


class Inspection(HandleBase[_H]):
    """``inspect_get_osinfo`` and ``inspect_get_icon``."""

    def inspect_get_osinfo(self, root: str) -> str:
        """The libosinfo short id of an inspected OS (``debian12``, ``win10`` ...), or
        ``unknown``."""
        kind = self.inspect_get_type(root)
        distro = self.inspect_get_distro(root)
        major = self.inspect_get_major_version(root)
        minor = self.inspect_get_minor_version(root)
        if kind == "linux":
            found = _linux_osinfo(distro, major, minor)
            if found:
                return found
        elif kind in ("freebsd", "netbsd", "openbsd"):
            return f"{distro}{major}.{minor}"
        elif kind == "dos" and distro == "msdos":
            return "msdos6.22"
        elif kind == "windows":
            name = self.inspect_get_product_name(root)
            variant = self.inspect_get_product_variant(root)
            found = _windows_osinfo(major, minor, name, variant)
            if found:
                return found
        return "unknown"

    def inspect_get_icon(
        self, root: str, favicon: bool | None = None, highquality: bool | None = None
    ) -> bytes:
        """The guest's icon as PNG bytes, or ``b""`` when none is found. Needs the
        guest's filesystems mounted (as after inspection and mounting them)."""
        kind = self.inspect_get_type(root)
        distro = self.inspect_get_distro(root)
        want_favicon = (True if favicon is None else favicon) and not highquality
        if want_favicon:
            found = self._png("/etc/favicon.png", 0)
            if found is not None:
                return found
        if kind not in ("linux", "hurd"):
            return b""
        if distro in _RHEL_LIKE:
            major = self.inspect_get_major_version(root)
            logo = (
                "/usr/share/pixmaps/redhat/shadowman-transparent.png"
                if major < 7
                else "/usr/share/icons/hicolor/96x96/apps/system-logo-icon.png"
            )
            return self._png(logo, 102400) or b""
        if distro == "ubuntu" and highquality:
            return b""
        paths, bound = _ICONS.get(distro, ((), 0))
        for path in paths:
            found = self._png(path, bound)
            if found is not None:
                return found
        return b""

    def _png(self, path: str, max_size: int) -> bytes | None:
        """1.48's get_png: the file if it is a plausible PNG icon, else None."""
        if not self.is_file(path, followsymlinks=True):
            return None
        try:
            real = self.realpath(path)
            kind = self.file(real)
        except GuestFSError:
            return None
        m = _PNG.match(kind)
        if not m:
            return None
        w, h = int(m.group(1)), int(m.group(2))
        if not (16 <= w <= 1024 and 16 <= h <= 1024):
            return None
        bound = max_size or 4 * w * h
        if self.filesize(real) > bound:
            return None
        return self.read_file(real)


def _linux_osinfo(distro: str, major: int, minor: int) -> str | None:
    if distro == "centos":
        if major >= 8:
            return f"centos{major}"
        if major == 7:
            return "centos7.0"
        if major == 6:
            return f"centos6.{minor}"
    elif distro == "rocky":
        if major >= 8:
            return f"rocky{major}"
    elif distro == "debian":
        if major >= 4:
            return f"debian{major}"
    elif distro in ("fedora", "mageia"):
        return f"{distro}{major}"
    elif distro == "sles":
        return f"sles{major}" if minor == 0 else f"sles{major}sp{minor}"
    elif distro == "ubuntu":
        return f"ubuntu{major}.{minor:02d}"
    elif distro in ("archlinux", "gentoo", "voidlinux"):
        return distro
    elif distro == "altlinux":
        return f"alt{major}.{minor}" if major >= 8 else f"altlinux{major}.{minor}"
    if distro != "unknown" and (major > 0 or minor > 0):
        return f"{distro}{major}.{minor}"
    return None


def _windows_osinfo(major: int, minor: int, name: str, variant: str) -> str | None:
    server = "Server" in variant
    if (major, minor) == (5, 1):
        return "winxp"
    if (major, minor) == (5, 2):
        return "winxp" if "XP" in name else "win2k3r2" if "R2" in name else "win2k3"
    table = {
        (6, 0): ("win2k8", "winvista"),
        (6, 1): ("win2k8r2", "win7"),
        (6, 2): ("win2k12", "win8"),
        (6, 3): ("win2k12r2", "win8.1"),
    }
    if (major, minor) in table:
        return table[major, minor][0 if server else 1]
    if (major, minor) == (10, 0):
        if not server:
            return "win10"
        return "win2k22" if "2022" in name else "win2k19" if "2019" in name else "win2k16"
    return None
