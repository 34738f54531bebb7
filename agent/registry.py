"""Which Python function serves which procedure of the table.

A family module of :mod:`pyguestfs.agent.api` decorates each implementation with
``@procedure("name")``; the name must be in the procedure table, so a typo fails at
import time, not at the first call. The implementation takes the call context first,
then the procedure's arguments by their libguestfs names, already checked and translated
by their kind (:mod:`.resolve`: a ``Device`` carries its node, a ``Pathname`` is a
``GuestPath`` ...), then the optional arguments that the caller set, as keywords. Device
names in its result are translated back to the user's names by the dispatcher.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any, TypeVar

from ..protocol.procedures import BY_NAME
from .errors import AgentError
from .runner import ENV

Impl = Callable[..., Any]
F = TypeVar("F", bound=Impl)

IMPLEMENTATIONS: dict[str, Impl] = {}


def procedure(name: str) -> Callable[[F], F]:
    """Register the implementation of procedure ``name`` (resolved arguments)."""

    def register(fn: F) -> F:
        if name not in BY_NAME:
            raise KeyError(f"{name} is not in the procedure table")
        if name in IMPLEMENTATIONS:
            raise KeyError(f"{name} is implemented twice")
        IMPLEMENTATIONS[name] = fn
        return fn

    return register


#: The optional feature groups of libguestfs 1.48 (``generator/optgroups.ml``), each with
#: the test that says whether this agent can serve that group's APIs. A group whose APIs
#: the agent does not implement yet is honestly reported as not available; the API module
#: that implements a group declares it with :func:`provides_group`.
_GROUPS_148 = """acl augeas blkdiscard blkdiscardzeroes btrfs extlinux f2fs fstrim gdisk grub hivex
inotify journal ldm libtsk libyara linuxcaps linuxfsuuid linuxmodules linuxxattrs luks lvm2
mdadm mknod ntfs3g ntfsprogs realpath rsync scrub selinux selinuxrelabel sleuthkit squashfs
syslinux wipefs xfs xz zerofree""".split()


def _never() -> bool:
    return False


FEATURE_GROUPS: dict[str, Callable[[], bool]] = dict.fromkeys(_GROUPS_148, _never)


def provides_group(name: str, test: Callable[[], bool]) -> None:
    """Declare that this agent serves group ``name`` whenever ``test()`` is true."""
    if name not in FEATURE_GROUPS:
        raise KeyError(f"{name} is not a libguestfs 1.48 feature group")
    FEATURE_GROUPS[name] = test


def has_program(name: str) -> Callable[[], bool]:
    """A group test: true when ``name`` is on the agent's PATH (the appliance has it)."""
    return lambda: shutil.which(name, path=ENV["PATH"]) is not None


def unavailable_feature(group: str) -> AgentError:
    """guestfsd's ``reply_with_unavailable_feature``: the error of a procedure whose
    optional group this appliance cannot serve (ENOTSUP, 1.48's words)."""
    return AgentError(
        f"feature '{group}' is not available in this\n"
        "build of libguestfs.  Read 'AVAILABILITY' in the guestfs(3) man page for\n"
        "how to check for the availability of features.",
        "ENOTSUP",
    )


def group_available(group: str) -> bool:
    """Whether this appliance can serve the APIs of optional group ``group`` (what
    ``available`` and ``feature_available`` report, and what the dispatcher checks)."""
    return FEATURE_GROUPS.get(group, _never)()


def require_group(group: str) -> None:
    """The stub's check for an optional group: raise :func:`unavailable_feature` unless
    the group's test (declared with :func:`provides_group`) passes."""
    if not group_available(group):
        raise unavailable_feature(group)
