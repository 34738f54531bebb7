"""The procedure table against the facts: libguestfs 1.48's numbers and the Python
bindings' signatures."""

from __future__ import annotations

import ast
import csv
import inspect
from pathlib import Path

import pytest

from pyguestfs.agent.registry import IMPLEMENTATIONS, load_all_families
from pyguestfs.host import GuestFS
from pyguestfs.protocol import constants as C
from pyguestfs.protocol.procedures import BY_NAME, BY_NUMBER, PROCEDURES

load_all_families()  # the agent imports families on first use; these tests read them all

REPO = Path(__file__).resolve().parents[1]
PROC_LIST = REPO / "docs" / "libguestfs-1.48-procedures.tsv"
BINDINGS = Path("/usr/lib/python3/dist-packages/guestfs.py")

#: Every API the foundation issue asks for.
FOUNDATION = [
    "ping_daemon",
    "exists",
    "is_file",
    "is_dir",
    "is_symlink",
    "mkdir",
    "mkdir_p",
    "rmdir",
    "rm",
    "rm_rf",
    "touch",
    "chmod",
    "chown",
    "ln_s",
    "readlink",
    "realpath",
    "cp",
    "cp_a",
    "mv",
    "statns",
    "lstatns",
    "readdir",
    "ls0",
    "find0",
    "ll",
    "filesize",
    "checksum",
    "internal_write",
    "internal_write_append",
    "upload",
    "upload_offset",
    "download",
    "download_offset",
    "tar_in",
    "tar_out",
    "statvfs",
    "du",
    "internal_feature_available",
    "internal_autosync",
    "internal_exit",
    "available_all_groups",
]


def _official_numbers() -> dict[str, int]:
    with PROC_LIST.open() as f:
        return {row["name"]: int(row["proc_nr"]) for row in csv.DictReader(f, delimiter="\t")}


def test_numbers_match_libguestfs_148() -> None:
    official = _official_numbers()
    assert len(official) == 492
    for p in PROCEDURES:
        if p.proc_nr >= C.EXTENSION_PROC_BASE:
            continue  # our own extension, outside libguestfs's range
        assert official.get(p.name) == p.proc_nr, p.name


def test_names_and_numbers_are_unique() -> None:
    assert len(BY_NAME) == len(PROCEDURES)
    assert len(BY_NUMBER) == len(PROCEDURES)


def test_foundation_apis_are_declared_and_implemented() -> None:
    for name in FOUNDATION:
        assert name in BY_NAME, name
        assert name in IMPLEMENTATIONS, name


def test_file_transfers_are_cancellable_and_report_progress() -> None:
    for p in PROCEDURES:
        if p.file_in or p.file_out:
            assert p.cancellable and p.progress, p.name


def _binding_signatures() -> dict[str, tuple[list[str], list[str]]]:
    """(required, optional) argument names of every method of python3-guestfs."""
    if not BINDINGS.exists():
        pytest.skip("python3-guestfs is not installed (ci/setup.sh installs it)")
    tree = ast.parse(BINDINGS.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GuestFS")
    out = {}
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef):
            names = [a.arg for a in fn.args.args[1:]]
            n_opt = len(fn.args.defaults)
            split = len(names) - n_opt
            out[fn.name] = (names[:split], names[split:])
    return out


def test_methods_have_the_python_bindings_signatures() -> None:
    bindings = _binding_signatures()
    checked = 0
    for name, (required, optional) in bindings.items():
        ours = getattr(GuestFS, name, None)
        if ours is None or name.startswith("_"):
            continue
        params = list(inspect.signature(ours).parameters.values())[1:]
        our_required = [p.name for p in params if p.default is inspect.Parameter.empty]
        our_optional = [p.name for p in params if p.default is not inspect.Parameter.empty]
        if name in ("__init__", "close", "set_event_callback", "delete_event_callback"):
            continue
        assert (our_required, our_optional) == (required, optional), name
        checked += 1
    assert checked >= 45


def test_every_public_api_is_a_method_with_a_docstring() -> None:
    for p in PROCEDURES:
        if p.internal:
            assert not hasattr(GuestFS, p.name) or p.name in ("internal_exit",)
            continue
        method = getattr(GuestFS, p.name)
        assert method.__doc__, p.name
        for alias in p.aliases:
            assert getattr(GuestFS, alias) is method
