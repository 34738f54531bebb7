"""The ``ext2`` family: ext2/3/4 labels, UUIDs, checks, tuning and resizing
(``daemon/ext2.c``, ``labels.c``, ``uuids.c`` of 1.48)."""

from __future__ import annotations

import os

from ..context import CallContext
from ..errors import AgentError
from ..fstools import (
    blkid_tag,
    command,
    commandr,
    fs_label,
    literal,
    set_ext_label,
    set_ext_uuid,
    tune2fs_list,
)
from ..guest import mounts_under
from ..registry import procedure
from ..resolve import Device


@procedure("get_e2label")
def get_e2label(call: CallContext, device: Device) -> str:
    return fs_label(call, device.node, device)


@procedure("get_e2uuid")
def get_e2uuid(call: CallContext, device: Device) -> str:
    return blkid_tag(call, device.node, device, "UUID")


@procedure("set_e2label")
def set_e2label(call: CallContext, device: Device, label: str) -> None:
    set_ext_label(call, device.node, label)


@procedure("set_e2uuid")
def set_e2uuid(call: CallContext, device: Device, uuid: str) -> None:
    set_ext_uuid(call, device.node, uuid)


@procedure("e2fsck")
def e2fsck(
    call: CallContext, device: Device, *, correct: bool | None = None, forceall: bool | None = None
) -> None:
    if correct and forceall:
        raise AgentError("only one of the options 'correct', 'forceall' may be specified")
    argv = ["e2fsck", "-f"]
    if correct:
        argv.append("-p")
    if forceall:
        argv.append("-y")
    rc, _out, err = commandr(call, [*argv, device.node], fold=True)
    # 0: clean, 1: errors corrected. 2 and 3 (corrected, reboot needed) count as
    # failures, as in guestfsd.
    if rc >= 2:
        raise AgentError(err)


@procedure("e2fsck_f")
def e2fsck_f(call: CallContext, device: Device) -> None:
    e2fsck(call, device, correct=True)


@procedure("tune2fs_l")
def tune2fs_l(call: CallContext, device: Device) -> list[tuple[str, str]]:
    return tune2fs_list(call, device.node)


@procedure("tune2fs")
def tune2fs(
    call: CallContext,
    device: Device,
    *,
    force: bool | None = None,
    maxmountcount: int | None = None,
    mountcount: int | None = None,
    errorbehavior: str | None = None,
    group: int | None = None,
    intervalbetweenchecks: int | None = None,
    reservedblockspercentage: int | None = None,
    lastmounteddirectory: str | None = None,
    reservedblockscount: int | None = None,
    user: int | None = None,
) -> None:
    argv = ["tune2fs"]
    if force:
        argv.append("-f")

    def number(value: int | None, name: str, flag: str, suffix: str = "") -> None:
        if value is None:
            return
        if value < 0:
            raise AgentError(f"{name} cannot be negative")
        argv.extend([flag, f"{value}{suffix}" if value else "0"])

    number(maxmountcount, "maxmountcount", "-c")
    number(mountcount, "mountcount", "-C")
    if errorbehavior is not None:
        if errorbehavior not in ("continue", "remount-ro", "panic"):
            raise AgentError(f"invalid errorbehavior parameter: {errorbehavior}")
        argv += ["-e", errorbehavior]
    number(group, "group", "-g")
    # tune2fs takes "<n>s" for seconds (undocumented, long supported); 0 stays "0".
    number(intervalbetweenchecks, "intervalbetweenchecks", "-i", "s")
    number(reservedblockspercentage, "reservedblockspercentage", "-m")
    if lastmounteddirectory is not None:
        argv += ["-M", lastmounteddirectory]
    number(reservedblockscount, "reservedblockscount", "-r")
    number(user, "user", "-u")
    command(call, [*argv, device.node], literal(device) + ": {err}")


def _is_mounted(call: CallContext, device: Device) -> bool:
    """Whether the device is mounted at or below the sysroot (same st_rdev)."""
    node = device.node
    try:
        rdev = os.stat(node).st_rdev
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {device}") from None
    for source in (m.source for m in mounts_under(call.sysroot.root)):
        try:
            if os.stat(source).st_rdev == rdev:
                return True
        except OSError:
            continue
    return False


def _check_unless_mounted(call: CallContext, device: Device) -> None:
    """resize2fs refuses a filesystem not checked since its last mount: check it first,
    answering yes to everything, unless it is mounted (an online resize)."""
    if not _is_mounted(call, device):
        e2fsck(call, device, forceall=True)


@procedure("resize2fs")
def resize2fs(call: CallContext, device: Device) -> None:
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", device.node])


@procedure("resize2fs_size")
def resize2fs_size(call: CallContext, device: Device, size: int) -> None:
    if size & 1023:
        raise AgentError(f"{size}: size must be a round number of kilobytes")
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", device.node, f"{size // 1024}K"])


@procedure("resize2fs_M")
def resize2fs_M(call: CallContext, device: Device) -> None:
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", "-M", device.node])
