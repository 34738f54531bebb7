"""The ``inspect`` family: which operating systems are on the disks, and their details.

As in libguestfs 1.48, inspection runs in the daemon (``daemon/inspect.ml``):
``inspect_os`` unmounts whatever the user mounted, mounts every filesystem in turn
read-only, decides what it is (:mod:`pyguestfs.agent.inspect_fs`), unmounts it, and keeps
the result for the ``inspect_get_*`` calls, which only read it. Here the temporary mounts
go on a private directory, not on the sysroot. A Linux root takes what its separate /usr
says, CoreOS's root and /usr are joined, and a BSD root seen twice (an MBR partition
shadowing its slice) is kept once.

Inspection names filesystems as the user does; the procedures hand them back as the
appliance's nodes (:func:`_nodes`), which the dispatcher renames, as for every family.
Errors are 1.48's words: no inspection yet, or a root that inspection did not return.

Also the daemon side that reads a package database: the RPM
packages installed in a guest, through the appliance's librpm (``librpm.so.9``), as
guestfsd 1.48's ``daemon/rpm.ml`` and ``rpm-c.c`` read them.

librpm is run in a child process chrooted into the sysroot, as 1.48 does: it reads the
*guest's* rpm configuration (where its database is, which backend: sqlite, ndb or
Berkeley DB read-only), keeps files of the user database open and is not meant to parse
untrusted configuration in the agent itself. The child sends the packages back as
JSON over a pipe; the library is opened before the chroot, from the appliance.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
from typing import TYPE_CHECKING, Any

from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library, umount_all
from ..inspect_devices import Devices, PrivateMount
from ..inspect_files import GuestTree
from ..inspect_fs import check_filesystem
from ..inspect_types import Filesystem, InspectionData, Role
from ..registry import procedure
from ..resolve import Mountable

if TYPE_CHECKING:
    pass

#: The last inspection's findings, per connection (1.48 keeps them in a daemon global).
_RESULTS: PerConnection[list[Filesystem]] = PerConnection("inspect")


_PRIMARY_PARTITION = re.compile(r"^/dev/(?:h|s|v)d.[1234]$")


_BSD = ("freebsd", "netbsd", "openbsd")


def _inspect_one(
    devices: Devices, mount: PrivateMount, mountable: str, node: str, vfs: str
) -> Filesystem | None:
    if vfs == "swap":
        return Filesystem(mountable, vfs, Role.SWAP)
    if not mount.mount(node, vfs):
        return None  # not mountable: not part of any OS as far as inspection can tell
    try:
        role, data = check_filesystem(GuestTree(mount.path), mountable, devices)
    finally:
        mount.umount()
    return Filesystem(mountable, vfs, role, data)


def _merge_coreos(fses: list[Filesystem]) -> list[Filesystem]:
    roots = [f for f in fses if f.role is Role.ROOT and f.data.distro == "coreos"]
    usrs = [f for f in fses if f.role is Role.USR and f.data.distro == "coreos"]
    if not roots:
        return fses
    if len(roots) > 1:
        raise AgentError("multiple CoreOS root filesystems found")
    if not usrs:
        return fses
    # CoreOS has two /usr (A/B updates); the newer version is the active one.
    usr = max(usrs, key=lambda u: u.data.version or (0, 0))
    roots[0].data.merge_from(usr.data)
    return [f for f in fses if f not in usrs]


def _drop_bsd_shadow(fses: list[Filesystem]) -> list[Filesystem]:
    primary = next(
        (
            f
            for f in fses
            if f.role is Role.ROOT
            and f.data.os_type in _BSD
            and _PRIMARY_PARTITION.match(f.mountable)
        ),
        None,
    )
    if primary is None:
        return fses
    others = [f for f in fses if f is not primary]
    shadowed = any(f.role is Role.ROOT and f.data.os_type == primary.data.os_type for f in others)
    return others if shadowed else fses


def _merge_linux_usr(fses: list[Filesystem]) -> None:
    for root in fses:
        if root.role is not Role.ROOT or root.data.distro == "coreos":
            continue
        in_fstab = {m for m, _ in root.data.fstab}
        usr = next((f for f in fses if f.role is Role.USR and f.mountable in in_fstab), None)
        if usr is not None:
            root.data.merge_from(usr.data)


@procedure("inspect_os")
def inspect_os(call: CallContext) -> list[str]:
    # 1.48 starts with umount_all: a filesystem the user mounted read-write could not
    # also be mounted read-only for inspection.
    umount_all(call.sysroot.root)
    devices = Devices(call.agent.devices)
    found: list[Filesystem] = []
    mount = PrivateMount()
    try:
        for dev, vfs in devices.candidates():
            fs = _inspect_one(devices, mount, dev.name, dev.node, vfs)
            if fs is not None:
                found.append(fs)
    finally:
        mount.close()
    found = _merge_coreos(found)
    found = _drop_bsd_shadow(found)
    _merge_linux_usr(found)
    _RESULTS[call.agent] = found
    return inspect_get_roots(call)


def _user_name(call: CallContext, root: Mountable) -> str:
    """A resolved root as inspection names it (``/dev/vda1`` → ``/dev/sda1``)."""
    reverse = call.agent.resolver.reverse
    assert root.device is not None  # a Mountable argument always names a device
    if root.volume is not None:
        return f"btrfsvol:{reverse(root.device.node)}/{root.volume}"
    return reverse(root.device.node)


def _node(call: CallContext, name: str) -> str:
    """What inspection stored (the user's names) as the appliance's node."""
    translate = call.agent.resolver.translate
    if name.startswith("btrfsvol:"):
        device, slash, volume = name[len("btrfsvol:") :].partition("/dev/")[2].partition("/")
        return f"btrfsvol:{translate('/dev/' + device)}{slash}{volume}"
    return translate(name)


def _nodes(call: CallContext, names: list[str]) -> list[str]:
    return [_node(call, name) for name in names]


@procedure("inspect_get_roots")
def inspect_get_roots(call: CallContext) -> list[str]:
    return _nodes(call, [f.mountable for f in _RESULTS.get(call.agent, []) if f.role is Role.ROOT])


def _search_for_root(call: CallContext, api: str, root: Mountable) -> InspectionData:
    mountable = _user_name(call, root)
    fses = _RESULTS.get(call.agent, [])
    if not fses:
        raise AgentError("no inspection data: call guestfs_inspect_os first")
    for f in fses:
        if f.role is Role.ROOT and f.mountable == mountable:
            return f.data
    raise AgentError(
        f"{mountable}: root device not found: only call this function with a root device "
        "previously returned by guestfs_inspect_os"
    )


def _or_unknown(value: str | None) -> str:
    return value if value is not None else "unknown"


@procedure("inspect_get_type")
def inspect_get_type(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_type", root).os_type)


@procedure("inspect_get_distro")
def inspect_get_distro(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_distro", root).distro)


@procedure("inspect_get_package_format")
def inspect_get_package_format(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_package_format", root).package_format)


@procedure("inspect_get_package_management")
def inspect_get_package_management(call: CallContext, root: Mountable) -> str:
    data = _search_for_root(call, "inspect_get_package_management", root)
    return _or_unknown(data.package_management)


@procedure("inspect_get_product_name")
def inspect_get_product_name(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_product_name", root).product_name)


@procedure("inspect_get_product_variant")
def inspect_get_product_variant(call: CallContext, root: Mountable) -> str:
    data = _search_for_root(call, "inspect_get_product_variant", root)
    return _or_unknown(data.product_variant)


@procedure("inspect_get_major_version")
def inspect_get_major_version(call: CallContext, root: Mountable) -> int:
    version = _search_for_root(call, "inspect_get_major_version", root).version
    return version[0] if version else 0


@procedure("inspect_get_minor_version")
def inspect_get_minor_version(call: CallContext, root: Mountable) -> int:
    version = _search_for_root(call, "inspect_get_minor_version", root).version
    return version[1] if version else 0


@procedure("inspect_get_arch")
def inspect_get_arch(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_arch", root).arch)


@procedure("inspect_get_hostname")
def inspect_get_hostname(call: CallContext, root: Mountable) -> str:
    return _or_unknown(_search_for_root(call, "inspect_get_hostname", root).hostname)


@procedure("inspect_get_format")
def inspect_get_format(call: CallContext, root: Mountable) -> str:
    # Deprecated in 1.48, which answers "installed" for any existing device without
    # consulting the inspection data (only the stub's device check applies).
    return "installed"


@procedure("inspect_is_live")
def inspect_is_live(call: CallContext, root: Mountable) -> bool:
    return False  # deprecated in 1.48: always false


@procedure("inspect_is_netinst")
def inspect_is_netinst(call: CallContext, root: Mountable) -> bool:
    return False


@procedure("inspect_is_multipart")
def inspect_is_multipart(call: CallContext, root: Mountable) -> bool:
    return False


def _windows_only(call: CallContext, api: str, root: Mountable, attr: str, what: str) -> str:
    value = getattr(_search_for_root(call, api, root), attr)
    if value is None:
        raise AgentError(f"not a Windows guest, or {what}")
    return str(value)


@procedure("inspect_get_windows_systemroot")
def inspect_get_windows_systemroot(call: CallContext, root: Mountable) -> str:
    return _windows_only(
        call,
        "inspect_get_windows_systemroot",
        root,
        "windows_systemroot",
        "systemroot could not be determined",
    )


@procedure("inspect_get_windows_software_hive")
def inspect_get_windows_software_hive(call: CallContext, root: Mountable) -> str:
    return _windows_only(
        call,
        "inspect_get_windows_software_hive",
        root,
        "windows_software_hive",
        "software hive not found",
    )


@procedure("inspect_get_windows_system_hive")
def inspect_get_windows_system_hive(call: CallContext, root: Mountable) -> str:
    return _windows_only(
        call,
        "inspect_get_windows_system_hive",
        root,
        "windows_system_hive",
        "system hive not found",
    )


@procedure("inspect_get_windows_current_control_set")
def inspect_get_windows_current_control_set(call: CallContext, root: Mountable) -> str:
    return _windows_only(
        call,
        "inspect_get_windows_current_control_set",
        root,
        "windows_current_control_set",
        "CurrentControlSet could not be determined",
    )


@procedure("inspect_get_mountpoints")
def inspect_get_mountpoints(call: CallContext, root: Mountable) -> list[tuple[str, str]]:
    data = _search_for_root(call, "inspect_get_mountpoints", root)
    if not data.fstab:  # Windows: no fstab, only the root itself
        return [("/", _node(call, _user_name(call, root)))]
    return [(mp, _node(call, mountable)) for mountable, mp in data.fstab if mp.startswith("/")]


@procedure("inspect_get_filesystems")
def inspect_get_filesystems(call: CallContext, root: Mountable) -> list[str]:
    data = _search_for_root(call, "inspect_get_filesystems", root)
    if not data.fstab:
        return [_node(call, _user_name(call, root))]
    return _nodes(call, [mountable for mountable, _ in data.fstab])


@procedure("inspect_get_drive_mappings")
def inspect_get_drive_mappings(call: CallContext, root: Mountable) -> list[tuple[str, str]]:
    mappings = _search_for_root(call, "inspect_get_drive_mappings", root).drive_mappings
    return [(letter, _node(call, device)) for letter, device in mappings]


_SONAMES = ("librpm.so.9", "librpmio.so.9")
#: <rpm/rpmtag.h>, <rpm/rpmts.h>: RPMTAG_EPOCH, RPMDBI_PACKAGES, RPMVSF_MASK_NOSIGNATURES.
_RPMTAG_EPOCH = 1003
_RPMDBI_PACKAGES = 0
_RPMVSF_MASK_NOSIGNATURES = (1 << 10) | (1 << 11) | (1 << 18) | (1 << 19)
#: The string fields of ``application2`` librpm fills; the rest stay "".
_FORMATS = {
    "app2_name": "%{NAME}",
    "app2_version": "%{VERSION}",
    "app2_release": "%{RELEASE}",
    "app2_arch": "%{ARCH}",
    "app2_url": "%{URL}",
    "app2_summary": "%{SUMMARY}",
    "app2_description": "%{DESCRIPTION}",
}
_EMPTY_FIELDS = (
    "app2_display_name",
    "app2_install_path",
    "app2_trans_path",
    "app2_publisher",
    "app2_source_package",
    "app2_spare1",
    "app2_spare2",
    "app2_spare3",
    "app2_spare4",
)


def _librpm() -> ctypes.CDLL:
    rpmio = load_library("librpmio.so.9")
    lib = load_library("librpm.so.9")
    if lib is None or rpmio is None:
        raise AgentError("no support for RPM guests because librpm was missing at compile time")
    P = ctypes.c_void_p
    lib.rpmReadConfigFiles.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.rpmtsCreate.restype = P
    lib.rpmtsVSFlags.argtypes = [P]
    lib.rpmtsSetVSFlags.argtypes = [P, ctypes.c_int]
    lib.rpmtsInitIterator.restype = P
    lib.rpmtsInitIterator.argtypes = [P, ctypes.c_int, P, ctypes.c_size_t]
    lib.rpmdbNextIterator.restype = P
    lib.rpmdbNextIterator.argtypes = [P]
    lib.headerLink.restype = P
    lib.headerLink.argtypes = [P]
    lib.headerFormat.restype = P  # a malloc'd string, freed with free()
    lib.headerFormat.argtypes = [P, ctypes.c_char_p, P]
    lib.headerGetNumber.restype = ctypes.c_uint64
    lib.headerGetNumber.argtypes = [P, ctypes.c_int]
    lib.headerFree.argtypes = [P]
    lib.rpmdbFreeIterator.argtypes = [P]
    lib.rpmtsFree.argtypes = [P]
    return lib


def _read_packages(lib: ctypes.CDLL) -> list[dict[str, Any]]:
    """In the chrooted child: every package of the guest's database."""
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    # Like rpm's own C callers, go on without the configuration if it fails to read.
    lib.rpmReadConfigFiles(None, None)
    ts = lib.rpmtsCreate()
    if not ts:
        raise AgentError("rpmtsCreate")
    lib.rpmtsSetVSFlags(ts, lib.rpmtsVSFlags(ts) | _RPMVSF_MASK_NOSIGNATURES)  # RHBZ#2064182
    it = lib.rpmtsInitIterator(ts, _RPMDBI_PACKAGES, None, 0)
    if not it:
        # Also what a database that cannot be opened gives (RHBZ#2089623).
        lib.rpmtsFree(ts)
        raise AgentError("rpmtsInitIterator")
    apps = []
    while True:
        h = lib.rpmdbNextIterator(it)
        if not h:
            break
        h = lib.headerLink(h)
        app: dict[str, Any] = dict.fromkeys(_EMPTY_FIELDS, "")
        for key, fmt in _FORMATS.items():
            text = lib.headerFormat(h, fmt.encode(), None)
            app[key] = ctypes.string_at(text).decode("utf-8", "replace") if text else ""
            if text:
                libc.free(text)
        # An int32 on the wire, as 1.48 narrows it.
        epoch = lib.headerGetNumber(h, _RPMTAG_EPOCH) & 0xFFFFFFFF
        app["app2_epoch"] = epoch - (1 << 32) if epoch >= 1 << 31 else epoch
        lib.headerFree(h)
        apps.append(app)
    lib.rpmdbFreeIterator(it)
    lib.rpmtsFree(ts)
    return apps


def _in_guest_chroot(root: str, lib: ctypes.CDLL) -> list[dict[str, Any]]:
    """Run :func:`_read_packages` in a child chrooted into ``root``."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(rfd)
            os.chroot(root)
            os.chdir("/")
            try:
                reply: dict[str, Any] = {"apps": _read_packages(lib)}
            except AgentError as e:
                reply = {"error": e.message}
            data = json.dumps(reply).encode()
            view = memoryview(data)
            while view:
                # Apart from the slice: mypyc would evaluate the call twice.
                written = os.write(wfd, view)
                view = view[written:]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AgentError(f"librpm: the subprocess failed (wait status {status})")
    reply = json.loads(data)
    if "error" in reply:
        raise AgentError(reply["error"])
    apps: list[dict[str, Any]] = reply["apps"]
    return apps


@procedure("internal_list_rpm_applications")
def internal_list_rpm_applications(call: CallContext) -> list[dict[str, Any]]:
    """The guest's RPM packages as ``application2`` structs, sorted by name."""
    lib = _librpm()
    apps = _in_guest_chroot(call.sysroot.root, lib)
    call.agent.say(f"librpm returned {len(apps)} installed packages")
    return sorted(apps, key=lambda a: a["app2_name"].encode("utf-8", "surrogateescape"))
