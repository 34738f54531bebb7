"""The agent's procedures, one module per libguestfs 1.48 daemon family.

A family here has the name of its module in ``protocol/table/`` (``btrfs``, ``luks``,
``files`` ...), so a procedure's implementation is found where its table entry is.
Each function is registered with :func:`pyguestfs.agent.registry.procedure` and gets its
arguments already checked and translated (:mod:`pyguestfs.agent.resolve`); what a family
runs goes through :mod:`pyguestfs.agent.runner`, what several families need about the
appliance is in :mod:`pyguestfs.agent.guest`. No family module imports another: a helper
that two families share belongs in one of those modules.

Importing this package registers nothing: a family is imported when one of its
procedures is first called (:func:`pyguestfs.agent.registry.load_family`), so that a
cold launch does not pay for the families a session never uses. :func:`load_all`
imports every family (before a warm-launch snapshot, for ``available``, for the API
table); its one import line per module is also what the freezer sees.
"""

from __future__ import annotations


def load_all() -> None:
    """Import every family module, registering all of their procedures."""
    from . import (  # noqa: F401
        acl,
        archives,
        augeas,
        blockdev,
        bootloaders,
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
        sfdisk,
        swap,
        transfer,
        tsk,
        xattr,
        xfs,
        yara,
        zero,
    )
