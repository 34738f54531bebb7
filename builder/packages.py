"""From package names to the host files the appliance needs, supermin-style.

The host's dpkg database says which packages are installed, what each depends on and
which files it owns. The closure of the requested packages' dependencies is taken
(``Pre-Depends`` and ``Depends``; for an alternative, the first one installed), and their
files listed, minus documentation, manuals, locales and anything else the appliance never
reads. Package versions go into the cache key, so a host upgrade rebuilds the appliance.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import BuildError

DPKG_DIR = "/var/lib/dpkg"

#: What the agent runs: the tools behind its APIs. Optional ones are skipped (and the
#: matching feature reported missing) when the host does not have them.
REQUIRED_PACKAGES = (
    # dash is /bin/sh: libparted popen()s dmidecode through it and crashes without it.
    "dash",
    "coreutils",
    "tar",
    "gzip",
    "bzip2",
    "xz-utils",
    "zstd",
    "mount",
    "util-linux",
    "e2fsprogs",
    "parted",
)
#: Each adds APIs or feature groups when the host has it installed (ci/setup.sh installs them
#: all). kmod's modprobe is what the guest kernel runs to load a filesystem or device-mapper
#: module on first use, from the module tree the builder puts in the root image.
OPTIONAL_PACKAGES = (
    "kmod",
    "lvm2",
    "gdisk",
    "zerofree",
    "cpio",
    "dosfstools",
    "xfsprogs",
    "btrfs-progs",
    "ntfs-3g",
    # cryptsetup (luks group), mdadm (mdadm group), ldmtool (ldm group): the tools behind
    # those families, as in libguestfs's own appliance (libguestfs0's supermin packages).
    "cryptsetup-bin",
    "mdadm",
    "ldmtool",
    "lzop",
    # sfdisk (part_get_mbr_id, part_set_mbr_id): Debian ships it apart from util-linux.
    "fdisk",
    # grep and the grep family (zgrep is a shell script over gzip, grep and sed), hexdump,
    # file (with libmagic's 8 MiB database).
    "grep",
    "sed",
    "bsdextrautils",
    "file",
    # cmp, for equal.
    "diffutils",
    # librpm, for internal_list_rpm_applications (inspecting RPM-based guests).
    "librpm9",
    # setfiles, for selinux_relabel (the selinuxrelabel group).
    "policycoreutils",
    # The aug_* procedures: libaugeas (loaded by the agent through ctypes) and its lenses
    # (augeas-lenses, /usr/share/augeas/lenses/dist).
    "libaugeas0",
    "augeas-lenses",
    # The hivex_* procedures and Windows inspection: libhivex, through ctypes.
    "libhivex0",
    # The scrub, squashfs, f2fs, syslinux and extlinux groups: tools 1.48's own appliance
    # carries (libguestfs0's supermin packages list); syslinux brings mtools with it.
    "scrub",
    "squashfs-tools",
    "f2fs-tools",
    "syslinux",
    "extlinux",
    # yara_load/internal_yara_scan (the libyara group): libyara, through ctypes (+0.5 MB).
    "libyara9",
    # internal_filesystem_walk/internal_find_inode (the libtsk group): libtsk, through
    # ctypes. Its image-format libraries (libewf's curl, afflib ...) are all DT_NEEDED,
    # so they come too: +12.7 MB of files, as in libguestfs's own appliance.
    "libtsk19",
    # icat and blkls, for download_inode/download_blocks (the sleuthkit group): ELF tools
    # over libtsk, +1.5 MB. Its Perl dependencies are left out (SKIP_PACKAGES).
    "sleuthkit",
)

#: Packages never worth their weight in the appliance even if something depends on them.
#: (Not libicu72, 35 MB: libxml2, which libaugeas links, cannot be loaded without it.)
SKIP_PACKAGES = frozenset(
    {
        "debconf",
        "dpkg",
        "perl-base",
        "init-system-helpers",
        "sensible-utils",
        "tzdata",
        "systemd",
        "udev",
        "login",
        "passwd",
        "adduser",
        "debian-archive-keyring",
        "gpgv",
        "apt",
        "base-files",
        "base-passwd",
        "bash",
        "install-info",
        "readline-common",
        "ucf",
        "lsb-base",
        "libc-bin",
        # The agent is frozen with its own Python; the system one comes only through
        # xfsprogs's xfs_scrub_all script, which the appliance never runs.
        "python3",
        "python3-minimal",
        "python3.11",
        "python3.11-minimal",
        "libpython3-stdlib",
        "libpython3.11-stdlib",
        "libpython3.11-minimal",
        "media-types",
        # sleuthkit's Perl scripts (mactime, sorter) need these; the agent runs only its
        # C tools.
        "perl",
        "perl-modules-5.36",
        "libperl5.36",
        "libdate-manip-perl",
    }
)

EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
    "/usr/share/bash-completion/*",
    "/usr/share/bug/*",
    "/usr/share/common-licenses/*",
    "/usr/share/i18n/*",
    "/usr/share/zoneinfo/*",
    "/usr/share/menu/*",
    "/usr/share/pixmaps/*",
    "/usr/share/applications/*",
    "/usr/lib/x86_64-linux-gnu/gconv/*",
    "/usr/share/initramfs-tools/*",
    "/etc/init.d/*",
    "/etc/cron*",
    "/lib/systemd/*",
    "/usr/lib/systemd/*",
    "/boot/*",
    "/lib/modules/*",
    "/usr/lib/modules/*",
    "/usr/share/perl*",
    "/usr/include/*",
    "/usr/share/pkgconfig/*",
)


#: Files kept although an exclude matches them. libhivex converts key and value names
#: between Latin-1, UTF-16LE and UTF-8 with iconv: glibc needs its module configuration,
#: the ISO8859-1 module and the UTF-16 one (only UTF-8 and UCS are built in); without
#: them hivex fails on every name with EBADF (iconv on a handle iconv_open could not make).
KEEP = (
    "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules*",
    "/usr/lib/x86_64-linux-gnu/gconv/ISO8859-1.so",
    "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so",
    # mtools (syslinux writes its loader onto a FAT volume through it) converts names
    # to DOS code page 850 and fails without this module.
    "/usr/lib/x86_64-linux-gnu/gconv/IBM850.so",
)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    depends: tuple[tuple[str, ...], ...]  # each entry: alternatives


def read_status(dpkg_dir: str = DPKG_DIR) -> dict[str, Package]:
    """Installed packages from dpkg's status file."""
    path = os.path.join(dpkg_dir, "status")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise BuildError(
            f"cannot read the package database {path}: {e.strerror}",
            "the builder reads dpkg's database: run it on Debian or Ubuntu",
        ) from None
    packages: dict[str, Package] = {}
    for stanza in text.split("\n\n"):
        fields = _fields(stanza)
        if "install ok installed" not in fields.get("Status", ""):
            continue
        deps = []
        for key in ("Pre-Depends", "Depends"):
            for dep in filter(None, (d.strip() for d in fields.get(key, "").split(","))):
                deps.append(tuple(_dep_name(alt) for alt in dep.split("|")))
        pkg = Package(
            fields["Package"],
            fields.get("Version", ""),
            fields.get("Architecture", ""),
            tuple(deps),
        )
        packages[pkg.name] = pkg
    return packages


