"""Scanning files with Yara rules."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "yara_load",
        472,
        "FileIn filename",
        "RErr",
        "load Yara rules from an uploaded file (source or compiled)",
        group="libyara",
    ),
    _def("yara_destroy", 473, "", "RErr", "drop the loaded Yara rules", group="libyara"),
    _def(
        "internal_yara_scan",
        474,
        "Pathname path, FileOut filename",
        "RErr",
        "download the Yara rules that match a file",
        internal=True,
        group="libyara",
    ),
)
