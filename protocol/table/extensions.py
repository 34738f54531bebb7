"""pyguestfs's own procedures, numbered from EXTENSION_PROC_BASE (outside libguestfs's range):
warm launch and bulk transfers. All internal: the host's library calls them."""

from __future__ import annotations

from ..constants import EXTENSION_PROC_BASE
from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    # Warm launch (host/snapshot.py): the agent parks before its VM is saved, and is told
    # about the new world after each restore.
    _def(
        "internal_pyguestfs_park",
        EXTENSION_PROC_BASE + 1,
        "",
        "RErr",
        "sync, reply, then wait for a new host to connect and send the wake word",
        internal=True,
    ),
    _def(
        "internal_pyguestfs_restored",
        EXTENSION_PROC_BASE + 2,
        "BufferIn seed, Int64 sec, Int nsec, Int ndisks",
        "RErr",
        "after a restore: reseed the kernel RNG, set the clock, wait for the hot-plugged disks",
        internal=True,
    ),
    # Bulk transfer: chunks bigger than 1.48's 8 KiB, for this connection only.
    _def(
        "internal_pyguestfs_set_chunk_size",
        EXTENSION_PROC_BASE + 3,
        "Int size",
        "RInt",
        "use FileIn/FileOut chunks of up to size bytes on this connection; returns the size "
        "granted",
        internal=True,
    ),
)
