"""The one table of procedures: every API the agent serves and the host exposes.

Each entry is declared once, in the style of libguestfs's ``generator/actions_core.ml``:
name, libguestfs 1.48 procedure number, required arguments, optional arguments, return
type, a one-line doc and flags. The agent dispatches from it, the host derives its methods
from it, and ``tests/test_procedures.py`` checks every number against the 1.48 list.

The entries are written in one module per API family (``table_*.py``, beside the agent's
``api_*.py`` of the same family); this module joins them into the one table.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import (
    table_archives,
    table_commands,
    table_core,
    table_disks,
    table_fileops,
    table_filesystems,
    table_inspect,
    table_lvm,
)
from .tabledef import Procedure, define

PROCEDURES: tuple[Procedure, ...] = (
    table_core.PROCEDURES
    + table_disks.PROCEDURES
    + table_filesystems.PROCEDURES
    + table_lvm.PROCEDURES
    + table_fileops.PROCEDURES
    + table_archives.PROCEDURES
    + table_commands.PROCEDURES
    + table_inspect.PROCEDURES
)

BY_NAME: dict[str, Procedure] = {p.name: p for p in PROCEDURES}
BY_NUMBER: dict[int, Procedure] = {p.proc_nr: p for p in PROCEDURES}


def procedures() -> Iterator[Procedure]:
    """Every procedure of the table, in declaration order."""
    return iter(PROCEDURES)


__all__ = ["BY_NAME", "BY_NUMBER", "PROCEDURES", "Procedure", "define", "procedures"]
