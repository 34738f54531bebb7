"""Inspection: which operating systems are on the disks, and their details."""

from __future__ import annotations
