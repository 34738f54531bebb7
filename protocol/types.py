"""The types of the procedure table: argument kinds, optional arguments, return shapes and
the structs libguestfs puts on the wire, with their XDR encoding.

Names follow ``generator/types.mli`` of libguestfs so the table reads like the original.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

from .xdr import Decoder, Encoder, XdrError


class ArgType(Enum):
    """Kinds of required argument, as ``generator/types.ml`` of 1.48 names them
    (``String (Device, n)`` is ``DEVICE`` here, ``StringList (Device, n)`` is
    ``DEVICELIST``). All string kinds share one wire form (``string<>``) and all list
    kinds another (``guestfs_str<>``); the kind tells the daemon how to check and
    translate the value before the implementation runs (``agent/resolve.py``)."""

    PATHNAME = "Pathname"  # absolute path under the sysroot; needs a mounted root
    DEVICE = "Device"  # /dev/... translated to the guest's names
    MOUNTABLE = "Mountable"  # a device or btrfsvol:/dev/sdX/subvol
    DEV_OR_PATH = "Dev_or_Path"  # /dev/... as a Device, else a Pathname
    MOUNTABLE_OR_PATH = "Mountable_or_Path"  # a Mountable, else a Pathname
    STRING = "String"  # plain string, no interpretation
    KEY = "Key"  # a passphrase or key: never traced or logged
    GUID = "GUID"  # a GPT GUID
    FILENAME = "Filename"  # a bare name, must not contain "/"
    OPTSTRING = "OptString"
    STRINGLIST = "StringList"  # StringList (PlainString, n)
    DEVICELIST = "DeviceList"  # StringList (Device, n): each translated
    FILENAMELIST = "FilenameList"  # StringList (Filename, n): none may contain "/"
    BOOL = "Bool"
    INT = "Int"
    INT64 = "Int64"
    BUFFER = "BufferIn"
    FILEIN = "FileIn"  # not in the args struct: a chunk stream after the call
    FILEOUT = "FileOut"  # not in the args struct: a chunk stream after the reply
    #: Library-side actions only (``add_libvirt_dom``'s ``dom``, a ``virDomainPtr``):
    #: an object of the caller's process. No daemon procedure has one; it never goes
    #: on the wire.
    POINTER = "Pointer"


STRING_KINDS = frozenset(
    {
        ArgType.PATHNAME,
        ArgType.DEVICE,
        ArgType.MOUNTABLE,
        ArgType.DEV_OR_PATH,
        ArgType.MOUNTABLE_OR_PATH,
        ArgType.STRING,
        ArgType.KEY,
        ArgType.GUID,
        ArgType.FILENAME,
    }
)
LIST_KINDS = frozenset({ArgType.STRINGLIST, ArgType.DEVICELIST, ArgType.FILENAMELIST})


#: The argument kinds a daemon procedure may have (every kind but POINTER).
WIRE_ARG_TYPES = frozenset(t for t in ArgType if t is not ArgType.POINTER)


class OptType(Enum):
    """Kinds of optional argument. Every optional argument is always encoded; an unset
    one carries its zero value and only the header bitmask says it is meaningful."""

    BOOL = "OBool"
    INT = "OInt"
    INT64 = "OInt64"
    STRING = "OString"
    STRINGLIST = "OStringList"


class StrKind(Enum):
    """What the strings of a string-valued reply are (``rstringt`` of 1.48): device names
    in a reply are translated back to the user's names by the daemon, in one place."""

    PLAIN = "String"
    DEVICE = "Device"
    MOUNTABLE = "Mountable"


class RetType(Enum):
    ERR = "RErr"  # nothing: no ret struct at all
    BOOL = "RBool"
    INT = "RInt"
    INT64 = "RInt64"
    STRING = "RString"
    STRINGLIST = "RStringList"
    HASHTABLE = "RHashtable"  # flat k1,v1,k2,v2 list on the wire
    STRUCT = "RStruct"
    STRUCTLIST = "RStructList"
    BUFFER = "RBufferOut"
    #: Library-side actions only: a string owned by the handle (``get_path``), and the
    #: same that may be absent (``get_append``). No daemon procedure returns either.
    CONST_STRING = "RConstString"
    CONST_OPT_STRING = "RConstOptString"


