"""How guestfish prints each kind of result (``generator/fish.ml`` of 1.48): booleans as
``true``/``false``, integers in decimal (or octal/hex where the API says so), strings
and list items one per line, structs as ``field: value`` lines, lists of structs as
``[i] = {`` blocks, hashtables as ``key: value`` lines, buffers as their raw bytes.

Everything is formatted to bytes: guest strings may hold any byte, and guestfish writes
them unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..protocol.types import STRUCTS, FieldType, FishOutput, RetType, StructDef


def _b(text: str) -> bytes:
    """A string as the bytes guestfish would write (non-UTF-8 bytes survive)."""
    return os.fsencode(text)


def format_int(value: int, style: FishOutput | None) -> bytes:
    """An RInt / RInt64 line: decimal, or octal with a leading 0 (``umask``), or hex with
    0x; zero is plain ``0`` in every style."""
    if style is FishOutput.OCTAL:
        # guestfish prints the value as unsigned in the type's width.
        return (b"0" + b"%o" % (value & 0xFFFFFFFFFFFFFFFF) if value else b"0") + b"\n"
    if style is FishOutput.HEXADECIMAL:
        return (b"0x" + b"%x" % (value & 0xFFFFFFFFFFFFFFFF) if value else b"0") + b"\n"
    return b"%d\n" % value


def _field(ftype: FieldType, value: Any) -> bytes:
    if ftype is FieldType.STRING:
        return _b(value)
    if ftype is FieldType.CHAR:
        return _b(value) if isinstance(value, str) else bytes([int(value) & 0xFF])
    if ftype is FieldType.UUID:
        raw = _b(value) if isinstance(value, str) else bytes(value)
        return raw[:32]
    if ftype is FieldType.BUFFER:
        raw = bytes(value) if isinstance(value, bytes | bytearray) else _b(value)
        # Printable ASCII as is, everything else as \xNN (c_isprint of the C locale).
        return b"".join(bytes([c]) if 0x20 <= c < 0x7F else b"\\x%02x" % c for c in bytes(raw))
    if ftype is FieldType.OPTPERCENT:
        return b"" if value < 0 else _b(f"{value:g} %")
    return b"%d" % int(value)


def format_struct(struct: StructDef, value: Mapping[str, Any], indent: bytes = b"") -> bytes:
    """One struct, one ``field: value`` line per field in the struct's order."""
    out = []
    for fname, ftype in struct.fields:
        text = _field(ftype, value[fname])
        if ftype is FieldType.OPTPERCENT and not text:
            out.append(indent + _b(fname) + b": \n")
        else:
            out.append(indent + _b(fname) + b": " + text + b"\n")
    return b"".join(out)


def format_struct_list(struct: StructDef, values: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join(
        b"[%d] = {\n" % i + format_struct(struct, v, b"  ") + b"}\n" for i, v in enumerate(values)
    )


def format_result(
    ret: RetType,
    value: Any,
    *,
    struct: str | None = None,
    fish_output: FishOutput | None = None,
) -> bytes:
    """The bytes guestfish writes for a result of type ``ret``."""
    if ret is RetType.ERR:
        return b""
    if ret is RetType.BOOL:
        return b"true\n" if value else b"false\n"
    if ret in (RetType.INT, RetType.INT64):
        return format_int(int(value), fish_output)
    if ret in (RetType.STRING, RetType.CONST_STRING):
        return _b(value) + b"\n"
    if ret is RetType.CONST_OPT_STRING:
        return (b"(null)" if value is None else _b(value)) + b"\n"
    if ret is RetType.STRINGLIST:
        return b"".join(_b(s) + b"\n" for s in value)
    if ret is RetType.HASHTABLE:
        pairs = value.items() if isinstance(value, Mapping) else value
        return b"".join(_b(k) + b": " + _b(v) + b"\n" for k, v in pairs)
    if ret is RetType.STRUCT:
        assert struct is not None
        return format_struct(STRUCTS[struct], value)
    if ret is RetType.STRUCTLIST:
        assert struct is not None
        return format_struct_list(STRUCTS[struct], value)
    if ret is RetType.BUFFER:
        return bytes(value) if not isinstance(value, str) else _b(value)
    raise ValueError(f"no output format for {ret}")  # pragma: no cover - the enum is closed
