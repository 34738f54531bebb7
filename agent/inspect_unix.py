"""Linux and other Unix roots: distro, version, product name, hostname and architecture.

The facts are libguestfs 1.48's (``daemon/inspect_fs_unix.ml``): release files are tried
in a fixed order and the first parser that says "done" wins; a parser that gives up leaves
what it already set (Debian's os-release sets the product name, then its VERSION_ID without
a minor number makes inspection go on to /etc/debian_version, whose first line becomes the
product name and the version). The architecture is that of the first of a few well-known
binaries; the hostname comes from /etc/HOSTNAME, /etc/hostname or Red Hat's
/etc/sysconfig/network.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from .inspect_files import GuestTree, file_architecture
from .inspect_types import InspectionData

_RE_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_RE_MAJOR = re.compile(r"(\d+)")
_RE_NEOKYLIN_VERSION = re.compile(r"^V(\d+)Update(\d+)$")


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


RE_FEDORA = _re(r"Fedora release (\d+)")
RE_RHEL_OLD = _re(r"Red Hat.*release (\d+).*Update (\d+)")
RE_RHEL = _re(r"Red Hat.*release (\d+)\.(\d+)")
RE_RHEL_NO_MINOR = _re(r"Red Hat.*release (\d+)")
RE_CENTOS_OLD = _re(r"CentOS.*release (\d+).*Update (\d+)")
RE_CENTOS = _re(r"CentOS.*release (\d+)\.(\d+)")
RE_CENTOS_NO_MINOR = _re(r"CentOS.*release (\d+)")
RE_ROCKY = _re(r"Rocky Linux.*release (\d+)\.(\d+)")
RE_ROCKY_NO_MINOR = _re(r"Rocky Linux.*release (\d+)")
RE_SCIENTIFIC_OLD = _re(r"Scientific Linux.*release (\d+).*Update (\d+)")
RE_SCIENTIFIC = _re(r"Scientific Linux.*release (\d+)\.(\d+)")
RE_SCIENTIFIC_NO_MINOR = _re(r"Scientific Linux.*release (\d+)")
RE_ORACLE_OLD = _re(r"Oracle Linux.*release (\d+).*Update (\d+)")
RE_ORACLE = _re(r"Oracle Linux.*release (\d+)\.(\d+)")
RE_ORACLE_NO_MINOR = _re(r"Oracle Linux.*release (\d+)")
RE_NETBSD = _re(r"^NetBSD (\d+)\.(\d+)")
RE_OPENSUSE = _re(r"^(openSUSE|SuSE Linux|SUSE LINUX) ")
RE_SLES = _re(r"^SUSE (Linux|LINUX) Enterprise ")
RE_NLD = _re(r"^Novell Linux Desktop ")
RE_SLES_VERSION = _re(r"^VERSION = (\d+)")
RE_SLES_PATCHLEVEL = _re(r"^PATCHLEVEL = (\d+)")
RE_MINIX = _re(r"^(\d+)\.(\d+)(\.(\d+))?")
RE_FRUGALWARE = _re(r"Frugalware (\d+)\.(\d+)")
RE_PLDLINUX = _re(r"(\d+)\.(\d+) PLD Linux")
RE_OPENMANDRIVA = _re(r"OpenMandriva.*release (\d+)\.(\d+)\.?(\d+)? .*")

#: Binaries whose ELF header gives the architecture, in 1.48's order.
ARCH_BINARIES = ("/bin/bash", "/bin/ls", "/bin/echo", "/bin/rm", "/bin/sh")

#: Rolling distros have no VERSION_ID: their version is 0.0.
ROLLING_DISTROS = frozenset(("archlinux", "gentoo", "voidlinux"))

_OS_RELEASE_IDS = {
    "alpine": "alpinelinux",
    "altlinux": "altlinux",
    "arch": "archlinux",
    "centos": "centos",
    "coreos": "coreos",
    "debian": "debian",
    "fedora": "fedora",
    "frugalware": "frugalware",
    "gentoo": "gentoo",
    "kali": "kalilinux",
    "kylin": "kylin",
    "mageia": "mageia",
    "neokylin": "neokylin",
    "openmandriva": "openmandriva",
    "opensuse": "opensuse",
    "pardus": "pardus",
    "pld": "pldlinux",
    "rhel": "rhel",
    "rocky": "rocky",
    "sles": "sles",
    "sled": "sles",
    "ubuntu": "ubuntu",
    "void": "voidlinux",
}

_LSB_IDS = {"CoreOS": "coreos", "LinuxMint": "linuxmint", "Mageia": "mageia", "Ubuntu": "ubuntu"}


def _log(message: str) -> None:
    print(f"inspect: {message}", file=sys.stderr, flush=True)


# -- value parsing ----------------------------------------------------------------------------


def parse_version_from_major_minor(text: str, data: InspectionData) -> None:
    """ "12.4" → (12, 4), "12" → (12, 0): the first number(s) found anywhere."""
    m = _RE_MAJOR_MINOR.search(text)
    if m:
        data.version = (int(m.group(1)), int(m.group(2)))
        return
    m = _RE_MAJOR.search(text)
    if m:
        data.version = (int(m.group(1)), 0)
    else:
        _log(f"parse_version_from_major_minor: cannot parse version from '{text}'")


def shell_unquote(value: str) -> str:
    """Undo shell quoting of one word ('x', "x" with backslash escapes, bare x)."""
    out = []
    i = 0
    quote = ""
    while i < len(value):
        c = value[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif c == "\\" and i + 1 < len(value) and (quote == "" or value[i + 1] in '"\\$`'):
            i += 1
            out.append(value[i])
        elif c in "'\"" and quote == "":
            quote = c
        elif c == '"' and quote == '"':
            quote = ""
        else:
            out.append(c)
        i += 1
    return "".join(out)


def simple_unquote(value: str) -> str:
    """Strip one pair of surrounding quotes, nothing else (lsb-release)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def key_values(lines: list[str], unquote: Callable[[str], str]) -> list[tuple[str, str]]:
    """KEY=value lines (blank and # lines skipped; a line without = is a key with "")."""
    out = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out.append((key, unquote(value)))
    return out