#: The return types a daemon procedure may have (every type but the two RConst kinds).
WIRE_RET_TYPES = frozenset(
    r for r in RetType if r not in (RetType.CONST_STRING, RetType.CONST_OPT_STRING)
)


class FishOutput(Enum):
    """How guestfish prints an integer result (``fish_output`` of 1.48)."""

    OCTAL = "octal"
    HEXADECIMAL = "hexadecimal"


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    type: ArgType


@dataclass(frozen=True, slots=True)
class OptArg:
    name: str
    type: OptType


class FieldType(Enum):
    """Struct field kinds of ``generator/structs.ml`` and their XDR forms."""

    CHAR = "FChar"  # XDR char: a 4-byte int holding one byte
    STRING = "FString"
    BUFFER = "FBuffer"
    UUID = "FUUID"  # opaque[32]
    INT32 = "FInt32"
    UINT32 = "FUInt32"
    INT64 = "FInt64"
    UINT64 = "FUInt64"
    BYTES = "FBytes"  # int64 counting bytes
    OPTPERCENT = "FOptPercent"  # float, -1 when absent


@dataclass(frozen=True)
class StructDef:
    """One libguestfs struct: an ordered list of typed fields."""

    name: str
    fields: tuple[tuple[str, FieldType], ...]
    #: Used between the library and the daemon only (``s_internal`` of 1.48).
    internal: bool = False

    def encode(self, enc: Encoder, value: dict[str, Any]) -> None:
        fixed = self._fixed
        if fixed is not None:  # all numbers (statns, statvfs ...): one pack, not one per field
            enc.buf += fixed.pack(*[value[fname] for fname, _ in self.fields])
            return
        for fname, ftype in self.fields:
            _encode_field(enc, ftype, value[fname])

    def decode(self, dec: Decoder) -> dict[str, Any]:
        fixed = self._fixed
        if fixed is not None:
            values = fixed.unpack(dec.take(fixed.size))
            return {fname: v for (fname, _), v in zip(self.fields, values, strict=True)}
        return {fname: _decode_field(dec, ftype) for fname, ftype in self.fields}

    @cached_property
    def _fixed(self) -> struct.Struct | None:
        """The whole struct as one struct.Struct when every field is a fixed-size number."""
        codes = [_FIXED_CODES.get(ft) for _, ft in self.fields]
        if not codes or None in codes:
            return None
        return struct.Struct(">" + "".join(c for c in codes if c))

    @property
    def min_wire_size(self) -> int:
        """Smallest encoding of one instance: lets decoders reject impossible counts."""
        sizes = {FieldType.INT64: 8, FieldType.UINT64: 8, FieldType.BYTES: 8, FieldType.UUID: 32}
        return sum(sizes.get(ft, 4) for _, ft in self.fields)


#: struct codes of the fixed-size numeric field types (what Encoder/Decoder write).
_FIXED_CODES = {
    FieldType.INT32: "i",
    FieldType.UINT32: "I",
    FieldType.INT64: "q",
    FieldType.BYTES: "q",
    FieldType.UINT64: "Q",
    FieldType.OPTPERCENT: "f",
}


def _encode_field(enc: Encoder, ftype: FieldType, v: Any) -> None:
    if ftype is FieldType.CHAR:
        enc.int32(ord(v) if isinstance(v, str) else int(v))
    elif ftype is FieldType.STRING:
        enc.string(v)
    elif ftype is FieldType.BUFFER:
        enc.opaque(v)
    elif ftype is FieldType.UUID:
        enc.fixed_opaque(v.encode("ascii") if isinstance(v, str) else v, 32)
    elif ftype is FieldType.INT32:
        enc.int32(v)
    elif ftype is FieldType.UINT32:
        enc.uint32(v)
    elif ftype in (FieldType.INT64, FieldType.BYTES):
        enc.hyper(v)
    elif ftype is FieldType.UINT64:
        enc.uhyper(v)
    elif ftype is FieldType.OPTPERCENT:
        enc.float32(v)
    else:  # pragma: no cover - the enum is closed
        raise XdrError(f"unknown field type {ftype}")


