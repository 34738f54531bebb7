"""POSIX access control lists of files."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "acl_get_file",
        375,
        "Pathname path, String acltype",
        "RString",
        "a file's POSIX ACL of one type (access or default), in text form",
        group="acl",
    ),
    _def(
        "acl_set_file",
        376,
        "Pathname path, String acltype, String acl",
        "RErr",
        "replace a file's POSIX ACL of one type (access or default) from text",
        group="acl",
    ),
    _def(
        "acl_delete_def_file",
        377,
        "Pathname dir",
        "RErr",
        "remove the default POSIX ACL of a directory",
        group="acl",
    ),
)
