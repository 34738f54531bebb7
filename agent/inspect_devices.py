"""The block devices inspection looks at, what blkid says of them, and private mounts.

As libguestfs 1.48's ``list_filesystems`` (``daemon/listfs.ml``): whole disks without a
partition table, device-mapper devices that are not LVs, partitions (not MBR extended
ones), MD arrays and LVs, each with its blkid type; RAID/LVM members and encrypted
containers are left out. One blkid run reads every device at once (a process costs a
lot under TCG), and the UUIDs and labels it reports answer fstab's ``UUID=``/``LABEL=``
as findfs would. Filesystems are mounted read-only on a directory of the agent's own,
never on the user's sysroot.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from . import kmount
from .devices import DeviceMap
from .errors import AgentError
from .runner import ENV, run


@dataclass
class BlockDevice:
    """One device as users name it, the node that backs it, and its blkid tags."""

    name: str
    node: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def vfs_type(self) -> str:
        return self.tags.get("TYPE", "")


def _unescape_export(value: str) -> str:
    """blkid ``-o export`` escapes shell specials with a backslash."""
    return re.sub(r"\\(.)", r"\1", value)


def blkid_tags(nodes: list[str]) -> dict[str, dict[str, str]]:
    """node → {TYPE, UUID, LABEL, ...} for the nodes blkid recognises (no cache file)."""
    if not nodes:
        return {}
    try:
        out = run(["blkid", "-c", "/dev/null", "-o", "export", *nodes]).out
    except AgentError:
        return {}  # exit 2: nothing recognised on any of them
    result: dict[str, dict[str, str]] = {}
    tags: dict[str, str] = {}
    for line in [*out.splitlines(), ""]:
        if not line.strip():
            if "DEVNAME" in tags:
                result[tags.pop("DEVNAME")] = tags
            tags = {}
            continue
        key, _, value = line.partition("=")
        tags[key] = _unescape_export(value)
    return result


def _sys_size(node: str) -> int | None:
    try:
        with open(f"/sys/class/block/{os.path.basename(node)}/size") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def list_lvs() -> list[str]:
    """``/dev/VG/LV`` of every public LV, as 1.48's ``lvs`` (none without lvm)."""
    if shutil.which("lvm", path=ENV["PATH"]) is None:
        return []
    try:
        out = run(
            [
                "lvm",
                "lvs",
                "-o",
                "vg_name,lv_name",
                "-S",
                "lv_role=public && lv_skip_activation!=yes",
                "--noheadings",
                "--separator",
                "/",
            ]
        ).out
    except AgentError:
        return []
    return [f"/dev/{line.strip()}" for line in out.splitlines() if line.strip()]


def _rdev(path: str) -> int | None:
    try:
        return os.stat(path).st_rdev
    except OSError:
        return None


def _mapper_devices() -> list[str]:
    """/dev/mapper devices (active LVs among them; the caller sorts those out)."""
    try:
        names = sorted(os.listdir("/dev/mapper"))
    except OSError:
        return []
    return [f"/dev/mapper/{name}" for name in names if name != "control"]


def list_md() -> list[str]:
    """Running MD arrays."""
    out = []
    try:
        names = sorted(os.listdir("/sys/block"))
    except OSError:
        return []
    for name in names:
        if re.fullmatch(r"md\d+", name) and os.path.exists(f"/dev/{name}"):
            out.append(f"/dev/{name}")
    return out


