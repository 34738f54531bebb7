"""The ``btrfs`` family (``daemon/btrfs.c`` of 1.48): making a btrfs filesystem."""

from __future__ import annotations

from ..context import CallContext
from ..errors import AgentError
from ..fstools import command, commandr, literal, power_of_2, wipefs_argv
from ..registry import procedure
from ..resolve import Device


@procedure("mkfs_btrfs")
def mkfs_btrfs(
    call: CallContext,
    devices: list[Device],
    *,
    allocstart: int | None = None,
    bytecount: int | None = None,
    datatype: str | None = None,
    leafsize: int | None = None,
    label: str | None = None,
    metadata: str | None = None,
    nodesize: int | None = None,
    sectorsize: int | None = None,
) -> None:
    if not devices:
        raise AgentError("list of devices must be non-empty")
    argv = ["mkfs.btrfs"]
    # allocstart: --alloc-start is gone from btrfs-progs; 1.48 ignores the value too.
    if bytecount is not None:
        if bytecount <= 0:
            raise AgentError("bytecount must be > 0")
        argv += ["--byte-count", str(bytecount)]
    raids = ("raid0", "raid1", "raid10", "single")
    if datatype is not None:
        if datatype not in raids:
            raise AgentError("datatype not one of the allowed values")
        argv += ["--data", datatype]
    if leafsize is not None:
        if not power_of_2(leafsize):
            raise AgentError("leafsize must be > 0 and a power of two")
        argv += ["--leafsize", str(leafsize)]
    if label is not None:
        argv += ["--label", label]
    if metadata is not None:
        if metadata not in raids:
            raise AgentError("metadata not one of the allowed values")
        argv += ["--metadata", metadata]
    if nodesize is not None:
        if not power_of_2(nodesize):
            raise AgentError("nodesize must be > 0 and a power of two")
        argv += ["--nodesize", str(nodesize)]
    if sectorsize is not None:
        if not power_of_2(sectorsize):
            raise AgentError("sectorsize must be > 0 and a power of two")
        argv += ["--sectorsize", str(sectorsize)]
    nodes = [d.node for d in devices]
    for node in nodes:
        commandr(call, wipefs_argv(call, node))
    command(call, [*argv, *nodes], literal(devices[0]) + ": {err}")
