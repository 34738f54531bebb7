"""The 17 ``aug_*`` procedures: our agent against Debian's real guestfsd 1.48.

Both daemons serve a scratch directory holding the same small configuration files and get
the same sequence of calls (every ``aug_*`` procedure, flags of ``aug_init``, errors with
Augeas's details, saves); the replies -- values, errno names, complete messages -- and the
files left behind must be identical. Both use this machine's libaugeas and lenses, as the
appliance does. The boot tests run the real ``virt-customize`` against our appliance.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realdaemon import (
    RealDaemonUnavailable,
    check_can_confine,
    daemon_tarball,
    our_agent,
    real_guestfsd,
    require_real_daemon,
)

from pyguestfs.host import GuestFS, GuestFSError

#: aug_init flags (augeas.h): AUG_SAVE_BACKUP, AUG_SAVE_NEWFILE, AUG_SAVE_NOOP, AUG_NO_LOAD.
SAVE_BACKUP, SAVE_NEWFILE, SAVE_NOOP, NO_LOAD = 1, 2, 16, 32

FILES = {
    "etc/hosts": "127.0.0.1 localhost\n10.0.0.2 db.example db\n",
    "etc/fstab": "UUID=0123 / ext4 defaults 0 1\n/dev/sdb1 /srv xfs noatime 0 2\n",
    "etc/hostname": "before\n",
    # A file its lens cannot parse: a load error shown under /augeas/files/...
    "etc/passwd": "this is not a passwd line\n",
}

Step = tuple[str, tuple[Any, ...], dict[str, Any]]


def _s(api: str, *args: Any, **kwargs: Any) -> Step:
    return (api, args, kwargs)


STEPS: list[Step] = [
    _s("aug_get", "/files/etc/hosts/1/ipaddr"),  # before aug_init
    _s("aug_close"),
    _s("aug_init", "/", 0),
    _s("aug_ls", "/files/etc/hosts"),
    _s("aug_ls", "/files/etc/hosts/"),
    _s("aug_ls", "/"),
    _s("aug_match", "/files/etc/hosts/*/canonical"),
    _s("aug_match", "/files/etc/nothing/*"),
    _s("aug_get", "/files/etc/hosts/2/canonical"),
    _s("aug_get", "/files/etc/hosts/*/ipaddr"),  # several matches
    _s("aug_get", "/files/etc/hosts/9/ipaddr"),  # none
    _s("aug_get", "/files/etc/hosts/1/ipaddr["),  # a bad expression
    _s("aug_match", "/augeas/files/etc/passwd/error/*"),
    _s("aug_get", "/augeas/files/etc/passwd/error"),
    _s("aug_label", "/files/etc/hosts/1/*[1]"),
    _s("aug_label", "/files/etc/hosts/7"),
    _s("aug_label", "/files/etc/hosts/*"),
    _s("aug_set", "/files/etc/hosts/2/canonical", "db2.example"),
    _s("aug_set", "/files/etc/hosts/*/ipaddr", "1.1.1.1"),
    _s("aug_insert", "/files/etc/hosts/2/alias", "alias", True),
    _s("aug_set", "/files/etc/hosts/2/alias[1]", "dbalias"),
    _s("aug_insert", "/files/etc/hosts/nowhere", "x", False),
    _s("aug_defvar", "h", "/files/etc/hosts/*"),
    _s("aug_defvar", "h", None),
    _s("aug_defvar", "bad", "/files[["),
    _s("aug_defnode", "n", "/files/etc/hosts/3/ipaddr", "192.0.2.3"),
    _s("aug_defnode", "n", "/files/etc/hosts/3/ipaddr", "ignored"),
    _s("aug_set", "/files/etc/hosts/3/canonical", "new.example"),
    _s("aug_setm", "/files/etc/fstab/*", "opt", "ro"),
    _s("aug_setm", "/files/etc/fstab/*[file='/srv']", None, "x"),
    _s("aug_setm", "/files/etc/fstab/[", "opt", "ro"),
    _s("aug_clear", "/files/etc/hostname/hostname"),
    _s("aug_set", "/files/etc/hostname/hostname", "after"),
    _s("aug_mv", "/files/etc/hosts/1", "/files/etc/hosts/4"),
    _s("aug_mv", "/files/etc/hosts/1", "/files/etc/hosts/4"),  # the source is gone
    _s("aug_rm", "/files/etc/fstab/2/opt"),
    _s("aug_rm", "/files/etc/nothing"),
    _s("aug_ls", "/files/etc/fstab/1"),
    _s("aug_save"),
    _s("aug_match", "/augeas/events/saved"),
    # A save Augeas refuses: a tree its lens cannot write back.
    _s("aug_set", "/files/etc/hosts/5/bogus", "x"),
    _s("aug_save"),
    _s("aug_rm", "/files/etc/hosts/5"),
    _s("aug_transform", "Hosts", "/etc/hosts", remove=True),
    _s("aug_load"),
    _s("aug_match", "/files/etc/hosts"),
    _s("aug_transform", "Hosts", "/etc/hosts"),
    _s("aug_transform", "NoSuchLens", "/etc/x"),
    _s("aug_load"),
    _s("aug_get", "/files/etc/hosts/3/canonical"),
    _s("aug_close"),
    _s("aug_close"),
    # Flags: NO_LOAD leaves the tree empty until aug_load; SAVE_NEWFILE writes .augnew.
    _s("aug_init", "/", NO_LOAD),
    _s("aug_match", "/files/etc/*"),
    _s("aug_load"),
    _s("aug_init", "/", SAVE_NEWFILE),
    _s("aug_set", "/files/etc/hostname/hostname", "newfile"),
    _s("aug_save"),
    _s("aug_init", "/", SAVE_BACKUP),
    _s("aug_set", "/files/etc/hostname/hostname", "backedup"),
    _s("aug_save"),
    _s("aug_init", "/", SAVE_NOOP),
    _s("aug_set", "/files/etc/hostname/hostname", "noop"),
    _s("aug_save"),
    _s("aug_match", "/augeas/events/saved"),
    _s("aug_init", "/nonexistent", 0),
    _s("aug_init", "relative", 0),
]


def _run(g: GuestFS, step: Step) -> tuple[Any, ...]:
    api, args, kwargs = step
    try:
        return ("ok", getattr(g, api)(*args, **kwargs))
    except GuestFSError as e:
        return ("error", e.errno_name, str(e))


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            out[str(path.relative_to(root))] = path.read_text(errors="replace")
    return out


def _populate(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every step run on our agent and on the real guestfsd: replies and final trees."""
    try:
        check_can_confine()
        daemon_tarball()
    except RealDaemonUnavailable as e:
        if require_real_daemon():
            pytest.fail(f"the real guestfsd is required but cannot run: {e}")
        pytest.skip(f"the real guestfsd cannot run here: {e}")
    base = tmp_path_factory.mktemp("augeas")
    result: dict[str, Any] = {}
    for name, start in (("ours", our_agent), ("real", real_guestfsd)):
        scratch = base / name
        scratch.mkdir()
        _populate(scratch)
        with start(scratch) as daemon:
            g = daemon.handle()
            result[name] = [_run(g, step) for step in STEPS]
            g.close()
        result[f"{name}-tree"] = _tree(scratch)
    yield result


