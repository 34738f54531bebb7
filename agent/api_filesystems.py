"""Filesystems: labels, UUIDs, checks, resizing, zeroing, copying devices."""

from __future__ import annotations
