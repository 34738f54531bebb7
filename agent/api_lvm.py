"""LVM: physical volumes, volume groups and logical volumes, through the ``lvm`` tool.

Commands, their flags and the error texts are libguestfs 1.48's (``daemon/lvm.c``,
``lvm.ml``, ``lvm_utils.ml``, ``lvm_dm.ml``, ``lvm-filter.c``, the generated
``lvm-tokenization.c``).

What differs from guestfsd is the environment: this appliance runs no udev, so LVM gets a
configuration of its own (in a private directory, ``LVM_SYSTEM_DIR``, as libguestfs's
appliance does with ``/tmp/lvm``) that

* never asks udev (no device list from udev, no udev sync or rules: libdevmapper makes the
  ``/dev/mapper`` nodes and the ``/dev/VG/LV`` links itself),
* sees only the user's disks, their partitions and device-mapper/md devices built on them,
  never the appliance's own disk (a ``global_filter``; ``lvm_set_filter`` narrows it
  further with a ``filter``, so even ``lvm_clear_filter`` cannot expose that disk).

The first LVM call loads device-mapper and activates what the disks hold
(``pvscan --cache --activate ay``, which 1.48's appliance ``/init`` runs at boot).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from typing import Any

from ..protocol.types import LVM_LV_FIELDS, LVM_PV_FIELDS, LVM_VG_FIELDS, FieldType
from . import commands
from .api_block import device_node
from .commands import run
from .context import CallContext
from .errors import AgentError
from .registry import has_program, implements, provides_group

provides_group("lvm2", has_program("lvm"))

_UNAVAILABLE = (
    "feature 'lvm2' is not available in this\n"
    "build of libguestfs.  Read 'AVAILABILITY' in the guestfs(3) man page for\n"
    "how to check for the availability of features."
)


class _LvmSetup:
    """The agent's one LVM configuration and whether device-mapper is ready."""

    def __init__(self) -> None:
        self.system_dir: str | None = None
        self.written: str | None = None
        #: lvm_set_filter's patterns (None: every device the global filter allows).
        self.user_filter: list[str] | None = None
        self.activated = False

    def ensure(self, ctx: CallContext) -> None:
        """Write the configuration if it changed; load and activate on first use."""
        if self.system_dir is None:
            self.system_dir = tempfile.mkdtemp(prefix="pyguestfs-lvm.")
            atexit.register(shutil.rmtree, self.system_dir, True)
            # Every later command of the agent sees it, as guestfsd's children do the
            # LVM_SYSTEM_DIR its /init exports (inspection's LVM calls included).
            commands.ENV["LVM_SYSTEM_DIR"] = self.system_dir
        text = _config_text(ctx, self.user_filter)
        if text != self.written:
            path = os.path.join(self.system_dir, "lvm.conf")
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
            self.written = text
        if not self.activated and ctx.agent.devices is not None:
            self.activated = True
            _load_device_mapper()
            try:
                run(["lvm", "pvscan", "--cache", "--activate", "ay"])
            except AgentError:
                pass  # as the appliance's /init: a disk LVM cannot read is no reason to fail


_SETUP = _LvmSetup()


def lvm_ready(ctx: CallContext) -> None:
    """Make ``lvm`` usable in this agent (configuration, device-mapper, activation).

    Other API families that run ``lvm`` themselves (inspection) call this first."""
    _SETUP.ensure(ctx)


def _accept_patterns(ctx: CallContext) -> list[str]:
    """The user's disks and their partitions, and the dm/md devices made from them."""
    devices = ctx.agent.devices
    if devices is None:
        return []  # standalone on a host: LVM must see none of the host's disks
    patterns = []
    for disk in devices.kernel_disks():
        node = os.path.join(devices.dev, disk)
        patterns.append(f"a|^{_regex_quote(node)}$|")
        patterns.append(f"a|^{_regex_quote(node)}{'p' if disk[-1].isdigit() else ''}[0-9]+$|")
    # LUKS-opened devices, md arrays and LVs: made from the user's disks, never the root.
    patterns += ["a|^/dev/mapper/|", "a|^/dev/md|"]
    return patterns


