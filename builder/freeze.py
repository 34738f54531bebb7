"""Freeze the programs that run inside the appliance with PyInstaller, once, into a cache.

The guest has no Python installation: each in-guest program (the mini init of the initrd, the
appliance /init + agent) is a PyInstaller one-dir bundle -- the bootloader executable plus an
``_internal/`` folder holding libpython, the extension modules and the byte-code.

Choices, each measured under TCG (see ../shared/docs/environment.md):

* one-dir with ``noarchive``: modules are plain ``.pyc`` files, not a zlib-compressed PYZ
  archive, so nothing is decompressed at start-up (1.89 s vs 2.06 s first run).
* ``optimize=2`` (``-OO``): no docstrings or asserts, so less byte-code to read and unmarshal.
* a trimmed runtime (:data:`DEFAULT_EXCLUDES`): every megabyte in the initrd costs boot time,
  and ``_hashlib``/``_ssl`` alone drag in the 4.6 MB libcrypto.
* PyInstaller's runtime hooks are dropped: ``pyi_rth_inspect`` alone imports ``inspect`` and
  ``zipfile`` (and through them ``re``, ``ast``, ``dis``, ``lzma``, ``bz2`` ...) before the
  program starts, none of which the appliance needs.

A bundle is cached under a key made of every input: the sources, the options, PyInstaller's
version and the Python version. The build happens in a temporary directory under a lock and
is renamed into place, so a half-built bundle is never seen and concurrent builders wait.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyguestfs.builder import native
from pyguestfs.builder.errors import BuildError, tool_error
from pyguestfs.core import runner

log = logging.getLogger(__name__)

#: Bump when the way bundles are made changes, to invalidate every cached bundle.
FREEZE_FORMAT = 1

#: Standard-library modules no in-guest program needs. The big ones by size: _hashlib/_ssl
#: (libcrypto, 4.6 MB), _lzma/_bz2 (their libraries), _decimal, the CJK codecs.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "_bz2",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_decimal",
    "_hashlib",
    "_lzma",
    "_multibytecodec",
    "_pydecimal",
    "_sqlite3",
    "_ssl",
    "_tkinter",
    "asyncio",
    "bz2",
    "concurrent",
    "curses",
    "decimal",
    "distutils",
    "doctest",
    "email",
    "ensurepip",
    "ftplib",
    "html",
    "http",
    "idlelib",
    "lib2to3",
    "lzma",
    "mailbox",
    "multiprocessing",
    "pdb",
    "pip",
    "pydoc",
    "pydoc_data",
    "readline",
    "setuptools",
    "sqlite3",
    "ssl",
    "test",
    "tkinter",
    "unittest",
    "urllib.request",
    "venv",
    "xml",
    "xmlrpc",
)

#: The ELF interpreter and system libraries live here in the guest, as on the host.
LIBRARY_SEARCH_HINT = "install binutils and Debian's python3 (PyInstaller needs libpython)"


@dataclass(frozen=True)
class FreezeOptions:
    """Everything besides the sources that decides what a bundle contains."""

    hidden_imports: tuple[str, ...] = ()
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    #: extra sys.path entries for PyInstaller's analysis
    paths: tuple[str, ...] = ()
    #: byte-code optimisation level: 2 drops docstrings and asserts
    optimize: int = 2
    #: plain .pyc files instead of a compressed PYZ archive (faster start under TCG)
    noarchive: bool = True
    #: strip the collected shared libraries (Debian's are stripped already)
    strip: bool = False
    #: drop PyInstaller's runtime hooks (pyi_rth_*), which import modules before main
    drop_runtime_hooks: bool = True
    #: modules (dotted names) compiled to native code with mypyc and put in the bundle in
    #: place of their byte-code (pyguestfs.builder.native); plain Python without a C
    #: compiler
    compiled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """A frozen one-dir program in the cache."""

    #: the one-dir folder: ``<folder>/<name>`` is the executable, ``<folder>/_internal``
    #: the runtime
    folder: Path
    name: str
    key: str
    #: True if this call built it, False if it came from the cache
    built: bool = field(default=False, compare=False)

    @property
    def executable(self) -> Path:
        return self.folder / self.name

    @property
    def internal(self) -> Path:
        return self.folder / "_internal"


def freeze(
    entry: Path,
    name: str,
    cache_dir: Path,
    *,
    options: FreezeOptions | None = None,
    packages: Mapping[str, Path] | None = None,
    sources: Sequence[Path] = (),
    python: str = sys.executable,
) -> Bundle:
    """Freeze ``entry`` into a one-dir bundle called ``name``, or reuse the cached one.

    ``packages`` maps top-level package names the program imports to their source
    directories, e.g. ``{"pyguestfs": Path(pyguestfs.__file__).parent}``. PyInstaller's
    analysis cannot see through setuptools' editable-install import hook (and pyguestfs's
    folders are mapped onto subpackages), so each is presented to it as a symlink in a
    staging directory on its search path. Their ``*.py`` files go into the cache key.

    ``sources`` are further files or directories (searched for ``*.py``) whose content goes
    into the cache key. ``python`` is the interpreter whose standard library is frozen; it
    must have PyInstaller installed and a shared libpython (Debian's python3 has; a static
    pyenv build does not).
    """
    options = options or FreezeOptions()
    packages = dict(packages or {})
    entry = entry.resolve()
    if not entry.is_file():
        raise BuildError(f"freeze: entry script {entry} does not exist")
    manifest = freeze_manifest(entry, name, options, [*packages.values(), *sources], python)
    key = manifest_key(manifest)
    final = cache_dir / f"{name}-{key[:16]}"
    bundle = Bundle(folder=final / name, name=name, key=key)
    if bundle.executable.is_file():
        log.debug("freeze: %s is cached in %s", name, final)
        return bundle

    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f".{name}.lock"):
        if bundle.executable.is_file():  # another builder finished while we waited
            return bundle
        log.info("freezing %s (%s) into %s", name, entry.name, final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-build-", dir=cache_dir))
        try:
            out = tmp / "out"
            stage = tmp / "packages"
            stage.mkdir()
            for pkg, src in packages.items():
                (stage / pkg).symlink_to(src.resolve(), target_is_directory=True)
            spec = tmp / f"{name}.spec"
            spec.write_text(render_spec(entry, name, options, extra_paths=[stage]))
            argv = [
                python,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                os.fspath(out),
                "--workpath",
                os.fspath(tmp / "work"),
                os.fspath(spec),
            ]
            try:
                runner.run(argv)
            except runner.CommandError as e:
                raise tool_error(e, "freeze", hint=_not_found_hint(e)) from None
            if options.compiled:
                report = _add_compiled(out / name, stage, options.compiled, tmp / "native", python)
                (out / "native.json").write_text(json.dumps(report, indent=1))
            (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
            os.rename(out, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Bundle(folder=final / name, name=name, key=key, built=True)


def _add_compiled(
    folder: Path, stage: Path, modules: Sequence[str], work: Path, python: str
) -> dict[str, object]:
    """Compile ``modules`` with mypyc and put the extensions in the bundle in place of
    their byte-code; without a toolchain, or if mypyc refuses the sources, say why and
    leave the plain byte-code (the program works the same, only slower under TCG).
    Returns what happened, for the bundle's ``native.json``."""
    avail = native.availability(python)
    if not avail.ok:
        log.warning(
            "freeze: %s: the agent's hot path stays plain Python, several times slower "
            "per call under TCG (install gcc and python3-dev, and pyguestfs[build])",
            avail.detail,
        )
        return {"compiled": [], "why_not": avail.detail}
    log.info("compiling %d modules to native code with mypyc", len(modules))
    try:
        built = native.compile_modules(stage, modules, work, python=python)
    except BuildError as e:
        log.warning("freeze: %s; the agent's hot path stays plain Python", e)
        return {"compiled": [], "why_not": str(e)}
    internal = folder / "_internal"
    for rel in built:
        dest = internal / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / rel, dest)
    for m in modules:
        # The extension wins over byte-code in the same folder anyway; without the .pyc a
        # failing extension is an ImportError that says so, never a silent slow agent.
        internal.joinpath(*m.split(".")).with_suffix(".pyc").unlink(missing_ok=True)
    return {"compiled": list(modules), "files": [r.as_posix() for r in built]}


