"""Inspection: which operating systems are on the disks, and their details.

In libguestfs 1.48 inspection runs in the daemon (``generator/actions_inspection.ml`` and
``actions_inspection_deprecated.ml``, ``impl = OCaml "Inspect..."``); these are those daemon
procedures, numbers 480-502. The library-side inspection calls of 1.48
(``inspect_list_applications``, ``inspect_list_applications2``, ``inspect_get_icon``,
``inspect_get_osinfo``) are not procedures and so are not in this table.
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def


def _root_query(name: str, nr: int, ret: str, doc: str) -> Procedure:
    """One of the ``inspect_get_*`` calls that take a root returned by inspect_os."""
    return _def(name, nr, "Mountable root", ret, doc)


PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "inspect_os",
        480,
        "",
        "RStringList",
        "inspect disk and return list of operating systems found",
    ),
    _def(
        "inspect_get_roots",
        481,
        "",
        "RStringList",
        "return list of operating systems found by last inspection",
    ),
    # Deprecated in 1.48 (no replacement): always "installed".
    _root_query("inspect_get_format", 482, "RString", "get format of inspected operating system"),
    _root_query("inspect_get_type", 483, "RString", "get type of inspected operating system"),
    _root_query("inspect_get_distro", 484, "RString", "get distro of inspected operating system"),
    _root_query(
        "inspect_get_package_format",
        485,
        "RString",
        "get package format used by the operating system",
    ),
    _root_query(
        "inspect_get_package_management",
        486,
        "RString",
        "get package management tool used by the operating system",
    ),
    _root_query(
        "inspect_get_product_name",
        487,
        "RString",
        "get product name of inspected operating system",
    ),
    _root_query(
        "inspect_get_product_variant",
        488,
        "RString",
        "get product variant of inspected operating system",
    ),
    _root_query(
        "inspect_get_major_version",
        489,
        "RInt",
        "get major version of inspected operating system",
    ),
    _root_query(
        "inspect_get_minor_version",
        490,
        "RInt",
        "get minor version of inspected operating system",
    ),
    _root_query(
        "inspect_get_arch", 491, "RString", "get architecture of inspected operating system"
    ),
    _root_query("inspect_get_hostname", 492, "RString", "get hostname of the operating system"),
    _root_query(
        "inspect_get_windows_systemroot",
        493,
        "RString",
        "get Windows systemroot of inspected operating system",
    ),
    _root_query(
        "inspect_get_windows_software_hive",
        494,
        "RString",
        "get the path of the Windows software hive",
    ),
    _root_query(
        "inspect_get_windows_system_hive",
        495,
        "RString",
        "get the path of the Windows system hive",
    ),
    _root_query(
        "inspect_get_windows_current_control_set",
        496,
        "RString",
        "get Windows CurrentControlSet of inspected operating system",
    ),
    # The three below are deprecated in 1.48 (no replacement) and always false.
    _root_query("inspect_is_live", 497, "RBool", "get live flag for install disk"),
    _root_query(
        "inspect_is_netinst", 498, "RBool", "get netinst (network installer) flag for install disk"
    ),
    _root_query("inspect_is_multipart", 499, "RBool", "get multipart flag for install disk"),
    _root_query(
        "inspect_get_mountpoints",
        500,
        "RHashtable",
        "get mountpoints of inspected operating system",
    ),
    _root_query(
        "inspect_get_filesystems",
        501,
        "RStringList",
        "get filesystems associated with inspected operating system",
    ),
    _root_query("inspect_get_drive_mappings", 502, "RHashtable", "get drive letter mappings"),
)