# -- release file parsers: each returns True when the distro is settled ------------------------

Parser = Callable[[GuestTree, str, InspectionData], bool]


def parse_os_release(tree: GuestTree, path: str, data: InspectionData) -> bool:
    lines = tree.read_lines(path)
    if lines is None:
        return False
    for key, value in key_values(lines, shell_unquote):
        if key == "ID":
            distro = _OS_RELEASE_IDS.get(value)
            if distro is None and value.startswith("opensuse-"):
                distro = "opensuse"
            if distro is None:
                _log(f"/etc/os-release: unknown ID={value}")
            else:
                data.distro = distro
        elif key == "PRETTY_NAME":
            data.product_name = value
        elif key == "VERSION_ID":
            m = _RE_NEOKYLIN_VERSION.match(value)
            if m:
                data.version = (int(m.group(1)), int(m.group(2)))
            else:
                parse_version_from_major_minor(value, data)
    if data.distro is None or data.product_name is None:
        return False
    if data.distro in ("debian", "centos", "rocky") and data.version and data.version[1] == 0:
        # Their os-release has only the major number: the release file has the rest.
        return False
    if data.version is None:
        if data.distro in ROLLING_DISTROS:
            data.version = (0, 0)
            return True
        return False
    return True


def parse_lsb_release(tree: GuestTree, path: str, data: InspectionData) -> bool:
    lines = tree.read_lines(path)
    if lines is None:
        return False
    ok = False  # a bare file with only LSB_VERSION (RHEL 3) settles nothing
    for key, value in key_values(lines, simple_unquote):
        if key == "DISTRIB_ID":
            distro = _LSB_IDS.get(value)
            if distro is None:
                _log(f"lsb-release: unknown DISTRIB_ID={value}")
            else:
                data.distro = distro
                ok = True
        elif key == "DISTRIB_RELEASE":
            parse_version_from_major_minor(value, data)
        elif key == "DISTRIB_DESCRIPTION":
            data.product_name = value
            ok = True
    return ok


