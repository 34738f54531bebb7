"""Installing boot loaders: GRUB legacy, SYSLINUX and EXTLINUX."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "grub_install",
        86,
        "Pathname root, Device device",
        "RErr",
        "install GRUB legacy on a device, with the root directory of the guest",
        group="grub",
    ),
    _def(
        "syslinux",
        399,
        "Device device",
        "RErr",
        "install SYSLINUX on a FAT filesystem's device",
        optargs="OString directory",
        group="syslinux",
    ),
    _def(
        "extlinux",
        400,
        "Pathname directory",
        "RErr",
        "install EXTLINUX in a directory of a mounted ext2/3/4 or btrfs filesystem",
        group="extlinux",
    ),
)
