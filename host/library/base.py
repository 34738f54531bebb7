"""The state every library-side mixin of :class:`~pyguestfs.host.handle.GuestFS` shares.

libguestfs 1.48 implements about a hundred of its actions in the C library rather than in
the daemon (``lib/*.c``): settings, drives, disk-image helpers, ``copy_in``, the
``l*list`` batches, ``mount_local`` ... pyguestfs writes each theme as a mixin in this
package (``properties``, ``drives``, ``disks``, ``files``, ``libvirt_dom``,
``mount_local``, ``control``). :class:`HandleBase` declares what they all use -- the
handle's attributes and helpers, which ``GuestFS`` sets up -- so each mixin type-checks
on its own against 1.48's signatures in :mod:`pyguestfs.host.calls`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ...core.settings import Settings
from ...vm.qemu import Drive
from ..calls import _H, Calls
from ..errors import GuestFSError
from ..events import EventRegistry

if TYPE_CHECKING:
    from ...vm.machine import Machine
    from ..connection import Connection

#: The handle's states, as ``get_state`` numbers them in 1.48 (``lib/handle.c``).
STATE_CONFIG, STATE_LAUNCHING, STATE_READY = "CONFIG", "LAUNCHING", "READY"


class HandleBase(Calls[_H]):
    """Attributes and helpers of a handle, shared by the library mixins."""

    _python_return_dict: bool
    _lock: threading.RLock
    _events: EventRegistry
    _conn: Connection | None
    _state: str
    _closed: bool
    _settings: Settings
    _drives: list[Drive]
    #: 1.48's debug_drives line of each drive, in order.
    _drive_strings: list[str]
    _scratch: list[str]
    _machine: Machine | None
    #: Library-only state of 1.48 that changes nothing in how pyguestfs runs qemu.
    _library: dict[str, Any]

    # -- implemented by GuestFS ------------------------------------------------------------
    def _check_not_closed(self) -> None:
        raise NotImplementedError

    def _log(self, message: str) -> None:
        raise NotImplementedError

    def _warning(self, message: str) -> None:
        raise NotImplementedError

    def _enter(self, name: str) -> None:
        raise NotImplementedError

    # -- shared checks -----------------------------------------------------------------------
    def _require_config(self, name: str) -> None:
        """1.48's generated check for actions marked config-only."""
        self._check_not_closed()
        if self._state != STATE_CONFIG:
            raise GuestFSError(f"{name}: this function can only be called in the config state")

    def _require_ready(self, name: str) -> None:
        """1.48's check before an action that needs the appliance."""
        self._check_not_closed()
        if self._state != STATE_READY or self._conn is None:
            raise GuestFSError(
                f"{name}: call launch before using this function\n"
                "(in guestfish, don't forget to use the 'run' command)"
            )

    def _enotsup(self, name: str, why: str) -> GuestFSError:
        """An action that cannot apply to pyguestfs: ENOTSUP, saying why."""
        return GuestFSError(f"{name}: {why}", "ENOTSUP")
