"""Procedures about the daemon itself: liveness, feature groups, sync at close, exit."""

from __future__ import annotations

import os

from ..protocol import constants as C
from .api_block import umount_all_under_sysroot
from .context import CallContext
from .registry import FEATURE_GROUPS, has_program, implements, provides_group

provides_group("realpath", lambda: True)
provides_group("xz", has_program("xz"))


@implements("ping_daemon")
def ping_daemon(ctx: CallContext) -> None:
    return None


@implements("internal_feature_available")
def internal_feature_available(ctx: CallContext, group: str) -> int:
    test = FEATURE_GROUPS.get(group)
    if test is None:
        return 2  # unknown group
    return 0 if test() else 1


@implements("available_all_groups")
def available_all_groups(ctx: CallContext) -> list[str]:
    return list(FEATURE_GROUPS)


@implements("internal_autosync")
def internal_autosync(ctx: CallContext) -> None:
    # In the appliance the agent also unmounts everything first; standalone (like
    # guestfsd -r) it only syncs. An unmount failure is not fatal: the sync still runs.
    try:
        if ctx.agent.autosync_umount:
            umount_all_under_sysroot(ctx)
    finally:
        os.sync()


@implements("internal_exit")
def internal_exit(ctx: CallContext) -> None:
    # The reply goes out first (the loop sends it when this returns), then the loop ends.
    ctx.agent.exit_requested = True


@implements("internal_pyguestfs_set_chunk_size")
def set_chunk_size(ctx: CallContext, size: int) -> int:
    """Grant chunks of up to ``size`` bytes (clamped to 8 KiB .. 1 MiB) for the rest of
    this connection: fewer chunks to frame, decode and write per MiB moved."""
    granted = max(C.MAX_CHUNK_SIZE, min(size, C.BIG_CHUNK_MAX))
    ctx.agent.chunk_size = granted
    return granted
