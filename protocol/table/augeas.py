"""Editing configuration files with Augeas."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "aug_init",
        16,
        "Pathname root, Int flags",
        "RErr",
        "open the Augeas configuration editor on a root directory, with Augeas flags",
    ),
    _def(
        "aug_defvar",
        17,
        "String name, OptString expr",
        "RInt",
        "define an Augeas variable from an expression (or undefine it); returns the node count",
    ),
    _def(
        "aug_defnode",
        18,
        "String name, String expr, String val",
        "RStruct int_bool",
        "define an Augeas variable naming one node, creating it with a value if needed",
    ),
    _def("aug_get", 19, "String augpath", "RString", "the value at an Augeas path"),
    _def("aug_set", 20, "String augpath, String val", "RErr", "set the value at an Augeas path"),
    _def(
        "aug_insert",
        21,
        "String augpath, String label, Bool before",
        "RErr",
        "insert a new Augeas node with a label before or after a path",
    ),
    _def(
        "aug_rm",
        22,
        "String augpath",
        "RInt",
        "remove the Augeas nodes matching a path; returns how many went",
    ),
    _def("aug_mv", 23, "String src, String dest", "RErr", "move an Augeas node to another path"),
    _def(
        "aug_match",
        24,
        "String augpath",
        "RStringList",
        "the Augeas paths matching a path expression",
    ),
    _def("aug_save", 25, "", "RErr", "write the pending Augeas changes to their files"),
    _def("aug_close", 26, "", "RErr", "close the Augeas handle and free its memory"),
    _def("aug_load", 27, "", "RErr", "(re)load the files Augeas knows into its tree"),
    _def(
        "aug_ls",
        28,
        "String augpath",
        "RStringList",
        "the Augeas nodes directly below a path, sorted",
    ),
    _def(
        "aug_clear", 239, "String augpath", "RErr", "make the value at an Augeas path empty (NULL)"
    ),
    _def(
        "aug_setm",
        411,
        "String base, OptString sub, String val",
        "RInt",
        "set the value of every Augeas node matching a base and optional sub-path",
    ),
    _def(
        "aug_label",
        412,
        "String augpath",
        "RString",
        "the label (last component) of the node at an Augeas path",
    ),
    _def(
        "aug_transform",
        469,
        "String lens, String file",
        "RErr",
        "add or remove the pairing of an Augeas lens with a file",
        optargs="OBool remove",
    ),
)
