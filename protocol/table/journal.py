"""Reading the systemd journal."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "journal_open",
        404,
        "Pathname directory",
        "RErr",
        "open the systemd journal files of a directory",
        group="journal",
    ),
    _def("journal_close", 405, "", "RErr", "close the open journal", group="journal"),
    _def(
        "journal_next",
        406,
        "",
        "RBool",
        "move to the next journal entry; false at the end",
        group="journal",
    ),
    _def(
        "journal_skip",
        407,
        "Int64 skip",
        "RInt64",
        "move forwards or backwards by entries; returns how far it went",
        group="journal",
    ),
    _def(
        "internal_journal_get",
        408,
        "FileOut filename",
        "RErr",
        "download the fields of the current journal entry",
        internal=True,
        group="journal",
    ),
    _def(
        "journal_get_data_threshold",
        409,
        "",
        "RInt64",
        "the size above which journal fields are cut short",
        group="journal",
    ),
    _def(
        "journal_set_data_threshold",
        410,
        "Int64 threshold",
        "RErr",
        "set the size above which journal fields are cut short (0: none)",
        group="journal",
    ),
    _def(
        "journal_get_realtime_usec",
        420,
        "",
        "RInt64",
        "the wall-clock time of the current entry, in microseconds",
        group="journal",
    ),
)
