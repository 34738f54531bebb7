"""``mount_local`` (1.48's ``lib/fuse.c``): filled in below."""

from __future__ import annotations

from ..calls import _H
from .base import HandleBase


class MountLocal(HandleBase[_H]):
    """``mount_local``, ``mount_local_run``, ``umount_local``."""

    def _init_mount_local(self) -> None:
        """Set up the handle's FUSE state (none until mount_local)."""
