"""A guest's /etc/fstab, mapped onto the devices users see.

libguestfs 1.48 (``daemon/inspect_fs_unix_fstab.ml``) reads fstab with Augeas and, for each
entry, resolves the first field to a device of the appliance: ``UUID=`` and ``LABEL=``
through the filesystems present, ``/dev/root`` to the root being inspected,
``/dev/mapper/VG-LV`` to ``/dev/VG/LV``, ``/dev/xvdb1``-style names by disk order, and a
few BSD and Hurd schemes. Floppies, CD-ROMs, pseudo filesystems and mountpoints under
/dev, /proc, /sys, /selinux and /media are left out, as are entries whose UUID or label
matches nothing. This module does the same on plain text, with the device facts supplied
by a :class:`DeviceView`, so it can be tested without disks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .inspect_unix import shell_unquote

#: 1.48 hands Augeas only files up to this size.
MAX_FSTAB_SIZE = 100 * 1000

_RE_CCISS = re.compile(r"^/dev/(cciss/c\d+d\d+)(?:p(\d+))?$")
_RE_DISKBYID = re.compile(r"^/dev/disk/by-id/.*-part(\d+)$")
_RE_FREEBSD_GPT = re.compile(r"^/dev/(ada{0,1}|vtbd)(\d+)p(\d+)$")
_RE_FREEBSD_MBR = re.compile(r"^/dev/(ada{0,1}|vtbd)(\d+)s(\d+)([a-z])$")
_RE_HURD_DEV = re.compile(r"^/dev/(h)d(\d+)s(\d+)$")
_RE_MD = re.compile(r"^/dev/md\d+$")
_RE_NETBSD_DEV = re.compile(r"^/dev/(l|s)d([0-9])([a-z])$")
_RE_OPENBSD_DEV = re.compile(r"^/dev/(s|w)d([0-9])([a-z])$")
_RE_OPENBSD_DUID = re.compile(r"^[0-9a-f]{16}\.[a-z]")
_RE_XDEV = re.compile(r"^/dev/(h|s|v|xv)d([a-z]+)(\d*)$")

BSD_TYPES = frozenset(("freebsd", "netbsd", "openbsd"))


class DeviceView(Protocol):
    """What fstab resolution needs to know about the appliance's devices."""

    def findfs(self, tag: str, value: str) -> str | None:
        """The device whose filesystem has this UUID or LABEL (``tag``), or None."""

    def lv_canonical(self, device: str) -> str | None:
        """``/dev/VG/LV`` for a device-mapper name of an LV; None if it is not an LV or
        does not exist."""

    def devices(self) -> list[str]:
        """Whole disks as users name them (``/dev/sda``, ...), in order."""

    def is_partition(self, device: str) -> bool:
        """True if ``device`` (a user name) is an existing partition."""


@dataclass(frozen=True)
class FstabEntry:
    """One line of fstab as Augeas would see it."""

    spec: str
    file: str
    vfstype: str | None
    options: tuple[tuple[str, str | None], ...]


def parse_fstab(text: str) -> list[FstabEntry]:
    """Entries of fstab text: comments and blank lines skipped; an entry without a
    mountpoint is skipped (Augeas would refuse the whole file; here only that line)."""
    entries = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) < 2:
            continue
        options: list[tuple[str, str | None]] = []
        if len(fields) >= 4:
            for opt in fields[3].split(","):
                name, eq, value = opt.partition("=")
                options.append((name, value if eq else None))
        entries.append(
            FstabEntry(
                spec=fields[0],
                file=fields[1],
                vfstype=fields[2] if len(fields) >= 3 else None,
                options=tuple(options),
            )
        )
    return entries


def unix_canonical_path(path: str) -> str:
    """ "///usr//local//" → "/usr/local" (only slashes are folded, as in 1.48)."""
    parts = [p for p in path.split("/") if p]
    return ("/" if path.startswith("/") else "") + "/".join(parts)


def _ignored_spec(spec: str) -> bool:
    """Floppies (RHBZ#642929), CD-ROMs and FreeBSD install media."""
    if (spec.startswith("/dev/fd") or spec.startswith("/dev/cd")) and (
        len(spec) >= 8 and spec[7].isdigit()
    ):
        return True
    return spec in ("/dev/floppy", "/dev/cdrom") or spec.startswith("/dev/iso9660/")


def _ignored_mountpoint(mp: str) -> bool:
    if mp in ("/dev", "/proc", "/selinux", "/sys"):
        return True
    return mp.startswith(("/dev/", "/media/", "/proc/", "/selinux/", "/sys/"))


def drive_index(letters: str) -> int:
    """ "a" → 0, "z" → 25, "aa" → 26."""
    index = 0
    for c in letters:
        index = index * 26 + (ord(c) - ord("a") + 1)
    return index - 1


def _sd(disk: int, part: int) -> str:
    return f"/dev/sd{chr(ord('a') + disk)}{part}"


