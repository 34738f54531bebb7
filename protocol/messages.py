"""Messages of the libguestfs protocol: header, call arguments and replies encoded from the
procedure table, the error struct, file chunks and progress notifications.

Everything here is pure bytes in, bytes out; reading and writing streams is the job of
:mod:`pyguestfs.protocol.stream`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from . import constants as C
from .procedures import Procedure
from .types import LIST_KINDS, STRING_KINDS, ArgType, OptType, RetType
from .xdr import Decoder, Encoder, XdrError

_HEADER = struct.Struct(">IIiIIQQI")
_WORD = struct.Struct(">I")
_PROGRESS = struct.Struct(">iIQQ")
_CHUNK_HEAD = struct.Struct(">iI")
assert _HEADER.size == C.HEADER_SIZE


class ProtocolError(Exception):
    """The peer sent something the protocol does not allow."""


@dataclass(slots=True)
class Header:
    proc: int
    serial: int
    direction: int = C.DIRECTION_CALL
    status: int = C.STATUS_OK
    progress_hint: int = 0
    optargs_bitmask: int = 0
    prog: int = C.PROGRAM
    vers: int = C.PROTOCOL_VERSION

    def pack(self) -> bytes:
        return _HEADER.pack(
            self.prog,
            self.vers,
            self.proc,
            self.direction,
            self.serial,
            self.progress_hint,
            self.optargs_bitmask,
            self.status,
        )

    @classmethod
    def unpack(cls, body: bytes | bytearray | memoryview) -> Header:
        if len(body) < C.HEADER_SIZE:
            raise XdrError(f"message of {len(body)} bytes is shorter than its header")
        prog, vers, proc, direction, serial, hint, mask, status = _HEADER.unpack_from(body)
        return cls(
            proc=proc,
            serial=serial,
            direction=direction,
            status=status,
            progress_hint=hint,
            optargs_bitmask=mask,
            prog=prog,
            vers=vers,
        )


def frame(body: bytes | bytearray) -> bytes:
    """Prefix a body with its length word."""
    if len(body) > C.MESSAGE_MAX:
        raise XdrError(f"message of {len(body)} bytes exceeds the {C.MESSAGE_MAX}-byte limit")
    return _WORD.pack(len(body)) + bytes(body)


#: A framed reply's first 44 bytes: the length word and the header.
_REPLY_HEAD = struct.Struct(">IIIiIIQQI")


def frame_reply(proc: int, serial: int, payload: bytes) -> bytes:
    """A framed OK reply to call ``proc``/``serial``: length word, header and ``payload``
    packed at once (the agent sends one per call)."""
    n = C.HEADER_SIZE + len(payload)
    if n > C.MESSAGE_MAX:
        raise XdrError(f"message of {n} bytes exceeds the {C.MESSAGE_MAX}-byte limit")
    head = _REPLY_HEAD.pack(
        n, C.PROGRAM, C.PROTOCOL_VERSION, proc, C.DIRECTION_REPLY, serial, 0, 0, C.STATUS_OK
    )
    return head + payload if payload else head


def word(value: int) -> bytes:
    return _WORD.pack(value)


# -- arguments ---------------------------------------------------------------------------


def encode_args(proc: Procedure, args: dict[str, Any], optargs: dict[str, Any]) -> bytes:
    """Encode a call's args struct. ``optargs`` holds only the optional arguments that are
    set; the rest are encoded as zero values, as libguestfs does."""
    enc = Encoder()
    for a in proc.wire_args:
        _encode_arg(enc, a.type, args[a.name], a.name)
    for o in proc.optargs:
        _encode_opt(enc, o.type, optargs.get(o.name), o.name)
    return bytes(enc.buf)


def optargs_bitmask(proc: Procedure, optargs: dict[str, Any]) -> int:
    mask = 0
    for i, o in enumerate(proc.optargs):
        if optargs.get(o.name) is not None:
            mask |= 1 << i
    return mask


def decode_args(
    proc: Procedure, body: memoryview | bytes, bitmask: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode a call's args struct: (required, optional-that-are-set)."""
    dec = Decoder(body)
    args: dict[str, Any] = {}
    for a in proc.wire_args:
        args[a.name] = _decode_arg(dec, a.type)
    optargs: dict[str, Any] = {}
    for i, o in enumerate(proc.optargs):
        value = _decode_opt(dec, o.type)
        if bitmask & (1 << i):
            optargs[o.name] = value
    dec.done()
    return args, optargs