class Devices:
    """A snapshot of the appliance's devices for one inspection.

    Implements :class:`~pyguestfs.agent.inspect_fstab.DeviceView`.
    """

    def __init__(self, devmap: DeviceMap | None) -> None:
        self.devmap = devmap
        self.all: list[BlockDevice] = []
        self._whole: list[str] = []
        self._partitions: set[str] = set()
        self.lvs: list[str] = []
        self._lv_rdevs: dict[str, int | None] = {}
        if devmap is None:
            return  # standalone on a host: no block devices are served, none are looked at
        whole = devmap.list_devices()
        parts = devmap.list_partitions()
        self._whole = whole
        self._partitions = set(parts)
        entries = [BlockDevice(name, devmap.translate(name)) for name in [*whole, *parts]]
        entries += [BlockDevice(name, name) for name in list_md()]
        mapper = [BlockDevice(name, name) for name in _mapper_devices()]
        tags = blkid_tags([e.node for e in entries + mapper])
        # An LV lives on a physical volume, so with none in sight there is none to list:
        # ``lvm lvs`` scans every device and costs half a second or more under TCG, the
        # dearest step of inspecting a guest without LVM.
        if any(t.get("TYPE") == "LVM2_member" for t in tags.values()):
            self.lvs = list_lvs()
            self._lv_rdevs = {lv: _rdev(lv) for lv in self.lvs}
            lv_rdevs = set(self._lv_rdevs.values())
            mapper = [e for e in mapper if _rdev(e.node) not in lv_rdevs]
            lvs = [BlockDevice(lv, lv) for lv in self.lvs]
            tags |= blkid_tags([e.node for e in lvs])
            entries += lvs
        entries += mapper
        for e in entries:
            e.tags = tags.get(e.node, {})
        self.all = entries

    def _partitioned(self, disk: str) -> bool:
        return any(re.fullmatch(re.escape(disk) + r"\d+", p) for p in self._partitions)

    def candidates(self) -> list[tuple[BlockDevice, str]]:
        """(device, vfs type) of what may hold a filesystem, in 1.48's order: disks
        without partitions, dm devices, partitions, MD, LVs. An empty type is
        "unknown"; members of RAID/LVM sets and encrypted containers are left out."""
        order = {"disk": 0, "dm": 1, "part": 2, "md": 3, "lv": 4}

        def kind(e: BlockDevice) -> str:
            if e.name in self._whole:
                return "disk"
            if e.name in self._partitions:
                return "part"
            if e.name in self._lv_rdevs:
                return "lv"
            return "md" if e.name.startswith("/dev/md") else "dm"

        out = []
        for e in sorted(self.all, key=lambda e: order[kind(e)]):
            k = kind(e)
            if k == "disk" and self._partitioned(e.name):
                continue
            if k == "part" and (_sys_size(e.node) or 0) <= 2:
                # An MBR extended partition: the kernel shows it as 1 KiB, and it holds
                # only the chain of logical partitions.
                continue
            vfs = e.vfs_type
            if vfs.endswith("_member") or vfs in ("crypto_LUKS", "BitLocker"):
                continue
            out.append((e, vfs or "unknown"))
        return out

    # -- DeviceView ---------------------------------------------------------------------------
    def findfs(self, tag: str, value: str) -> str | None:
        for e in self.all:
            if e.tags.get(tag) == value:
                return e.name
        return None

    def lv_canonical(self, device: str) -> str | None:
        rdev = _rdev(device)
        if rdev is None:
            return None
        return next((lv for lv, r in self._lv_rdevs.items() if r == rdev), None)

    def devices(self) -> list[str]:
        return list(self._whole)

    def is_partition(self, device: str) -> bool:
        return device in self._partitions

    def node_of(self, name: str) -> str:
        """The appliance node of a device users name ``name``."""
        for e in self.all:
            if e.name == name:
                return e.node
        return self.devmap.translate(name) if self.devmap else name


class PrivateMount:
    """A directory of the agent's own on which one filesystem at a time is mounted
    read-only for inspection; removed when done."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="pyguestfs-inspect.")
        self.mounted = False

    def mount(self, node: str, vfs_type: str, subvol: str | None = None) -> bool:
        """Mount ``node`` read-only; False (not an error) if it cannot be mounted."""
        if vfs_type == "ufs":
            # The BSDs: FreeBSD's ufs2 first, then the 44bsd variant of Net/OpenBSD.
            attempts = [
                ["-t", "ufs", "-o", "ro,ufstype=ufs2"],
                ["-t", "ufs", "-o", "ro,ufstype=44bsd"],
            ]
        else:
            options = "ro" + (f",subvol={subvol}" if subvol is not None else "")
            attempts = [["-o", options]]
        if vfs_type != "ufs" and kmount.mount(node, self.path, vfs_type, options):
            self.mounted = True
            return True
        for opts in attempts:
            try:
                run(["mount", *opts, node, self.path])
            except AgentError:
                continue
            self.mounted = True
            return True
        return False

    def umount(self) -> None:
        if not self.mounted:
            return
        if kmount.umount(self.path):
            self.mounted = False
            return
        try:
            run(["umount", self.path])
        except AgentError:
            # Something still holds it: detach it so the next mount has a clean directory.
            run(["umount", "-l", self.path])
        self.mounted = False

    def close(self) -> None:
        self.umount()
        try:
            os.rmdir(self.path)
        except OSError:
            pass