def prune(cache_dir: Path, keep: Bundle) -> list[Path]:
    """Remove the other cached bundles with ``keep``'s name; return what was removed.

    Call it once the bundle in use is settled (e.g. after the appliance is assembled): a
    key changes with every source edit, so without pruning the cache only grows.
    """
    removed: list[Path] = []
    with _locked(cache_dir / f".{keep.name}.lock"):
        for old in cache_dir.glob(f"{keep.name}-*"):
            suffix = old.name[len(keep.name) + 1 :]
            is_bundle = len(suffix) == 16 and all(c in "0123456789abcdef" for c in suffix)
            if is_bundle and old.is_dir() and old != keep.folder.parent:
                shutil.rmtree(old)
                removed.append(old)
    return removed


def freeze_manifest(
    entry: Path,
    name: str,
    options: FreezeOptions,
    sources: Sequence[Path],
    python: str,
) -> dict[str, object]:
    """Every input of a bundle, as a JSON-able dict; ``--debug`` can diff two of them."""
    # Names relative to each source root, not absolute paths: the same sources in
    # another checkout or cache make the same key, so a frozen bundle can be reused.
    files = {f"entry/{entry.name}": _sha256(entry)}
    for root in sources:
        for path in _source_files([root]):
            rel = path.relative_to(root) if root.is_dir() else Path(path.name)
            files[f"{root.name}/{rel.as_posix()}"] = _sha256(path)
    toolchain = _toolchain(python)
    if options.compiled:
        # With a compiler or without, the bundles differ: a machine that gains one (or
        # another one) rebuilds, and a bundle made without one is never taken for the
        # compiled one.
        toolchain["native"] = native.availability(python).detail
    return {
        "format": FREEZE_FORMAT,
        "name": name,
        "entry": entry.name,
        "files": files,
        "options": asdict(options),
        "toolchain": toolchain,
    }