def _encode_arg(enc: Encoder, t: ArgType, v: Any, name: str) -> None:
    try:
        if t in STRING_KINDS:
            if not isinstance(v, str | bytes):
                raise TypeError(f"expected a string, got {type(v).__name__}")
            enc.string(v)
        elif t is ArgType.OPTSTRING:
            enc.optstring(v)
        elif t in LIST_KINDS:
            if isinstance(v, str | bytes):
                raise TypeError("expected a list of strings, got a single string")
            enc.string_list(list(v))
        elif t is ArgType.BOOL:
            enc.boolean(bool(v))
        elif t is ArgType.INT:
            enc.int32(_int(v))
        elif t is ArgType.INT64:
            enc.hyper(_int(v))
        elif t is ArgType.BUFFER:
            enc.opaque(v.encode() if isinstance(v, str) else v)
        else:  # pragma: no cover - FileIn/FileOut never reach the struct
            raise XdrError(f"{t} is not encoded in the args struct")
    except (TypeError, struct.error, XdrError) as e:
        raise TypeError(f"argument {name!r}: {e}") from None


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer, got {type(v).__name__}")
    return v


def _decode_arg(dec: Decoder, t: ArgType) -> Any:
    if t in STRING_KINDS:
        return dec.string()
    if t is ArgType.OPTSTRING:
        return dec.optstring()
    if t in LIST_KINDS:
        return dec.string_list()
    if t is ArgType.BOOL:
        return dec.boolean()
    if t is ArgType.INT:
        return dec.int32()
    if t is ArgType.INT64:
        return dec.hyper()
    if t is ArgType.BUFFER:
        return dec.opaque()
    raise XdrError(f"{t} is not decoded from the args struct")  # pragma: no cover


def _encode_opt(enc: Encoder, t: OptType, v: Any, name: str) -> None:
    try:
        if t is OptType.BOOL:
            enc.boolean(bool(v))
        elif t is OptType.INT:
            enc.int32(0 if v is None else _int(v))
        elif t is OptType.INT64:
            enc.hyper(0 if v is None else _int(v))
        elif t is OptType.STRING:
            enc.string("" if v is None else v)
        elif t is OptType.STRINGLIST:
            if isinstance(v, str | bytes):
                raise TypeError("expected a list of strings, got a single string")
            enc.string_list([] if v is None else list(v))
    except (TypeError, struct.error, XdrError) as e:
        raise TypeError(f"optional argument {name!r}: {e}") from None


def _decode_opt(dec: Decoder, t: OptType) -> Any:
    if t is OptType.BOOL:
        return dec.boolean()
    if t is OptType.INT:
        return dec.int32()
    if t is OptType.INT64:
        return dec.hyper()
    if t is OptType.STRING:
        return dec.string()
    return dec.string_list()


# -- return values -----------------------------------------------------------------------


def encode_ret(proc: Procedure, value: Any) -> bytes:
    """Encode a reply's ret struct (empty for RErr)."""
    enc = Encoder()
    r = proc.ret
    if r is RetType.ERR:
        return b""
    if r is RetType.BOOL:
        enc.boolean(bool(value))
    elif r is RetType.INT:
        enc.int32(value)
    elif r is RetType.INT64:
        enc.hyper(value)
    elif r is RetType.STRING:
        enc.string(value)
    elif r is RetType.STRINGLIST:
        enc.string_list(value)
    elif r is RetType.HASHTABLE:
        flat: list[str] = []
        for k, v in value.items() if isinstance(value, dict) else value:
            flat += (k, v)
        enc.string_list(flat)
    elif r is RetType.STRUCT:
        assert proc.struct is not None
        proc.struct.encode(enc, value)
    elif r is RetType.STRUCTLIST:
        assert proc.struct is not None
        enc.uint32(len(value))
        for item in value:
            proc.struct.encode(enc, item)
    elif r is RetType.BUFFER:
        enc.opaque(value)
    return bytes(enc.buf)


