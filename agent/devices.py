"""Guest disk names: what the user calls ``/dev/sda`` and which node backs it.

Users always see ``/dev/sda``, ``/dev/sdb`` ... in the order the drives were added, even
when the guest kernel calls them ``/dev/vdX`` (virtio-blk) or scans SCSI targets in another
order; the appliance's own disk never shows. libguestfs 1.48 orders disks by
``ls -1v /dev/disk/by-path``, which needs udev; this appliance has no udev, so the same
order is computed from each disk's sysfs device path (PCI slot, then SCSI target and LUN),
which is what those by-path names are made of.
"""

from __future__ import annotations

import os
import re
import stat

from .errors import AgentError

_SKIP = re.compile(r"^(loop|ram|zram|sr|dm-|md|nbd|fd)")
_NATURAL = re.compile(r"(\d+)")


def _natural_key(s: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in _NATURAL.split(s)]


def disk_letters(index: int) -> str:
    """0 → a, 25 → z, 26 → aa: the kernel's sd naming."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("a") + rem) + name
    return name


class DeviceMap:
    """The appliance's disks, discovered from sysfs."""

    def __init__(
        self, sys_block: str = "/sys/block", dev: str = "/dev", root_dev: int | None = None
    ) -> None:
        self.sys_block = sys_block
        self.dev = dev
        #: st_dev of the appliance's root filesystem: the disk holding it is hidden.
        self.root_dev = root_dev if root_dev is not None else os.stat("/").st_dev
        self._disks: list[str] | None = None

    def refresh(self) -> None:
        self._disks = None

    def kernel_disks(self) -> list[str]:
        """Kernel names of the user's disks, in the order they were added."""
        if self._disks is None:
            found = []
            for name in os.listdir(self.sys_block):
                if _SKIP.match(name):
                    continue
                if self._major_minor(name) == (os.major(self.root_dev), os.minor(self.root_dev)):
                    continue
                if any(
                    self._major_minor(p) == (os.major(self.root_dev), os.minor(self.root_dev))
                    for p in self._partitions(name)
                ):
                    continue
                found.append((_natural_key(self._device_path(name)), name))
            self._disks = [name for _, name in sorted(found)]
        return self._disks

    def _device_path(self, name: str) -> str:
        """Where sysfs keeps the disk (``/sys/devices/pci.../block/sda``): the by-path order.

        /sys/block entries are links into /sys/devices, whose directories are real, so the
        link's target needs no further resolving (realpath would lstat every component,
        and right after a warm launch every new code path is code the CPU emulator has
        to translate first: this runs on that path).
        """
        link = os.path.join(self.sys_block, name)
        try:
            return os.path.normpath(os.path.join(self.sys_block, os.readlink(link)))
        except OSError:  # not a link: nothing to resolve
            return link

    def _major_minor(self, name: str) -> tuple[int, int] | None:
        for base in (self.sys_block, os.path.join(self.sys_block, _disk_of(name))):
            try:
                text = _read_small_file(os.path.join(base, name, "dev"))
            except OSError:
                continue
            major, minor = text.strip().split(b":")
            return int(major), int(minor)
        return None

    def partitions_of(self, disk: str) -> list[str]:
        """Kernel names of a disk's partitions (``sda1``, ``nvme0n1p2`` ...), in order."""
        return self._partitions(disk)

    def _partitions(self, disk: str) -> list[str]:
        base = os.path.join(self.sys_block, disk)
        try:
            entries = os.listdir(base)
        except OSError:
            return []
        parts = [
            e
            for e in entries
            if e.startswith(disk) and os.path.exists(os.path.join(base, e, "partition"))
        ]
        return sorted(parts, key=_natural_key)

    # -- names users see -------------------------------------------------------------------
    def list_devices(self) -> list[str]:
        return [f"/dev/sd{disk_letters(i)}" for i in range(len(self.kernel_disks()))]

    def list_partitions(self) -> list[str]:
        out = []
        for i, disk in enumerate(self.kernel_disks()):
            for part in self._partitions(disk):
                num = re.search(r"(\d+)$", part)
                if num:
                    out.append(f"/dev/sd{disk_letters(i)}{num.group(1)}")
        return out

    def translate(self, name: str) -> str:
        """User name (``/dev/sda1``, ``/dev/vdb`` ...) → the node in /dev to open."""
        m = re.fullmatch(r"/dev/(?:sd|vd|hd|xvd|ubd)([a-z]+)(\d*)", name)
        if not m:
            node = name
            if os.path.exists(node) and stat.S_ISBLK(os.stat(node).st_mode):
                return node
            raise AgentError(f"{name}: No such file or directory", "ENOENT")
        letters, partnum = m.groups()
        index = 0
        for c in letters:
            index = index * 26 + (ord(c) - ord("a") + 1)
        index -= 1
        disks = self.kernel_disks()
        if index >= len(disks):
            raise AgentError(f"{name}: No such file or directory", "ENOENT")
        disk = disks[index]
        if not partnum:
            return os.path.join(self.dev, disk)
        sep = "p" if disk[-1].isdigit() else ""  # nvme0n1p1, but sda1
        return os.path.join(self.dev, f"{disk}{sep}{partnum}")

    def reverse(self, node: str) -> str:
        """A kernel node (``/dev/vda1``) → the name users see (``/dev/sda1``)."""
        base = os.path.basename(node)
        for i, disk in enumerate(self.kernel_disks()):
            if base == disk:
                return f"/dev/sd{disk_letters(i)}"
            if base.startswith(disk):
                rest = base[len(disk) :].lstrip("p")
                if rest.isdigit():
                    return f"/dev/sd{disk_letters(i)}{rest}"
        return node


def _read_small_file(path: str) -> bytes:
    """A sysfs attribute's bytes, by plain system calls: cheaper than a text-mode ``open``
    (buffered reader, decoder) on the warm-launch path, see ``_device_path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _disk_of(part: str) -> str:
    """sda1 → sda, nvme0n1p2 → nvme0n1 (for finding a partition's sysfs directory)."""
    m = re.fullmatch(r"(.*\d)p\d+|(.*?)\d+", part)
    if not m:
        return part
    return m.group(1) or m.group(2) or part