def manifest_key(manifest: dict[str, object]) -> str:
    """The cache key: a hash of the sorted manifest."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def render_spec(
    entry: Path, name: str, options: FreezeOptions, extra_paths: Sequence[Path] = ()
) -> str:
    """The PyInstaller spec file for a one-dir bundle (a spec allows dropping runtime hooks)."""
    paths = [*options.paths, *map(os.fspath, extra_paths)]
    python_options = [("O", None, "OPTION")] * options.optimize
    drop = (
        "a.scripts = [s for s in a.scripts if not s[0].startswith('pyi_rth_')]\n"
        if options.drop_runtime_hooks
        else ""
    )
    return (
        "# Generated by pyguestfs.builder.freeze; do not edit.\n"
        f"a = Analysis([{os.fspath(entry)!r}], pathex={paths!r},\n"
        f"    hiddenimports={list(options.hidden_imports)!r},\n"
        f"    excludes={list(options.excludes)!r},\n"
        f"    noarchive={options.noarchive!r}, optimize={options.optimize!r})\n"
        f"{drop}"
        "pyz = PYZ(a.pure)\n"
        f"exe = EXE(pyz, a.scripts, {python_options!r}, exclude_binaries=True,\n"
        f"    name={name!r}, strip={options.strip!r}, upx=False, console=True)\n"
        f"coll = COLLECT(exe, a.binaries, a.datas, strip={options.strip!r}, upx=False,\n"
        f"    name={name!r})\n"
    )


def runtime_libraries(folder: Path) -> list[Path]:
    """Host libraries a bundle needs besides its own ``_internal``, as ``ldd`` names them.

    PyInstaller leaves out glibc (libc, libm, libdl, libpthread, the ELF interpreter). The
    bootloader also needs its own dependencies (e.g. libz) in the system directories:
    it runs once *before* it sets ``LD_LIBRARY_PATH`` to ``_internal`` and re-executes
    itself. Copy each returned path to the same path in the guest.
    """
    internal = folder / "_internal"
    needed: set[Path] = set()
    exe = next(p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK))
    needed.update(elf_libraries(exe, env={}))
    env = {"LD_LIBRARY_PATH": os.fspath(internal)}
    for path in _elf_files(internal):
        for lib in elf_libraries(path, env):
            if not lib.is_relative_to(folder):
                needed.add(lib)
    return sorted(needed)


def module_files(bundle: Bundle, modules: Iterable[str]) -> list[Path]:
    """The files of ``bundle`` needed to start it and import ``modules``, and no others.

    That is the executable, every shared library outside ``lib-dynload`` (libpython and
    what it and the extensions link), and for each module its ``.pyc``, its package's
    ``__init__.pyc`` files, or its extension module. The initramfs can hold just this subset
    when a program switches to a root holding the full bundle at the same path before it
    imports anything else (see pyguestfs.initrd.appliance_init.boot); ``modules`` is then
    what the program's ``--check`` prints. Built-in modules have no file and are skipped.
    """
    internal = bundle.internal
    dynload = internal / f"python{_python_version(internal)}" / "lib-dynload"
    files = {bundle.executable}
    for p in internal.rglob("*.so*"):
        if p.is_file() and not p.is_relative_to(dynload):
            files.add(p)
    for name in modules:
        parts = name.split(".")
        for i in range(1, len(parts)):
            init = internal.joinpath(*parts[:i], "__init__.pyc")
            if init.is_file():
                files.add(init)
        for candidate in (
            internal.joinpath(*parts[:-1], parts[-1] + ".pyc"),
            internal.joinpath(*parts, "__init__.pyc"),
        ):
            if candidate.is_file():
                files.add(candidate)
        files.update(p for p in dynload.glob(f"{name}.*.so") if p.is_file())
    return sorted(files)


def _python_version(internal: Path) -> str:
    """ "3.11" from the bundle's ``_internal/python3.11`` folder (its lib-dynload's parent)."""
    found = [p.name[len("python") :] for p in internal.glob("python3.*") if p.is_dir()]
    return found[0] if found else "{}.{}".format(*sys.version_info[:2])


def folder_size(path: Path) -> int:
    """Bytes in all regular files below ``path`` (what an uncompressed cpio would hold)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# ---------------------------------------------------------------- helpers


