"""File bodies on the wire without Python copies: FileIn/FileOut chunks read straight
into, and framed straight from, buffers that live as long as the connection.

A ``guestfs_chunk`` is a length word, then ``cancel`` (int32), then the data as XDR
opaque (a length word, the bytes, zero padding to 4). :func:`decode_chunk` in
:mod:`pyguestfs.protocol.messages` makes three copies of the data on the way (stream
buffer, body, opaque); here a chunk's 8-byte head is read and checked -- cancel 0 or 1,
data length within the negotiated limit and consistent with the length word -- *before*
its data is read, by one ``readv`` into the caller's buffer. Sending, a batch of chunks
is laid out in one buffer whose data parts are filled in place by a ``readinto``-like
callable (a file's ``readv``), then written with one system call. Neither side
allocates per chunk, and nothing the peer sends decides how much is allocated.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import constants as C
from .stream import ByteStream
from .xdr import XdrError

_HEAD = struct.Struct(">iI")  # cancel, data length (after the length word)
_FRAME = struct.Struct(">IiI")  # length word, cancel, data length
#: Bytes before a chunk's data: length word, cancel, data length.
FRAME_HEAD = _FRAME.size

#: A FileOut/FileIn batch: how many bytes of chunks are laid out before one write.
BATCH_BYTES = 2 * 1024 * 1024


def read_chunk_into(
    stream: ByteStream, length: int, buf: memoryview, limit: int
) -> tuple[bool, int]:
    """Read the chunk whose length word (``length``) was just read: its data lands in
    ``buf[:n]``; returns ``(cancel, n)``. Raises XdrError -- lost sync -- for a length
    word over the message limit or inconsistent with the data length, a cancel field
    other than 0 or 1, data over ``limit`` (the negotiated chunk size), or non-zero
    padding; nothing of the data is read then."""
    if length > C.MESSAGE_MAX:
        raise XdrError(f"length word {length} exceeds the {C.MESSAGE_MAX}-byte limit")
    if length < _HEAD.size:
        raise XdrError(f"truncated XDR: a chunk of {length} bytes has no room for its head")
    cancel, n = _HEAD.unpack(stream.read_exact(_HEAD.size))
    if cancel != 0 and cancel != 1:
        raise XdrError(f"bad chunk cancel field {cancel}")
    if n > limit or n > len(buf):
        raise XdrError(f"opaque of {n} bytes exceeds its limit of {min(limit, len(buf))}")
    pad = -n & 3
    if _HEAD.size + n + pad != length:
        raise XdrError(f"chunk length word {length} does not match its {n} bytes of data")
    stream.readinto_exact(buf[:n])
    if pad and any(stream.read_exact(pad)):
        raise XdrError("non-zero XDR padding")
    return cancel == 1, n


class ChunkBatcher:
    """Frames chunks of at most ``size`` bytes into one reused buffer.

    :meth:`fill` lays out as many chunks as fit in a batch, each chunk's data written in
    place by ``readinto`` (which returns how many bytes it put in the view it is given,
    0 at the end of the data); the caller writes :meth:`view` of what was laid out."""

    def __init__(self, size: int, batch: int = BATCH_BYTES) -> None:
        self.size = size
        per_chunk = FRAME_HEAD + size + 3
        self.slots = max(1, batch // per_chunk)
        self._buf = bytearray(self.slots * per_chunk)
        self._view = memoryview(self._buf)
        self.used = 0

    def fill(self, readinto: Callable[[memoryview], int], want: int = -1) -> int:
        """Lay out chunks of data from ``readinto``, up to a batch (and at most ``want``
        bytes of data unless it is negative). Returns the data bytes laid out; 0 means
        the data had ended before this batch."""
        view = self._view
        size = self.size
        pos = 0
        data = 0
        for _ in range(self.slots):
            room = size if want < 0 else min(size, want - data)
            if room <= 0:
                break
            start = pos + FRAME_HEAD
            n = readinto(view[start : start + room])
            if n <= 0:
                break
            pad = -n & 3
            _FRAME.pack_into(self._buf, pos, 8 + n + pad, 0, n)
            end = start + n
            if pad:
                view[end : end + pad] = b"\0\0\0"[:pad]
            pos = end + pad
            data += n
            if n < room:
                break  # a short read: send what there is rather than wait for more
        self.used = pos
        return data

    def view(self) -> memoryview:
        """The chunks laid out by the last :meth:`fill`."""
        return self._view[: self.used]


def chunk_buffer(limit: int) -> memoryview:
    """A buffer for :func:`read_chunk_into` at a chunk size of ``limit`` bytes."""
    return memoryview(bytearray(limit))
