"""LVM: physical volumes, volume groups and logical volumes."""

from __future__ import annotations
