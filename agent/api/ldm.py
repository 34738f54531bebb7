"""The ``ldm`` family: Windows dynamic disks through ``ldmtool(1)``, whose JSON answers are
read as guestfsd's ``daemon/ldm.c`` reads them; the device-mapper devices it makes are
listed from /dev/mapper as ``ldm.ml`` lists them."""

from __future__ import annotations

import json
import os
from typing import Any

from ..context import CallContext
from ..errors import AgentError
from ..registry import has_program, procedure, provides_group
from ..resolve import Device

provides_group("ldm", has_program("ldmtool"))


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


def _mapper_names(prefix: str) -> list[str]:
    if not os.path.isdir("/dev/mapper"):
        return []  # no device-mapper at all: nothing, not an error
    return sorted(f"/dev/mapper/{d}" for d in os.listdir("/dev/mapper") if d.startswith(prefix))


@procedure("list_ldm_volumes")
def list_ldm_volumes(call: CallContext) -> list[str]:
    return _mapper_names("ldm_vol_")


@procedure("list_ldm_partitions")
def list_ldm_partitions(call: CallContext) -> list[str]:
    return _mapper_names("ldm_part_")


@procedure("ldmtool_create_all")
def ldmtool_create_all(call: CallContext) -> None:
    _command(call, ["ldmtool", "create", "all"])


@procedure("ldmtool_remove_all")
def ldmtool_remove_all(call: CallContext) -> None:
    _command(call, ["ldmtool", "remove", "all"])


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        # jansson's words for an empty answer; Python's own text otherwise.
        why = "'[' or '{' expected near end of file" if not text.strip() else str(e)
        raise AgentError(f"parse error: {why}") from None


def _string_list(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def _object_string(text: str, key: str, cmd: str, null_is_empty: bool = False) -> str:
    tree = _json(text)
    node = tree.get(key, ...) if isinstance(tree, dict) else ...
    if node is None and null_is_empty:
        return ""
    if not isinstance(node, str):
        raise AgentError(
            f"output of '{cmd}' was not a JSON object containing a key '{key}' of type string"
        )
    return node


def _object_list(text: str, key: str, cmd: str) -> list[str]:
    tree = _json(text)
    found = _string_list(tree.get(key)) if isinstance(tree, dict) else None
    if found is None:
        raise AgentError(
            f"output of '{cmd}' was not a JSON object containing a key '{key}' "
            "of type array of strings"
        )
    return found


@procedure("ldmtool_scan")
def ldmtool_scan(call: CallContext) -> list[str]:
    return ldmtool_scan_devices(call, [])


@procedure("ldmtool_scan_devices")
def ldmtool_scan_devices(call: CallContext, devices: list[Device]) -> list[str]:
    out = _command(call, ["ldmtool", "scan", *(d.node for d in devices)])
    found = _string_list(_json(out))
    if found is None:
        raise AgentError("output of 'ldmtool scan' was not a JSON array of strings")
    return found


def _show(call: CallContext, *what: str) -> str:
    return _command(call, ["ldmtool", "show", *what])


@procedure("ldmtool_diskgroup_name")
def ldmtool_diskgroup_name(call: CallContext, diskgroup: str) -> str:
    out = _show(call, "diskgroup", diskgroup)
    return _object_string(out, "name", "ldmtool show diskgroup")


@procedure("ldmtool_diskgroup_volumes")
def ldmtool_diskgroup_volumes(call: CallContext, diskgroup: str) -> list[str]:
    out = _show(call, "diskgroup", diskgroup)
    return _object_list(out, "volumes", "ldmtool show diskgroup")


@procedure("ldmtool_diskgroup_disks")
def ldmtool_diskgroup_disks(call: CallContext, diskgroup: str) -> list[str]:
    out = _show(call, "diskgroup", diskgroup)
    return _object_list(out, "disks", "ldmtool show diskgroup")


@procedure("ldmtool_volume_type")
def ldmtool_volume_type(call: CallContext, diskgroup: str, volume: str) -> str:
    out = _show(call, "volume", diskgroup, volume)
    return _object_string(out, "type", "ldmtool show volume")


@procedure("ldmtool_volume_hint")
def ldmtool_volume_hint(call: CallContext, diskgroup: str, volume: str) -> str:
    out = _show(call, "volume", diskgroup, volume)
    return _object_string(out, "hint", "ldmtool show volume", null_is_empty=True)


@procedure("ldmtool_volume_partitions")
def ldmtool_volume_partitions(call: CallContext, diskgroup: str, volume: str) -> list[str]:
    out = _show(call, "volume", diskgroup, volume)
    return _object_list(out, "partitions", "ldmtool show volume")
