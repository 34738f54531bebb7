"""SELinux contexts and relabelling."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "setcon",
        185,
        "String context",
        "RErr",
        "set the daemon's SELinux security context",
        group="selinux",
        deprecated_by="selinux_relabel",
    ),
    _def(
        "getcon",
        186,
        "",
        "RString",
        "the daemon's SELinux security context",
        group="selinux",
        deprecated_by="selinux_relabel",
    ),
    _def(
        "selinux_relabel",
        467,
        "String specfile, Pathname path",
        "RErr",
        "set the SELinux labels of a tree from a file contexts file",
        optargs="OBool force",
        group="selinuxrelabel",
    ),
)