def _fields(stanza: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") and key:
            out[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def _dep_name(spec: str) -> str:
    # "libc6 (>= 2.34)", "python3:any", "awk" → the bare name
    return re.split(r"[\s(:]", spec.strip(), maxsplit=1)[0]


def resolve(
    names: Iterable[str], optional: Iterable[str] = (), dpkg_dir: str = DPKG_DIR
) -> tuple[list[Package], list[str]]:
    """The dependency closure of ``names`` (all must be installed) plus whichever of
    ``optional`` are installed. Returns (packages sorted by name, optional ones missing)."""
    db = read_status(dpkg_dir)
    provides = _provides(dpkg_dir)
    missing = [n for n in names if n not in db]
    if missing:
        raise BuildError(
            f"packages the appliance needs are not installed on this host: {', '.join(missing)}",
            f"apt-get install {' '.join(missing)}",
        )
    skipped = [n for n in optional if n not in db]
    todo = [*names, *(n for n in optional if n in db)]
    seen: dict[str, Package] = {}
    while todo:
        name = todo.pop()
        if name in seen or name in SKIP_PACKAGES:
            continue
        pkg = db[name]
        seen[name] = pkg
        for alternatives in pkg.depends:
            chosen = next(
                (a for a in alternatives if a in db),
                next((provides[a] for a in alternatives if a in provides), None),
            )
            if chosen and chosen not in seen:
                todo.append(chosen)
    return sorted(seen.values(), key=lambda p: p.name), skipped


def _provides(dpkg_dir: str) -> dict[str, str]:
    """Virtual package → an installed package providing it."""
    out: dict[str, str] = {}
    try:
        with open(os.path.join(dpkg_dir, "status"), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return out
    for stanza in text.split("\n\n"):
        fields = _fields(stanza)
        if "install ok installed" not in fields.get("Status", ""):
            continue
        for prov in filter(None, (p.strip() for p in fields.get("Provides", "").split(","))):
            out.setdefault(_dep_name(prov), fields["Package"])
    return out


def package_files(
    pkg: Package, dpkg_dir: str = DPKG_DIR, excludes: Iterable[str] = EXCLUDES
) -> list[str]:
    """Absolute paths the package owns, minus the excludes (directories included)."""
    info = os.path.join(dpkg_dir, "info")
    for candidate in (f"{pkg.name}:{pkg.arch}.list", f"{pkg.name}.list"):
        path = os.path.join(info, candidate)
        if os.path.exists(path):
            break
    else:
        return []
    patterns = tuple(excludes)
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        files = [line.rstrip("\n") for line in f if line.strip() and line.strip() != "/."]
    return [
        p
        for p in files
        if any(fnmatch.fnmatch(p, pat) for pat in KEEP)
        or not any(fnmatch.fnmatch(p, pat) for pat in patterns)
    ]