def _toolchain(python: str) -> dict[str, str]:
    """PyInstaller's and Python's versions, from the interpreter that will do the freezing."""
    if python == sys.executable:
        # No subprocess (and no import of PyInstaller) for the common case: a cache hit
        # should cost milliseconds.
        import sysconfig
        from importlib.metadata import PackageNotFoundError, version

        try:
            pyinstaller = version("pyinstaller")
        except PackageNotFoundError as e:
            raise BuildError(
                "freeze: PyInstaller is not installed", hint="pip install 'pyguestfs[build]'"
            ) from e
        soname = str(sysconfig.get_config_var("INSTSONAME"))
        return {"pyinstaller": pyinstaller, "python": sys.version, "libpython": soname}
    probe = (
        "import sys, PyInstaller, sysconfig; "
        "print(PyInstaller.__version__); print(sys.version); "
        "print(sysconfig.get_config_var('INSTSONAME'))"
    )
    try:
        out = runner.output([python, "-c", probe]).splitlines()
    except runner.CommandError as e:
        raise tool_error(e, "freeze", hint=_not_found_hint(e)) from None
    if len(out) < 3:
        raise BuildError(f"freeze: could not ask {python} for its PyInstaller version")
    return {"pyinstaller": out[0], "python": out[1], "libpython": out[2]}


#: Directories under a source tree that hold no code the frozen program can import.
_NOT_SOURCES = frozenset({"__pycache__", "tests", "build", "dist", "docs", "ci"})


def _source_files(sources: Iterable[Path]) -> Iterator[Path]:
    for src in sources:
        if src.is_dir():
            yield from sorted(
                p
                for p in src.rglob("*.py")
                if p.is_file()
                and not any(
                    part in _NOT_SOURCES or part.startswith(".")
                    for part in p.relative_to(src).parts[:-1]
                )
            )
        elif src.is_file():
            yield src
        else:
            raise BuildError(f"freeze: source {src} does not exist")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _elf_files(root: Path) -> Iterator[Path]:
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with p.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield p


def elf_libraries(
    path: Path, env: dict[str, str] | None = None, hint: str = LIBRARY_SEARCH_HINT
) -> list[Path]:
    """The libraries ``ldd`` resolves for ``path`` (and its ELF interpreter); a BuildError
    with ``hint`` if one is missing."""
    try:
        proc = runner.run(["ldd", os.fspath(path)], env=env, check=False)
    except runner.CommandError as e:
        raise tool_error(e, "freeze", hint=_not_found_hint(e)) from None
    out = proc.stdout.decode("utf-8", "replace")
    libs: list[Path] = []
    for line in out.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise BuildError(
                f"{path.name} needs {line.split()[0]}, which is not installed", hint=hint
            )
        if "=>" in line:
            target = line.split("=>", 1)[1].split("(")[0].strip()
        else:
            target = line.split("(")[0].strip()  # the interpreter: /lib64/ld-linux-x86-64.so.2
        if target.startswith("/"):
            libs.append(Path(target))
    return libs


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path``: one builder per bundle name at a time."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _not_found_hint(e: runner.CommandError) -> str | None:
    """What to install when a program the freeze runs is missing."""
    return LIBRARY_SEARCH_HINT if isinstance(e, runner.CommandNotFound) else None
