"""The ``extensions`` family: pyguestfs's own procedures (``internal_pyguestfs_*``),
numbered above 1.48's, which only our host calls: a bigger chunk size for transfers, and
the two halves of a warm launch (park before the VM is saved, wake up fresh after a
restore; the waking itself is :mod:`pyguestfs.agent.warm`)."""

from __future__ import annotations

import os
import time

from ...protocol import constants as C
from ..context import CallContext
from ..errors import AgentError
from ..registry import load_all_families, procedure
from ..uevents import DiskAnnouncements
from ..warm import reseed_kernel_rng, wait_for_hotplugged_disks


@procedure("internal_pyguestfs_set_chunk_size")
def set_chunk_size(call: CallContext, size: int) -> int:
    """Grant chunks of up to ``size`` bytes (clamped to 8 KiB .. 1 MiB) for the rest of
    this connection: fewer chunks to frame, decode and write per MiB moved."""
    granted = max(C.MAX_CHUNK_SIZE, min(size, C.BIG_CHUNK_MAX))
    call.agent.chunk_size = granted
    return granted


@procedure("internal_pyguestfs_park")
def park(call: CallContext) -> None:
    agent = call.agent
    # Nothing the user did may leak into a snapshot; the host parks only a fresh agent,
    # but make sure of the parts that would survive: mounts and unwritten data.
    if agent.devices is not None and os.path.ismount(agent.sysroot.root):
        raise AgentError("park: filesystems are mounted; a snapshot must not contain them")
    os.sync()
    if agent.devices is not None and agent.disk_announcements is None:
        # Opened now, it is in every restore of this snapshot, already listening when
        # the host hot-plugs the user's disks (before it wakes the agent).
        agent.disk_announcements = DiskAnnouncements.open()
    # Every family is imported before the save, so no restored session pays for one.
    load_all_families()
    agent.park_requested = True  # the loop parks after this reply has gone out


@procedure("internal_pyguestfs_restored")
def restored(call: CallContext, seed: bytes, sec: int, nsec: int, ndisks: int) -> None:
    agent = call.agent
    reseed_kernel_rng(seed)
    time.clock_settime(time.CLOCK_REALTIME, sec + nsec / 1e9)
    devices = agent.devices
    if devices is None:
        return
    announcements, agent.disk_announcements = agent.disk_announcements, None
    started = time.monotonic()
    try:
        how = wait_for_hotplugged_disks(devices, ndisks, announcements)
    finally:
        if announcements is not None:
            announcements.close()
    if agent.verbose:
        agent.say(
            f"restored: {ndisks} hot-plugged disks ready after "
            f"{time.monotonic() - started:.3f} s ({how})"
        )