def _config_text(ctx: CallContext, user_filter: list[str] | None) -> str:
    global_filter = [*_accept_patterns(ctx), "r|.*|"]
    user = user_filter if user_filter is not None else ["a|.*|"]
    return (
        "devices {\n"
        '    scan = [ "/dev" ]\n'
        "    obtain_device_list_from_udev = 0\n"
        '    external_device_info_source = "none"\n'
        # 1.48 turns the devices file off (RHBZ#1965941): disks are named by the filter.
        "    use_devicesfile = 0\n"
        f"    global_filter = [ {_list(global_filter)} ]\n"
        f"    filter = [ {_list(user)} ]\n"
        "}\n"
        "activation {\n"
        # No udev: libdevmapper creates and removes the nodes and links itself.
        "    udev_sync = 0\n"
        "    udev_rules = 0\n"
        "    verify_udev_operations = 0\n"
        "    monitoring = 0\n"
        "}\n"
        "global {\n"
        "    use_lvmpolld = 0\n"
        "    notify_dbus = 0\n"
        "}\n"
    )


def _list(patterns: Sequence[str]) -> str:
    return ", ".join(f'"{p}"' for p in patterns)


def _regex_quote(path: str) -> str:
    """Escape the characters of device and LV names that LVM's regex engine treats
    specially (LV names may hold ``+`` and ``.``)."""
    return re.sub(r"([.+*?^$()\[\]{}|\\])", r"\\\1", path)


def _load_device_mapper() -> None:
    """Load dm_mod and make sure /dev/mapper/control exists: without udev nothing
    creates the node, and libdevmapper can only do so once the module is in."""
    try:
        run(["modprobe", "dm_mod"])
    except AgentError:
        pass  # built into the kernel, or not there at all: lvm will say which
    control = "/dev/mapper/control"
    if os.path.exists(control):
        return
    minor = None
    try:
        with open("/proc/misc") as f:  # lines of "<minor> <name>"
            for line in f:
                number, _, name = line.strip().partition(" ")
                if name == "device-mapper":
                    minor = int(number)
    except (OSError, ValueError):
        pass
    if minor is None:
        return
    try:
        os.makedirs("/dev/mapper", exist_ok=True)
        os.mknod(control, 0o600 | stat.S_IFCHR, os.makedev(10, minor))
    except OSError:
        pass  # lvm reports a missing control node itself


def _lvm(ctx: CallContext, *args: str, error_prefix: str = "", optional: bool = True) -> str:
    """Run ``lvm ARGS`` in the agent's LVM configuration; return its stdout.

    ``optional``: the API is in the lvm2 feature group, so without the tool the error is
    1.48's "feature not available" (ENOTSUP), not a missing command."""
    if optional and not has_program("lvm")():
        raise AgentError(_UNAVAILABLE, "ENOTSUP")
    lvm_ready(ctx)
    return run(["lvm", *args], error_prefix=error_prefix)


def _user_name(ctx: CallContext, node: str) -> str:
    """A kernel node LVM printed (``/dev/vda1``) as the user names it (``/dev/sda1``).
    Only names directly in /dev are disks: ``/dev/VG/sda1`` is an LV and stays."""
    devices = ctx.agent.devices
    if devices is None or os.path.dirname(node) != "/dev":
        return node
    return devices.reverse(node)


def _lines(out: str, prefix: str = "") -> list[str]:
    """One name per line, trimmed, blank lines and 'unknown device' (RHBZ#1054761)
    dropped, sorted: 1.48's convert_lvm_output."""
    names = (line.strip() for line in out.split("\n"))
    return sorted(prefix + n for n in names if n and n != "unknown device")


# -- listing ---------------------------------------------------------------------------------
def _pv_nodes(ctx: CallContext) -> list[str]:
    return _lines(_lvm(ctx, "pvs", "-o", "pv_name", "--noheadings"))


def _vg_names(ctx: CallContext) -> list[str]:
    return _lines(_lvm(ctx, "vgs", "-o", "vg_name", "--noheadings"))