def parse_suse_release(tree: GuestTree, path: str, data: InspectionData) -> bool:
    lines = tree.read_lines(path)
    if not lines:
        return False
    product = lines[0]
    data.product_name = product
    if RE_SLES.search(product) or RE_NLD.search(product):
        major = minor = None
        if len(lines) >= 2 and (m := RE_SLES_VERSION.search(lines[1])):
            major = int(m.group(1))
        if len(lines) >= 3 and (m := RE_SLES_PATCHLEVEL.search(lines[2])):
            minor = int(m.group(1))
        data.distro = "sles"
        data.version = (major, minor or 0) if major is not None else None
    elif RE_OPENSUSE.search(product):
        if len(lines) >= 2:
            parse_version_from_major_minor(lines[1], data)
        data.distro = "opensuse"
    return True


def generic(distro: str, rex: re.Pattern[str] | None = None) -> Parser:
    """Any /etc/x-release file: the first line is the product name; ``rex`` (if given)
    must match it and its groups 1 and 2 are the version."""

    def parse(tree: GuestTree, path: str, data: InspectionData) -> bool:
        product = tree.first_line(path)
        if not product:
            return False
        data.product_name = product
        data.distro = distro
        if rex is None:
            parse_version_from_major_minor(product, data)
            return True
        m = rex.search(product)
        if not m:
            return False
        groups = m.groups()

        def number(i: int) -> int | None:
            g = groups[i] if i < len(groups) else None
            return int(g) if g is not None and g.isdigit() else None

        major, minor = number(0), number(1)
        if major is not None:
            data.version = (major, minor if minor is not None else 0)
        return True

    return parse


def _set_distro(distro: str) -> Parser:
    def parse(tree: GuestTree, path: str, data: InspectionData) -> bool:
        data.distro = distro
        return True

    return parse


def _buildroot(tree: GuestTree, path: str, data: InspectionData) -> bool:
    cirros = tree.is_file("/usr/share/cirros/logo", follow=True)
    return generic("cirros" if cirros else "buildroot")(tree, path, data)


#: The release files of Linux roots, in 1.48's order.
LINUX_ROOT_TESTS: tuple[tuple[str, Parser], ...] = (
    ("/etc/os-release", parse_os_release),
    ("/etc/lsb-release", parse_lsb_release),
    # OpenMandriva and the RHEL rebuilds also ship /etc/redhat-release: check them first.
    ("/etc/openmandriva-release", generic("openmandriva", RE_OPENMANDRIVA)),
    ("/etc/oracle-release", generic("oraclelinux", RE_ORACLE_OLD)),
    ("/etc/oracle-release", generic("oraclelinux", RE_ORACLE)),
    ("/etc/oracle-release", generic("oraclelinux", RE_ORACLE_NO_MINOR)),
    ("/etc/centos-release", generic("centos", RE_CENTOS_OLD)),
    ("/etc/centos-release", generic("centos", RE_CENTOS)),
    ("/etc/centos-release", generic("centos", RE_CENTOS_NO_MINOR)),
    ("/etc/rocky-release", generic("rocky", RE_ROCKY)),
    ("/etc/rocky-release", generic("rocky", RE_ROCKY_NO_MINOR)),
    ("/etc/altlinux-release", generic("altlinux")),
    ("/etc/redhat-release", generic("fedora", RE_FEDORA)),
    ("/etc/redhat-release", generic("rhel", RE_RHEL_OLD)),
    ("/etc/redhat-release", generic("rhel", RE_RHEL)),
    ("/etc/redhat-release", generic("rhel", RE_RHEL_NO_MINOR)),
    ("/etc/redhat-release", generic("centos", RE_CENTOS_OLD)),
    ("/etc/redhat-release", generic("centos", RE_CENTOS)),
    ("/etc/redhat-release", generic("centos", RE_CENTOS_NO_MINOR)),
    ("/etc/redhat-release", generic("rocky", RE_ROCKY)),
    ("/etc/redhat-release", generic("rocky", RE_ROCKY_NO_MINOR)),
    ("/etc/redhat-release", generic("scientificlinux", RE_SCIENTIFIC_OLD)),
    ("/etc/redhat-release", generic("scientificlinux", RE_SCIENTIFIC)),
    ("/etc/redhat-release", generic("scientificlinux", RE_SCIENTIFIC_NO_MINOR)),
    # Nothing above matched: some Red Hat derivative.
    ("/etc/redhat-release", generic("redhat-based")),
    ("/etc/redhat-release", _set_distro("redhat-based")),
    ("/etc/debian_version", generic("debian")),
    ("/etc/pardus-release", generic("pardus")),
    # /etc/arch-release is empty: no product name or version to be had.
    ("/etc/arch-release", _set_distro("archlinux")),
    ("/etc/gentoo-release", generic("gentoo")),
    ("/etc/meego-release", generic("meego")),
    ("/etc/slackware-version", generic("slackware")),
    ("/etc/ttylinux-target", generic("ttylinux")),
    ("/etc/SuSE-release", parse_suse_release),
    ("/etc/SuSE-release", _set_distro("suse-based")),
    ("/etc/cirros/version", generic("cirros")),
    ("/etc/br-version", _buildroot),
    ("/etc/alpine-release", generic("alpinelinux")),
    ("/etc/frugalware-release", generic("frugalware", RE_FRUGALWARE)),
    ("/etc/pld-release", generic("pldlinux", RE_PLDLINUX)),
)

