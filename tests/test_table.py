"""The procedure table as a whole: every 1.48 procedure once, in its family, with the
Python bindings' signatures; the library-side actions; the structs and their XDR forms."""

from __future__ import annotations

import ast
import csv
import functools
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from pyguestfs.protocol import constants as C
from pyguestfs.protocol import table
from pyguestfs.protocol.procedures import (
    BY_NAME,
    BY_NUMBER,
    FAMILIES,
    FAMILY_OF,
    LIBRARY_ACTIONS,
    LIBRARY_BY_NAME,
    NO_REPLACEMENT,
    PROCEDURES,
)
from pyguestfs.protocol.tabledef import LibraryAction, Procedure, define, define_library
from pyguestfs.protocol.types import (
    STRUCTS,
    WIRE_ARG_TYPES,
    WIRE_RET_TYPES,
    ArgType,
    FieldType,
    FishOutput,
    RetType,
    StrKind,
)
from pyguestfs.protocol.xdr import Decoder, Encoder

REPO = Path(__file__).resolve().parents[1]
PROC_LIST = REPO / "docs" / "libguestfs-1.48-procedures.tsv"
BINDINGS = Path("/usr/lib/python3/dist-packages/guestfs.py")

#: The optional groups of 1.48 (``generator/optgroups.ml``): those of its daemon procedures;
#: "augeas" and "realpath" are retired groups with no procedure, always available.
GROUPS_148 = frozenset(
    """acl blkdiscard blkdiscardzeroes btrfs extlinux f2fs fstrim gdisk grub hivex inotify
    journal ldm libtsk libyara linuxcaps linuxfsuuid linuxmodules linuxxattrs luks lvm2
    mdadm mknod ntfs3g ntfsprogs rsync scrub selinux selinuxrelabel sleuthkit squashfs
    syslinux wipefs xfs xz zerofree""".split()
)

#: Every struct of 1.48's ``generator/structs.ml``.
STRUCTS_148 = frozenset(
    """int_bool lvm_pv lvm_vg lvm_lv stat statns statvfs dirent version xattr inotify_event
    partition application application2 isoinfo mdstat btrfssubvolume btrfsqgroup btrfsbalance
    btrfsscrub xfsinfo utsname hivex_node hivex_value internal_mountable tsk_dirent
    yara_detection""".split()
)

DAEMON = [p for p in PROCEDURES if p.proc_nr < C.EXTENSION_PROC_BASE]
EXTENSIONS = [p for p in PROCEDURES if p.proc_nr >= C.EXTENSION_PROC_BASE]
ACTIONS: list[Procedure | LibraryAction] = [*PROCEDURES, *LIBRARY_ACTIONS]


def _official() -> list[dict[str, str]]:
    with PROC_LIST.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


# -- numbers and families ------------------------------------------------------------------


def test_every_148_procedure_is_declared_once_with_its_number() -> None:
    rows = _official()
    assert len(rows) == 492
    official = {r["name"]: int(r["proc_nr"]) for r in rows}
    assert len(set(official.values())) == 492
    ours = {p.name: p.proc_nr for p in DAEMON}
    assert ours == official
    assert len(DAEMON) == 492  # no name twice
    assert all(p.proc_nr >= C.EXTENSION_PROC_BASE + 1 for p in EXTENSIONS)
    assert len(BY_NUMBER) == len(BY_NAME) == len(PROCEDURES)


def test_each_procedure_is_in_its_family_module() -> None:
    official = {r["name"]: r["family"] for r in _official()}
    assert set(FAMILY_OF) == set(BY_NAME)
    for p in DAEMON:
        assert FAMILY_OF[p.name] == official[p.name], p.name
    for p in EXTENSIONS:
        assert FAMILY_OF[p.name] == "extensions", p.name
    assert set(official.values()) | {"extensions"} == set(FAMILIES)
    assert len(FAMILIES) == 38