def lv_paths(ctx: CallContext) -> list[str]:
    """``/dev/VG/LV`` of every public LV that can be activated (not thin pools, not
    snapshots' internals, not those marked to skip activation), sorted."""
    out = _lvm(
        ctx,
        "lvs",
        "-o",
        "vg_name,lv_name",
        "-S",
        "lv_role=public && lv_skip_activation!=yes",
        "--noheadings",
        "--separator",
        "/",
    )
    return _lines(out, prefix="/dev/")


@implements("pvs")
def pvs(ctx: CallContext) -> list[str]:
    # Sorted after translation: the guest's kernel names (sdb1 for the user's sda1) need
    # not sort as the user's names do, and 1.48 sorts what it returns.
    return sorted(_user_name(ctx, n) for n in _pv_nodes(ctx))


@implements("vgs")
def vgs(ctx: CallContext) -> list[str]:
    return _vg_names(ctx)


@implements("lvs")
def lvs(ctx: CallContext) -> list[str]:
    return lv_paths(ctx)


_INT = re.compile(r"\s*[+-]?\d+")
_FLOAT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _parse_token(ftype: FieldType, tok: str) -> Any:
    """One column of ``--separator '\\r'`` output, read as the generated tokenizer does;
    ValueError if it cannot be."""
    if ftype is FieldType.STRING:
        return tok
    if ftype is FieldType.UUID:
        digits = tok.replace("-", "")
        if len(digits) < 32:
            raise ValueError(tok)
        return digits[:32]
    if ftype in (FieldType.BYTES, FieldType.INT64):
        m = _INT.match(tok)
        if not m:
            raise ValueError(tok)
        return int(m.group())
    if ftype is FieldType.OPTPERCENT:
        if tok == "":
            return -1.0
        m = _FLOAT.match(tok)
        if not m:
            raise ValueError(tok)
        return float(m.group())
    raise ValueError(f"{ftype} is not an LVM column")  # pragma: no cover


def _full(
    ctx: CallContext, cmd: str, fields: tuple[tuple[str, FieldType], ...]
) -> list[dict[str, Any]]:
    out = _lvm(
        ctx,
        cmd,
        "-o",
        ",".join(name for name, _ in fields),
        "--unbuffered",
        "--noheadings",
        "--nosuffix",
        "--separator",
        "\r",
        "--units",
        "b",
    )
    rows = []
    for line in out.split("\n"):
        line = line.lstrip()
        if not line:
            continue
        tokens = line.split("\r")
        try:
            rows.append(
                {
                    name: _parse_token(ftype, tok)
                    for (name, ftype), tok in zip(fields, tokens, strict=True)
                }
            )
        except ValueError:
            raise AgentError(f"failed to parse output of '{cmd}' command") from None
    return rows


@implements("pvs_full")
def pvs_full(ctx: CallContext) -> list[dict[str, Any]]:
    rows = _full(ctx, "pvs", LVM_PV_FIELDS)
    for row in rows:
        row["pv_name"] = _user_name(ctx, row["pv_name"])
    # LVM lists PVs sorted by name; it sorted the guest's kernel names, so sort again by
    # the names the user sees.
    return sorted(rows, key=lambda row: str(row["pv_name"]))


@implements("vgs_full")
def vgs_full(ctx: CallContext) -> list[dict[str, Any]]:
    return _full(ctx, "vgs", LVM_VG_FIELDS)


@implements("lvs_full")
def lvs_full(ctx: CallContext) -> list[dict[str, Any]]:
    return _full(ctx, "lvs", LVM_LV_FIELDS)


# -- creating ----------------------------------------------------------------------------
@implements("pvcreate")
def pvcreate(ctx: CallContext, device: str) -> None:
    node = device_node(ctx, device)
    _lvm(ctx, "pvcreate", "--force", node)


@implements("vgcreate")
def vgcreate(ctx: CallContext, volgroup: str, physvols: list[str]) -> None:
    nodes = [device_node(ctx, pv) for pv in physvols]
    _lvm(ctx, "vgcreate", volgroup, *nodes)


