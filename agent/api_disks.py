"""Devices and partitions: block device queries, partition tables (parted, sfdisk, sgdisk)."""

from __future__ import annotations