def test_every_family_module_is_joined_and_nothing_else() -> None:
    modules = {m.name for m in pkgutil.iter_modules(table.__path__)}
    assert modules == set(FAMILIES) | {"library"}
    for fam in FAMILIES:
        mod = importlib.import_module(f"pyguestfs.protocol.table.{fam}")
        assert mod.PROCEDURES, fam
        assert all(isinstance(p, Procedure) for p in mod.PROCEDURES)
        assert {FAMILY_OF[p.name] for p in mod.PROCEDURES} == {fam}


# -- shapes and flags ----------------------------------------------------------------------


def test_daemon_procedures_only_use_wire_kinds() -> None:
    for p in PROCEDURES:
        assert all(a.type in WIRE_ARG_TYPES for a in p.args), p.name
        assert p.ret in WIRE_RET_TYPES, p.name
        assert sum(a.type is ArgType.FILEIN for a in p.args) <= 1, p.name
        assert sum(a.type is ArgType.FILEOUT for a in p.args) <= 1, p.name
        if p.ret in (RetType.STRUCT, RetType.STRUCTLIST):
            assert p.ret_struct in STRUCTS, p.name
        else:
            assert p.ret_struct is None, p.name
        if p.ret not in (RetType.STRING, RetType.STRINGLIST, RetType.HASHTABLE):
            assert p.ret_kind is p.ret_value_kind is StrKind.PLAIN, p.name


def test_return_kinds_of_148() -> None:
    """A sample of the string kinds of replies, which the agent translates back."""
    assert BY_NAME["list_devices"].ret_kind is StrKind.DEVICE
    assert BY_NAME["mounts"].ret_kind is StrKind.MOUNTABLE
    ht = BY_NAME["inspect_get_mountpoints"]
    assert (ht.ret_kind, ht.ret_value_kind) == (StrKind.PLAIN, StrKind.MOUNTABLE)
    ht = BY_NAME["list_filesystems"]
    assert (ht.ret_kind, ht.ret_value_kind) == (StrKind.MOUNTABLE, StrKind.PLAIN)
    assert BY_NAME["findfs_uuid"].ret_kind is StrKind.DEVICE
    assert [a.type for a in BY_NAME["luks_open"].args] == [
        ArgType.DEVICE,
        ArgType.KEY,
        ArgType.STRING,
    ]
    assert BY_NAME["part_set_gpt_guid"].args[2].type is ArgType.GUID
    assert BY_NAME["md_create"].args[1].type is ArgType.DEVICELIST
    assert BY_NAME["internal_lstatnslist"].args[1].type is ArgType.FILENAMELIST
    assert BY_NAME["btrfs_subvolume_list"].args[0].type is ArgType.MOUNTABLE_OR_PATH


def test_flags_of_148() -> None:
    assert BY_NAME["internal_feature_available"].internal
    assert BY_NAME["debug"].debug and not BY_NAME["debug"].internal
    assert BY_NAME["mkswap_L"].deprecated_by == "mkswap"
    assert BY_NAME["list_9p"].deprecated_by == NO_REPLACEMENT
    assert BY_NAME["list_9p"].deprecated and not BY_NAME["mkswap"].deprecated
    assert BY_NAME["umount"].fish_aliases == ("unmount",)
    assert BY_NAME["umask"].fish_output is FishOutput.OCTAL
    assert BY_NAME["part_get_mbr_id"].fish_output is FishOutput.HEXADECIMAL
    assert BY_NAME["zero_device"].progress and not BY_NAME["zero_device"].cancellable
    assert BY_NAME["mkfs_btrfs"].group == "btrfs"
    assert BY_NAME["mkfs"].aliases == ("mkfs_opts",)


def test_file_transfers_are_cancellable_and_report_progress() -> None:
    for a in ACTIONS:
        if any(x.type in (ArgType.FILEIN, ArgType.FILEOUT) for x in a.args):
            assert a.cancellable and a.progress, a.name


