"""XFS: growing, tuning, repairing and describing XFS filesystems."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "xfs_info",
        337,
        "Dev_or_Path pathordevice",
        "RStruct xfsinfo",
        "geometry of an xfs filesystem",
        group="xfs",
    ),
    _def(
        "xfs_growfs",
        343,
        "Pathname path",
        "RErr",
        "grow a mounted xfs filesystem",
        optargs="OBool datasec, OBool logsec, OBool rtsec, OInt64 datasize, OInt64 logsize, "
        "OInt64 rtsize, OInt64 rtextsize, OInt maxpct",
        group="xfs",
    ),
    _def(
        "xfs_admin",
        349,
        "Device device",
        "RErr",
        "change parameters of an unmounted xfs filesystem",
        optargs="OBool extunwritten, OBool imgfile, OBool v2log, OBool projid32bit, "
        "OBool lazycounter, OString label, OString uuid",
        group="xfs",
    ),
    _def(
        "xfs_repair",
        366,
        "Dev_or_Path device",
        "RInt",
        "check and repair an xfs filesystem; the status says what it found",
        optargs="OBool forcelogzero, OBool nomodify, OBool noprefetch, OBool forcegeometry, "
        "OInt64 maxmem, OInt64 ihashsize, OInt64 bhashsize, OInt64 agstride, OString logdev, "
        "OString rtdev",
        group="xfs",
    ),
)