def _decode_field(dec: Decoder, ftype: FieldType) -> Any:
    if ftype is FieldType.CHAR:
        return chr(dec.int32() & 0xFF)
    if ftype is FieldType.STRING:
        return dec.string()
    if ftype is FieldType.BUFFER:
        return dec.opaque()
    if ftype is FieldType.UUID:
        return dec.fixed_opaque(32).decode("ascii", "replace")
    if ftype is FieldType.INT32:
        return dec.int32()
    if ftype is FieldType.UINT32:
        return dec.uint32()
    if ftype in (FieldType.INT64, FieldType.BYTES):
        return dec.hyper()
    if ftype is FieldType.UINT64:
        return dec.uhyper()
    if ftype is FieldType.OPTPERCENT:
        return dec.float32()
    raise XdrError(f"unknown field type {ftype}")  # pragma: no cover


def _struct(name: str, *fields: tuple[str, FieldType]) -> StructDef:
    return StructDef(name, tuple(fields))


_I64 = FieldType.INT64
#: xfsinfo's field kinds: s FString, u FUInt32, U FUInt64.
_XFS_FIELD_TYPES = {"s": FieldType.STRING, "u": FieldType.UINT32, "U": FieldType.UINT64}

_STR = FieldType.STRING
_I32 = FieldType.INT32
_U32 = FieldType.UINT32
_U64 = FieldType.UINT64
_UUID = FieldType.UUID
_BYTES = FieldType.BYTES
_PCT = FieldType.OPTPERCENT

#: The columns of ``pvs``/``vgs``/``lvs`` that libguestfs 1.48 reports, in the order of
#: ``generator/structs.ml`` (the agent asks LVM for exactly these, in this order).
LVM_PV_FIELDS = (
    ("pv_name", _STR),
    ("pv_uuid", _UUID),
    ("pv_fmt", _STR),
    ("pv_size", _BYTES),
    ("dev_size", _BYTES),
    ("pv_free", _BYTES),
    ("pv_used", _BYTES),
    ("pv_attr", _STR),
    ("pv_pe_count", _I64),
    ("pv_pe_alloc_count", _I64),
    ("pv_tags", _STR),
    ("pe_start", _BYTES),
    ("pv_mda_count", _I64),
    ("pv_mda_free", _BYTES),
)
LVM_VG_FIELDS = (
    ("vg_name", _STR),
    ("vg_uuid", _UUID),
    ("vg_fmt", _STR),
    ("vg_attr", _STR),
    ("vg_size", _BYTES),
    ("vg_free", _BYTES),
    ("vg_sysid", _STR),
    ("vg_extent_size", _BYTES),
    ("vg_extent_count", _I64),
    ("vg_free_count", _I64),
    ("max_lv", _I64),
    ("max_pv", _I64),
    ("pv_count", _I64),
    ("lv_count", _I64),
    ("snap_count", _I64),
    ("vg_seqno", _I64),
    ("vg_tags", _STR),
    ("vg_mda_count", _I64),
    ("vg_mda_free", _BYTES),
)
LVM_LV_FIELDS = (
    ("lv_name", _STR),
    ("lv_uuid", _UUID),
    ("lv_attr", _STR),
    ("lv_major", _I64),
    ("lv_minor", _I64),
    ("lv_kernel_major", _I64),
    ("lv_kernel_minor", _I64),
    ("lv_size", _BYTES),
    ("seg_count", _I64),
    ("origin", _STR),
    ("snap_percent", _PCT),
    ("copy_percent", _PCT),
    ("move_pv", _STR),
    ("lv_tags", _STR),
    ("mirror_log", _STR),
    ("modules", _STR),
)

