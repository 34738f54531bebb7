"""Windows roots: %SYSTEMROOT%, and what the registry says, as libguestfs 1.48's
``daemon/inspect_fs_windows.ml`` reads it.

A volume is a Windows root if one of the usual system directories (or one that
``boot.ini`` names) holds ``system32/config`` and ``system32/cmd.exe``, all found ignoring
case. The architecture comes from cmd.exe's headers. Then, when both hives exist, the
SOFTWARE hive gives the product name, version and variant
(``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``) and the SYSTEM hive the drive
letters (``MountedDevices``, matched to the disks' MBR signatures or GPT partition GUIDs),
the current control set (``Select\\Current``) and the hostname (its
``Services\\Tcpip\\Parameters``). The hives are read with the real libhivex.

A hive that libhivex cannot open fails the inspection, as in 1.48, but with an error
that names the hive and the reason (1.48 answers "unhandled exception thrown:
Hivex.Error").
"""

from __future__ import annotations

import os
import re
import struct
import sys
import uuid
from collections.abc import Callable
from typing import TypeVar

from .errors import AgentError
from .inspect_files import GuestTree, file_architecture
from .inspect_fstab import DeviceView
from .inspect_types import InspectionData
from .libhivex import REG_BINARY, Hive, HivexError, HivexUnavailable

#: Where Windows keeps its systemroot, tried in 1.48's order (case does not matter).
SYSTEMROOT_PATHS = ("/windows", "/winnt", "/win32", "/win", "/reactos")

_RE_BOOT_INI_OS = re.compile(
    r"^(multi|scsi)\((\d+)\)disk\((\d+)\)rdisk\((\d+)\)partition\((\d+)\)([^=]+)="
)
_RE_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_RE_MAJOR = re.compile(r"(\d+)")

T = TypeVar("T")


def _verbose(message: str) -> None:
    print(f"inspect: {message}", file=sys.stderr, flush=True)


# -- the system root --------------------------------------------------------------------------


def _is_dir_nocase(tree: GuestTree, path: str) -> bool:
    found = tree.case_sensitive_path(path)
    return found is not None and tree.is_dir(found)


def _is_file_nocase(tree: GuestTree, path: str) -> bool:
    found = tree.case_sensitive_path(path)
    return found is not None and tree.is_file(found)


def is_systemroot(tree: GuestTree, path: str) -> bool:
    """A real %SYSTEMROOT%, not a directory that happens to have the name (RHBZ#674130:
    a data disk of a Windows guest has "Program Files" too)."""
    return (
        _is_dir_nocase(tree, f"{path}/system32")
        and _is_dir_nocase(tree, f"{path}/system32/config")
        and _is_file_nocase(tree, f"{path}/system32/cmd.exe")
    )


def systemroot(tree: GuestTree) -> str | None:
    """The guest path of %SYSTEMROOT% on this volume, or None."""
    for candidate in SYSTEMROOT_PATHS:
        path = tree.case_sensitive_path(candidate)
        if path is not None and is_systemroot(tree, path):
            return path
    boot_ini = tree.case_sensitive_path("/boot.ini")
    return _systemroot_from_boot_ini(tree, boot_ini) if boot_ini is not None else None


def _systemroot_from_boot_ini(tree: GuestTree, boot_ini: str) -> str | None:
    """A non-standard systemroot named by ``boot.ini``'s ``[operating systems]``: the
    first ``multi(..)``/``scsi(..)`` entry whose path is a systemroot on this volume (its
    disk and partition numbers are ignored, as in 1.48: the root is assumed to be here)."""
    lines = tree.read_lines(boot_ini)
    if lines is None:
        return None
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("[operating systems]"))
    except StopIteration:
        return None
    for line in lines[start + 1 :]:
        if not (line.startswith("multi(") or line.startswith("scsi(")):
            break
        m = _RE_BOOT_INI_OS.match(line)
        if m is None:
            continue
        path = m.group(6).replace("\\", "/")
        if is_systemroot(tree, path):
            return path
    return None


# -- the registry -------------------------------------------------------------------------------


def _open(tree: GuestTree, path: str) -> Hive:
    try:
        return Hive(tree.sysroot.resolve(path))
    except HivexUnavailable as e:
        raise AgentError(f"inspect_os: cannot read the registry: {e}") from None
    except OSError as e:
        raise AgentError.from_errno(e.errno or 0, f"hivex: {path}") from None


