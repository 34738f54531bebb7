"""Linux capabilities of files."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "cap_get_file",
        378,
        "Pathname path",
        "RString",
        "a file's Linux capabilities, in text form",
        group="linuxcaps",
    ),
    _def(
        "cap_set_file",
        379,
        "Pathname path, String cap",
        "RErr",
        "set a file's Linux capabilities from text",
        group="linuxcaps",
    ),
)