_APP_COMMON = (
    ("name", _STR),
    ("display_name", _STR),
    ("epoch", _I32),
    ("version", _STR),
    ("release", _STR),
)
_APP_TAIL = (
    ("install_path", _STR),
    ("trans_path", _STR),
    ("publisher", _STR),
    ("url", _STR),
    ("source_package", _STR),
    ("summary", _STR),
    ("description", _STR),
)
#: An installed application, as the deprecated inspect_list_applications reports it.
APPLICATION_FIELDS = tuple((f"app_{n}", t) for n, t in _APP_COMMON + _APP_TAIL)
#: The same with the architecture and four spare strings (inspect_list_applications2).
APPLICATION2_FIELDS = tuple(
    (f"app2_{n}", t)
    for n, t in (
        *_APP_COMMON,
        ("arch", _STR),
        *_APP_TAIL,
        *((f"spare{i}", _STR) for i in range(1, 5)),
    )
)
#: The primary volume descriptor of an ISO 9660 image.
ISOINFO_FIELDS = tuple(
    (f"iso_{n}", t)
    for n, t in (
        ("system_id", _STR),
        ("volume_id", _STR),
        ("volume_space_size", _U32),
        ("volume_set_size", _U32),
        ("volume_sequence_number", _U32),
        ("logical_block_size", _U32),
        ("volume_set_id", _STR),
        ("publisher_id", _STR),
        ("data_preparer_id", _STR),
        ("application_id", _STR),
        ("copyright_file_id", _STR),
        ("abstract_file_id", _STR),
        ("bibliographic_file_id", _STR),
        ("volume_creation_t", _I64),
        ("volume_modification_t", _I64),
        ("volume_expiration_t", _I64),
        ("volume_effective_t", _I64),
    )
)
_BTRFSSCRUB_COUNTERS = (
    "data_extents_scrubbed",
    "tree_extents_scrubbed",
    "data_bytes_scrubbed",
    "tree_bytes_scrubbed",
    "read_errors",
    "csum_errors",
    "verify_errors",
    "no_csum",
    "csum_discards",
    "super_errors",
    "malloc_errors",
    "uncorrectable_errors",
    "unverified_errors",
    "corrected_errors",
    "last_physical",
)
#: One entry of a Sleuth Kit filesystem walk.
TSK_DIRENT_FIELDS = (
    ("tsk_inode", _U64),
    ("tsk_type", FieldType.CHAR),
    ("tsk_size", _I64),
    ("tsk_name", _STR),
    ("tsk_flags", _U32),
    *(
        (f"tsk_{t}_{part}", _I64)
        for t in ("atime", "mtime", "ctime", "crtime")
        for part in ("sec", "nsec")
    ),
    ("tsk_nlink", _I64),
    ("tsk_link", _STR),
    ("tsk_spare1", _I64),
)

