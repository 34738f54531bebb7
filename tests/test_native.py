"""The agent's hot path compiled with mypyc (pyguestfs.builder.native): the freeze key
covers the toolchain, a machine without a compiler gets plain byte-code and says why,
the hot modules avoid what mypyc compiles wrongly (unit); and the compiled agent,
built for real, answers like the plain one (artifact)."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from realdaemon import our_agent

from pyguestfs.builder import native
from pyguestfs.builder.appliance import REPO, _guest_sources
from pyguestfs.builder.freeze import FreezeOptions, _add_compiled, freeze_manifest, manifest_key
from pyguestfs.host import GuestFS, GuestFSError


def _source(module: str) -> Path:
    parts = module.split(".")[1:]  # pyguestfs.<part>... lives at REPO/<part>/...
    return REPO.joinpath(*parts).with_suffix(".py")


# ---------------------------------------------------------------- unit


def test_hot_modules_exist() -> None:
    for m in native.HOT_MODULES:
        assert _source(m).is_file(), m


def test_no_call_inside_a_slice_bound_of_a_hot_module() -> None:
    """mypyc 2.4 evaluates a call in a slice bound twice (``view[os.write(fd, view):]``
    wrote every write twice). Only ``len()``, which has no effect, may stand there."""
    found = []
    for m in native.HOT_MODULES:
        path = _source(m)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Slice):
                continue
            for bound in (node.lower, node.upper, node.step):
                for call in ast.walk(bound) if bound is not None else ():
                    if isinstance(call, ast.Call) and not (
                        isinstance(call.func, ast.Name) and call.func.id == "len"
                    ):
                        found.append(f"{path.name}:{call.lineno}")
    assert not found, f"a call inside a slice bound (assign it first): {found}"


def _no_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without cc: nothing on PATH (every other tool is found already)."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", os.fspath(empty))


def test_freeze_key_covers_the_native_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = tmp_path / "entry.py"
    entry.write_text("print('hi')\n")
    py = sys.executable

    def key(options: FreezeOptions) -> str:
        return manifest_key(freeze_manifest(entry, "e", options, [], py))

    compiled = FreezeOptions(compiled=native.HOT_MODULES)
    with_cc = key(compiled)
    assert with_cc != key(FreezeOptions())  # compiling is an input
    _no_compiler(monkeypatch, tmp_path)
    assert key(compiled) != with_cc  # with and without a compiler: different bundles
    assert key(FreezeOptions()) == key(FreezeOptions())  # plain bundles never ask


def test_without_a_compiler_the_bundle_keeps_byte_code_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _no_compiler(monkeypatch, tmp_path)
    why = native.availability()
    assert not why.ok and "no C compiler" in why.detail
    folder = tmp_path / "app"
    pyc = folder / "_internal" / "pyguestfs" / "protocol" / "xdr.pyc"
    pyc.parent.mkdir(parents=True)
    pyc.write_bytes(b"byte-code")
    with caplog.at_level(logging.WARNING):
        report = _add_compiled(folder, tmp_path, native.HOT_MODULES, tmp_path / "w", sys.executable)
    assert report == {"compiled": [], "why_not": why.detail}
    assert pyc.read_bytes() == b"byte-code"
    assert "no C compiler" in caplog.text and "stays plain Python" in caplog.text


# ---------------------------------------------------------------- artifact


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guest sources with the hot modules compiled beside them, as in the bundle."""
    avail = native.availability()
    if not avail.ok:
        pytest.skip(f"cannot compile here: {avail.detail}")
    work = tmp_path_factory.mktemp("native")
    root = _guest_sources(work).parent
    built = native.compile_modules(root, native.HOT_MODULES, work / "ext")
    for rel in built:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(work / "ext" / rel, root / rel)
    return root


@pytest.fixture
def compiled_agent(compiled_tree: Path, tmp_path: Path) -> Iterator[GuestFS]:
    """A handle on ``python -m pyguestfs.agent`` importing the compiled modules."""
    wrapper = tmp_path / "python"
    wrapper.write_text(
        f'#!/bin/sh\nPYTHONPATH={compiled_tree} exec {sys.executable} "$@"\n', encoding="utf-8"
    )
    wrapper.chmod(0o755)
    saved = sys.executable
    sys.executable = os.fspath(wrapper)  # our_agent starts ``sys.executable -m ...``
    try:
        scratch = tmp_path / "root"
        scratch.mkdir()
        with our_agent(scratch) as daemon:
            sys.executable = saved
            yield daemon.handle()
    finally:
        sys.executable = saved


@pytest.mark.artifact
def test_the_compiled_modules_are_the_ones_imported(compiled_tree: Path) -> None:
    probe = (
        "import pyguestfs.agent.server as s, pyguestfs.protocol.xdr as x;"
        "print(s.__file__, x.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(os.environ, PYTHONPATH=os.fspath(compiled_tree)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(f.endswith(".so") and f.startswith(os.fspath(compiled_tree)) for f in out), out


@pytest.mark.artifact
def test_the_compiled_agent_answers_like_the_plain_one(
    compiled_agent: GuestFS, tmp_path: Path
) -> None:
    g = compiled_agent
    g.ping_daemon()
    g.write("/f", b"abc")
    assert g.cat("/f") == "abc"  # written once (the double-evaluated slice)
    g.write_append("/f", b"de")
    assert g.read_file("/f") == b"abcde"
    assert g.exists("/f") and not g.exists("/nope")
    assert g.statns("/f")["st_size"] == 5
    g.mkdir_p("/d/e")
    assert g.ls("/d") == ["e"]
    with pytest.raises(GuestFSError) as e:
        g.mkdir("/d")
    assert e.value.errno_name == "EEXIST"
    with pytest.raises(GuestFSError, match="path must start with a / character"):
        g.exists("relative")
    assert g.exists("/../../f")  # confined: .. stops at the root
    data = os.urandom(3 << 20 | 123)
    src, back = tmp_path / "src", tmp_path / "back"
    src.write_bytes(data)
    g.upload(os.fspath(src), "/big")
    g.download("/big", os.fspath(back))
    assert back.read_bytes() == data
    assert g.pipeline([("exists", "/f")] * 100) == [True] * 100
