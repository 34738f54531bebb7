"""The host library: ``from pyguestfs.host import GuestFS``.

A stand-in for libguestfs's Python bindings (python3-guestfs): same method names,
argument names, optional keyword arguments, return shapes, event constants, and
exceptions that are :class:`RuntimeError` s.
"""

from ..vm.machine import LaunchError  # qemu's argv, exit status and console tail
from .aio import AsyncGuestFS
from .errors import ClosedHandle, GuestFSError, ProtocolViolation
from .events import (
    EVENT_ALL,
    EVENT_APPLIANCE,
    EVENT_CLOSE,
    EVENT_ENTER,
    EVENT_LAUNCH_DONE,
    EVENT_LIBRARY,
    EVENT_LIBVIRT_AUTH,
    EVENT_PROGRESS,
    EVENT_SUBPROCESS_QUIT,
    EVENT_TRACE,
    EVENT_WARNING,
    event_to_string,
)
from .handle import GuestFS

__all__ = [
    "EVENT_ALL",
    "EVENT_APPLIANCE",
    "EVENT_CLOSE",
    "EVENT_ENTER",
    "EVENT_LAUNCH_DONE",
    "EVENT_LIBRARY",
    "EVENT_LIBVIRT_AUTH",
    "EVENT_PROGRESS",
    "EVENT_SUBPROCESS_QUIT",
    "EVENT_TRACE",
    "EVENT_WARNING",
    "AsyncGuestFS",
    "ClosedHandle",
    "GuestFS",
    "GuestFSError",
    "LaunchError",
    "ProtocolViolation",
    "event_to_string",
]
