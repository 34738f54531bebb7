"""Compile the agent's hot modules to native code with mypyc, for the frozen program.

Under TCG every instruction the guest runs is emulated, and an interpreted agent runs
many of them per bytecode; the same modules compiled by mypyc run the per-call work
(decode, dispatch, path resolution, encode, the chunk loops) as C. The sources stay
plain, importable Python: only the frozen program gets the extension modules, placed
beside (and preferred by the import system to) the byte-code of the same modules.

Why mypyc rather than Cython in pure-Python mode: measured on the agent's hot modules
(``bench/native_calls.py``, the agent process's CPU time per call), mypyc uses the
annotations the code already carries to compile attribute access, calls between
compiled functions and integer arithmetic to C, while Cython on the same unannotated
``.py`` files mostly keeps Python's object protocol; mypyc also type-checks what it
compiles, so a wrong annotation stops the build instead of misbehaving in the guest.
See ``docs/performance.md`` for the figures.

Compiling needs a C compiler, Python's headers and mypy (``pyguestfs[build]``). Without
them :func:`availability` says why, and the freeze goes on with plain Python.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import sysconfig
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyguestfs.builder.errors import BuildError
from pyguestfs.core import runner

log = logging.getLogger(__name__)

#: The agent's per-call path: the stream and framing, the XDR codec and messages, the
#: serving loop and dispatch, the call context (FileIn/FileOut chunks), path resolution
#: in the sysroot, and the families of file and path procedures. Everything else stays
#: byte-code (inspection, LVM, mkfs ... run external programs whose cost dwarfs the
#: Python; agent/resolve.py's values subclass str, which mypyc cannot compile).
HOT_MODULES: tuple[str, ...] = (
    "pyguestfs.protocol.xdr",
    "pyguestfs.protocol.messages",
    "pyguestfs.protocol.stream",
    "pyguestfs.agent.server",
    "pyguestfs.agent.context",
    "pyguestfs.agent.channel",
    "pyguestfs.agent.sysroot",
    "pyguestfs.agent.api.files",
    "pyguestfs.agent.api.paths",
    "pyguestfs.agent.api.dirs",
    "pyguestfs.agent.api.content",
    "pyguestfs.agent.api.xattr",
    "pyguestfs.agent.api.transfer",
)

#: The name of the one shared library holding every compiled module's code (mypyc's
#: ``group_name``); each module's own extension is a small shim importing it.
GROUP = "pyguestfs_native"


@dataclass(frozen=True)
class Availability:
    """Whether this machine can compile, and the identity of the toolchain that would."""

    ok: bool
    #: what is missing (a sentence), or the toolchain's identity when ``ok``
    detail: str


def availability(python: str = sys.executable) -> Availability:
    """Can ``python`` compile with mypyc here? Cheap (no subprocess for the running
    interpreter): it is part of every cache-key computation."""
    cc = shutil.which(runner.c_compiler())
    if cc is None:
        return Availability(False, "no C compiler (cc) is installed")
    if python != sys.executable:
        return Availability(True, f"cc={_identity(cc)} python={python}")
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        return Availability(False, f"Python's headers are missing ({include})")
    if importlib.util.find_spec("mypyc") is None:
        return Availability(False, "mypy (which provides mypyc) is not installed")
    from importlib.metadata import version

    return Availability(True, f"cc={_identity(cc)} mypy={version('mypy')}")


def _identity(path: str) -> str:
    """A compiler's identity for the cache key: resolved path, size and mtime (a
    different or upgraded compiler changes it; running it would cost a process)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real}:{st.st_size}:{int(st.st_mtime)}"


def compile_modules(
    root: Path, modules: Sequence[str], out: Path, *, python: str = sys.executable
) -> list[Path]:
    """Compile ``modules`` (dotted names of ``*.py`` files under ``root``, the directory
    holding the top-level package) into extension modules under ``out``, laid out as
    the packages are (``out/pyguestfs/protocol/xdr.cpython-311-….so``), plus the shared
    library of the group at ``out``'s top. Returns the files written, relative to ``out``.
    Raises BuildError with mypyc's or the compiler's messages if compiling fails."""
    files = []
    for m in modules:
        path = root.joinpath(*m.split(".")).with_suffix(".py")
        if not path.is_file():
            raise BuildError(f"compile: module {m} has no source file {path}")
        files.append(os.fspath(path.relative_to(root)))
    work = out.parent / f".{out.name}-build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    setup = work / "setup.py"
    setup.write_text(_SETUP)
    argv = [
        python,
        os.fspath(setup),
        "build_ext",
        "--build-lib",
        os.fspath(out),
        "--build-temp",
        os.fspath(work / "tmp"),
        "--",
        GROUP,
        *files,
    ]
    try:
        # mypy's cache goes to the working directory; keep it in the throwaway one.
        runner.run(argv, cwd=root, env={"MYPY_CACHE_DIR": os.fspath(work / "mypy-cache")})
    except runner.CommandError as e:
        raise BuildError(f"compile: mypyc failed: {e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    built = sorted(p.relative_to(out) for p in out.rglob("*.so") if p.is_file())
    if not built:
        raise BuildError("compile: mypyc produced no extension module")
    return built


# The build script, run by the freezing interpreter. ``--ignore-missing-imports``: an
# untyped third-party import (pyserial) is Any to mypyc, as it is to the code;
# ``--follow-imports=silent``: a type error in a module that is imported but not
# compiled is ci/lint.sh's business, not a reason to ship a slower agent; opt 3, no
# debug information (smaller), asserts kept out like the byte-code's -OO.
_SETUP = textwrap.dedent(
    """\
    import sys
    from setuptools import setup
    from mypyc.build import mypycify

    sep = sys.argv.index("--")
    group, files = sys.argv[sep + 1], sys.argv[sep + 2 :]
    del sys.argv[sep:]
    setup(
        name=group,
        ext_modules=mypycify(
            ["--ignore-missing-imports", "--follow-imports=silent", *files],
            opt_level="3",
            debug_level="0",
            strip_asserts=True,
            group_name=group,
        ),
    )
    """
)
