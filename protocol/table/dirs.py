"""Directories: creating and removing them, listing and walking them, globs."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def("ll", 5, "Pathname directory", "RString", "the output of ls -la (for humans)"),
    _def("rmdir", 30, "Pathname path", "RErr", "remove an empty directory"),
    _def("rm_rf", 31, "Pathname path", "RErr", "remove a file or directory recursively"),
    _def("mkdir", 32, "Pathname path", "RErr", "create a directory"),
    _def("mkdir_p", 33, "Pathname path", "RErr", "create a directory and its parents, as mkdir -p"),
    _def(
        "glob_expand",
        113,
        "Pathname pattern",
        "RStringList",
        "the paths a glob pattern matches (braces expanded, directories with a slash)",
        optargs="OBool directoryslash",
        aliases=("glob_expand_opts",),
    ),
    _def(
        "readdir",
        138,
        "Pathname dir",
        "RStructList dirent",
        "list a directory with inode numbers and file types, . and .. included",
    ),
    _def(
        "find0",
        196,
        "Pathname directory, FileOut files",
        "RErr",
        "download every name below a directory, relative, each ended by a NUL byte",
    ),
    _def(
        "mkdir_mode",
        202,
        "Pathname path, Int mode",
        "RErr",
        "create a directory with a mode (the umask applies)",
    ),
    _def(
        "llz",
        305,
        "Pathname directory",
        "RString",
        "the output of ls -laZ: long listing with SELinux contexts",
        deprecated_by="lgetxattrs",
    ),
    _def(
        "ls0",
        347,
        "Pathname dir, FileOut filenames",
        "RErr",
        "download the names in a directory, each ended by a NUL byte",
    ),
)