def test_groups_deprecations_and_names_are_consistent() -> None:
    assert {p.group for p in PROCEDURES if p.group} == GROUPS_148
    names = set(BY_NAME) | set(LIBRARY_BY_NAME)
    assert not set(BY_NAME) & set(LIBRARY_BY_NAME)
    assert len(LIBRARY_BY_NAME) == len(LIBRARY_ACTIONS)
    every_method: set[str] = set()
    fish: set[str] = set()
    for a in ACTIONS:
        assert a.group is None or a.group in GROUPS_148, a.name
        if a.deprecated_by:
            assert a.deprecated_by in names, a.name
        for alias in a.aliases:
            assert alias == f"{a.name}_opts", a.name
            assert alias not in names
        for m in (a.name, *a.aliases):
            assert m not in every_method, m
            every_method.add(m)
        for f in (a.name.replace("_", "-"), *a.fish_aliases):
            assert f not in fish, f
            fish.add(f)


def test_docs_are_one_line_of_our_own() -> None:
    for a in ACTIONS:
        assert a.doc and a.doc == a.doc.strip(), a.name
        assert "\n" not in a.doc and not a.doc.endswith("."), a.name
        assert len(a.doc) <= 120, a.name


# -- library-side actions ------------------------------------------------------------------


def test_library_actions_never_reach_the_wire() -> None:
    assert len(LIBRARY_ACTIONS) == 116
    for a in LIBRARY_ACTIONS:
        assert a.name not in BY_NAME
        assert not hasattr(a, "proc_nr")
        assert not a.name.startswith("internal_test")
    pointer = [
        (a.name, x.name) for a in LIBRARY_ACTIONS for x in a.args if x.type.value == "Pointer"
    ]
    assert pointer == [("add_libvirt_dom", "dom")]
    assert LIBRARY_BY_NAME["get_path"].ret is RetType.CONST_STRING
    assert LIBRARY_BY_NAME["get_append"].ret is RetType.CONST_OPT_STRING
    assert LIBRARY_BY_NAME["launch"].config_only and LIBRARY_BY_NAME["launch"].progress
    assert LIBRARY_BY_NAME["is_busy"].state_test
    assert not LIBRARY_BY_NAME["copy_in"].in_fish
    assert LIBRARY_BY_NAME["internal_get_console_socket"].internal
    assert LIBRARY_BY_NAME["debug_drives"].debug
    assert LIBRARY_BY_NAME["add_drive"].aliases == ("add_drive_opts",)
    assert LIBRARY_BY_NAME["c_pointer"].fish_output is FishOutput.HEXADECIMAL
    assert LIBRARY_BY_NAME["stat"].ret_struct == "stat"
    assert LIBRARY_BY_NAME["mountable_device"].ret_kind is StrKind.DEVICE


def test_define_refuses_library_kinds_for_the_wire() -> None:
    with pytest.raises(ValueError, match="library actions only"):
        define("x", 1, "", "RConstString", "x")
    with pytest.raises(ValueError, match="Pointer"):
        define("x", 1, "Pointer p", "RErr", "x")
    with pytest.raises(ValueError, match="unknown struct"):
        define("x", 1, "", "RStruct nosuch", "x")
    a = define_library("x", "Pointer p", "RConstOptString", "x", config_only=True)
    assert a.args[0].type is ArgType.POINTER and a.config_only


# -- the Python bindings -------------------------------------------------------------------


def _bindings() -> tuple[dict[str, tuple[list[str], list[str]]], dict[str, str]]:
    """python3-guestfs's methods: (required, optional) argument names; and its aliases."""
    if not BINDINGS.exists():
        pytest.skip("python3-guestfs is not installed (ci/setup.sh installs it)")
    return _parse_bindings()


