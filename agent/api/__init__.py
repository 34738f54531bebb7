"""The agent's procedures, one module per libguestfs 1.48 daemon family.

A family here has the name of its module in ``protocol/table/`` (``btrfs``, ``luks``,
``files`` ...), so a procedure's implementation is found where its table entry is.
Each function is registered with :func:`pyguestfs.agent.registry.procedure` and gets its
arguments already checked and translated (:mod:`pyguestfs.agent.resolve`); what a family
runs goes through :mod:`pyguestfs.agent.runner`, what several families need about the
appliance is in :mod:`pyguestfs.agent.guest`. No family module imports another: a helper
that two families share belongs in one of those modules.

Importing this package registers every family (one line per module below, so that the
freezer sees each of them).
"""

from __future__ import annotations

from . import (
    acl,  # noqa: F401
    archives,  # noqa: F401
    augeas,  # noqa: F401
    blockdev,  # noqa: F401
    bootloaders,  # noqa: F401
    btrfs,  # noqa: F401
    cap,  # noqa: F401
    commands,  # noqa: F401
    content,  # noqa: F401
    copy,  # noqa: F401
    daemon,  # noqa: F401
    devices,  # noqa: F401
    dirs,  # noqa: F401
    ext2,  # noqa: F401
    extensions,  # noqa: F401
    files,  # noqa: F401
    filesystems,  # noqa: F401
    hivex,  # noqa: F401
    inotify,  # noqa: F401
    inspect,  # noqa: F401
    journal,  # noqa: F401
    ldm,  # noqa: F401
    luks,  # noqa: F401
    lvm,  # noqa: F401
    md,  # noqa: F401
    mount,  # noqa: F401
    ntfs,  # noqa: F401
    parted,  # noqa: F401
    paths,  # noqa: F401
    selinux,  # noqa: F401
    sfdisk,  # noqa: F401
    swap,  # noqa: F401
    transfer,  # noqa: F401
    tsk,  # noqa: F401
    xattr,  # noqa: F401
    xfs,  # noqa: F401
    yara,  # noqa: F401
    zero,  # noqa: F401
)
