"""The ``journal`` family: a cursor over a guest's systemd journal files, through the
appliance's libsystemd (``libsystemd.so.0``, the library journalctl itself reads
journals with), as guestfsd 1.48's ``daemon/journal.c`` drives it. One journal is open
per agent.

A damaged journal is libsystemd's to judge: it skips what it cannot read, as
journalctl does, and its errors come back with the call that met them.
"""

from __future__ import annotations

import ctypes
import struct

from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library
from ..registry import procedure, provides_group, require_group
from ..resolve import GuestPath

_SONAME = "libsystemd.so.0"
_P = ctypes.c_void_p

#: The open journal (an ``sd_journal *``) of each agent.
_OPEN: PerConnection[int] = PerConnection("journal")


def _lib() -> ctypes.CDLL:
    require_group("journal")
    lib = load_library(_SONAME)
    assert lib is not None  # the group test loaded it
    sigs: dict[str, list[type]] = {
        "sd_journal_open_directory": [ctypes.POINTER(_P), ctypes.c_char_p, ctypes.c_int],
        "sd_journal_next": [_P],
        "sd_journal_next_skip": [_P, ctypes.c_uint64],
        "sd_journal_previous_skip": [_P, ctypes.c_uint64],
        "sd_journal_enumerate_data": [_P, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)],
        "sd_journal_get_data_threshold": [_P, ctypes.POINTER(ctypes.c_size_t)],
        "sd_journal_set_data_threshold": [_P, ctypes.c_size_t],
        "sd_journal_get_realtime_usec": [_P, ctypes.POINTER(ctypes.c_uint64)],
    }
    for name, argtypes in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int
    lib.sd_journal_close.argtypes = [_P]
    lib.sd_journal_close.restype = None
    lib.sd_journal_restart_data.argtypes = [_P]
    lib.sd_journal_restart_data.restype = None
    return lib


provides_group("journal", lambda: load_library(_SONAME) is not None)


def _failed(r: int, what: str) -> AgentError:
    """libsystemd returns ``-errno``: guestfsd's ``reply_with_perror_errno (-r, ...)``."""
    return AgentError.from_errno(-r, what)


def _handle(call: CallContext, func: str) -> tuple[ctypes.CDLL, int]:
    lib = _lib()
    j = _OPEN.get(call.agent)
    if not j:
        raise AgentError(
            f"{func}: you must call 'journal-open' first to initialize the journal handle"
        )
    return lib, j


def _close(lib: ctypes.CDLL, call: CallContext) -> None:
    j = _OPEN.pop(call.agent, None)
    if j:
        lib.sd_journal_close(j)


@procedure("journal_open")
def journal_open(call: CallContext, directory: GuestPath) -> None:
    """Open the journal files of ``directory`` (any journal open before is closed)."""
    lib = _lib()
    _close(lib, call)
    j = _P()
    r = lib.sd_journal_open_directory(
        ctypes.byref(j), directory.host().encode("utf-8", "surrogateescape"), 0
    )
    if r < 0:
        raise _failed(r, f"sd_journal_open_directory: {directory}")
    assert j.value is not None
    _OPEN[call.agent] = j.value


@procedure("journal_close")
def journal_close(call: CallContext) -> None:
    lib, _j = _handle(call, "do_journal_close")
    _close(lib, call)


@procedure("journal_next")
def journal_next(call: CallContext) -> bool:
    lib, j = _handle(call, "do_journal_next")
    r = lib.sd_journal_next(j)
    if r < 0:
        raise _failed(r, "sd_journal_next")
    return r != 0


@procedure("journal_skip")
def journal_skip(call: CallContext, skip: int) -> int:
    """Move ``skip`` entries forwards (or back, if negative); the number moved."""
    lib, j = _handle(call, "do_journal_skip")
    if skip == 0:
        return 0
    step = lib.sd_journal_next_skip if skip > 0 else lib.sd_journal_previous_skip
    r = step(j, abs(skip))
    if r < 0:
        raise _failed(r, f"failed to skip {skip} journal entries")
    return int(r)


@procedure("internal_journal_get")
def internal_journal_get(call: CallContext) -> None:
    """The fields of the current entry, streamed as (8-byte big-endian length, the
    ``FIELD=value`` bytes) pairs, which the library splits back into fields."""
    lib, j = _handle(call, "do_internal_journal_get")
    call.begin_file_out()
    lib.sd_journal_restart_data(j)
    data = _P()
    length = ctypes.c_size_t()
    parts: list[bytes] = []
    while True:
        r = lib.sd_journal_enumerate_data(j, ctypes.byref(data), ctypes.byref(length))
        if r <= 0:
            break
        field = ctypes.string_at(data.value or 0, length.value) if length.value else b""
        parts.append(struct.pack(">Q", length.value) + field)
    if r < 0:
        # After the OK reply only a cancelled transfer can report it (as guestfsd does).
        raise _failed(r, "sd_journal_enumerate_data")
    blob = b"".join(parts)
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = blob[pos : pos + n]
        pos += len(chunk)
        return chunk

    call.send_file(read)


@procedure("journal_get_data_threshold")
def journal_get_data_threshold(call: CallContext) -> int:
    lib, j = _handle(call, "do_journal_get_data_threshold")
    size = ctypes.c_size_t()
    r = lib.sd_journal_get_data_threshold(j, ctypes.byref(size))
    if r < 0:
        raise _failed(r, "sd_journal_get_data_threshold")
    return int(size.value)


@procedure("journal_set_data_threshold")
def journal_set_data_threshold(call: CallContext, threshold: int) -> None:
    lib, j = _handle(call, "do_journal_set_data_threshold")
    # C converts the int64 to size_t: a negative threshold becomes a huge one.
    r = lib.sd_journal_set_data_threshold(j, threshold & 0xFFFFFFFFFFFFFFFF)
    if r < 0:
        raise _failed(r, "sd_journal_set_data_threshold")


@procedure("journal_get_realtime_usec")
def journal_get_realtime_usec(call: CallContext) -> int:
    lib, j = _handle(call, "do_journal_get_realtime_usec")
    usec = ctypes.c_uint64()
    r = lib.sd_journal_get_realtime_usec(j, ctypes.byref(usec))
    if r < 0:
        raise _failed(r, "sd_journal_get_realtime_usec")
    return int(usec.value) - (1 << 64) if usec.value >= 1 << 63 else int(usec.value)
