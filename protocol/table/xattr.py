"""Extended attributes of files."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "getxattrs",
        141,
        "Pathname path",
        "RStructList xattr",
        "every extended attribute of a file, following symlinks",
        group="linuxxattrs",
    ),
    _def(
        "lgetxattrs",
        142,
        "Pathname path",
        "RStructList xattr",
        "every extended attribute of a file, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "setxattr",
        143,
        "String xattr, String val, Int vallen, Pathname path",
        "RErr",
        "set an extended attribute to the first vallen bytes of val",
        group="linuxxattrs",
    ),
    _def(
        "lsetxattr",
        144,
        "String xattr, String val, Int vallen, Pathname path",
        "RErr",
        "set an extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "removexattr",
        145,
        "String xattr, Pathname path",
        "RErr",
        "remove an extended attribute",
        group="linuxxattrs",
    ),
    _def(
        "lremovexattr",
        146,
        "String xattr, Pathname path",
        "RErr",
        "remove an extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
    _def(
        "internal_lxattrlist",
        205,
        "Pathname path, FilenameList names",
        "RStructList xattr",
        "lgetxattrs of each name in a directory, each led by an entry counting them",
        internal=True,
        group="linuxxattrs",
    ),
    _def(
        "getxattr",
        279,
        "Pathname path, String name",
        "RBufferOut",
        "the value of one extended attribute, following symlinks",
        group="linuxxattrs",
    ),
    _def(
        "lgetxattr",
        280,
        "Pathname path, String name",
        "RBufferOut",
        "the value of one extended attribute, not following a final symlink",
        group="linuxxattrs",
    ),
)