@implements("lvcreate")
def lvcreate(ctx: CallContext, logvol: str, volgroup: str, mbytes: int) -> None:
    _lvm(ctx, "lvcreate", "--yes", "-L", str(mbytes), "-n", logvol, volgroup)


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise AgentError(f"percentage must be [0..100] (was {percent})")


@implements("lvcreate_free")
def lvcreate_free(ctx: CallContext, logvol: str, volgroup: str, percent: int) -> None:
    _check_percent(percent)
    _lvm(ctx, "lvcreate", "-l", f"{percent}%FREE", "-n", logvol, volgroup)


# -- removing ----------------------------------------------------------------------------
@implements("lvremove")
def lvremove(ctx: CallContext, device: str) -> None:
    # 1.48 accepts a VG's directory (/dev/VG) here and removes all of its LVs.
    if len(device) > 5 and device.startswith("/dev/") and os.path.isdir(device):
        target = device
    else:
        target = device_node(ctx, device)
    _lvm(ctx, "lvremove", "-f", target)


@implements("vgremove")
def vgremove(ctx: CallContext, vgname: str) -> None:
    _lvm(ctx, "vgremove", "-f", vgname)


@implements("pvremove")
def pvremove(ctx: CallContext, device: str) -> None:
    node = device_node(ctx, device)
    _lvm(ctx, "pvremove", "-ff", node)


@implements("lvm_remove_all")
def lvm_remove_all(ctx: CallContext) -> None:
    for lv in lv_paths(ctx):
        # Deactivate first: lvremove -f does not reliably remove an active LV everywhere.
        try:
            _lvm(ctx, "lvchange", "-an", lv)
        except AgentError:
            pass
        _lvm(ctx, "lvremove", "-f", lv, error_prefix=f"lvremove: {lv}: ")
    for vg in _vg_names(ctx):
        try:
            _lvm(ctx, "vgchange", "-an", vg)
        except AgentError:
            pass
        _lvm(ctx, "vgremove", "-f", vg, error_prefix=f"vgremove: {vg}: ")
    for pv in _pv_nodes(ctx):
        _lvm(ctx, "pvremove", "-f", pv, error_prefix=f"pvremove: {_user_name(ctx, pv)}: ")


# -- resizing ----------------------------------------------------------------------------
@implements("pvresize")
def pvresize(ctx: CallContext, device: str) -> None:
    node = device_node(ctx, device)
    _lvm(ctx, "pvresize", node, error_prefix=f"{device}: ")


@implements("pvresize_size")
def pvresize_size(ctx: CallContext, device: str, size: int) -> None:
    node = device_node(ctx, device)
    _lvm(
        ctx,
        "pvresize",
        "--yes",
        "--setphysicalvolumesize",
        f"{size}b",
        node,
        error_prefix=f"{device}: ",
    )


def _resize(ctx: CallContext, *args: str) -> None:
    """lvresize, except that asking for the size the LV already has is no error
    (RHBZ#834712): lvm refuses it, libguestfs does not."""
    try:
        _lvm(ctx, "lvresize", *args)
    except AgentError as e:
        same = "New size (" in e.message and "extents) matches existing size (" in e.message
        if not same:
            raise


@implements("lvresize")
def lvresize(ctx: CallContext, device: str, mbytes: int) -> None:
    _resize(ctx, "--force", "-L", str(mbytes), device_node(ctx, device))


@implements("lvresize_free")
def lvresize_free(ctx: CallContext, lv: str, percent: int) -> None:
    node = device_node(ctx, lv)
    _check_percent(percent)
    _resize(ctx, "-l", f"+{percent}%FREE", node)


# -- activation, scanning, filters -----------------------------------------------------------
@implements("vg_activate")
def vg_activate(ctx: CallContext, activate: bool, volgroups: list[str]) -> None:
    _lvm(ctx, "vgchange", "-a", "y" if activate else "n", *volgroups, error_prefix="vgchange: ")


