"""The typed handle: every 1.48 API is a method mypy can see (host/calls.py, generated from
the table), and a call this library does not serve raises ENOTSUP, never AttributeError."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyguestfs.host import GuestFS, GuestFSError, codegen
from pyguestfs.host.calls import Calls
from pyguestfs.protocol.procedures import BY_NAME, LIBRARY_ACTIONS

REPO = Path(__file__).resolve().parents[1]


def test_generated_methods_are_current() -> None:
    assert codegen.TARGET.read_text() == codegen.render(), (
        "host/calls.py is stale: run python -m pyguestfs.host.codegen"
    )


def test_every_148_procedure_and_library_action_is_a_method() -> None:
    with (REPO / "docs" / "libguestfs-1.48-procedures.tsv").open() as f:
        names = [row["name"] for row in csv.DictReader(f, delimiter="\t")]
    assert len(names) == 492
    public = [n for n in names if not BY_NAME[n].internal]
    public += [a.name for a in LIBRARY_ACTIONS if not a.internal]
    missing = [n for n in public if not callable(getattr(GuestFS, n, None))]
    assert missing == []


def test_a_library_action_not_served_raises_enotsup() -> None:
    unserved = [
        a.name
        for a in LIBRARY_ACTIONS
        if not a.internal and getattr(GuestFS, a.name) is getattr(Calls, a.name)
    ]
    g = GuestFS()
    for name in unserved:
        action = next(a for a in LIBRARY_ACTIONS if a.name == name)
        try:
            getattr(g, name)(*[None] * len(action.args))
        except GuestFSError as e:
            assert isinstance(e, RuntimeError)  # what python3-guestfs users catch
            assert e.errno_name == "ENOTSUP", name
            assert name in str(e) and "not supported" in str(e)
        else:
            raise AssertionError(f"{name} did not raise")
    g.close()


def _package_tree(base: Path) -> Path:
    """A ``pyguestfs`` package mypy can import: the editable install's import hook is
    invisible to it, so each part of the checkout is linked under one folder (as
    ci/lint.sh does)."""
    package = base / "pyguestfs"
    package.mkdir(parents=True)
    for name in ("__init__.py", "py.typed"):
        (package / name).symlink_to(REPO / name)
    for part in REPO.iterdir():
        if part.name not in ("tests", "ci", "bench") and (part / "__init__.py").exists():
            (package / part.name).symlink_to(part)
    return base


@pytest.mark.artifact  # a whole mypy run over the package: a minute, not the quick loop
def test_mypy_sees_wrong_calls(tmp_path: Path) -> None:
    """The methods are real to mypy: a wrong argument type, a missing argument and a
    misspelt method are all reported (a setattr-made method would hide all three)."""
    tree = _package_tree(tmp_path / "tree")
    script = tmp_path / "wrong.py"
    script.write_text(
        textwrap.dedent(
            """
            from pyguestfs.host import GuestFS
            g = GuestFS(python_return_dict=True)
            g.mkdir_p(42)
            g.part_disk("/dev/sda")
            g.mkdirp("/a")
            n: str = g.filesize("/a")
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tree,
    )
    out = proc.stdout
    assert proc.returncode == 1, out
    assert 'Argument 1 to "mkdir_p" of "Calls" has incompatible type "int"' in out
    assert 'Missing positional argument "parttype" in call to "part_disk"' in out
    assert '"GuestFS[dict[str, str]]" has no attribute "mkdirp"' in out
    assert "Incompatible types in assignment" in out
