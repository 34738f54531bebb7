"""The ``lvm`` family: physical volumes, volume groups and logical volumes, through the
``lvm`` tool, in the agent's own LVM configuration (:mod:`pyguestfs.agent.lvmconf`).

Commands, their flags and the error texts are libguestfs 1.48's (``daemon/lvm.c``,
``lvm.ml``, ``lvm_utils.ml``, ``lvm_dm.ml``, ``lvm-filter.c``, the generated
``lvm-tokenization.c``). LVM's output is never rewritten (the dispatcher renames the
devices these procedures return); where a disk name sits inside a struct or decides an
order, the family renames it itself (``call.user_names``).
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from ...protocol.types import LVM_LV_FIELDS, LVM_PV_FIELDS, LVM_VG_FIELDS, FieldType
from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..lvmconf import SETUP, lvm_ready, regex_quote
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, Mountable
from ..runner import literal

provides_group("lvm2", has_program("lvm"))


_UNAVAILABLE = (
    "feature 'lvm2' is not available in this\n"
    "build of libguestfs.  Read 'AVAILABILITY' in the guestfs(3) man page for\n"
    "how to check for the availability of features."
)


def _lvm(call: CallContext, *args: str, error_prefix: str = "", optional: bool = True) -> str:
    """Run ``lvm ARGS`` in the agent's LVM configuration; return its stdout.

    ``optional``: the API is in the lvm2 feature group, so without the tool the error is
    1.48's "feature not available" (ENOTSUP), not a missing command."""
    if optional and not has_program("lvm")():
        raise AgentError(_UNAVAILABLE, "ENOTSUP")
    lvm_ready(call)
    # Not call.run: LVM's output names the disks as the kernel does, and stays so.
    return runner.run(["lvm", *args], error=literal(error_prefix) + "{err}").out


def _lines(out: str, prefix: str = "") -> list[str]:
    """One name per line, trimmed, blank lines and 'unknown device' (RHBZ#1054761)
    dropped, sorted: 1.48's convert_lvm_output."""
    names = (line.strip() for line in out.split("\n"))
    return sorted(prefix + n for n in names if n and n != "unknown device")


def _pv_nodes(call: CallContext) -> list[str]:
    return _lines(_lvm(call, "pvs", "-o", "pv_name", "--noheadings"))


def _vg_names(call: CallContext) -> list[str]:
    return _lines(_lvm(call, "vgs", "-o", "vg_name", "--noheadings"))


