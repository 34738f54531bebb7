"""Library-side actions against a real agent serving a host directory (no VM): the l*list
batches, copy_in/copy_out through tar, EVENT_ENTER, user_cancel of both transfer
directions, and mount_local -- whose view of the agent's sysroot must be the sysroot
itself (``ls -lR``, ``stat``, contents, xattrs), read-only or read-write.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningAgent

from pyguestfs.host import EVENT_ENTER, GuestFS, GuestFSError
from pyguestfs.host.library.files import LIST_BATCH

MiB = 1 << 20


def _tree(root: Path) -> None:
    """Files of every kind, owners and modes that tar and FUSE must carry."""
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file.txt").write_text("hello\n")
    os.chmod(root / "dir" / "file.txt", 0o640)
    os.chown(root / "dir" / "file.txt", 1001, 1002)
    (root / "dir" / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "dir" / "exec.sh", 0o755)
    os.symlink("dir/file.txt", root / "link")
    os.symlink("/nowhere/abs", root / "abs")
    os.link(root / "dir" / "file.txt", root / "dir" / "hard")
    os.mkfifo(root / "fifo")
    (root / "big.bin").write_bytes(os.urandom(3 * MiB + 17))
    os.utime(root / "dir" / "exec.sh", ns=(1_000_000_000_123_456_789, 1_100_000_000_987_654_321))


def _listing(root: Path) -> list[tuple[Any, ...]]:
    """Every entry below ``root``: name, type and mode, owner, size, mtime (whole seconds,
    as a tar archive keeps it), link target or content hash."""
    out: list[tuple[Any, ...]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            extra: object = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(p.read_bytes()).hexdigest()
            out.append(
                (
                    str(p.relative_to(root)),
                    st.st_mode,
                    st.st_uid,
                    st.st_gid,
                    st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                    st.st_mtime_ns // 10**9 if not stat.S_ISLNK(st.st_mode) else 0,
                    extra,
                )
            )
    return sorted(out)


def test_lstatnslist_batches_and_agrees_with_lstatns(
    g: GuestFS[dict[str, str]], agent: RunningAgent
) -> None:
    many = agent.sysroot / "many"
    many.mkdir()
    names = [f"f{i:04d}" for i in range(2 * LIST_BATCH + 5)]
    for n in names:
        (many / n).write_text(n)
    os.symlink("f0001", many / "ln")
    calls: list[str] = []
    real_call = g._call

    def counting(name: str, *a: Any, **kw: Any) -> Any:
        calls.append(name)
        return real_call(name, *a, **kw)

    g._call = counting  # type: ignore[method-assign]
    result = g.lstatnslist("/many", [*names, "ln", "missing"])
    links = g.readlinklist("/many", [*names, "ln", "missing"])
    g._call = real_call  # type: ignore[method-assign]
    # 2007 names: three internal calls each, as 1.48 splits them (1000 a call).
    assert calls.count("internal_lstatnslist") == 3
    assert calls.count("internal_readlinklist") == 3
    assert len(result) == len(names) + 2
    assert result[-1]["st_ino"] == -1  # the name that cannot be lstat'd
    for i in (0, 999, 1000, 2004):
        assert result[i] == g.lstatns(f"/many/{names[i]}")
    assert result[-2]["st_mode"] & 0o170000 == stat.S_IFLNK
    assert links[-2:] == ["f0001", ""] and set(links[:-2]) == {""}
    old = g.lstatlist("/many", ["f0000"])[0]
    assert old["ino"] == result[0]["st_ino"] and old["mtime"] == result[0]["st_mtime_sec"]


def test_copy_in_and_out_keep_owners_modes_and_links(
    g: GuestFS[dict[str, str]], agent: RunningAgent, tmp_path: Path
) -> None:
    src = tmp_path / "src" / "tree"
    src.mkdir(parents=True)
    _tree(src)
    os.unlink(src / "fifo")  # tar carries FIFOs too, but the comparison reads files
    g.mkdir("/in")
    g.copy_in(str(src), "/in")
    assert _listing(agent.sysroot / "in" / "tree") == _listing(src)
    out = tmp_path / "out"
    out.mkdir()
    g.copy_out("/in/tree", str(out))
    assert _listing(out / "tree") == _listing(src)
    g.copy_out("/in/tree/dir/file.txt", str(out))  # a file: downloaded by name
    assert (out / "file.txt").read_text() == "hello\n"
    with pytest.raises(GuestFSError, match="target ‘/in/tree/link’ is not a directory"):
        g.copy_in(str(src / "big.bin"), "/in/tree/link")
    with pytest.raises(GuestFSError, match="‘/in/nothing’ is not a file or directory"):
        g.copy_out("/in/nothing", str(out))


def test_every_call_fires_enter(g: GuestFS[dict[str, str]]) -> None:
    seen: list[bytes] = []
    g.set_event_callback(lambda ev, eh, buf, arr: seen.append(buf), EVENT_ENTER)
    g.touch("/e")
    g.lstatnslist("/", ["e"])
    g.get_program()
    assert seen == [b"touch", b"lstatnslist", b"internal_lstatnslist", b"get_program"]


def _fifo_reader(path: Path, g: GuestFS[dict[str, str]], got: list[int]) -> None:
    with open(path, "rb") as f:
        got.append(len(f.read(1)))
        g.user_cancel()  # the download is mid-transfer: its writer is blocked on us
        got.append(len(f.read()))


def test_user_cancel_stops_a_download_and_an_upload(
    g: GuestFS[dict[str, str]], agent: RunningAgent, tmp_path: Path
) -> None:
    (agent.sysroot / "big").write_bytes(os.urandom(16 * MiB))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[int] = []
    reader = threading.Thread(target=_fifo_reader, args=(fifo, g, got))
    reader.start()
    with pytest.raises(GuestFSError, match=r"^operation cancelled by user$") as e:
        g.download("/big", str(fifo))
    reader.join()
    assert e.value.errno_name == "EINTR"
    assert 1 <= sum(got) < 16 * MiB
    assert g.is_file("/big")  # the connection is still in step

    def writer() -> None:
        with open(fifo, "wb") as f:
            f.write(os.urandom(MiB))
            g.user_cancel()  # before end of file: the upload cannot have finished
            try:
                f.write(os.urandom(MiB))
            except BrokenPipeError:
                pass  # the upload stopped reading: cancelled

    t = threading.Thread(target=writer)
    t.start()
    with pytest.raises(GuestFSError, match=r"^operation cancelled by user$"):
        g.upload(str(fifo), "/up")
    t.join()
    assert g.is_file("/big")
    g.upload(str(agent.sysroot / "big"), "/up2")  # the flag is cleared for the next one
    assert g.filesize("/up2") == 16 * MiB


# -- mount_local ------------------------------------------------------------------------

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None or os.geteuid(),
    reason="FUSE needs /dev/fuse, fusermount3 (Debian fuse3) and root here",
)

#: What is compared between the mount and the directory it shows (not atimes: reading
#: through one view moves them in the other).
COMPARE = (
    "ls -lR --time-style=full-iso . && "
    "stat -c '%n %s %b %a %u %g %h %F %y %Z' dir/file.txt dir/exec.sh link abs fifo "
    "big.bin dir && sha256sum big.bin dir/file.txt && readlink link abs && "
    "getfattr -h -d -m - dir/file.txt"
)


def _shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # "cd" in the shell, not Popen(cwd=): CPython may vfork, and a child that changes
    # into the mount before exec would wait for the FUSE thread of this very process
    # while the vforking thread holds the GIL.
    return subprocess.run(
        f"cd {shlex.quote(str(cwd))} && {cmd}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def mounted(
    g: GuestFS[dict[str, str]], agent: RunningAgent, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, Path]]:
    """The agent's sysroot (holding _tree) mounted with mount_local, served by a thread."""
    _tree(agent.sysroot)
    try:
        os.setxattr(agent.sysroot / "dir" / "file.txt", "user.colour", b"blue")
    except OSError:
        pass
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    g.mount_local(str(mnt), readonly=getattr(request, "param", False))
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            g.mount_local_run()
        except BaseException as e:  # reported by the test
            errors.append(e)

    server = threading.Thread(target=serve)
    server.start()
    try:
        yield mnt, agent.sysroot
    finally:
        g.umount_local(retry=True)
        server.join(30)
    assert not server.is_alive() and errors == []


