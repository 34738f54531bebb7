"""The codec alone: every XDR type and every table-driven message round-trips, and
malformed input raises XdrError instead of crashing or over-allocating."""

from __future__ import annotations

import os
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyguestfs.protocol import constants as C
from pyguestfs.protocol.messages import (
    Header,
    decode_args,
    decode_chunk,
    decode_error,
    decode_ret,
    encode_args,
    encode_chunk,
    encode_error,
    encode_ret,
    optargs_bitmask,
)
from pyguestfs.protocol.procedures import PROCEDURES, Procedure
from pyguestfs.protocol.types import (
    LIST_KINDS,
    STRING_KINDS,
    STRUCTS,
    WIRE_RET_TYPES,
    ArgType,
    FieldType,
    OptType,
    RetType,
    StructDef,
)
from pyguestfs.protocol.xdr import Decoder, Encoder, XdrError

#: Examples per procedure for the argument round trip: the ~590 procedures share a dozen
#: argument kinds, so a few each cover every kind many times over in the quick loop;
#: ``PYGUESTFS_FUZZ_FULL=1`` (as for tests/test_fuzz.py) draws 25 each.
ARGS_EXAMPLES = 25 if os.environ.get("PYGUESTFS_FUZZ_FULL") == "1" else 4

text = st.text(alphabet=st.characters(blacklist_characters="\0", codec="utf-8"), max_size=40)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)


def _arg_strategy(t: ArgType) -> st.SearchStrategy[Any]:
    if t in STRING_KINDS:
        return text
    if t in LIST_KINDS:
        return st.lists(text, max_size=5)
    return {
        ArgType.OPTSTRING: st.none() | text,
        ArgType.BOOL: st.booleans(),
        ArgType.INT: i32,
        ArgType.INT64: i64,
        ArgType.BUFFER: st.binary(max_size=64),
    }[t]


def _opt_strategy(t: OptType) -> st.SearchStrategy[Any]:
    return {
        OptType.BOOL: st.booleans(),
        OptType.INT: i32,
        OptType.INT64: i64,
        OptType.STRING: text,
        OptType.STRINGLIST: st.lists(text, max_size=4),
    }[t]


def _field_strategy(t: FieldType) -> st.SearchStrategy[Any]:
    return {
        FieldType.CHAR: st.sampled_from("bcdflrsu?"),
        FieldType.STRING: text,
        FieldType.BUFFER: st.binary(max_size=32),
        FieldType.UUID: st.text(alphabet="0123456789ABCDEF", min_size=32, max_size=32),
        FieldType.INT32: i32,
        FieldType.UINT32: st.integers(0, 2**32 - 1),
        FieldType.INT64: i64,
        FieldType.UINT64: st.integers(0, 2**64 - 1),
        FieldType.BYTES: i64,
        FieldType.OPTPERCENT: st.sampled_from([-1.0, 0.0, 12.5, 100.0]),
    }[t]


def _struct_strategy(s: StructDef) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({n: _field_strategy(t) for n, t in s.fields})


@pytest.mark.parametrize("proc", PROCEDURES, ids=lambda p: p.name)
@settings(max_examples=ARGS_EXAMPLES, deadline=None)
@given(data=st.data())
def test_args_round_trip(proc: Procedure, data: st.DataObject) -> None:
    args = {a.name: data.draw(_arg_strategy(a.type)) for a in proc.wire_args}
    optargs = {
        o.name: data.draw(_opt_strategy(o.type)) for o in proc.optargs if data.draw(st.booleans())
    }
    body = encode_args(proc, args, optargs)
    mask = optargs_bitmask(proc, optargs)
    got_args, got_opt = decode_args(proc, body, mask)
    assert got_args == args
    assert got_opt == optargs