@implements("vg_activate_all")
def vg_activate_all(ctx: CallContext, activate: bool) -> None:
    vg_activate(ctx, activate, [])


@implements("lvm_scan")
def lvm_scan(ctx: CallContext, activate: bool) -> None:
    # Never in the lvm2 group: without LVM it is a no-op, not an error.
    if not has_program("lvm")():
        return
    _lvm(ctx, "pvscan", "--cache", *(("--activate", "ay") if activate else ()))


@implements("vgscan")
def vgscan(ctx: CallContext) -> None:
    lvm_scan(ctx, False)


def _filter_patterns(ctx: CallContext, devices: list[str]) -> list[str]:
    """Accept each device exactly, and a whole disk's partitions too; reject the rest."""
    disks = set(ctx.agent.devices.kernel_disks()) if ctx.agent.devices else set()
    patterns = []
    for dev in devices:
        node = device_node(ctx, dev)
        quoted = _regex_quote(node)
        patterns.append(f"a|^{quoted}$|")
        base = os.path.basename(node)
        if base in disks:
            patterns.append(f"a|^{quoted}{'p' if base[-1].isdigit() else ''}[0-9]|")
        elif not node[-1].isdigit():
            patterns.append(f"a|^{quoted}[0-9]|")  # 1.48's rule for a whole device
    return [*patterns, "r|.*|"]


def _refilter(ctx: CallContext, patterns: list[str] | None) -> None:
    """Deactivate everything, switch filters, rescan, reactivate: 1.48's order."""
    _lvm(ctx, "vgchange", "-an", error_prefix="vgchange -an: ", optional=False)
    _SETUP.user_filter = patterns
    lvm_ready(ctx)
    _lvm(ctx, "vgscan", "--cache", error_prefix="vgscan: ", optional=False)
    _lvm(ctx, "vgchange", "-ay", error_prefix="vgchange -ay: ", optional=False)


@implements("lvm_set_filter")
def lvm_set_filter(ctx: CallContext, devices: list[str]) -> None:
    _refilter(ctx, _filter_patterns(ctx, devices))


@implements("lvm_clear_filter")
def lvm_clear_filter(ctx: CallContext) -> None:
    _refilter(ctx, None)


# -- renaming and UUIDs ------------------------------------------------------------------
@implements("lvrename")
def lvrename(ctx: CallContext, logvol: str, newlogvol: str) -> None:
    _lvm(
        ctx,
        "lvrename",
        logvol,
        newlogvol,
        error_prefix=f"{logvol} -> {newlogvol}: ",
        optional=False,
    )


@implements("vgrename")
def vgrename(ctx: CallContext, volgroup: str, newvolgroup: str) -> None:
    _lvm(
        ctx,
        "vgrename",
        volgroup,
        newvolgroup,
        error_prefix=f"{volgroup} -> {newvolgroup}: ",
        optional=False,
    )


def _report(ctx: CallContext, cmd: str, field: str, target: str, shown: str) -> str:
    """One column of ``pvs``/``vgs``/``lvs`` about one object; errors name it."""
    return _lvm(
        ctx,
        cmd,
        "--unbuffered",
        "--noheadings",
        "-o",
        field,
        target,
        error_prefix=f"{shown}: ",
        optional=False,
    )


def _report_lines(ctx: CallContext, cmd: str, field: str, target: str) -> list[str]:
    """Each line trimmed; only the final newline ends the list, so a group without LVs
    gives one empty string, as 1.48's split_lines does."""
    out = _report(ctx, cmd, field, target, target)
    lines = out.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


@implements("pvuuid")
def pvuuid(ctx: CallContext, device: str) -> str:
    return _report(ctx, "pvs", "pv_uuid", device_node(ctx, device), device).strip()


@implements("vguuid")
def vguuid(ctx: CallContext, vgname: str) -> str:
    return _report(ctx, "vgs", "vg_uuid", vgname, vgname).strip()


@implements("lvuuid")
def lvuuid(ctx: CallContext, device: str) -> str:
    return _report(ctx, "lvs", "lv_uuid", device_node(ctx, device), device).strip()


