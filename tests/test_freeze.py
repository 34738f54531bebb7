"""Freezing the in-guest programs: the cache key (unit), and a real PyInstaller freeze of the
mini init (artifact) -- its contents, its start-up, and that it runs in a chroot holding
nothing but the bundle and the libraries runtime_libraries() names, as it must in the
initramfs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyguestfs.builder.freeze import (
    Bundle,
    FreezeOptions,
    folder_size,
    freeze,
    freeze_manifest,
    manifest_key,
    module_files,
    prune,
    render_spec,
    runtime_libraries,
)
from pyguestfs.initrd import mini_init

MINI_INIT = Path(mini_init.__file__)

#: Modules the mini init must not load at start-up: each costs time under TCG, and most
#: would come from PyInstaller's runtime hooks (inspect, zipfile) or from typing.
HEAVY_MODULES = {
    "inspect",
    "zipfile",
    "re",
    "typing",
    "enum",
    "dataclasses",
    "pathlib",
    "tokenize",
    "ast",
    "argparse",
    "socket",
    "subprocess",
    "threading",
}

# ---------------------------------------------------------------- unit: keys and spec


def test_manifest_key_follows_every_input(tmp_path: Path) -> None:
    entry = tmp_path / "entry.py"
    entry.write_text("print('hi')\n")
    pkg = tmp_path / "pkg"
    (pkg / "tests").mkdir(parents=True)
    (pkg / "mod.py").write_text("x = 1\n")
    (pkg / "tests" / "test_mod.py").write_text("x = 2\n")
    py = sys.executable

    def key(options: FreezeOptions | None = None) -> str:
        return manifest_key(freeze_manifest(entry, "e", options or FreezeOptions(), [pkg], py))

    k = key()
    assert k == key()  # stable
    (pkg / "tests" / "test_mod.py").write_text("x = 3\n")
    assert k == key()  # tests are not part of the program
    (pkg / "mod.py").write_text("x = 4\n")
    k2 = key()
    assert k2 != k
    assert key(FreezeOptions(optimize=1)) != k2
    entry.write_text("print('bye')\n")
    assert key() != k2


def test_spec_is_one_dir_noarchive_without_runtime_hooks(tmp_path: Path) -> None:
    spec = render_spec(tmp_path / "e.py", "e", FreezeOptions(), extra_paths=[tmp_path])
    assert "noarchive=True" in spec and "optimize=2" in spec
    assert "exclude_binaries=True" in spec and "COLLECT(" in spec  # one-dir
    assert "pyi_rth_" in spec  # the runtime hooks are filtered out
    assert "'_ssl'" in spec and "'_hashlib'" in spec
    assert repr(os.fspath(tmp_path)) in spec
    compile(spec, "e.spec", "exec")  # it is Python


# ---------------------------------------------------------------- artifact: a real freeze


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    if shutil.which("ldd") is None:
        pytest.skip("ldd is missing (libc-bin): runtime_libraries() needs it")
    cache = tmp_path_factory.mktemp("freeze-cache")
    b = freeze(MINI_INIT, "mini-init", cache)
    assert b.built
    return b


def test_bundle_layout_and_size(bundle: Bundle) -> None:
    assert bundle.executable.read_bytes()[:4] == b"\x7fELF"
    assert os.access(bundle.executable, os.X_OK)
    internal = bundle.internal
    assert any(internal.glob("libpython3*.so*"))
    assert (internal / "ctypes" / "__init__.pyc").is_file()  # noarchive: plain .pyc files
    assert any(internal.rglob("_ctypes.*.so"))
    for unwanted in ("libcrypto*", "libssl*", "liblzma*", "libbz2*", "_ssl.*", "_hashlib.*"):
        assert not list(internal.rglob(unwanted)), unwanted
    assert (bundle.folder.parent / "manifest.json").is_file()
    size = folder_size(bundle.folder)
    # libpython alone is 7.4 MB; more than this means the trimming has stopped working
    assert size < 16_000_000, f"mini init bundle grew to {size / 1e6:.1f} MB"


def test_frozen_mini_init_starts_lean(bundle: Bundle) -> None:
    out = subprocess.run(
        [bundle.executable, "--check"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    loaded = set(out.split())
    assert {"ctypes", "_ctypes", "encodings"} <= loaded
    assert not loaded & HEAVY_MODULES, sorted(loaded & HEAVY_MODULES)


def test_frozen_mini_init_refuses_to_run_unless_pid_1(bundle: Bundle) -> None:
    p = subprocess.run([bundle.executable], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "not PID 1" in p.stdout


def test_second_freeze_is_a_cache_hit(bundle: Bundle) -> None:
    before = os.stat(bundle.executable)
    again = freeze(MINI_INIT, "mini-init", bundle.folder.parent.parent)
    assert not again.built
    assert again.folder == bundle.folder
    after = os.stat(again.executable)  # the same file, untouched: nothing was frozen again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_runtime_libraries_are_glibc_and_the_bootloaders_own(bundle: Bundle) -> None:
    libs = runtime_libraries(bundle.folder)
    names = {p.name for p in libs}
    assert {"libc.so.6", "ld-linux-x86-64.so.2"} <= names
    assert "libz.so.1" in names  # the bootloader needs it before LD_LIBRARY_PATH is set
    assert not any(p.is_relative_to(bundle.folder) for p in libs)
    assert all(p.is_absolute() and p.exists() for p in libs)


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot(2) needs root")
def test_bundle_runs_in_a_bare_chroot_as_it_does_in_the_initramfs(
    bundle: Bundle, tmp_path: Path
) -> None:
    """The initramfs arrangement: the executable at /init, its _internal beside it, the
    libraries at their host paths, and no /proc -- the bootloader then finds itself from
    argv[0]."""
    root = tmp_path / "initramfs"
    shutil.copytree(bundle.internal, root / "_internal", symlinks=True)
    shutil.copy2(bundle.executable, root / "init")
    for lib in runtime_libraries(bundle.folder):
        dst = root / os.fspath(lib).lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dst)
    p = subprocess.run(
        ["chroot", os.fspath(root), "/init", "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "ctypes" in p.stdout.split()


def test_prune_keeps_the_bundle_in_use_and_other_names(tmp_path: Path) -> None:
    keep = Bundle(
        folder=tmp_path / "mini-init-00000000000000aa" / "mini-init", name="mini-init", key=""
    )
    for d in (
        "mini-init-00000000000000aa",
        "mini-init-00000000000000bb",
        "mini-init-x",
        "mini-0000000000000000",
    ):
        (tmp_path / d).mkdir()
    removed = prune(tmp_path, keep)
    assert [p.name for p in removed] == ["mini-init-00000000000000bb"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "mini-0000000000000000",
        "mini-init-00000000000000aa",
        "mini-init-x",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot(2) needs root")
def test_module_subset_is_enough_to_start(bundle: Bundle, tmp_path: Path) -> None:
    """The initramfs may hold only the files of the modules loaded before the root switch."""
    loaded = subprocess.run(
        [bundle.executable, "--check"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    files = module_files(bundle, loaded)
    assert bundle.executable in files
    assert any(p.name.startswith("libpython3") for p in files)
    assert not any(p.name == "inspect.pyc" for p in files)
    root = tmp_path / "initramfs"
    for f in files:
        dst = root / ("init" if f == bundle.executable else f.relative_to(bundle.folder))
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)
    for lib in runtime_libraries(bundle.folder):
        dst = root / os.fspath(lib).lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dst)
    p = subprocess.run(
        ["chroot", os.fspath(root), "/init", "--check"], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == sorted(loaded)
    assert folder_size(root / "_internal") < folder_size(bundle.internal)