HURD_ROOT_TESTS: tuple[tuple[str, Parser], ...] = (
    ("/etc/os-release", parse_os_release),
    ("/etc/debian_version", generic("debian")),
)


def run_release_tests(
    tree: GuestTree, data: InspectionData, tests: tuple[tuple[str, Parser], ...]
) -> None:
    for path, parse in tests:
        if tree.is_file(path, follow=True) and parse(tree, path, data):
            return


# -- architecture and hostname --------------------------------------------------------------


def check_architecture(tree: GuestTree) -> str | None:
    """The architecture of the first well-known binary that can be read (symlinks such
    as merged-/usr's /bin → usr/bin are followed inside the filesystem)."""
    for binary in ARCH_BINARIES:
        if tree.is_file(binary, follow=True):
            arch = file_architecture(tree, tree.realpath(binary))
            if arch is not None:
                return arch
    return None


def hostname_from_file(tree: GuestTree, path: str) -> str | None:
    """The first line that is neither empty nor a # comment."""
    lines = tree.read_lines(path)
    if lines is None:
        return None
    return next((line for line in lines if line and not line.startswith("#")), None)


def hostname_from_sysconfig_network(tree: GuestTree) -> str | None:
    """HOSTNAME= of /etc/sysconfig/network (shell variable syntax)."""
    lines = tree.read_lines("/etc/sysconfig/network")
    if lines is None:
        return None
    value = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, rest = stripped.partition("=")
        if sep and key == "HOSTNAME":
            value = shell_unquote(rest.split(" #", 1)[0].strip())
    return value


def check_hostname_linux(tree: GuestTree) -> str | None:
    for path in ("/etc/HOSTNAME", "/etc/hostname"):
        name = hostname_from_file(tree, path)
        if name is not None:
            return name
    if tree.is_file("/etc/sysconfig/network"):
        return hostname_from_sysconfig_network(tree)
    return None


def check_hostname_bsd(tree: GuestTree) -> str | None:
    """hostname= in /etc/rc.conf (FreeBSD, NetBSD and, as in 1.48, OpenBSD)."""
    lines = tree.read_lines("/etc/rc.conf")
    if lines is None:
        return None
    for line in lines:
        if line.startswith(('hostname="', "hostname='")):
            return line[10:-1]
        if line.startswith("hostname="):
            return line[9:]
    return None
