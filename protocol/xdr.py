"""A small XDR (RFC 4506) codec: exactly the types libguestfs 1.48 puts on the wire.

Encoding appends to a :class:`bytearray`; decoding walks a ``memoryview`` with an offset
and raises :class:`XdrError` on anything truncated, over-long or malformed, so a hostile
peer can never make the decoder read past its buffer or allocate more than it holds.
"""

from __future__ import annotations

import struct

_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_F32 = struct.Struct(">f")

_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


class XdrError(ValueError):
    """The bytes are not a valid XDR encoding of the expected type."""


class Encoder:
    """Append-only XDR writer."""

    __slots__ = ("buf",)

    def __init__(self, buf: bytearray | None = None) -> None:
        self.buf = buf if buf is not None else bytearray()

    def uint32(self, v: int) -> None:
        self.buf += _U32.pack(v)

    def int32(self, v: int) -> None:
        self.buf += _I32.pack(v)

    def hyper(self, v: int) -> None:
        self.buf += _I64.pack(v)

    def uhyper(self, v: int) -> None:
        self.buf += _U64.pack(v)

    def float32(self, v: float) -> None:
        self.buf += _F32.pack(v)

    def boolean(self, v: bool) -> None:
        self.buf += _U32.pack(1 if v else 0)

    def opaque(self, data: bytes | bytearray | memoryview) -> None:
        """Variable-length opaque: length word, bytes, zero padding to 4."""
        n = len(data)
        self.buf += _U32.pack(n)
        self.buf += data
        self.buf += _PAD[n & 3]

    def fixed_opaque(self, data: bytes, size: int) -> None:
        if len(data) != size:
            raise XdrError(f"fixed opaque needs {size} bytes, got {len(data)}")
        self.buf += data
        self.buf += _PAD[size & 3]

    def string(self, s: str | bytes) -> None:
        data = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
        if b"\0" in data:
            # The C API uses NUL-terminated strings; the real library can never send one.
            raise XdrError("string contains a NUL byte")
        self.opaque(data)

    def optstring(self, s: str | None) -> None:
        if s is None:
            self.uint32(0)
        else:
            self.uint32(1)
            self.string(s)

    def string_list(self, items: list[str] | tuple[str, ...]) -> None:
        self.uint32(len(items))
        for s in items:
            self.string(s)


class Decoder:
    """Bounds-checked XDR reader over one message body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int = 0) -> None:
        self.data = memoryview(data)
        self.pos = pos

    def _take(self, n: int) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise XdrError(
                f"truncated XDR: need {n} bytes at offset {self.pos}, have "
                f"{len(self.data) - self.pos}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def take(self, n: int) -> memoryview:
        """The next ``n`` bytes (bounds-checked), consumed."""
        return self._take(n)

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def done(self) -> None:
        """Insist that the whole buffer was consumed (trailing garbage is malformed)."""
        if self.pos != len(self.data):
            raise XdrError(f"{len(self.data) - self.pos} unexpected bytes after the message")

    def uint32(self) -> int:
        return int(_U32.unpack(self._take(4))[0])

    def int32(self) -> int:
        return int(_I32.unpack(self._take(4))[0])

    def hyper(self) -> int:
        return int(_I64.unpack(self._take(8))[0])

    def uhyper(self) -> int:
        return int(_U64.unpack(self._take(8))[0])

    def float32(self) -> float:
        return float(_F32.unpack(self._take(4))[0])

    def boolean(self) -> bool:
        v = self.uint32()
        if v > 1:
            raise XdrError(f"bad XDR bool {v}")
        return v == 1

    def opaque(self, limit: int | None = None) -> bytes:
        n = self.uint32()
        if limit is not None and n > limit:
            raise XdrError(f"opaque of {n} bytes exceeds its limit of {limit}")
        data = bytes(self._take(n))
        pad = self._take((4 - n) & 3)
        if any(pad):
            raise XdrError("non-zero XDR padding")
        return data

    def fixed_opaque(self, size: int) -> bytes:
        data = bytes(self._take(size))
        self._take((4 - size) & 3)
        return data

    def string(self, limit: int | None = None) -> str:
        return self.opaque(limit).decode("utf-8", "surrogateescape")

    def optstring(self) -> str | None:
        present = self.uint32()
        if present == 0:
            return None
        if present != 1:
            raise XdrError(f"bad optional-data discriminant {present}")
        return self.string()

    def string_list(self) -> list[str]:
        n = self.uint32()
        # Each string needs at least 4 bytes: refuse counts the body cannot hold before
        # allocating anything for them.
        if n * 4 > self.remaining():
            raise XdrError(f"string list of {n} items cannot fit in {self.remaining()} bytes")
        return [self.string() for _ in range(n)]