@pytest.mark.parametrize(
    "index", range(len(STEPS)), ids=[f"{i:02d}-{s[0]}" for i, s in enumerate(STEPS)]
)
def test_same_reply_as_guestfsd(both: dict[str, Any], index: int) -> None:
    assert both["ours"][index] == both["real"][index], STEPS[index]


def test_same_files_as_guestfsd(both: dict[str, Any]) -> None:
    assert both["ours-tree"] == both["real-tree"]
    # The sequence really changed and saved files (the comparison is not of two no-ops).
    assert "new.example" in both["ours-tree"]["etc/hosts"]
    assert both["ours-tree"]["etc/hostname.augnew"] == "newfile\n"  # AUG_SAVE_NEWFILE
    assert both["ours-tree"]["etc/hostname.augsave"] == "after\n"  # AUG_SAVE_BACKUP
    assert both["ours-tree"]["etc/hostname"] == "backedup\n"  # not "noop": AUG_SAVE_NOOP


def test_the_sequence_exercises_every_aug_procedure() -> None:
    from pyguestfs.protocol.procedures import BY_NAME

    apis = {name for name in BY_NAME if name.startswith("aug_")}
    assert len(apis) == 17
    assert apis == {api for api, _, _ in STEPS}


def test_errors_carry_augeas_details(both: dict[str, Any]) -> None:
    replies = dict(zip(range(len(STEPS)), both["ours"], strict=True))
    several = replies[9]
    assert several[0] == "error" and "Too many matches" in several[2]
    assert replies[0] == (
        "error",
        "",
        "aug_get: do_aug_get: you must call 'aug-init' first to initialize Augeas",
    )
