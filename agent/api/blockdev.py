"""The ``blockdev`` family: block device ioctls through ``blockdev(8)``, as guestfsd's
``daemon/blockdev.c`` runs them."""

from __future__ import annotations

import os
import re

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device


def _blockdev(call: CallContext, device: Device, switch: str, *extra: str) -> str:
    return call.run(["blockdev", switch, *extra, device.node], error="blockdev: {err}").out


def _number(call: CallContext, device: Device, switch: str) -> int:
    m = re.match(r"\s*(-?\d+)", _blockdev(call, device, switch))
    if not m:
        raise AgentError("blockdev: expected output, but got nothing")
    return int(m.group(1))


@procedure("blockdev_setro")
def blockdev_setro(call: CallContext, device: Device) -> None:
    _blockdev(call, device, "--setro")


@procedure("blockdev_setrw")
def blockdev_setrw(call: CallContext, device: Device) -> None:
    _blockdev(call, device, "--setrw")


@procedure("blockdev_getro")
def blockdev_getro(call: CallContext, device: Device) -> bool:
    return _number(call, device, "--getro") != 0


@procedure("blockdev_getss")
def blockdev_getss(call: CallContext, device: Device) -> int:
    return _number(call, device, "--getss")


@procedure("blockdev_getbsz")
def blockdev_getbsz(call: CallContext, device: Device) -> int:
    return _number(call, device, "--getbsz")


@procedure("blockdev_setbsz")
def blockdev_setbsz(call: CallContext, device: Device, blocksize: int) -> None:
    """A no-op since libguestfs 1.26 (RHBZ#1002825): BLKBSZSET on a disk whose filesystem
    is not mounted only changes the page cache's buffer size, and broke callers. The
    device is still checked (by the dispatcher)."""


@procedure("blockdev_getsz")
def blockdev_getsz(call: CallContext, device: Device) -> int:
    return _number(call, device, "--getsz")


@procedure("blockdev_getsize64")
def blockdev_getsize64(call: CallContext, device: Device) -> int:
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


@procedure("blockdev_flushbufs")
def blockdev_flushbufs(call: CallContext, device: Device) -> None:
    _blockdev(call, device, "--flushbufs")


@procedure("blockdev_rereadpt")
def blockdev_rereadpt(call: CallContext, device: Device) -> None:
    _blockdev(call, device, "--rereadpt")


@procedure("blockdev_setra")
def blockdev_setra(call: CallContext, device: Device, sectors: int) -> None:
    if sectors < 0:
        raise AgentError("readahead sectors must be >= 0")
    _blockdev(call, device, "--setra", str(sectors))