@needs_fuse
def test_mount_local_shows_the_tree_as_it_is(mounted: tuple[Path, Path]) -> None:
    mnt, sysroot = mounted
    ours, truth = _shell(COMPARE, mnt), _shell(COMPARE, sysroot)
    assert truth.returncode == 0, truth.stderr
    diff = "\n".join(
        difflib.unified_diff(truth.stdout.splitlines(), ours.stdout.splitlines(), lineterm="")
    )
    assert (diff, ours.stderr, ours.returncode) == ("", "", 0)


@needs_fuse
def test_mount_local_writes_reach_the_guest(mounted: tuple[Path, Path]) -> None:
    mnt, sysroot = mounted
    script = (
        "echo new > dir/n && mkdir -m 700 dir/d && mv dir/n dir/d/m && chmod 600 dir/d/m && "
        "chown 7:8 dir/d/m && ln -s m dir/d/s && ln dir/d/m dir/d/h && truncate -s 2 big.bin && "
        "touch -d @1234567890 dir/d/m && setfattr -n user.k -v v dir/d/m && "
        "printf abc | dd of=dir/file.txt bs=1 seek=1 conv=notrunc status=none && "
        "rm fifo && rmdir dir/sub && cat dir/d/m"
    )
    r = _shell(script, mnt)
    assert (r.stdout, r.stderr, r.returncode) == ("new\n", "", 0)
    m = (sysroot / "dir" / "d" / "m").lstat()
    assert (stat.S_IMODE(m.st_mode), m.st_uid, m.st_gid, m.st_mtime, m.st_nlink) == (
        0o600,
        7,
        8,
        1234567890,
        2,
    )
    assert stat.S_IMODE((sysroot / "dir" / "d").stat().st_mode) == 0o700
    assert os.readlink(sysroot / "dir" / "d" / "s") == "m"
    assert (sysroot / "big.bin").stat().st_size == 2
    assert (sysroot / "dir" / "file.txt").read_text() == "habco\n"
    assert not (sysroot / "fifo").exists() and not (sysroot / "dir" / "sub").exists()
    assert os.getxattr(sysroot / "dir" / "d" / "m", "user.k") == b"v"


@needs_fuse
@pytest.mark.parametrize("mounted", [True], indirect=True)
def test_mount_local_read_only_refuses_changes(mounted: tuple[Path, Path]) -> None:
    mnt, sysroot = mounted
    for cmd in ("touch new", "mkdir d", "rm link", "chmod 600 big.bin", "echo x >> big.bin"):
        r = _shell(cmd, mnt)
        assert r.returncode != 0 and "Read-only file system" in r.stderr, (cmd, r.stderr)
    assert _shell("cat dir/file.txt", mnt).stdout == "hello\n"
    assert sorted(os.listdir(sysroot)) == ["abs", "big.bin", "dir", "fifo", "link"]


@needs_fuse
def test_mount_local_twice_and_run_without_mount(
    g: GuestFS[dict[str, str]], tmp_path: Path
) -> None:
    with pytest.raises(GuestFSError, match="you must call guestfs_mount_local first"):
        g.mount_local_run()
    with pytest.raises(GuestFSError, match="no filesystem is mounted"):
        g.umount_local()
