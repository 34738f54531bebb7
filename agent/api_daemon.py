"""Procedures about the daemon itself: liveness, feature groups, sync at close, exit."""

from __future__ import annotations

import os
from collections.abc import Callable

from .context import CallContext
from .registry import implements

#: The optional feature groups of libguestfs 1.48 (``generator/optgroups.ml``), each with
#: the test that says whether this agent can serve that group's APIs. A group whose APIs
#: the agent does not implement yet is honestly reported as not available.
FEATURE_GROUPS: dict[str, Callable[[], bool]] = {
    name: (lambda: False)
    for name in (
        "acl",
        "blkdiscard",
        "blkdiscardzeroes",
        "btrfs",
        "extlinux",
        "f2fs",
        "fstrim",
        "gdisk",
        "grub",
        "hivex",
        "inotify",
        "journal",
        "ldm",
        "libtsk",
        "libyara",
        "linuxcaps",
        "linuxfsuuid",
        "linuxmodules",
        "linuxxattrs",
        "luks",
        "lvm2",
        "mdadm",
        "mknod",
        "ntfs3g",
        "ntfsprogs",
        "rsync",
        "scrub",
        "selinux",
        "selinuxrelabel",
        "sleuthkit",
        "squashfs",
        "syslinux",
        "wipefs",
        "xfs",
        "zerofree",
    )
}


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
    # In the appliance the agent also unmounts everything first (the umount_all of the
    # block-device APIs); standalone (like guestfsd -r) it only syncs.
    unmount = getattr(ctx.agent, "umount_all", None)
    if ctx.agent.autosync_umount and unmount is not None:
        unmount()
    os.sync()


@implements("internal_exit")
def internal_exit(ctx: CallContext) -> None:
    # The reply goes out first (the loop sends it when this returns), then the loop ends.
    ctx.agent.exit_requested = True
