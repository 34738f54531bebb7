"""Inspection: which operating systems are on the disks, and their details.

As in libguestfs 1.48, inspection runs in the daemon (``daemon/inspect.ml``):
``inspect_os`` unmounts whatever the user mounted, mounts every filesystem in turn
read-only, decides what it is (:mod:`.inspect_fs`), unmounts it, and keeps the result for
the ``inspect_get_*`` calls, which only read it. Here the temporary mounts go on a private
directory, not on the sysroot. A Linux root takes what its separate /usr says, CoreOS's
root and /usr are joined, and a BSD root seen twice (an MBR partition shadowing its slice)
is kept once.

Errors are 1.48's words: no inspection yet, or a root that inspection did not return.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING

from .context import CallContext
from .errors import AgentError
from .guest import umount_all
from .inspect_devices import Devices, PrivateMount
from .inspect_files import GuestTree
from .inspect_fs import check_filesystem
from .inspect_types import Filesystem, InspectionData, Role
from .registry import implements

if TYPE_CHECKING:
    from .server import Agent

#: The last inspection's findings, per connection (1.48 keeps them in a daemon global).
_RESULTS: weakref.WeakKeyDictionary[Agent, list[Filesystem]] = weakref.WeakKeyDictionary()

_PRIMARY_PARTITION = re.compile(r"^/dev/(?:h|s|v)d.[1234]$")
_BSD = ("freebsd", "netbsd", "openbsd")


# -- inspect_os ------------------------------------------------------------------------------


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


@implements("inspect_os")
def inspect_os(ctx: CallContext) -> list[str]:
    # 1.48 starts with umount_all: a filesystem the user mounted read-write could not
    # also be mounted read-only for inspection.
    umount_all(ctx.sysroot.root)
    devices = Devices(ctx.agent.devices)
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
    _RESULTS[ctx.agent] = found
    return inspect_get_roots(ctx)


@implements("inspect_get_roots")
def inspect_get_roots(ctx: CallContext) -> list[str]:
    return [f.mountable for f in _RESULTS.get(ctx.agent, []) if f.role is Role.ROOT]


# -- queries on one root ----------------------------------------------------------------------


def _user_mountable(ctx: CallContext, api: str, root: str) -> str:
    """The generated stub's RESOLVE_MOUNTABLE: the device must exist; the name is put in
    the form inspection stored (``/dev/vda1`` → ``/dev/sda1``)."""
    devmap = ctx.agent.devices
    if root.startswith("btrfsvol:"):
        rest = root[len("btrfsvol:") :]
        # The device is the longest leading part that names a device; the rest is the
        # subvolume.
        for cut in range(len(rest) - 1, 5, -1):
            if rest[cut] != "/" or not rest.startswith("/dev/"):
                continue
            try:
                node = devmap.translate(rest[:cut]) if devmap else None
            except AgentError:
                continue
            if node is not None:
                return f"btrfsvol:{devmap.reverse(node)}{rest[cut:]}"  # type: ignore[union-attr]
        raise AgentError(f"{api}_stub: {root}: expecting a btrfs volume")
    try:
        if devmap is None:
            raise AgentError("no devices")
        node = devmap.translate(root)
    except AgentError:
        raise AgentError(f"{api}_stub: {root}: No such file or directory", "ENOENT") from None
    return devmap.reverse(node)


def _search_for_root(ctx: CallContext, api: str, root: str) -> InspectionData:
    mountable = _user_mountable(ctx, api, root)
    fses = _RESULTS.get(ctx.agent, [])
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


@implements("inspect_get_type")
def inspect_get_type(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_type", root).os_type)


@implements("inspect_get_distro")
def inspect_get_distro(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_distro", root).distro)


@implements("inspect_get_package_format")
def inspect_get_package_format(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_package_format", root).package_format)


@implements("inspect_get_package_management")
def inspect_get_package_management(ctx: CallContext, root: str) -> str:
    data = _search_for_root(ctx, "inspect_get_package_management", root)
    return _or_unknown(data.package_management)


@implements("inspect_get_product_name")
def inspect_get_product_name(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_product_name", root).product_name)


@implements("inspect_get_product_variant")
def inspect_get_product_variant(ctx: CallContext, root: str) -> str:
    data = _search_for_root(ctx, "inspect_get_product_variant", root)
    return _or_unknown(data.product_variant)


@implements("inspect_get_major_version")
def inspect_get_major_version(ctx: CallContext, root: str) -> int:
    version = _search_for_root(ctx, "inspect_get_major_version", root).version
    return version[0] if version else 0


@implements("inspect_get_minor_version")
def inspect_get_minor_version(ctx: CallContext, root: str) -> int:
    version = _search_for_root(ctx, "inspect_get_minor_version", root).version
    return version[1] if version else 0


@implements("inspect_get_arch")
def inspect_get_arch(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_arch", root).arch)


@implements("inspect_get_hostname")
def inspect_get_hostname(ctx: CallContext, root: str) -> str:
    return _or_unknown(_search_for_root(ctx, "inspect_get_hostname", root).hostname)


@implements("inspect_get_format")
def inspect_get_format(ctx: CallContext, root: str) -> str:
    # Deprecated in 1.48, which answers "installed" for any existing device without
    # consulting the inspection data (only the stub's device check applies).
    _user_mountable(ctx, "inspect_get_format", root)
    return "installed"


@implements("inspect_is_live")
def inspect_is_live(ctx: CallContext, root: str) -> bool:
    _user_mountable(ctx, "inspect_is_live", root)
    return False  # deprecated in 1.48: always false


@implements("inspect_is_netinst")
def inspect_is_netinst(ctx: CallContext, root: str) -> bool:
    _user_mountable(ctx, "inspect_is_netinst", root)
    return False


@implements("inspect_is_multipart")
def inspect_is_multipart(ctx: CallContext, root: str) -> bool:
    _user_mountable(ctx, "inspect_is_multipart", root)
    return False


def _windows_only(ctx: CallContext, api: str, root: str, attr: str, what: str) -> str:
    value = getattr(_search_for_root(ctx, api, root), attr)
    if value is None:
        raise AgentError(f"not a Windows guest, or {what}")
    return str(value)


@implements("inspect_get_windows_systemroot")
def inspect_get_windows_systemroot(ctx: CallContext, root: str) -> str:
    return _windows_only(
        ctx,
        "inspect_get_windows_systemroot",
        root,
        "windows_systemroot",
        "systemroot could not be determined",
    )


@implements("inspect_get_windows_software_hive")
def inspect_get_windows_software_hive(ctx: CallContext, root: str) -> str:
    return _windows_only(
        ctx,
        "inspect_get_windows_software_hive",
        root,
        "windows_software_hive",
        "software hive not found",
    )


@implements("inspect_get_windows_system_hive")
def inspect_get_windows_system_hive(ctx: CallContext, root: str) -> str:
    return _windows_only(
        ctx, "inspect_get_windows_system_hive", root, "windows_system_hive", "system hive not found"
    )


@implements("inspect_get_windows_current_control_set")
def inspect_get_windows_current_control_set(ctx: CallContext, root: str) -> str:
    return _windows_only(
        ctx,
        "inspect_get_windows_current_control_set",
        root,
        "windows_current_control_set",
        "CurrentControlSet could not be determined",
    )


@implements("inspect_get_mountpoints")
def inspect_get_mountpoints(ctx: CallContext, root: str) -> list[tuple[str, str]]:
    data = _search_for_root(ctx, "inspect_get_mountpoints", root)
    if not data.fstab:  # Windows: no fstab, only the root itself
        return [("/", _user_mountable(ctx, "inspect_get_mountpoints", root))]
    return [(mp, mountable) for mountable, mp in data.fstab if mp.startswith("/")]


@implements("inspect_get_filesystems")
def inspect_get_filesystems(ctx: CallContext, root: str) -> list[str]:
    data = _search_for_root(ctx, "inspect_get_filesystems", root)
    if not data.fstab:
        return [_user_mountable(ctx, "inspect_get_filesystems", root)]
    return [mountable for mountable, _ in data.fstab]


@implements("inspect_get_drive_mappings")
def inspect_get_drive_mappings(ctx: CallContext, root: str) -> list[tuple[str, str]]:
    return list(_search_for_root(ctx, "inspect_get_drive_mappings", root).drive_mappings)