STRUCTS: dict[str, StructDef] = {
    s.name: s
    for s in (
        _struct("dirent", ("ino", _I64), ("ftyp", FieldType.CHAR), ("name", FieldType.STRING)),
        _struct(
            "statns",
            *(
                (f, _I64)
                for f in (
                    "st_dev",
                    "st_ino",
                    "st_mode",
                    "st_nlink",
                    "st_uid",
                    "st_gid",
                    "st_rdev",
                    "st_size",
                    "st_blksize",
                    "st_blocks",
                    "st_atime_sec",
                    "st_atime_nsec",
                    "st_mtime_sec",
                    "st_mtime_nsec",
                    "st_ctime_sec",
                    "st_ctime_nsec",
                    "st_spare1",
                    "st_spare2",
                    "st_spare3",
                    "st_spare4",
                    "st_spare5",
                    "st_spare6",
                )
            ),
        ),
        _struct(
            "stat",
            *(
                (f, _I64)
                for f in (
                    "dev",
                    "ino",
                    "mode",
                    "nlink",
                    "uid",
                    "gid",
                    "rdev",
                    "size",
                    "blksize",
                    "blocks",
                    "atime",
                    "mtime",
                    "ctime",
                )
            ),
        ),
        _struct(
            "statvfs",
            *(
                (f, _I64)
                for f in (
                    "bsize",
                    "frsize",
                    "blocks",
                    "bfree",
                    "bavail",
                    "files",
                    "ffree",
                    "favail",
                    "fsid",
                    "flag",
                    "namemax",
                )
            ),
        ),
        _struct(
            "partition",
            ("part_num", FieldType.INT32),
            ("part_start", _BYTES),
            ("part_end", _BYTES),
            ("part_size", _BYTES),
        ),
        _struct(
            "version",
            ("major", _I64),
            ("minor", _I64),
            ("release", _I64),
            ("extra", FieldType.STRING),
        ),
        _struct("lvm_pv", *LVM_PV_FIELDS),
        _struct("lvm_vg", *LVM_VG_FIELDS),
        _struct("lvm_lv", *LVM_LV_FIELDS),
        _struct("int_bool", ("i", FieldType.INT32), ("b", FieldType.INT32)),
        _struct("xattr", ("attrname", FieldType.STRING), ("attrval", FieldType.BUFFER)),
        StructDef(
            "internal_mountable",
            (("im_type", _I32), ("im_device", _STR), ("im_volume", _STR)),
            internal=True,
        ),
        _struct(
            "xfsinfo",
            *(
                (f"xfs_{name}", _XFS_FIELD_TYPES[kind])
                for name, kind in (
                    ("mntpoint", "s"),
                    ("inodesize", "u"),
                    ("agcount", "u"),
                    ("agsize", "u"),
                    ("sectsize", "u"),
                    ("attr", "u"),
                    ("blocksize", "u"),
                    ("datablocks", "U"),
                    ("imaxpct", "u"),
                    ("sunit", "u"),
                    ("swidth", "u"),
                    ("dirversion", "u"),
                    ("dirblocksize", "u"),
                    ("cimode", "u"),
                    ("logname", "s"),
                    ("logblocksize", "u"),
                    ("logblocks", "u"),
                    ("logversion", "u"),
                    ("logsectsize", "u"),
                    ("logsunit", "u"),
                    ("lazycount", "u"),
                    ("rtname", "s"),
                    ("rtextsize", "u"),
                    ("rtblocks", "U"),
                    ("rtextents", "U"),
                )
            ),
        ),
        _struct(
            "inotify_event",
            ("in_wd", _I64),
            ("in_mask", _U32),
            ("in_cookie", _U32),
            ("in_name", _STR),
        ),
        _struct("application", *APPLICATION_FIELDS),
        _struct("application2", *APPLICATION2_FIELDS),
        _struct("isoinfo", *ISOINFO_FIELDS),
        _struct("mdstat", ("mdstat_device", _STR), ("mdstat_index", _I32), ("mdstat_flags", _STR)),
        _struct(
            "btrfssubvolume",
            ("btrfssubvolume_id", _U64),
            ("btrfssubvolume_top_level_id", _U64),
            ("btrfssubvolume_path", _STR),
        ),
        _struct(
            "btrfsqgroup",
            ("btrfsqgroup_id", _STR),
            ("btrfsqgroup_rfer", _U64),
            ("btrfsqgroup_excl", _U64),
        ),
        _struct(
            "btrfsbalance",
            ("btrfsbalance_status", _STR),
            *((f"btrfsbalance_{f}", _U64) for f in ("total", "balanced", "considered", "left")),
        ),
        _struct("btrfsscrub", *((f"btrfsscrub_{f}", _U64) for f in _BTRFSSCRUB_COUNTERS)),
        _struct(
            "utsname", *((f"uts_{f}", _STR) for f in ("sysname", "release", "version", "machine"))
        ),
        _struct("hivex_node", ("hivex_node_h", _I64)),
        _struct("hivex_value", ("hivex_value_h", _I64)),
        _struct("tsk_dirent", *TSK_DIRENT_FIELDS),
        _struct("yara_detection", ("yara_name", _STR), ("yara_rule", _STR)),
    )
}
