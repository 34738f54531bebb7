"""Pathnames stay inside the sysroot: neither ``..`` nor a symlink planted in the guest
(relative or absolute) leads an operation to the host's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import RunningAgent

from pyguestfs.agent.sysroot import Sysroot
from pyguestfs.host import GuestFS, GuestFSError


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory beside the sysroot that the guest must never reach."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_text("host data")
    return d


def test_dotdot_stops_at_the_root(g: GuestFS, agent: RunningAgent, outside: Path) -> None:
    assert not g.exists("/../outside/secret")
    assert not g.exists("/../../../../../../" + str(outside).lstrip("/") + "/secret")
    g.write("/../../escape", b"x")
    assert (agent.sysroot / "escape").read_bytes() == b"x"
    assert not (agent.sysroot.parent / "escape").exists()
    assert g.realpath("/../..") == "/"


@pytest.mark.parametrize("target_kind", ["absolute", "relative"])
def test_symlinks_are_followed_inside_the_root(
    g: GuestFS, agent: RunningAgent, outside: Path, target_kind: str
) -> None:
    target = str(outside) if target_kind == "absolute" else "../outside"
    os.symlink(target, agent.sysroot / "link")
    # Reads through the link see the sysroot's own tree, never the host's.
    assert not g.exists("/link/secret")
    with pytest.raises(GuestFSError) as info:
        g.cat("/link/secret")
    assert info.value.errno_name == "ENOENT"
    # Writes through the link land inside the sysroot or fail; the host is untouched.
    try:
        g.write("/link/secret", b"overwritten")
    except GuestFSError:
        pass
    try:
        g.mkdir_p("/link/newdir")
    except GuestFSError:
        pass
    try:
        g.chmod(0o777, "/link/secret")
    except GuestFSError:
        pass
    assert (outside / "secret").read_text() == "host data"
    assert sorted(os.listdir(outside)) == ["secret"]
    assert oct((outside / "secret").stat().st_mode & 0o777) != "0o777"


def test_absolute_symlink_is_relative_to_the_sysroot(g: GuestFS, agent: RunningAgent) -> None:
    (agent.sysroot / "etc").mkdir()
    (agent.sysroot / "etc/passwd").write_text("guest passwd\n")
    os.symlink("/etc/passwd", agent.sysroot / "p")
    assert g.cat("/p") == "guest passwd\n"
    assert g.realpath("/p") == "/etc/passwd"
    g.write("/p", b"changed\n")
    assert (agent.sysroot / "etc/passwd").read_text() == "changed\n"


def test_tar_out_and_upload_through_links(
    g: GuestFS, agent: RunningAgent, outside: Path, tmp_path: Path
) -> None:
    os.symlink(str(outside), agent.sysroot / "o")
    with pytest.raises(GuestFSError):
        g.tar_out("/o", str(tmp_path / "t.tar"))  # resolves to /<outside> in the sysroot
    src = tmp_path / "payload"
    src.write_bytes(b"p")
    with pytest.raises(GuestFSError):
        g.upload(str(src), "/o/secret")
    assert (outside / "secret").read_text() == "host data"


def test_symlink_loops_are_refused(g: GuestFS, agent: RunningAgent) -> None:
    os.symlink("b", agent.sysroot / "a")
    os.symlink("a", agent.sysroot / "b")
    with pytest.raises(GuestFSError) as info:
        g.cat("/a")
    assert info.value.errno_name == "ELOOP"
    assert g.is_symlink("/a")


def test_resolution_unit(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "d").mkdir(parents=True)
    os.symlink("/d", root / "abs")
    os.symlink("../../..", root / "d" / "up")
    s = Sysroot(str(root))
    assert s.resolve("/abs/x") == str(root / "d" / "x")
    assert s.resolve("/d/up/d") == str(root / "d")
    assert s.resolve("/abs", follow=False) == str(root / "abs")
    assert s.canonical("/d/up/abs/../d/./") == "/d"
    assert s.to_guest(str(root / "d")) == "/d"
