"""Devices and partitions: block device queries, partition tables (parted, sfdisk, sgdisk)."""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def  # noqa: F401  (used as entries are added)

PROCEDURES: tuple[Procedure, ...] = ()