def lv_paths(call: CallContext) -> list[str]:
    """``/dev/VG/LV`` of every public LV that can be activated (not thin pools, not
    snapshots' internals, not those marked to skip activation), sorted."""
    out = _lvm(
        call,
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


@procedure("pvs")
def pvs(call: CallContext) -> list[str]:
    # Sorted by the user's names: the guest's kernel names (sdb1 for the user's sda1)
    # need not sort as those do, and 1.48 sorts what it returns. The dispatcher renames.
    return sorted(_pv_nodes(call), key=call.agent.resolver.reverse)


@procedure("vgs")
def vgs(call: CallContext) -> list[str]:
    return _vg_names(call)


@procedure("lvs")
def lvs(call: CallContext) -> list[str]:
    return lv_paths(call)


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
    call: CallContext, cmd: str, fields: tuple[tuple[str, FieldType], ...]
) -> list[dict[str, Any]]:
    out = _lvm(
        call,
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


@procedure("pvs_full")
def pvs_full(call: CallContext) -> list[dict[str, Any]]:
    rows = _full(call, "pvs", LVM_PV_FIELDS)
    for row in rows:
        row["pv_name"] = call.agent.resolver.reverse(row["pv_name"])
    # LVM lists PVs sorted by name; it sorted the guest's kernel names, so sort again by
    # the names the user sees.
    return sorted(rows, key=lambda row: str(row["pv_name"]))


@procedure("vgs_full")
def vgs_full(call: CallContext) -> list[dict[str, Any]]:
    return _full(call, "vgs", LVM_VG_FIELDS)


@procedure("lvs_full")
def lvs_full(call: CallContext) -> list[dict[str, Any]]:
    return _full(call, "lvs", LVM_LV_FIELDS)


@procedure("pvcreate")
def pvcreate(call: CallContext, device: Device) -> None:
    node = device.node
    _lvm(call, "pvcreate", "--force", node)


@procedure("vgcreate")
def vgcreate(call: CallContext, volgroup: str, physvols: list[Device]) -> None:
    nodes = [pv.node for pv in physvols]
    _lvm(call, "vgcreate", volgroup, *nodes)


@procedure("lvcreate")
def lvcreate(call: CallContext, logvol: str, volgroup: str, mbytes: int) -> None:
    _lvm(call, "lvcreate", "--yes", "-L", str(mbytes), "-n", logvol, volgroup)


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise AgentError(f"percentage must be [0..100] (was {percent})")


@procedure("lvcreate_free")
def lvcreate_free(call: CallContext, logvol: str, volgroup: str, percent: int) -> None:
    _check_percent(percent)
    _lvm(call, "lvcreate", "-l", f"{percent}%FREE", "-n", logvol, volgroup)


@procedure("lvremove")
def lvremove(call: CallContext, device: Device) -> None:
    # 1.48 accepts a VG's directory (/dev/VG) here and removes all of its LVs (the
    # dispatcher lets such a directory through as a device).
    _lvm(call, "lvremove", "-f", device.node)


@procedure("vgremove")
def vgremove(call: CallContext, vgname: str) -> None:
    _lvm(call, "vgremove", "-f", vgname)


@procedure("pvremove")
def pvremove(call: CallContext, device: Device) -> None:
    node = device.node
    _lvm(call, "pvremove", "-ff", node)


@procedure("lvm_remove_all")
def lvm_remove_all(call: CallContext) -> None:
    for lv in lv_paths(call):
        # Deactivate first: lvremove -f does not reliably remove an active LV everywhere.
        try:
            _lvm(call, "lvchange", "-an", lv)
        except AgentError:
            pass
        _lvm(call, "lvremove", "-f", lv, error_prefix=f"lvremove: {lv}: ")
    for vg in _vg_names(call):
        try:
            _lvm(call, "vgchange", "-an", vg)
        except AgentError:
            pass
        _lvm(call, "vgremove", "-f", vg, error_prefix=f"vgremove: {vg}: ")
    for pv in _pv_nodes(call):
        _lvm(
            call,
            "pvremove",
            "-f",
            pv,
            error_prefix=f"pvremove: {call.user_names(pv)}: ",
        )


@procedure("pvresize")
def pvresize(call: CallContext, device: Device) -> None:
    node = device.node
    _lvm(call, "pvresize", node, error_prefix=f"{device}: ")


@procedure("pvresize_size")
def pvresize_size(call: CallContext, device: Device, size: int) -> None:
    node = device.node
    _lvm(
        call,
        "pvresize",
        "--yes",
        "--setphysicalvolumesize",
        f"{size}b",
        node,
        error_prefix=f"{device}: ",
    )


def _resize(call: CallContext, *args: str) -> None:
    """lvresize, except that asking for the size the LV already has is no error
    (RHBZ#834712): lvm refuses it, libguestfs does not."""
    try:
        _lvm(call, "lvresize", *args)
    except AgentError as e:
        same = "New size (" in e.message and "extents) matches existing size (" in e.message
        if not same:
            raise


@procedure("lvresize")
def lvresize(call: CallContext, device: Device, mbytes: int) -> None:
    _resize(call, "--force", "-L", str(mbytes), device.node)


@procedure("lvresize_free")
def lvresize_free(call: CallContext, lv: Device, percent: int) -> None:
    node = lv.node
    _check_percent(percent)
    _resize(call, "-l", f"+{percent}%FREE", node)


@procedure("vg_activate")
def vg_activate(call: CallContext, activate: bool, volgroups: list[str]) -> None:
    _lvm(call, "vgchange", "-a", "y" if activate else "n", *volgroups, error_prefix="vgchange: ")


@procedure("vg_activate_all")
def vg_activate_all(call: CallContext, activate: bool) -> None:
    vg_activate(call, activate, [])


@procedure("lvm_scan")
def lvm_scan(call: CallContext, activate: bool) -> None:
    # Never in the lvm2 group: without LVM it is a no-op, not an error.
    if not has_program("lvm")():
        return
    _lvm(call, "pvscan", "--cache", *(("--activate", "ay") if activate else ()))


@procedure("vgscan")
def vgscan(call: CallContext) -> None:
    lvm_scan(call, False)


def _filter_patterns(call: CallContext, devices: list[Device]) -> list[str]:
    """Accept each device exactly, and a whole disk's partitions too; reject the rest."""
    disks = set(call.agent.devices.kernel_disks()) if call.agent.devices else set()
    patterns = []
    for dev in devices:
        node = dev.node
        quoted = regex_quote(node)
        patterns.append(f"a|^{quoted}$|")
        base = os.path.basename(node)
        if base in disks:
            patterns.append(f"a|^{quoted}{'p' if base[-1].isdigit() else ''}[0-9]|")
        elif not node[-1].isdigit():
            patterns.append(f"a|^{quoted}[0-9]|")  # 1.48's rule for a whole device
    return [*patterns, "r|.*|"]


def _refilter(call: CallContext, patterns: list[str] | None) -> None:
    """Deactivate everything, switch filters, rescan, reactivate: 1.48's order."""
    _lvm(call, "vgchange", "-an", error_prefix="vgchange -an: ", optional=False)
    SETUP.user_filter = patterns
    lvm_ready(call)
    _lvm(call, "vgscan", "--cache", error_prefix="vgscan: ", optional=False)
    _lvm(call, "vgchange", "-ay", error_prefix="vgchange -ay: ", optional=False)


@procedure("lvm_set_filter")
def lvm_set_filter(call: CallContext, devices: list[Device]) -> None:
    _refilter(call, _filter_patterns(call, devices))


@procedure("lvm_clear_filter")
def lvm_clear_filter(call: CallContext) -> None:
    _refilter(call, None)


@procedure("lvrename")
def lvrename(call: CallContext, logvol: str, newlogvol: str) -> None:
    _lvm(
        call,
        "lvrename",
        logvol,
        newlogvol,
        error_prefix=f"{logvol} -> {newlogvol}: ",
        optional=False,
    )


@procedure("vgrename")
def vgrename(call: CallContext, volgroup: str, newvolgroup: str) -> None:
    _lvm(
        call,
        "vgrename",
        volgroup,
        newvolgroup,
        error_prefix=f"{volgroup} -> {newvolgroup}: ",
        optional=False,
    )


def _report(call: CallContext, cmd: str, field: str, target: str, shown: str) -> str:
    """One column of ``pvs``/``vgs``/``lvs`` about one object; errors name it."""
    return _lvm(
        call,
        cmd,
        "--unbuffered",
        "--noheadings",
        "-o",
        field,
        target,
        error_prefix=f"{shown}: ",
        optional=False,
    )


def _report_lines(call: CallContext, cmd: str, field: str, target: str) -> list[str]:
    """Each line trimmed; only the final newline ends the list, so a group without LVs
    gives one empty string, as 1.48's split_lines does."""
    out = _report(call, cmd, field, target, target)
    lines = out.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


@procedure("pvuuid")
def pvuuid(call: CallContext, device: Device) -> str:
    return _report(call, "pvs", "pv_uuid", device.node, device).strip()


@procedure("vguuid")
def vguuid(call: CallContext, vgname: str) -> str:
    return _report(call, "vgs", "vg_uuid", vgname, vgname).strip()


@procedure("lvuuid")
def lvuuid(call: CallContext, device: Device) -> str:
    return _report(call, "lvs", "lv_uuid", device.node, device).strip()


@procedure("vgpvuuids")
def vgpvuuids(call: CallContext, vgname: str) -> list[str]:
    return _report_lines(call, "vgs", "pv_uuid", vgname)


@procedure("vglvuuids")
def vglvuuids(call: CallContext, vgname: str) -> list[str]:
    return _report_lines(call, "vgs", "lv_uuid", vgname)


@procedure("pvchange_uuid")
def pvchange_uuid(call: CallContext, device: Device) -> None:
    _lvm(call, "pvchange", "-u", device.node, error_prefix=f"{device}: ")


@procedure("pvchange_uuid_all")
def pvchange_uuid_all(call: CallContext) -> None:
    _lvm(call, "pvchange", "-u", "-a")


@procedure("vgchange_uuid")
def vgchange_uuid(call: CallContext, vg: str) -> None:
    _lvm(call, "vgchange", "-u", vg, error_prefix=f"{vg}: ")


@procedure("vgchange_uuid_all")
def vgchange_uuid_all(call: CallContext) -> None:
    _lvm(call, "vgchange", "-u")


def lv_canonical(call: CallContext, path: str) -> str | None:
    """The ``/dev/VG/LV`` name of the LV ``path`` is (any name of it: /dev/mapper/VG-LV,
    /dev/dm-0), or None if it is no LV. LVs and device-mapper nodes are only related
    through the device number, so the LVs' nodes are compared with it."""
    try:
        rdev = os.stat(path).st_rdev
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {path}") from None
    for lv in lv_paths(call):
        try:
            if os.stat(lv).st_rdev == rdev:
                return lv
        except OSError as e:
            raise AgentError.from_os(e, f"stat: {lv}") from None
    return None


@procedure("is_lv")
def is_lv(call: CallContext, mountable: Mountable) -> bool:
    if mountable.device is None or mountable.is_btrfsvol:
        return False  # a btrfs subvolume is never an LV
    return lv_canonical(call, mountable.device.node) is not None


@procedure("lvm_canonical_lv_name")
def lvm_canonical_lv_name(call: CallContext, lvname: str) -> str:
    # A plain string, not a Device: /dev/mapper names need not exist, so check by hand.
    if not lvname.startswith("/dev/"):
        raise AgentError(f"{lvname}: not a device name")
    # A user's disk name to its node; other names (LVs, /dev/mapper) as they are.
    canonical = lv_canonical(call, call.agent.resolver.translate(lvname))
    if canonical is None:
        raise AgentError(f"{lvname}: not a logical volume", "EINVAL")
    return canonical


@procedure("list_dm_devices")
def list_dm_devices(call: CallContext) -> list[str]:
    try:
        names = sorted(os.listdir("/dev/mapper")) if call.agent.devices is not None else []
    except FileNotFoundError:
        names = []  # device-mapper never loaded: there are none
    except OSError as e:
        raise AgentError.from_os(e, "/dev/mapper") from None
    paths = [f"/dev/mapper/{n}" for n in names if n != "control"]
    return [p for p in paths if lv_canonical(call, p) is None]


@procedure("vgmeta")
def vgmeta(call: CallContext, vgname: str) -> bytes:
    fd, tmp = tempfile.mkstemp(prefix="vgmeta")
    os.close(fd)
    try:
        _lvm(call, "vgcfgbackup", "-f", tmp, vgname, error_prefix="vgcfgbackup: ")
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
