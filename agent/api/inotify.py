"""The ``inotify`` family: one inotify handle per agent, as guestfsd 1.48's
``daemon/inotify.c`` keeps it. Watches are on paths in the sysroot; events are read
without blocking, whole events only (a partial one waits in the buffer for the next
read).
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure, provides_group
from ..resolve import GuestPath

#: ``struct inotify_event`` without its name: wd, mask, cookie, len.
_EVENT = struct.Struct("iIII")
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
#: Linux's PATH_MAX: no event name can be longer.
_PATH_MAX = 4096
#: The reply must stay below the message limit: guestfsd stops at half of it (4 MB),
#: counting each event as 24 bytes plus its name.
_REPLY_BUDGET = 4_000_000 // 2
_MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"


@dataclass
class _Watcher:
    fd: int = -1
    pending: bytearray = field(default_factory=bytearray)


_WATCHERS: PerConnection[_Watcher] = PerConnection("inotify")
_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return _LIBC


provides_group("inotify", lambda: True)


def _watcher(call: CallContext) -> _Watcher:
    return _WATCHERS.setdefault(call.agent, _Watcher())


def _open_watcher(call: CallContext, func: str) -> _Watcher:
    """guestfsd's NEED_INOTIFY (its message names the C function)."""
    w = _watcher(call)
    if w.fd < 0:
        raise AgentError(f"{func}: you must call 'inotify_init' first to initialize inotify")
    return w


@procedure("inotify_init")
def inotify_init(call: CallContext, maxevents: int) -> None:
    """A new handle (closing any old one); ``maxevents`` > 0 sets the kernel's queue
    limit for new handles first."""
    if call.sysroot.mount_required and not os.path.ismount(call.sysroot.root):
        raise AgentError(
            "do_inotify_init: you must call 'mount' first to mount the root filesystem"
        )
    if maxevents < 0:
        raise AgentError("max_events < 0")
    if maxevents > 0:
        if call.agent.devices is None:  # standalone: the kernel setting is the host's
            raise AgentError(
                f"{_MAX_QUEUED_EVENTS}: refused: the agent runs standalone on a host",
                "EPERM",
            )
        try:
            with open(_MAX_QUEUED_EVENTS, "w") as f:
                f.write(f"{maxevents}\n")
        except OSError as e:
            raise AgentError.from_os(e, _MAX_QUEUED_EVENTS) from None
    w = _watcher(call)
    if w.fd >= 0:
        _close(w)
    fd = _libc().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd == -1:
        raise AgentError.from_errno(ctypes.get_errno(), "inotify_init1")
    w.fd = fd


def _close(w: _Watcher) -> None:
    fd, w.fd = w.fd, -1
    w.pending.clear()
    try:
        os.close(fd)
    except OSError as e:
        raise AgentError.from_os(e, "close") from None


@procedure("inotify_close")
def inotify_close(call: CallContext) -> None:
    _close(_open_watcher(call, "do_inotify_close"))


@procedure("inotify_add_watch")
def inotify_add_watch(call: CallContext, path: GuestPath, mask: int) -> int:
    w = _open_watcher(call, "do_inotify_add_watch")
    host = path.host().encode("utf-8", "surrogateescape")
    wd = _libc().inotify_add_watch(w.fd, host, mask & 0xFFFFFFFF)
    if wd == -1:
        raise AgentError.from_errno(ctypes.get_errno(), path)
    return int(wd)


@procedure("inotify_rm_watch")
def inotify_rm_watch(call: CallContext, wd: int) -> None:
    w = _open_watcher(call, "do_inotify_rm_watch")
    if _libc().inotify_rm_watch(w.fd, wd) == -1:
        raise AgentError.from_errno(ctypes.get_errno(), str(wd))


def _read_events(w: _Watcher) -> list[dict[str, Any]]:
    """The complete events queued now (none if nothing happened), within the budget."""
    events: list[dict[str, Any]] = []
    budget = _REPLY_BUDGET
    while budget > 0:
        try:
            data = os.read(w.fd, 64 * 1024)
        except BlockingIOError:
            break
        except OSError as e:
            raise AgentError.from_os(e, "read") from None
        if not data:
            raise AgentError("unexpected end of file")
        w.pending += data
        n = 0
        while n + _EVENT.size <= len(w.pending):
            wd, mask, cookie, length = _EVENT.unpack_from(w.pending, n)
            if n + _EVENT.size + length > len(w.pending):
                break
            if length > _PATH_MAX:
                raise AgentError(f"event->len = {length} > PATH_MAX")
            raw = bytes(w.pending[n + _EVENT.size : n + _EVENT.size + length])
            name = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            events.append({"in_wd": wd, "in_mask": mask, "in_cookie": cookie, "in_name": name})
            budget -= 16 + 4 + len(name) + 4
            n += _EVENT.size + length
        del w.pending[:n]
    return events


@procedure("inotify_read")
def inotify_read(call: CallContext) -> list[dict[str, Any]]:
    return _read_events(_open_watcher(call, "do_inotify_read"))


@procedure("inotify_files")
def inotify_files(call: CallContext) -> list[str]:
    """Every name that had an event, once each, sorted (guestfsd pipes them through
    ``sort -u``, in the C locale: byte order)."""
    w = _open_watcher(call, "do_inotify_files")
    names: set[str] = set()
    while True:
        events = _read_events(w)
        if not events:
            break
        names.update(e["in_name"] for e in events if e["in_name"])
    return sorted(names, key=lambda s: s.encode("utf-8", "surrogateescape"))
