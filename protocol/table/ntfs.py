"""NTFS: probing, resizing, fixing and cloning NTFS filesystems."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "ntfs_3g_probe",
        110,
        "Bool rw, Device device",
        "RInt",
        "test if ntfs-3g can mount an NTFS device (read-only or read-write); 0 if so",
        group="ntfs3g",
    ),
    _def(
        "ntfsresize_size",
        250,
        "Device device, Int64 size",
        "RErr",
        "resize an NTFS filesystem to a size in bytes",
        group="ntfsprogs",
        deprecated_by="ntfsresize",
    ),
    _def(
        "ntfsresize",
        288,
        "Device device",
        "RErr",
        "resize an NTFS filesystem (to its device's size by default)",
        optargs="OInt64 size, OBool force",
        group="ntfsprogs",
        aliases=("ntfsresize_opts",),
    ),
    _def(
        "ntfsfix",
        307,
        "Device device",
        "RErr",
        "fix common NTFS problems and make Windows check the disk at next boot",
        optargs="OBool clearbadsectors",
        group="ntfs3g",
    ),
    _def(
        "ntfsclone_out",
        308,
        "Device device, FileOut backupfile",
        "RErr",
        "download an ntfsclone backup of an NTFS filesystem",
        optargs="OBool metadataonly, OBool rescue, OBool ignorefscheck, OBool preservetimestamps, "
        "OBool force",
        group="ntfs3g",
    ),
    _def(
        "ntfsclone_in",
        309,
        "FileIn backupfile, Device device",
        "RErr",
        "restore an NTFS filesystem from an uploaded ntfsclone backup",
        group="ntfs3g",
    ),
    _def(
        "ntfscat_i",
        463,
        "Mountable device, Int64 inode, FileOut filename",
        "RErr",
        "download the file with an inode number from an NTFS filesystem",
    ),
)