def _node(hive: Hive, node: int, path: list[str]) -> int | None:
    """The node at ``path`` below ``node`` (names ignoring case), or None."""
    for name in path:
        node = hive.node_get_child(node, name)
        if node == 0:
            return None
    return node


def _values(hive: Hive, node: int) -> dict[str, int]:
    """Values by key; the first of equal keys wins (as OCaml's List.assoc)."""
    out: dict[str, int] = {}
    for v in hive.node_values(node):
        out.setdefault(hive.value_key(v), v)
    return out


def _reading(path: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except HivexError as e:
        raise AgentError.from_errno(e.errno or 0, f"hivex: {path}") from None


def check_windows_root(tree: GuestTree, root: str, data: InspectionData, view: DeviceView) -> None:
    """Fill ``data`` for the Windows root whose %SYSTEMROOT% is ``root``."""
    data.os_type = "windows"
    data.distro = "windows"
    data.windows_systemroot = root
    cmd = tree.case_sensitive_path(f"{root}/system32/cmd.exe")
    data.arch = file_architecture(tree, cmd) if cmd else None
    software = tree.case_sensitive_path(f"{root}/system32/config/software")
    system = tree.case_sensitive_path(f"{root}/system32/config/system")
    data.windows_software_hive = software if software and tree.is_file(software) else None
    data.windows_system_hive = system if system and tree.is_file(system) else None
    if data.windows_software_hive is None or data.windows_system_hive is None:
        return
    soft, sys_ = data.windows_software_hive, data.windows_system_hive
    with _open(tree, soft) as hive:
        _reading(soft, lambda: _software(hive, data))
    with _open(tree, sys_) as hive:
        _reading(sys_, lambda: _system(hive, data, view))


def _software(hive: Hive, data: InspectionData) -> None:
    node = _node(hive, hive.root(), ["Microsoft", "Windows NT", "CurrentVersion"])
    if node is None:
        _verbose(r"cannot locate HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion")
        return
    values = _values(hive, node)
    if "ProductName" in values:
        data.product_name = hive.value_string(values["ProductName"])
    major, minor = values.get("CurrentMajorVersionNumber"), values.get("CurrentMinorVersionNumber")
    if major is not None and minor is not None:
        data.version = (hive.value_dword(major), hive.value_dword(minor))
    elif "CurrentVersion" in values:
        text = hive.value_string(values["CurrentVersion"])
        if m := _RE_MAJOR_MINOR.search(text):
            data.version = (int(m.group(1)), int(m.group(2)))
        elif m := _RE_MAJOR.search(text):
            data.version = (int(m.group(1)), 0)
    else:
        # 1.48 gives up on the whole key here (its Not_found ends the block), so the
        # variant is not read either.
        return
    if "InstallationType" in values:
        data.product_variant = hive.value_string(values["InstallationType"])


def _system(hive: Hive, data: InspectionData, view: DeviceView) -> None:
    root = hive.root()
    data.drive_mappings = _drive_mappings(hive, root, view)
    select = _node(hive, root, ["Select"])
    current = hive.node_get_value(select, "Current") if select is not None else 0
    if not current:
        _verbose(r"cannot locate HKLM\SYSTEM\Select")
        return
    control_set = f"ControlSet{hive.value_dword(current):03d}"
    data.windows_current_control_set = control_set
    params = _node(hive, root, [control_set, "Services", "Tcpip", "Parameters"])
    hostname = _values(hive, params).get("Hostname") if params is not None else None
    if hostname is None:
        _verbose(rf"cannot locate HKLM\SYSTEM\{control_set}\Services\Tcpip\Parameters\Hostname")
        return
    data.hostname = hive.value_string(hostname)


# -- drive letters ------------------------------------------------------------------------------


def _drive_mappings(hive: Hive, root: int, view: DeviceView) -> list[tuple[str, str]]:
    """``\\DosDevices\\X:`` values of MountedDevices mapped to partitions: a 12-byte blob
    is an MBR disk signature and the partition's byte offset, a ``DMIO:ID:`` blob a GPT
    partition GUID (http://www.goodells.net/multiboot/partsigs.shtml)."""
    node = _node(hive, root, ["MountedDevices"])
    if node is None:
        _verbose("cannot find drive mappings")
        return []
    disks = _Disks(view)
    out = []
    for value in hive.node_values(node):
        key = hive.value_key(value)
        if not (
            len(key) >= 14
            and key[:12].lower() == "\\dosdevices\\"
            and key[12].isascii()
            and key[12].isalpha()
            and key[13] == ":"
        ):
            continue
        kind, blob = hive.value_value(value)
        device = None
        if kind == REG_BINARY:
            if len(blob) >= 24 and blob.startswith(b"DMIO:ID:"):
                device = disks.by_gpt_guid(str(uuid.UUID(bytes_le=blob[8:24])))
            elif len(blob) == 12:
                (offset,) = struct.unpack_from("<Q", blob, 4)
                device = disks.by_mbr(blob[:4], offset)
        if device is not None:
            out.append((key[12], device))
    return out


class _Disks:
    """What the drive letters are matched against: each disk's partition table, read
    from the appliance's device nodes (1.48 asks parted and sgdisk; reading the tables
    here saves a process per disk, which costs a lot under TCG)."""

    def __init__(self, view: DeviceView) -> None:
        self.view = view

    def _node(self, name: str) -> str:
        node_of = getattr(self.view, "node_of", None)
        return str(node_of(name)) if node_of is not None else name

    def _partitions_of(self, disk: str) -> list[str]:
        out = []
        n = 1
        misses = 0
        # Partition names are the disk's name and a number; numbers may have gaps.
        while misses < 16 and n < 256:
            name = f"{disk}{n}"
            if self.view.is_partition(name):
                out.append(name)
                misses = 0
            else:
                misses += 1
            n += 1
        return out

    @staticmethod
    def _read(node: str, offset: int, size: int) -> bytes:
        try:
            with open(node, "rb") as f:
                f.seek(offset)
                return f.read(size)
        except OSError:
            return b""

    @staticmethod
    def _sector_size(node: str) -> int:
        name = os.path.basename(os.path.realpath(node))
        try:
            with open(f"/sys/class/block/{name}/queue/logical_block_size") as f:
                return int(f.read())
        except (OSError, ValueError):
            return 512

    def parttype(self, disk: str) -> str | None:
        """ "msdos", "gpt" or None (no partition table), as parted names them."""
        if not self._partitions_of(disk):
            return None
        node = self._node(disk)
        sector = self._sector_size(node)
        head = self._read(node, 0, 2 * sector)
        if head[sector : sector + 8] == b"EFI PART":
            return "gpt"
        if head[510:512] == b"\x55\xaa":
            return "msdos"
        return None

    def _start(self, partition: str) -> int | None:
        """The partition's first byte on its disk (from sysfs, in 512-byte units)."""
        name = os.path.basename(os.path.realpath(self._node(partition)))
        try:
            with open(f"/sys/class/block/{name}/start") as f:
                return int(f.read()) * 512
        except (OSError, ValueError):
            return None

    def by_mbr(self, disk_id: bytes, offset: int) -> str | None:
        for disk in self.view.devices():
            if self.parttype(disk) != "msdos":
                continue
            if self._read(self._node(disk), 0x1B8, 4) != disk_id:
                continue
            for partition in self._partitions_of(disk):
                if self._start(partition) == offset:
                    return partition
            return None  # the disk of that signature, but no partition starts there
        return None

    def by_gpt_guid(self, guid: str) -> str | None:
        for disk in self.view.devices():
            if self.parttype(disk) != "gpt":
                continue
            guids = self._gpt_guids(disk)
            for partition in self._partitions_of(disk):
                number = int(partition[len(disk) :])
                if guids.get(number) == guid:
                    return partition
        return None

    def _gpt_guids(self, disk: str) -> dict[int, str]:
        """Partition number → unique partition GUID (lower case), from the GPT."""
        node = self._node(disk)
        sector = self._sector_size(node)
        header = self._read(node, sector, 92)
        if len(header) < 92 or header[:8] != b"EFI PART":
            return {}
        entries_lba, count, size = struct.unpack_from("<QII", header, 72)
        if size < 32 or count > 4096:
            return {}
        table = self._read(node, entries_lba * sector, count * size)
        out = {}
        for i in range(len(table) // size):
            entry = table[i * size : i * size + 32]
            if entry[:16] != bytes(16):  # an unused entry has a null type GUID
                out[i + 1] = str(uuid.UUID(bytes_le=entry[16:32]))
        return out
