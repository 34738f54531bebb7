"""Warm launch, the agent's side: what a restored snapshot does to wake up fresh (the
procedures themselves, ``internal_pyguestfs_park`` and ``internal_pyguestfs_restored``,
are in :mod:`pyguestfs.agent.api.extensions`).

A saved appliance is restored many times, so everything a restore copies must be made
unique or current again before the first user call: the kernel's random state (two
restores would otherwise hand out the same "random" UUIDs), the wall clock (it still
shows the moment of the save) and the list of disks (the user's disks are hot-plugged
after the restore, so the guest learns about them late).
"""

from __future__ import annotations

import fcntl
import os
import struct
import time

from .devices import DeviceMap
from .errors import AgentError
from .uevents import DiskAnnouncements, UeventsLost

# <linux/random.h>: RNDADDENTROPY = _IOW('R', 0x03, int[2]), RNDRESEEDCRNG = _IO('R', 0x07).
_RNDADDENTROPY = 0x40085203
_RNDRESEEDCRNG = 0x5207

#: How long the hot-plugged disks may take to appear (the SCSI scan runs in the guest).
DISK_WAIT = 30.0


def wait_for_hotplugged_disks(
    devices: DeviceMap, ndisks: int, announcements: DiskAnnouncements | None
) -> str:
    """Until the ``ndisks`` user disks are there with their partitions, as after a boot;
    returns how that was known.

    A disk is ready when the kernel has announced it (uevents/ ``DiskAnnouncements``:
    the announcement follows the partition scan). Without the announcements (no uevent
    socket, or messages lost) the disks' presence in sysfs is the best there is, and
    opening each disk waits for a partition scan in progress.
    """
    deadline = time.monotonic() + DISK_WAIT
    while True:
        devices.refresh()
        disks = devices.kernel_disks()
        nodes = [os.path.join(devices.dev, d) for d in disks]
        present = len(disks) >= ndisks and all(os.path.exists(n) for n in nodes)
        if present and announcements is None:
            _wait_for_partition_scans(nodes)
            return "seen in sysfs, no uevents"
        if present and announcements is not None and announcements.announced >= set(disks):
            return "announced by the kernel"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if not present:
                why = f"{len(disks)} of {ndisks} hot-plugged disks appeared"
            else:
                unready = sorted(set(disks) - (announcements.announced if announcements else set()))
                why = f"the kernel did not finish adding {', '.join(unready)} (no uevent)"
            raise AgentError(f"restored: {why} within {DISK_WAIT:g} s", "ETIMEDOUT")
        if announcements is None:
            time.sleep(0.01)
            continue
        try:
            announcements.wait(min(remaining, 0.5))
        except UeventsLost:
            announcements.close()
            announcements = None


def _wait_for_partition_scans(nodes: list[str]) -> None:
    """Opening a disk waits while the kernel holds it for its partition scan."""
    for node in nodes:
        try:
            os.close(os.open(node, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            pass  # the disk's own calls will report what is wrong with it


def reseed_kernel_rng(seed: bytes) -> None:
    """Mix ``seed`` into the input pool, credited, then force the CRNG to reseed from it."""
    if len(seed) < 32:
        raise AgentError("restored: the seed must be at least 32 bytes", "EINVAL")
    pad = (-len(seed)) % 4
    info = struct.pack("ii", len(seed) * 8, len(seed)) + seed + b"\0" * pad
    fd = os.open("/dev/urandom", os.O_WRONLY)
    try:
        fcntl.ioctl(fd, _RNDADDENTROPY, info)
        fcntl.ioctl(fd, _RNDRESEEDCRNG)
    except OSError as e:
        raise AgentError.from_os(e, "restored: reseeding the kernel RNG") from None
    finally:
        os.close(fd)
