"""The one settings table (pyguestfs.core.settings): how the environment is read, how
values are checked, and that the README's settings section is generated from it."""

from __future__ import annotations

import dataclasses
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
