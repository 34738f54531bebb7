"""pyguestfs: libguestfs's appliance architecture rebuilt in Python.

Subpackages (each one a top-level folder of the repository):

* :mod:`pyguestfs.protocol` -- the procedure table and the XDR wire codec, shared by both sides.
* :mod:`pyguestfs.agent` -- the in-guest daemon (a guestfsd work-alike).
* :mod:`pyguestfs.host` -- the library users import (``from pyguestfs.host import GuestFS``).
* :mod:`pyguestfs.builder` -- ``guestfs-build-appliance``.
* :mod:`pyguestfs.initrd` -- the mini init of the initrd and the appliance ``/init``.
"""

__version__ = "0.1.0"
