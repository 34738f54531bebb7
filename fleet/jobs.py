"""The built-in jobs, and the helpers a user's job can use.

A job is a function ``job(g, image, **params) -> dict``: ``g`` is a launched
:class:`~pyguestfs.host.GuestFS` (``python_return_dict=True``) with the image added as
``/dev/sda`` -- read-only unless the run was started in write mode -- and ``image`` the
image's path. What it returns is merged into the image's output line, so it must be
JSON-serialisable and must not use the keys the fleet writes itself (:data:`RESERVED`).
An exception fails the image (``ok: false``) with the exception's message.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..host import GuestFS, GuestFSError

#: Keys of an output line that the fleet fills in; a job's result may not use them.
RESERVED = frozenset({"image", "ok", "error", "seconds", "worker"})

#: virt-inspector's words when a disk holds no operating system.
NO_OS = "no operating system could be detected inside this disk image"


class Job(Protocol):
    """What ``guestfs-fleet run MODULE:FUNCTION`` calls for each image."""

    def __call__(self, g: GuestFS[dict[str, str]], image: str, **params: Any) -> dict[str, Any]:
        """Work on one image; return what goes into its output line."""
        ...


class JobError(Exception):
    """A job's own verdict that an image fails (the message is the reason)."""


def mount_os(
    g: GuestFS[dict[str, str]],
    root: str,
    *,
    write: bool = False,
    types: dict[str, str | None] | None = None,
) -> list[str]:
    """Mount the filesystems of inspected ``root`` where the guest mounts them, shortest
    mount point first (so / comes before /usr), as virt-inspector and guestfish -i do;
    read-only unless ``write``. ``types`` (device → filesystem type, as
    :func:`describe_root` has them) lets the appliance mount without probing each device
    again. A filesystem that does not mount is skipped: returns the warnings, one per
    such filesystem."""
    warnings = []
    mountpoints = g.inspect_get_mountpoints(root)
    for mp, device in sorted(mountpoints.items(), key=lambda kv: (len(kv[0]), kv[0])):
        vfs_type = (types or {}).get(device)
        try:
            if vfs_type:
                g.mount_vfs("" if write else "ro", vfs_type, device, mp)
            elif write:
                g.mount(device, mp)
            else:
                g.mount_ro(device, mp)
        except GuestFSError as e:
            warnings.append(f"{device} on {mp} not mounted: {e}")
    return warnings


def inspect_roots(g: GuestFS[dict[str, str]]) -> list[str]:
    """``inspect_os``, failing the image (JobError) when it finds no operating system."""
    roots = g.inspect_os()
    if not roots:
        raise JobError(NO_OS)
    return roots


_ROOT_FIELDS = (
    ("type", "inspect_get_type"),
    ("distro", "inspect_get_distro"),
    ("product_name", "inspect_get_product_name"),
    ("product_variant", "inspect_get_product_variant"),
    ("major_version", "inspect_get_major_version"),
    ("minor_version", "inspect_get_minor_version"),
    ("arch", "inspect_get_arch"),
    ("hostname", "inspect_get_hostname"),
    ("package_format", "inspect_get_package_format"),
    ("package_management", "inspect_get_package_management"),
    ("mountpoints", "inspect_get_mountpoints"),
    ("filesystems", "inspect_get_filesystems"),
)


def describe_root(g: GuestFS[dict[str, str]], root: str) -> dict[str, Any]:
    """One root as virt-inspector reports it (see the module doc of pyguestfs.fleet)."""
    # The getters are independent: one pipelined round trip instead of a dozen.
    answers = g.pipeline([(call, root) for _, call in _ROOT_FIELDS], return_exceptions=True)
    info: dict[str, Any] = {"root": root}
    warnings: list[str] = []
    for (key, _), value in zip(_ROOT_FIELDS, answers, strict=True):
        if isinstance(value, GuestFSError):
            warnings.append(str(value))
            value = None
        info[key] = value
    devices = info["filesystems"] or []
    info["filesystems"] = _filesystems(g, devices)
    info["applications"] = []
    if info["mountpoints"]:
        types = {fs["device"]: fs["type"] for fs in info["filesystems"]}
        warnings += mount_os(g, root, types=types)
        try:
            apps = g.inspect_list_applications2(root)
        except GuestFSError as e:
            warnings.append(f"applications not listed: {e}")
        else:
            info["applications"] = [
                {
                    "name": a["app2_name"],
                    "version": a["app2_version"],
                    "release": a["app2_release"],
                    "epoch": a["app2_epoch"],
                    "arch": a["app2_arch"],
                }
                for a in apps
            ]
        try:
            g.umount_all()
        except GuestFSError as e:
            warnings.append(f"umount_all: {e}")
    if info["mountpoints"] is None:
        info["mountpoints"] = {}
    if warnings:
        info["warnings"] = warnings
    return info


def _filesystems(g: GuestFS[dict[str, str]], devices: list[str]) -> list[dict[str, Any]]:
    """Each filesystem with its type, label and UUID (None where it has none).

    One ``blkid`` call per device gives all three (libguestfs's vfs_type, vfs_label and
    vfs_uuid each run blkid for one of them: three processes in the appliance, which cost
    a few tenths of a second each under TCG); other mountables (btrfs subvolumes) go
    through the vfs_* calls."""
    calls: list[tuple[Any, ...]] = []
    for d in devices:
        if d.startswith("/dev/"):
            calls.append(("blkid", d))
        else:
            calls += [("vfs_type", d), ("vfs_label", d), ("vfs_uuid", d)]
    answers = iter(g.pipeline(calls, return_exceptions=True) if calls else [])
    out = []
    for device in devices:
        if device.startswith("/dev/"):
            tags = next(answers)
            tags = {} if isinstance(tags, GuestFSError) else tags
            found = [tags.get("TYPE"), tags.get("LABEL"), tags.get("UUID")]
        else:
            found = [next(answers) for _ in range(3)]
        kind, label, uuid = (None if isinstance(v, GuestFSError) or not v else v for v in found)
        out.append({"device": device, "type": kind, "label": label, "uuid": uuid})
    return out


def inspect(g: GuestFS[dict[str, str]], image: str) -> dict[str, Any]:
    """The built-in ``inspect`` job: ``{"roots": [...]}``, one entry per operating system
    found, as virt-inspector reports them; no operating system fails the image."""
    return {"roots": [describe_root(g, root) for root in inspect_roots(g)]}


def checksum(
    g: GuestFS[dict[str, str]], image: str, paths: tuple[str, ...] = (), csumtype: str = "sha256"
) -> dict[str, Any]:
    """The built-in ``checksum`` job: the checksums of guest ``paths`` in the first
    operating system found (``{"checksums": {path: hex or null}}``; the reason a path
    has none goes into ``checksum_errors``)."""
    if not paths:
        raise JobError("checksum: no paths given")
    root = inspect_roots(g)[0]
    warnings = mount_os(g, root)
    sums: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for path in paths:
        try:
            sums[path] = g.checksum(csumtype, path)
        except GuestFSError as e:
            sums[path] = None
            errors[path] = str(e)
    result: dict[str, Any] = {"root": root, "csumtype": csumtype, "checksums": sums}
    if errors:
        result["checksum_errors"] = errors
    if warnings:
        result["warnings"] = warnings
    return result


#: The jobs ``guestfs-fleet`` knows by name.
BUILTIN = {
    "inspect": "pyguestfs.fleet.jobs:inspect",
    "checksum": "pyguestfs.fleet.jobs:checksum",
}
