"""The Sleuth Kit: walking filesystems and reading by inode, deleted files included."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "download_inode",
        464,
        "Mountable device, Int64 inode, FileOut filename",
        "RErr",
        "download the file with an inode number, read with the Sleuth Kit",
        group="sleuthkit",
    ),
    _def(
        "internal_filesystem_walk",
        466,
        "Mountable device, FileOut filename",
        "RErr",
        "download every entry of a filesystem, deleted ones too, as found by the Sleuth Kit",
        internal=True,
        group="libtsk",
    ),
    _def(
        "download_blocks",
        468,
        "Mountable device, Int64 start, Int64 stop, FileOut filename",
        "RErr",
        "download a range of a filesystem's data units (maybe only the unallocated ones)",
        optargs="OBool unallocated",
        group="sleuthkit",
    ),
    _def(
        "internal_find_inode",
        470,
        "Mountable device, Int64 inode, FileOut filename",
        "RErr",
        "download the entries that refer to an inode number",
        internal=True,
        group="libtsk",
    ),
)
