"""Warm launch, the agent's side: park before the VM is saved, wake up fresh after a restore.

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

from .context import CallContext
from .errors import AgentError
from .registry import implements

# <linux/random.h>: RNDADDENTROPY = _IOW('R', 0x03, int[2]), RNDRESEEDCRNG = _IO('R', 0x07).
_RNDADDENTROPY = 0x40085203
_RNDRESEEDCRNG = 0x5207

#: How long the hot-plugged disks may take to appear (the SCSI scan runs in the guest).
DISK_WAIT = 30.0


@implements("internal_pyguestfs_park")
def park(ctx: CallContext) -> None:
    # Nothing the user did may leak into a snapshot; the host parks only a fresh agent,
    # but make sure of the parts that would survive: mounts and unwritten data.
    if ctx.agent.devices is not None and os.path.ismount(ctx.agent.sysroot.root):
        raise AgentError("park: filesystems are mounted; a snapshot must not contain them")
    os.sync()
    ctx.agent.park_requested = True  # the loop parks after this reply has gone out


@implements("internal_pyguestfs_restored")
def restored(ctx: CallContext, seed: bytes, sec: int, nsec: int, ndisks: int) -> None:
    reseed_kernel_rng(seed)
    time.clock_settime(time.CLOCK_REALTIME, sec + nsec / 1e9)
    devices = ctx.agent.devices
    if devices is None:
        return
    deadline = time.monotonic() + DISK_WAIT
    while True:
        devices.refresh()
        disks = devices.kernel_disks()
        if len(disks) >= ndisks and all(os.path.exists(f"/dev/{d}") for d in disks):
            break
        if time.monotonic() > deadline:
            raise AgentError(
                f"restored: {len(disks)} of {ndisks} hot-plugged disks appeared "
                f"within {DISK_WAIT:.0f} s",
                "ETIMEDOUT",
            )
        time.sleep(0.01)


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
