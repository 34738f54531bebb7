"""Running the guest's own programs, chrooted into the mounted guest."""

from __future__ import annotations
