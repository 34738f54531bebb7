"""The 17 ``aug_*`` procedures: our agent against Debian's real guestfsd 1.48.

Both daemons serve a scratch directory holding the same small configuration files and get
the same sequence of calls (every ``aug_*`` procedure, flags of ``aug_init``, errors with
Augeas's details, saves); the replies -- values, errno names, complete messages -- and the
files left behind must be identical. Both use this machine's libaugeas and lenses, as the
appliance does. The boot tests run the real ``virt-customize`` against our appliance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


# -- boot: the real virt-customize on our appliance ---------------------------------------------

#: The accounts of the small Debian guest; root has no password yet.
PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
)
SHADOW = (
    "root:*:19700:0:99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "alice:$6$abcdefgh$0123456789:19700:0:99999:7:::\n"
)


HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tcustomized\n::1\tlocalhost ip6-localhost\n"


def _debian_disk(path: Path, work: Path) -> None:
    """A small Debian-like guest (the host's release files and binaries, as
    ``guest_images`` makes its fallback tree) with accounts, as one ext4 filesystem on
    the whole disk, so that debugfs reads it back without booting anything."""
    from guest_images import _host_files_tree

    tree = work / "tree"
    tree.mkdir()
    _host_files_tree(tree)
    etc = tree / "etc"
    (etc / "passwd").write_text(PASSWD)
    (etc / "shadow").write_text(SHADOW)
    os.chmod(etc / "shadow", 0o640)
    (etc / "group").write_text("root:x:0:\ndaemon:x:1:\nalice:x:1000:\n")
    (etc / "fstab").write_text("/dev/sda / ext4 defaults 0 1\n")
    (etc / "hostname").write_text("customized\n")
    # virt-customize --hostname renames the old name in /etc/hosts through Augeas.
    (etc / "hosts").write_text(HOSTS)
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tree), str(path), "96M"],
        check=True,
        capture_output=True,
    )


def _guest_file(image: Path, path: str) -> str:
    return subprocess.run(
        ["debugfs", "-R", f"cat {path}", str(image)], check=True, capture_output=True, text=True
    ).stdout


def _customize(
    image: Path, appliance_dir: Path | None, tmp: Path, cachedir: str, options: list[str]
) -> None:
    # libguestfs's own appliance is cached in the session's cache directory (as
    # test_bindings_compat does), not rebuilt in each temporary directory.
    env = dict(
        os.environ,
        LIBGUESTFS_BACKEND="direct",
        LIBGUESTFS_BACKEND_SETTINGS="force_tcg",
        LIBGUESTFS_CACHEDIR=cachedir,
    )
    env.pop("LIBGUESTFS_PATH", None)
    if appliance_dir is not None:
        env["LIBGUESTFS_PATH"] = str(appliance_dir)
    env["TMPDIR"] = str(tmp)
    argv = ["virt-customize", "--format=raw", "-a", str(image), *options]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _crypt(password: str, hashed: str) -> str:
    """crypt(3) of ``password`` with the method and salt of ``hashed`` (yescrypt ``$y$``
    or SHA-512 ``$6$``: virt-customize picks by distro), from the system's libcrypt."""
    import ctypes

    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), hashed.encode())
    return out.decode() if out else ""


@pytest.fixture(scope="module")
def fixed(cachedir: str, appliance: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our appliance as a libguestfs fixed appliance directory."""
    from pyguestfs.builder.appliance import BuildOptions, build

    out = tmp_path_factory.mktemp("fixed")
    build(BuildOptions(cachedir=cachedir, output=str(out)))
    return out


def _agent_serves(name: str) -> bool:
    from pyguestfs.agent import server  # noqa: F401 - registers every procedure
    from pyguestfs.agent.registry import IMPLEMENTATIONS

    return name in IMPLEMENTATIONS


@pytest.mark.boot
@pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("virt-customize", "debugfs")),
    reason="virt-customize (guestfs-tools) and debugfs (e2fsprogs) are needed",
)
@pytest.mark.timeout(2400)  # real tools, each a launch under TCG
def test_virt_customize(fixed: Path, cachedir: str, tmp_path: Path) -> None:
    """The real virt-customize on our appliance and on libguestfs's own, same results.

    ``--hostname`` finds the old name in /etc/hosts with aug_init/aug_get and renames it
    with aug_set/aug_save. ``--root-password`` (every virt-builder run sets one) rewrites
    /etc/shadow and keeps its attributes with copy_attributes: it is added once our agent
    serves that procedure (the guest-configuration family, issue 20 part B)."""
    options = ["--hostname", "renamed.example"]
    with_password = _agent_serves("copy_attributes")
    if with_password:
        options += ["--root-password", "password:x"]
    files: dict[str, dict[str, str]] = {}
    for name, appliance_dir in (("ours", fixed), ("real", None)):
        work = tmp_path / name
        work.mkdir()
        image = work / "debian.img"
        _debian_disk(image, work)
        _customize(image, appliance_dir, work, cachedir, options)
        files[name] = {
            p: _guest_file(image, p) for p in ("/etc/hosts", "/etc/hostname", "/etc/shadow")
        }
        assert _guest_file(image, "/etc/passwd") == PASSWD
    ours, real = files["ours"], files["real"]
    assert ours["/etc/hostname"] == real["/etc/hostname"] == "renamed.example\n"
    assert ours["/etc/hosts"] == real["/etc/hosts"]
    assert "127.0.1.1\trenamed.example" in ours["/etc/hosts"]
    if not with_password:
        assert ours["/etc/shadow"] == real["/etc/shadow"] == SHADOW
        return
    for text in (ours["/etc/shadow"], real["/etc/shadow"]):
        lines = text.splitlines()
        root = lines[0].split(":")
        assert root[0] == "root" and root[1].startswith("$")
        assert _crypt("x", root[1]) == root[1]  # the password really is "x"
        # Only root's password changed (and its last-change day).
        assert lines[1:] == SHADOW.splitlines()[1:]
    o, r = (files[n]["/etc/shadow"].splitlines()[0].split(":") for n in ("ours", "real"))
    assert o[:1] + o[2:] == r[:1] + r[2:]  # the same fields but the salted hash
