"""The actions libguestfs 1.48 runs in its library rather than in the daemon, one mixin
per theme; :class:`~pyguestfs.host.handle.GuestFS` is made of them.

=================  ===========================================================================
``properties``     set_/get_ of each setting, backend settings, parse_environment
``drives``         add_drive (file, nbd) and its older forms, scratch disks, device names
``disks``          disk_create, disk_format, disk_virtual_size, disk_has_backing_file (qemu-img)
``files``          ls, cat, write ..., the l*list batches, copy_in / copy_out through tar
``mountables``     mountable_device/subvolume, journal_get, filesystem_walk, find_inode, yara
``inspection``     inspect_get_osinfo, inspect_get_icon
``libvirt_dom``    add_domain, add_libvirt_dom (libvirt's Python binding), credentials
``mount_local``    mount_local, mount_local_run, umount_local (FUSE, pyfuse3)
``control``        state, events, user_cancel, feature groups, deprecated settings
=================  ===========================================================================
"""

from .control import Control
from .disks import Disks
from .drives import Drives
from .files import Files
from .inspection import Inspection
from .libvirt_dom import LibvirtDomains
from .mount_local import MountLocal
from .mountables import Mountables
from .properties import Properties

__all__ = [
    "Control",
    "Disks",
    "Drives",
    "Files",
    "Inspection",
    "LibvirtDomains",
    "MountLocal",
    "Mountables",
    "Properties",
]
