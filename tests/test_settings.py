"""The one settings table (pyguestfs.core.settings): how the environment is read, how
values are checked, and that the README's settings section is generated from it."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyguestfs.core import settings
from pyguestfs.core.settings import DEFAULTS, SETTING, SETTINGS, Settings, read_environment

REPO = Path(__file__).resolve().parent.parent


def test_every_field_is_a_row_of_the_table() -> None:
    names = [f.name for f in dataclasses.fields(Settings)]
    assert [s.name for s in SETTINGS] == names
    for s in SETTINGS:
        assert s.doc and s.doc.endswith("."), s.name
        assert getattr(DEFAULTS, s.name) == s.default
        assert (s.parse is None) == (s.env is None), s.name
    envs = [s.env for s in SETTINGS if s.env]
    assert len(envs) == len(set(envs))  # one setting per variable


def test_nothing_set_means_the_defaults() -> None:
    assert read_environment({}) == DEFAULTS
    assert DEFAULTS.cache_base() == "/var/tmp" and DEFAULTS.temp_base() == "/var/tmp"


def test_environment_text_as_libguestfs_and_the_old_readers_took_it() -> None:
    s = read_environment(
        {
            "LIBGUESTFS_DEBUG": "1",
            "LIBGUESTFS_TRACE": "yes",  # only "1" turns it on
            "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg::x",
            "LIBGUESTFS_MEMSIZE": "2048",
            "LIBGUESTFS_APPEND": "",
            "LIBGUESTFS_HV": "",
            "LIBGUESTFS_PATH": "/a:/b",
            "TMPDIR": "/t",
            "PYGUESTFS_WARM_LAUNCH": " Off ",
            "PYGUESTFS_CHUNK_SIZE": "-5",
            "SUPERMIN_KERNEL": "/k",
        }
    )
    assert s.verbose and not s.trace
    assert s.backend_settings == ("force_tcg", "x")
    assert s.memsize == 2048
    assert s.append is None and s.hv == "qemu-system-x86_64"  # empty means unset
    assert s.path == "/a:/b" and s.kernel == "/k"
    assert s.cache_base() == "/t" and s.temp_base() == "/t"
    assert s.warm_launch is False
    assert s.chunk_size == 0
    odd = read_environment({"LIBGUESTFS_MEMSIZE": "2G", "PYGUESTFS_CHUNK_SIZE": "big"})
    assert odd.memsize == 1280 and odd.chunk_size is None  # ignored, as before
    assert read_environment({"PYGUESTFS_WARM_LAUNCH": "1"}).warm_launch is True
    assert read_environment({"LIBGUESTFS_CACHEDIR": "/c", "TMPDIR": "/t"}).cache_base() == "/c"


def test_replace_converts_and_checks() -> None:
    s = DEFAULTS.replace(memsize=512, verbose=1, backend_settings=["force_kvm"], hv=None)
    assert (s.memsize, s.verbose, s.backend_settings, s.hv) == (
        512,
        True,
        ("force_kvm",),
        "qemu-system-x86_64",
    )
    assert DEFAULTS.memsize == 1280  # frozen: replace made a copy
    with pytest.raises(ValueError, match="memsize must be at least 256 MiB"):
        DEFAULTS.replace(memsize=128)
    with pytest.raises(ValueError, match="smp must be at least 1"):
        DEFAULTS.replace(smp=0)
    with pytest.raises(ValueError, match="appliance_daemon must be one of pyguestfs, guestfsd"):
        DEFAULTS.replace(appliance_daemon="systemd")
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.memsize = 1  # type: ignore[misc]


def test_cli_flags_come_from_the_table() -> None:
    import argparse

    p = argparse.ArgumentParser()
    settings.add_argument(p, "cachedir")
    settings.add_argument(p, "appliance_daemon")
    assert p.parse_args([]).cachedir is None
    assert p.parse_args(["--daemon", "guestfsd"]).appliance_daemon == "guestfsd"
    with pytest.raises(ValueError):
        settings.add_argument(p, "memsize")  # no flag
    assert SETTING["cachedir"].cli == "--cachedir"


def test_readme_settings_section_is_current() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "ci" / "settings_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr


# -- the table against the handle, the builder's flags and the source tree ------------------


def _handle_settings_methods() -> set[str]:
    """The set_X/get_X pairs written in the handle's settings mixin (the daemon's procedures,
    generated from the procedure table, are not settings)."""
    tree = ast.parse((REPO / "host" / "library" / "properties.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Properties")
    defs = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    return {name[4:] for name in defs if name.startswith("set_") and f"get_{name[4:]}" in defs}


def test_the_handles_setters_and_getters_are_the_tables() -> None:
    from pyguestfs.host import GuestFS

    assert _handle_settings_methods() == {s.name for s in SETTINGS if s.handle}
    g = GuestFS(environment=False)
    for s in SETTINGS:
        if not s.handle:
            continue
        assert s.doc in (getattr(GuestFS, f"set_{s.name}").__doc__ or ""), s.name
        value = getattr(g, f"get_{s.name}")()
        if s.name == "cachedir":
            assert value == DEFAULTS.cache_base()
        elif s.name == "tmpdir":
            assert value == DEFAULTS.temp_base()
        elif s.name == "program":  # 1.48: the running program's name when unset
            assert value == os.path.basename(sys.argv[0])
        elif s.name == "path":
            assert value == ""  # 1.48's get_path never returns NULL
        else:
            assert value == (list(s.default) if isinstance(s.default, tuple) else s.default)
    g.close()


def test_handle_setters_check_through_the_table() -> None:
    from pyguestfs.host import GuestFS, GuestFSError

    g = GuestFS(environment=False)
    with pytest.raises(GuestFSError, match="set_memsize: memsize must be at least 256 MiB"):
        g.set_memsize(100)
    with pytest.raises(GuestFSError, match="set_smp: smp must be at least 1"):
        g.set_smp(0)
    g.set_memsize(512)
    g.set_backend_settings(["force_tcg"])
    g.set_hv("")
    assert (g.get_memsize(), g.get_backend_settings(), g.get_hv()) == (
        512,
        ["force_tcg"],
        "qemu-system-x86_64",
    )
    g.close()


def test_a_handle_reads_the_environment_once_and_only_if_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pyguestfs.host import GuestFS

    monkeypatch.setenv("LIBGUESTFS_MEMSIZE", "2048")
    monkeypatch.setenv("PYGUESTFS_WARM_LAUNCH", "0")
    g, bare = GuestFS(), GuestFS(environment=False)
    monkeypatch.setenv("LIBGUESTFS_MEMSIZE", "4096")  # after the handle was made
    assert (g.get_memsize(), g.get_warm_launch()) == (2048, False)
    assert (bare.get_memsize(), bare.get_warm_launch()) == (1280, True)
    g.set_warm_launch(True)  # an explicit call wins over the environment
    assert g.get_warm_launch() is True
    g.close()
    bare.close()


def test_the_builders_setting_flags_are_the_tables() -> None:
    from pyguestfs.builder.cli import build_parser

    flags = {
        a.dest: a.option_strings[-1]
        for a in build_parser()._actions
        if a.dest in SETTING and a.option_strings
    }
    assert flags == {s.name: s.cli for s in SETTINGS if s.cli}
    for action in build_parser()._actions:
        if action.dest in SETTING:
            assert action.help == SETTING[action.dest].doc


#: Product code that may touch os.environ: the table's reader, and the runner, which
#: passes the environment on to the programs it starts.
ENVIRONMENT_READERS = {"core/settings.py", "core/runner.py"}


def test_only_the_settings_module_reads_the_environment() -> None:
    found = []
    for part in ("core", "vm", "host", "builder"):
        for path in sorted((REPO / part).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            if rel in ENVIRONMENT_READERS:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("environ", "getenv", "environb")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                ):
                    found.append(f"{rel}:{node.lineno}: os.{node.attr}")
    assert found == []


_READS = (
    re.compile(r"""(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    re.compile(r"""\$\{?([A-Z][A-Z0-9_]*)"""),
)
_OURS = ("LIBGUESTFS_", "PYGUESTFS_", "SUPERMIN_", "BENCH_")


def test_every_variable_the_repository_reads_is_declared() -> None:
    declared = {s.env for s in SETTINGS if s.env} | {
        name for name, _, _ in settings.DEVELOPMENT_VARIABLES
    }
    files = [*REPO.glob("tests/*.py"), *REPO.glob("bench/*.py"), REPO / "demo.py"]
    files += [*REPO.glob("ci/*.py"), *REPO.glob("ci/*.sh")]
    read = set()
    for path in files:
        text = path.read_text()
        for pattern in _READS:
            read |= {m for m in pattern.findall(text) if m.startswith(_OURS)}
    assert read and read <= declared, sorted(read - declared)
