"""The one table of procedures: every API the agent serves and the host exposes.

Each entry is declared once, in the style of libguestfs's ``generator/actions_*.ml``: name,
libguestfs 1.48 procedure number, required arguments, optional arguments, return type, a
one-line doc and flags. The agent dispatches from it, the host derives its methods from it,
and ``tests/test_procedures.py`` checks it against the 1.48 list and the Python bindings.

The entries are written in one module per family (``table/<family>.py``); this module joins
them into the one table. The library-side actions (no number, never on the wire) are in
``table/library.py`` as ``LIBRARY_ACTIONS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from .table import (
    FAMILIES,
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
from .table.library import LIBRARY_ACTIONS
from .tabledef import NO_REPLACEMENT, LibraryAction, Procedure, define, define_library

_MODULES: tuple[ModuleType, ...] = (
    daemon,
    paths,
    dirs,
    files,
    content,
    transfer,
    archives,
    xattr,
    acl,
    cap,
    selinux,
    devices,
    blockdev,
    mount,
    parted,
    sfdisk,
    filesystems,
    ext2,
    xfs,
    btrfs,
    ntfs,
    lvm,
    luks,
    md,
    ldm,
    swap,
    zero,
    copy,
    commands,
    inspect,
    augeas,
    hivex,
    journal,
    inotify,
    tsk,
    yara,
    bootloaders,
    extensions,
)
assert tuple(m.__name__.rpartition(".")[2] for m in _MODULES) == FAMILIES

PROCEDURES: tuple[Procedure, ...] = tuple(p for m in _MODULES for p in m.PROCEDURES)

BY_NAME: dict[str, Procedure] = {p.name: p for p in PROCEDURES}
BY_NUMBER: dict[int, Procedure] = {p.proc_nr: p for p in PROCEDURES}

#: The family of each procedure: the module of ``table/`` that declares it.
FAMILY_OF: dict[str, str] = {
    p.name: m.__name__.rpartition(".")[2] for m in _MODULES for p in m.PROCEDURES
}

#: The library-side actions by name (not procedures: no number, never on the wire).
LIBRARY_BY_NAME: dict[str, LibraryAction] = {a.name: a for a in LIBRARY_ACTIONS}


def procedures() -> Iterator[Procedure]:
    """Every procedure of the table, in declaration order."""
    return iter(PROCEDURES)


__all__ = [
    "BY_NAME",
    "BY_NUMBER",
    "FAMILIES",
    "FAMILY_OF",
    "LIBRARY_ACTIONS",
    "LIBRARY_BY_NAME",
    "NO_REPLACEMENT",
    "PROCEDURES",
    "LibraryAction",
    "Procedure",
    "define",
    "define_library",
    "procedures",
]
