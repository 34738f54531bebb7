"""The in-guest daemon: serves the libguestfs protocol from the procedure table.

Run it with ``python -m pyguestfs.agent`` (see ``--help``), or embed :class:`Agent`.
"""

from .server import Agent
from .sysroot import Sysroot

__all__ = ["Agent", "Sysroot"]