def resolve_fstab_device(spec: str, view: DeviceView, os_type: str) -> str:
    """The user's name for a /dev/... name found in a guest's fstab; the name itself when
    no rule applies (the guest's disks are assumed to be in the order they were added)."""
    if spec.startswith("/dev/mapper"):
        return view.lv_canonical(spec) or spec
    m = _RE_XDEV.match(spec)
    if m:
        return _resolve_xdev(m.group(2), m.group(3), spec, view)
    if _RE_CCISS.match(spec):
        return spec  # 1.48 does not guess cciss mappings
    if _RE_MD.match(spec):
        return spec  # mdadm.conf is not consulted here: the array keeps its guest name
    m = _RE_DISKBYID.match(spec)
    if m:
        # Only a guest with one disk can be mapped: the SCSI ids are lost.
        if len(view.devices()) == 1:
            dev = f"/dev/sda{int(m.group(1))}"
            if view.is_partition(dev):
                return dev
        return spec
    m = _RE_FREEBSD_GPT.match(spec)
    if m:
        disk, part = int(m.group(2)), int(m.group(3))
        return _sd(disk, part) if 0 <= disk <= 26 and 0 <= part <= 128 else spec
    m = _RE_FREEBSD_MBR.match(spec)
    if m:
        disk, slice_ = int(m.group(2)), int(m.group(3))
        part = ord(m.group(4)) - ord("a")
        # Partition 'c' is the whole slice and has no Linux device; FreeBSD partitions
        # show up as Linux's logical partitions, numbered from 5.
        if part > 2:
            part -= 1
        if 0 <= disk <= 26 and 0 < slice_ <= 1 and 0 <= part < 25:
            return _sd(disk, part + 5)
        return spec
    m = _RE_NETBSD_DEV.match(spec)
    if os_type == "netbsd" and m:
        disk, part = int(m.group(2)), ord(m.group(3)) - ord("a")
        if part > 3:  # 'c' is the disklabel partition and 'd' the whole disk
            part -= 2
        return _sd(disk, part + 5) if disk >= 0 and 0 <= part < 24 else spec
    m = _RE_OPENBSD_DEV.match(spec)
    if os_type == "openbsd" and m:
        disk, part = int(m.group(2)), ord(m.group(3)) - ord("a")
        if part > 2:  # 'c' is the whole disk
            part -= 1
        return _sd(disk, part + 5) if disk >= 0 and 0 <= part < 15 else spec
    m = _RE_HURD_DEV.match(spec)
    if m:
        letters = chr(int(m.group(2)) + ord("a"))
        return _resolve_xdev(letters, m.group(3), spec, view)
    return spec


def _resolve_xdev(letters: str, part: str, default: str, view: DeviceView) -> str:
    devices = view.devices()
    i = drive_index(letters)
    if 0 <= i < len(devices):
        dev = devices[i] + part
        if view.is_partition(dev):
            return dev
    return default


def resolve_entry(
    entry: FstabEntry, view: DeviceView, root_mountable: str, os_type: str
) -> tuple[str, str] | None:
    """(mountable, mountpoint) for one fstab entry, or None if inspection ignores it."""
    spec = entry.spec
    if _ignored_spec(spec):
        return None
    mp = unix_canonical_path(entry.file)
    if _ignored_mountpoint(mp):
        return None
    mountable: str | None
    if spec.startswith("UUID="):
        mountable = view.findfs("UUID", shell_unquote(spec[5:]))
    elif spec.startswith("LABEL="):
        mountable = view.findfs("LABEL", shell_unquote(spec[6:]))
    elif spec == "/dev/root" or (os_type in BSD_TYPES and mp == "/"):
        # BSD device names of / do not translate simply: it is the root being inspected.
        mountable = root_mountable
    elif spec.startswith("/dev/"):
        mountable = resolve_fstab_device(spec, view, os_type)
    elif _RE_OPENBSD_DUID.match(spec):
        # A disklabel UID and partition letter: assume the first disk.
        mountable = resolve_fstab_device(f"/dev/sd0{spec[17]}", view, os_type)
    else:
        return None  # tmpfs, proc, Pardus's /.swap ...
    if mountable is None or entry.vfstype is None:
        return None
    if entry.vfstype == "btrfs" and not mountable.startswith("btrfsvol:"):
        subvol = next((v for k, v in entry.options if k == "subvol" and v is not None), None)
        if subvol is not None:
            mountable = f"btrfsvol:{mountable}/{subvol}"
    return mountable, mp


def check_fstab(
    text: str, view: DeviceView, root_mountable: str, os_type: str
) -> list[tuple[str, str]]:
    """Every (mountable, mountpoint) inspection takes from fstab ``text``, in file order."""
    out = []
    for entry in parse_fstab(text):
        resolved = resolve_entry(entry, view, root_mountable, os_type)
        if resolved is not None:
            out.append(resolved)
    return out
