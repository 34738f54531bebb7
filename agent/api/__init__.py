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

from . import (  # noqa: F401
    acl,
    archives,
    augeas,
    blockdev,
    btrfs,
    cap,
    commands,
    content,
    copy,
    daemon,
    devices,
    dirs,
    ext2,
    extensions,
    files,
    filesystems,
    hivex,
    inotify,
    inspect,
    journal,
    ldm,
    luks,
    lvm,
    md,
    mount,
    ntfs,
    parted,
    paths,
    selinux,
    swap,
    transfer,
    xattr,
    xfs,
    zero,
)