def decode_ret(proc: Procedure, body: memoryview | bytes) -> Any:
    """Decode a reply's ret struct. Hashtables come back as a list of (key, value) pairs."""
    dec = Decoder(body)
    r = proc.ret
    value: Any
    if r is RetType.ERR:
        value = None
    elif r is RetType.BOOL:
        value = dec.boolean()
    elif r is RetType.INT:
        value = dec.int32()
    elif r is RetType.INT64:
        value = dec.hyper()
    elif r is RetType.STRING:
        value = dec.string()
    elif r is RetType.STRINGLIST:
        value = dec.string_list()
    elif r is RetType.HASHTABLE:
        flat = dec.string_list()
        if len(flat) % 2:
            raise XdrError("hashtable with an odd number of strings")
        value = list(zip(flat[::2], flat[1::2], strict=True))
    elif r is RetType.STRUCT:
        assert proc.struct is not None
        value = proc.struct.decode(dec)
    elif r is RetType.STRUCTLIST:
        assert proc.struct is not None
        n = dec.uint32()
        if n * proc.struct.min_wire_size > dec.remaining():
            raise XdrError(f"struct list of {n} items cannot fit in the message")
        value = [proc.struct.decode(dec) for _ in range(n)]
    else:
        value = dec.opaque()
    dec.done()
    return value


# -- errors, chunks, progress ------------------------------------------------------------


def encode_error(errno_name: str, message: str) -> bytes:
    """``guestfs_message_error``: errno name (may be empty) and message, truncated as the
    daemon truncates them."""
    enc = Encoder()
    enc.string(errno_name.encode()[: C.ERRNO_STRING_MAX])
    msg = message.encode("utf-8", "replace").replace(b"\0", b"")
    enc.string(msg[: C.ERROR_LEN])
    return bytes(enc.buf)


def decode_error(body: memoryview | bytes) -> tuple[str, str]:
    dec = Decoder(body)
    errno_name = dec.string(limit=C.ERRNO_STRING_MAX)
    message = dec.string(limit=C.ERROR_LEN)
    dec.done()
    return errno_name, message


def encode_chunk(
    data: bytes | bytearray | memoryview, cancel: bool = False, limit: int = C.MAX_CHUNK_SIZE
) -> bytes:
    """One framed ``guestfs_chunk``; empty data with cancel=False ends the file. ``limit``
    is the chunk size the peer accepts (8 KiB unless negotiated)."""
    n = len(data)
    if n > limit:
        raise XdrError(f"chunk of {n} bytes exceeds {limit}")
    pad = (4 - n) & 3
    return b"".join(
        (_WORD.pack(8 + n + pad), _CHUNK_HEAD.pack(1 if cancel else 0, n), bytes(data), b"\0" * pad)
    )


def decode_chunk(body: memoryview | bytes, limit: int = C.MAX_CHUNK_SIZE) -> tuple[bool, bytes]:
    """(cancel, data) of a chunk body. A cancel value other than 0 or 1, or more data
    than ``limit``, is lost sync."""
    dec = Decoder(body)
    cancel = dec.int32()
    if cancel not in (0, 1):
        raise XdrError(f"bad chunk cancel field {cancel}")
    data = dec.opaque(limit=limit)
    dec.done()
    return cancel == 1, data


def encode_progress(proc: int, serial: int, position: int, total: int) -> bytes:
    return _WORD.pack(C.PROGRESS_FLAG) + _PROGRESS.pack(proc, serial, position, total)


def decode_progress(body: bytes | memoryview) -> tuple[int, int, int, int]:
    if len(body) != C.PROGRESS_SIZE:
        raise XdrError("bad progress message size")
    proc, serial, position, total = _PROGRESS.unpack(body)
    return proc, serial, position, total
