"""The ``daemon`` family: procedures about the daemon itself (liveness, feature groups,
sync at close, exit) and its process state (the umask)."""

from __future__ import annotations

import os

from ..context import CallContext
from ..errors import AgentError
from ..guest import umount_all
from ..registry import FEATURE_GROUPS, has_program, procedure, provides_group

provides_group("realpath", lambda: True)
provides_group("xz", has_program("xz"))


@procedure("ping_daemon")
def ping_daemon(call: CallContext) -> None:
    return None


@procedure("internal_feature_available")
def internal_feature_available(call: CallContext, group: str) -> int:
    test = FEATURE_GROUPS.get(group)
    if test is None:
        return 2  # unknown group
    return 0 if test() else 1


@procedure("available_all_groups")
def available_all_groups(call: CallContext) -> list[str]:
    return list(FEATURE_GROUPS)


@procedure("internal_autosync")
def internal_autosync(call: CallContext) -> None:
    # In the appliance the agent also unmounts everything first; standalone (like
    # guestfsd -r) it only syncs. An unmount failure is not fatal: the sync still runs.
    try:
        if call.agent.autosync_umount:
            umount_all(call.sysroot.root)
    finally:
        os.sync()


@procedure("internal_exit")
def internal_exit(call: CallContext) -> None:
    # The reply goes out first (the loop sends it when this returns), then the loop ends.
    call.agent.exit_requested = True


@procedure("sync")
def sync(call: CallContext) -> None:
    os.sync()


@procedure("umask")
def umask(call: CallContext, mask: int) -> int:
    if mask < 0 or mask > 0o777:
        raise AgentError(f"0{mask & 0xFFFFFFFF:o}: mask negative or out of range")
    return os.umask(mask)


@procedure("get_umask")
def get_umask(call: CallContext) -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
