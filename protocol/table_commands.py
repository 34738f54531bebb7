"""Running the guest's own programs, chrooted into the mounted guest."""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def  # noqa: F401  (used as entries are added)

PROCEDURES: tuple[Procedure, ...] = ()
