"""Running the guest's own programs."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "command",
        50,
        "StringList arguments",
        "RString",
        "run a program of the guest (chrooted into /) and return its standard output",
    ),
    _def(
        "command_lines",
        51,
        "StringList arguments",
        "RStringList",
        "run a program of the guest and return its standard output as lines",
    ),
    _def(
        "sh",
        111,
        "String command",
        "RString",
        "run a command line with the guest's /bin/sh -c and return its standard output",
    ),
    _def(
        "sh_lines",
        112,
        "String command",
        "RStringList",
        "run a command line with the guest's /bin/sh -c and return its output as lines",
    ),
)
