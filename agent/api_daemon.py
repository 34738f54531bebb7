"""Procedures about the daemon itself: liveness, feature groups, sync at close, exit."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from .api_block import umount_all_under_sysroot
from .commands import ENV
from .context import CallContext
from .registry import implements


#: The optional feature groups of libguestfs 1.48 (``generator/optgroups.ml``), each with
#: the test that says whether this agent can serve that group's APIs. A group whose APIs
#: the agent does not implement yet is honestly reported as not available.
def _never() -> bool:
    return False


def _has_program(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name, path=ENV["PATH"]) is not None


_GROUPS_148 = """acl augeas blkdiscard blkdiscardzeroes btrfs extlinux f2fs fstrim gdisk grub hivex
inotify journal ldm libtsk libyara linuxcaps linuxfsuuid linuxmodules linuxxattrs luks lvm2
mdadm mknod ntfs3g ntfsprogs realpath rsync scrub selinux selinuxrelabel sleuthkit squashfs
syslinux wipefs xfs xz zerofree""".split()

FEATURE_GROUPS: dict[str, Callable[[], bool]] = dict.fromkeys(_GROUPS_148, _never)
# The groups whose APIs this agent serves.
FEATURE_GROUPS["realpath"] = lambda: True
FEATURE_GROUPS["xz"] = _has_program("xz")


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