@pytest.mark.parametrize("ret", sorted(WIRE_RET_TYPES, key=lambda r: r.value))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_return_type_round_trips(ret: RetType, data: st.DataObject) -> None:
    struct_name = data.draw(st.sampled_from(sorted(STRUCTS)))
    proc = Procedure(
        "t",
        0,
        (),
        (),
        ret,
        "test",
        ret_struct=struct_name if ret in (RetType.STRUCT, RetType.STRUCTLIST) else None,
    )
    value: Any = {
        RetType.ERR: st.none(),
        RetType.BOOL: st.booleans(),
        RetType.INT: i32,
        RetType.INT64: i64,
        RetType.STRING: text,
        RetType.STRINGLIST: st.lists(text, max_size=6),
        RetType.HASHTABLE: st.lists(st.tuples(text, text), max_size=5),
        RetType.STRUCT: _struct_strategy(STRUCTS[struct_name]),
        RetType.STRUCTLIST: st.lists(_struct_strategy(STRUCTS[struct_name]), max_size=4),
        RetType.BUFFER: st.binary(max_size=100),
    }[ret]
    v = data.draw(value)
    assert decode_ret(proc, encode_ret(proc, v)) == v


def test_strings_are_padded_to_four_bytes() -> None:
    e = Encoder()
    e.string("abcde")
    assert bytes(e.buf) == b"\0\0\0\x05abcde\0\0\0"
    e = Encoder()
    e.optstring(None)
    e.optstring("x")
    assert bytes(e.buf) == b"\0\0\0\0" + b"\0\0\0\x01" + b"\0\0\0\x01x\0\0\0"


def test_statns_is_176_bytes_and_partition_28() -> None:
    assert STRUCTS["statns"].min_wire_size == 176
    assert STRUCTS["partition"].min_wire_size == 28


def test_header_layout_matches_the_capture() -> None:
    h = Header(proc=92, serial=0x123400)
    assert h.pack().hex() == (
        "2000f5f5000000040000005c00000000001234000000000000000000000000000000000000000000"
    )
    assert Header.unpack(h.pack()) == h


def test_error_struct_truncates_like_the_daemon() -> None:
    errno_name, msg = decode_error(encode_error("ENOENT" * 10, "x" * (C.ERROR_LEN + 10)))
    assert len(errno_name) == C.ERRNO_STRING_MAX
    assert len(msg) == C.ERROR_LEN


def test_chunks() -> None:
    framed = encode_chunk(b"hello\n")
    assert framed.hex() == "000000100000000000000006" + b"hello\n".hex() + "0000"
    assert encode_chunk(b"").hex() == "000000080000000000000000"
    assert decode_chunk(framed[4:]) == (False, b"hello\n")
    assert decode_chunk(encode_chunk(b"", cancel=True)[4:]) == (True, b"")
    with pytest.raises(XdrError):
        encode_chunk(b"x" * (C.MAX_CHUNK_SIZE + 1))
    with pytest.raises(XdrError):
        decode_chunk(struct.pack(">iI", 7, 0))  # cancel must be 0 or 1


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # nothing at all
        b"\0\0\0",  # a truncated word
        b"\0\0\0\x10abc",  # length says 16, 3 bytes follow
        b"\0\0\0\x03abcX",  # non-zero padding
        b"\xff\xff\xff\xffabcd",  # a 4 GiB string in an 8-byte message
    ],
)
def test_malformed_strings_are_rejected(raw: bytes) -> None:
    with pytest.raises(XdrError):
        Decoder(raw).string()


def test_huge_counts_are_refused_before_allocation() -> None:
    with pytest.raises(XdrError, match="cannot fit"):
        Decoder(b"\x7f\xff\xff\xff").string_list()
    proc = Procedure("t", 0, (), (), RetType.STRUCTLIST, "t", ret_struct="statns")
    with pytest.raises(XdrError, match="cannot fit"):
        decode_ret(proc, b"\x00\x10\x00\x00" + b"\0" * 100)


def test_trailing_bytes_and_bad_bools_are_malformed() -> None:
    proc = next(p for p in PROCEDURES if p.name == "exists")
    with pytest.raises(XdrError):
        decode_args(proc, encode_args(proc, {"path": "/"}, {}) + b"\0\0\0\0", 0)
    with pytest.raises(XdrError):
        Decoder(b"\0\0\0\x02").boolean()


def test_encoding_refuses_bad_python_values() -> None:
    proc = next(p for p in PROCEDURES if p.name == "chmod")
    with pytest.raises(TypeError, match="mode"):
        encode_args(proc, {"mode": "755", "path": "/"}, {})
    with pytest.raises(TypeError, match="NUL"):
        encode_args(proc, {"mode": 1, "path": "/a\0b"}, {})
    with pytest.raises(TypeError):
        encode_args(proc, {"mode": 2**40, "path": "/"}, {})