@functools.cache
def _parse_bindings() -> tuple[dict[str, tuple[list[str], list[str]]], dict[str, str]]:
    tree = ast.parse(BINDINGS.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GuestFS")
    methods: dict[str, tuple[list[str], list[str]]] = {}
    aliases: dict[str, str] = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args[1:]]
            split = len(names) - len(node.args.defaults)
            methods[node.name] = (names[:split], names[split:])
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            aliases[target.id] = node.value.id
    return methods, aliases


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_signature_equals_the_python_bindings(action: Any) -> None:
    methods, aliases = _bindings()
    if getattr(action, "proc_nr", 0) >= C.EXTENSION_PROC_BASE:
        assert action.name not in methods
        return
    if action.internal:
        assert action.name not in methods  # 1.48 exports no method for VInternal
        return
    required = [a.name for a in action.args]
    optional = [o.name for o in action.optargs]
    assert methods[action.name] == (required, optional)
    assert sorted(action.aliases) == sorted(k for k, v in aliases.items() if v == action.name)


def test_the_bindings_have_nothing_the_table_lacks() -> None:
    methods, aliases = _bindings()
    ours = {a.name for a in ACTIONS}
    outside = {"close", "set_event_callback", "delete_event_callback"}
    for name in methods:
        if name.startswith("_") or name.startswith("internal_test") or name in outside:
            continue
        assert name in ours, name
    assert set(aliases) == {alias for a in ACTIONS for alias in a.aliases}


# -- structs -------------------------------------------------------------------------------

_SAMPLES: dict[FieldType, tuple[Any, int]] = {
    FieldType.CHAR: ("r", 4),
    FieldType.BUFFER: (b"\x00\xffab\x01", 12),
    FieldType.UUID: ("0123456789ABCDEFGHIJKLMNOPQRSTUV", 32),
    FieldType.INT32: (-(2**31), 4),
    FieldType.UINT32: (2**32 - 1, 4),
    FieldType.INT64: (-(2**63), 8),
    FieldType.UINT64: (2**64 - 1, 8),
    FieldType.BYTES: (2**40 + 3, 8),
    FieldType.OPTPERCENT: (12.5, 4),
}


def test_every_struct_of_148_is_declared() -> None:
    assert set(STRUCTS) == STRUCTS_148
    used = {a.ret_struct for a in ACTIONS if a.ret_struct}
    assert used <= set(STRUCTS)
    assert STRUCTS["internal_mountable"].internal
    assert sum(s.internal for s in STRUCTS.values()) == 1


@pytest.mark.parametrize("name", sorted(STRUCTS_148))
def test_struct_round_trips_through_xdr(name: str) -> None:
    sdef = STRUCTS[name]
    value: dict[str, Any] = {}
    size = 0
    for fname, ftype in sdef.fields:
        if ftype is FieldType.STRING:
            sample, n = f"{fname}-é", 4 + ((len(f"{fname}-é".encode()) + 3) & ~3)
        else:
            sample, n = _SAMPLES[ftype]
        value[fname] = sample
        size += n
    enc = Encoder()
    sdef.encode(enc, value)
    assert len(enc.buf) == size
    assert len(enc.buf) >= sdef.min_wire_size
    dec = Decoder(bytes(enc.buf))
    assert sdef.decode(dec) == value
    assert dec.remaining() == 0


def test_struct_field_orders_of_148() -> None:
    """Spot checks of field order and kinds where a slip would still decode."""
    f = dict(STRUCTS["tsk_dirent"].fields)
    assert list(f)[:5] == ["tsk_inode", "tsk_type", "tsk_size", "tsk_name", "tsk_flags"]
    assert f["tsk_type"] is FieldType.CHAR and f["tsk_flags"] is FieldType.UINT32
    assert len(f) == 16 and list(f)[-1] == "tsk_spare1"
    assert [n for n, _ in STRUCTS["application2"].fields][5] == "app2_arch"
    assert len(STRUCTS["application2"].fields) == 17
    assert len(STRUCTS["btrfsscrub"].fields) == 15
    assert len(STRUCTS["isoinfo"].fields) == 17
    assert dict(STRUCTS["partition"].fields)["part_start"] is FieldType.BYTES
    assert STRUCTS["inotify_event"].fields[1] == ("in_mask", FieldType.UINT32)
    assert dict(STRUCTS["lvm_lv"].fields)["snap_percent"] is FieldType.OPTPERCENT