@implements("vgpvuuids")
def vgpvuuids(ctx: CallContext, vgname: str) -> list[str]:
    return _report_lines(ctx, "vgs", "pv_uuid", vgname)


@implements("vglvuuids")
def vglvuuids(ctx: CallContext, vgname: str) -> list[str]:
    return _report_lines(ctx, "vgs", "lv_uuid", vgname)


@implements("pvchange_uuid")
def pvchange_uuid(ctx: CallContext, device: str) -> None:
    _lvm(ctx, "pvchange", "-u", device_node(ctx, device), error_prefix=f"{device}: ")


@implements("pvchange_uuid_all")
def pvchange_uuid_all(ctx: CallContext) -> None:
    _lvm(ctx, "pvchange", "-u", "-a")


@implements("vgchange_uuid")
def vgchange_uuid(ctx: CallContext, vg: str) -> None:
    _lvm(ctx, "vgchange", "-u", vg, error_prefix=f"{vg}: ")


@implements("vgchange_uuid_all")
def vgchange_uuid_all(ctx: CallContext) -> None:
    _lvm(ctx, "vgchange", "-u")


# -- names -------------------------------------------------------------------------------
def lv_canonical(ctx: CallContext, path: str) -> str | None:
    """The ``/dev/VG/LV`` name of the LV ``path`` is (any name of it: /dev/mapper/VG-LV,
    /dev/dm-0), or None if it is no LV. LVs and device-mapper nodes are only related
    through the device number, so the LVs' nodes are compared with it."""
    try:
        rdev = os.stat(path).st_rdev
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {path}") from None
    for lv in lv_paths(ctx):
        try:
            if os.stat(lv).st_rdev == rdev:
                return lv
        except OSError as e:
            raise AgentError.from_os(e, f"stat: {lv}") from None
    return None


def _node_of(ctx: CallContext, name: str) -> str:
    """A user's disk name to its node; other names (LVs, /dev/mapper) as they are."""
    try:
        return device_node(ctx, name)
    except AgentError:
        return name


@implements("is_lv")
def is_lv(ctx: CallContext, mountable: str) -> bool:
    if mountable.startswith("btrfsvol:"):
        return False  # a btrfs subvolume is never an LV
    node = device_node(ctx, mountable)
    return lv_canonical(ctx, node) is not None


@implements("lvm_canonical_lv_name")
def lvm_canonical_lv_name(ctx: CallContext, lvname: str) -> str:
    # A plain string, not a Device: /dev/mapper names need not exist, so check by hand.
    if not lvname.startswith("/dev/"):
        raise AgentError(f"{lvname}: not a device name")
    canonical = lv_canonical(ctx, _node_of(ctx, lvname))
    if canonical is None:
        raise AgentError(f"{lvname}: not a logical volume", "EINVAL")
    return canonical


@implements("list_dm_devices")
def list_dm_devices(ctx: CallContext) -> list[str]:
    try:
        names = sorted(os.listdir("/dev/mapper")) if ctx.agent.devices is not None else []
    except FileNotFoundError:
        names = []  # device-mapper never loaded: there are none
    except OSError as e:
        raise AgentError.from_os(e, "/dev/mapper") from None
    paths = [f"/dev/mapper/{n}" for n in names if n != "control"]
    return [p for p in paths if lv_canonical(ctx, p) is None]


@implements("vgmeta")
def vgmeta(ctx: CallContext, vgname: str) -> bytes:
    fd, tmp = tempfile.mkstemp(prefix="vgmeta")
    os.close(fd)
    try:
        _lvm(ctx, "vgcfgbackup", "-f", tmp, vgname, error_prefix="vgcfgbackup: ")
        with open(tmp, "rb") as f:
            data = f.read()
    except OSError as e:
        raise AgentError.from_os(e, f"read: {tmp}") from None
    finally:
        os.unlink(tmp)
    # The reply must fit in one message, as in 1.48 (which stops ~1000 bytes short).
    if len(data) > 4 * 1024 * 1024 - 1000:
        raise AgentError("metadata is too large for message buffer")
    return data
