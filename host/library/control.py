"""The handle's state, events and cancellation (1.48's ``lib/handle.c``,
``lib/events.c``, ``lib/proto.c``), and the deprecated settings kept for old programs.

``user_cancel`` may be called from another thread (or a signal handler) while a call
uploads or downloads a file: the transfer stops at the next chunk, the daemon is told
(a cancel chunk or flag, so the connection stays in step), and the call fails with
``EINTR`` "operation cancelled by user", as in 1.48.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..calls import _H, Version
from ..errors import GuestFSError
from ..events import EventCallback
from .base import STATE_CONFIG, STATE_LAUNCHING, STATE_READY, HandleBase

#: The libguestfs release whose API and protocol this package reproduces.
LIBGUESTFS_VERSION = Version(major=1, minor=48, release=6, extra="pyguestfs")


class Control(HandleBase[_H]):
    """State tests, events, cancellation, feature groups and deprecated settings."""

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> int:
        """0 config, 1 launching, 2 ready (1.48 numbers busy 3, but a call in flight
        never shows: the handle is locked while it runs)."""
        return {STATE_CONFIG: 0, STATE_LAUNCHING: 1, STATE_READY: 2}[self._state]

    def is_ready(self) -> bool:
        return self._state == STATE_READY

    def is_config(self) -> bool:
        return self._state == STATE_CONFIG

    def is_launching(self) -> bool:
        return self._state == STATE_LAUNCHING

    def is_busy(self) -> bool:
        """Always False, as in 1.48 (its calls are synchronous)."""
        return False

    def wait_ready(self) -> None:
        """Deprecated no-op: launch() already waits (1.48 checks the state only)."""
        self._check_not_closed()
        if self._state == STATE_READY:
            return
        if self._state == STATE_CONFIG:
            raise GuestFSError("qemu has not been launched yet")
        raise GuestFSError("qemu has not been launched yet")

    def kill_subprocess(self) -> None:
        """Deprecated: ``shutdown``."""
        self._check_not_closed()
        self.shutdown()

    def get_pid(self) -> int:
        """The qemu process id (launched handles only)."""
        if self._machine is None or self._machine.pid is None:
            raise GuestFSError("get_pid: no qemu subprocess (call launch first)")
        return self._machine.pid

    def version(self) -> Version:
        """The libguestfs version this library is compatible with."""
        return Version(**LIBGUESTFS_VERSION)

    def c_pointer(self) -> int:
        """No C handle exists: ENOTSUP (other language bindings cannot share this one)."""
        raise self._enotsup(
            "c_pointer", "pyguestfs handles are Python objects, with no C handle to share"
        )

    def get_sockdir(self) -> str:
        """The directory qemu's sockets are made in (1.48: /tmp for root, else
        XDG_RUNTIME_DIR or /tmp)."""
        if os.geteuid() == 0:
            return "/tmp"
        return self._settings.runtime_dir or "/tmp"

    # -- events and cancellation -------------------------------------------------------------
    def set_event_callback(self, cb: EventCallback, event_bitmask: int) -> int:
        """Register ``cb(event, event_handle, buf, array)`` for the events in the bitmask;
        returns a handle for :meth:`delete_event_callback`."""
        self._check_not_closed()
        return self._events.add(cb, event_bitmask)

    def delete_event_callback(self, event_handle: int) -> None:
        self._check_not_closed()
        self._events.remove(event_handle)

    def user_cancel(self) -> None:
        """Cancel the upload or download in progress (callable from another thread); a
        no-op when none is. Does not take the handle's lock, which the call holds."""
        conn = self._conn
        if conn is not None:
            conn.user_cancel = True

    # -- optional groups ---------------------------------------------------------------------
    def feature_available(self, groups: Sequence[str]) -> bool:
        """True if every optional feature group named is available in the appliance;
        an unknown group raises, as in libguestfs (lib/available.c)."""
        for g in groups:
            r = self._feature(g)
            if r == 2:
                raise GuestFSError(f"{g}: unknown group")
            if r == 1:
                return False
        return True

    def available(self, groups: Sequence[str]) -> None:
        """Raise if any named group is unavailable or unknown, as libguestfs does. The
        messages are the library's own, without the API name in front."""
        for g in groups:
            r = self._feature(g)
            if r == 2:
                raise GuestFSError(f"{g}: unknown group")
            if r == 1:
                raise GuestFSError(f"{g}: group not available")

    _features: dict[str, int]

    def _feature(self, group: str) -> int:
        if group not in self._features:
            self._features[group] = self._call("internal_feature_available", {"group": group}, {})
        return self._features[group]

    # -- deprecated settings -----------------------------------------------------------------
    def set_qemu(self, hv: str | None) -> None:
        """Deprecated: ``set_hv`` (None: the default qemu)."""
        self._require_config("set_qemu")
        self._settings = self._settings.replace(hv=hv or "")

    def get_qemu(self) -> str:
        """Deprecated: ``get_hv``."""
        return self._settings.hv

    def set_attach_method(self, backend: str) -> None:
        """Deprecated: ``set_backend``."""
        self._require_config("set_attach_method")
        self.set_backend(backend)

    def get_attach_method(self) -> str:
        """Deprecated: ``get_backend``, but ``appliance`` for direct, as 1.48."""
        backend = self.get_backend()
        return "appliance" if backend == "direct" else backend

    def set_selinux(self, selinux: bool) -> None:
        """Deprecated (1.48: use selinux_relabel); the flag is kept and reported only:
        1.48 too only passes it on the appliance's kernel line, where pyguestfs's
        appliance, which has no SELinux policy, cannot use it."""
        self._require_config("set_selinux")
        self._library["selinux"] = bool(selinux)

    def get_selinux(self) -> bool:
        return bool(self._library.get("selinux", False))

    def set_direct(self, direct: bool) -> None:
        """Deprecated: the appliance's console on the program's stdin/stdout. Turning it
        on is not supported (ENOTSUP): pyguestfs reads the console for its own
        messages (set_verbose or EVENT_APPLIANCE show it)."""
        self._require_config("set_direct")
        if direct:
            raise self._enotsup(
                "set_direct", "the appliance console is read by pyguestfs (use set_verbose)"
            )
        self._library["direct"] = False

    def get_direct(self) -> bool:
        return bool(self._library.get("direct", False))
