"""Event callbacks with python3-guestfs's interface and constants.

``cb(event, event_handle, buf, array)``: ``event`` is one ``EVENT_*`` bit, ``buf`` bytes
(log text for LIBRARY/APPLIANCE/TRACE events), ``array`` a list of ints (for PROGRESS:
``[proc, serial, position, total]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

EVENT_CLOSE = 0x1
EVENT_SUBPROCESS_QUIT = 0x2
EVENT_LAUNCH_DONE = 0x4
EVENT_PROGRESS = 0x8
EVENT_APPLIANCE = 0x10
EVENT_LIBRARY = 0x20
EVENT_TRACE = 0x40
EVENT_ENTER = 0x80
EVENT_LIBVIRT_AUTH = 0x100
EVENT_WARNING = 0x200
EVENT_ALL = 0x3FF

EventCallback = Callable[[int, int, bytes, Sequence[int]], Any]

_NAMES = {
    EVENT_CLOSE: "close",
    EVENT_SUBPROCESS_QUIT: "subprocess_quit",
    EVENT_LAUNCH_DONE: "launch_done",
    EVENT_PROGRESS: "progress",
    EVENT_APPLIANCE: "appliance",
    EVENT_LIBRARY: "library",
    EVENT_TRACE: "trace",
    EVENT_ENTER: "enter",
    EVENT_LIBVIRT_AUTH: "libvirt_auth",
    EVENT_WARNING: "warning",
}


def event_to_string(events: int) -> str:
    """Printable names of the events in a bitmask, as ``guestfs.event_to_string``."""
    return ",".join(name for bit, name in _NAMES.items() if events & bit)


class EventRegistry:
    """Callbacks by handle number; an exception in a callback is reported, not raised
    into the middle of a protocol exchange."""

    def __init__(self) -> None:
        self._callbacks: dict[int, tuple[EventCallback, int]] = {}
        self._next = 0
        self._lock = threading.Lock()

    def add(self, cb: EventCallback, bitmask: int) -> int:
        if not callable(cb):
            raise TypeError("callback is not callable")
        if bitmask & ~EVENT_ALL or not bitmask:
            raise ValueError(f"bad event bitmask 0x{bitmask:x}")
        with self._lock:
            handle = self._next
            self._next += 1
            self._callbacks[handle] = (cb, bitmask)
            return handle

    def remove(self, handle: int) -> None:
        with self._lock:
            self._callbacks.pop(handle, None)

    def wants(self, event: int) -> bool:
        return any(mask & event for _, mask in self._callbacks.values())

    def fire(self, event: int, buf: bytes = b"", array: Sequence[int] = ()) -> None:
        for handle, (cb, mask) in list(self._callbacks.items()):
            if mask & event:
                try:
                    cb(event, handle, buf, list(array))
                except Exception as e:
                    import sys

                    print(
                        f"pyguestfs: event callback raised {type(e).__name__}: {e}", file=sys.stderr
                    )
