"""Each foundation API through the host library against a real agent process, with
libguestfs's semantics: return shapes, errno names and error texts."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RunningAgent

from pyguestfs.agent.registry import FEATURE_GROUPS, group_test
from pyguestfs.agent.runner import ENV as AGENT_ENV
from pyguestfs.agent.server import Agent  # noqa: F401  (registers every family and group)
from pyguestfs.host import ClosedHandle, GuestFS, GuestFSError


@contextmanager
def _raises(errno_name: str, text: str) -> Iterator[None]:
    """The call must fail with this errno name ("" for none) and a message matching text."""
    with pytest.raises(GuestFSError, match=text) as info:
        yield
    assert info.value.errno_name == errno_name, (info.value.errno_name, str(info.value))


def test_ping_and_errors_are_runtime_errors(g: GuestFS) -> None:
    assert g.ping_daemon() is None
    with pytest.raises(RuntimeError) as info:
        g.rmdir("/missing")
    assert isinstance(info.value, GuestFSError)
    assert info.value.errno_name == "ENOENT"
    assert info.value.errno == 2
    assert str(info.value) == "rmdir: /missing: No such file or directory"


def test_exists_and_is_tests(g: GuestFS, agent: RunningAgent) -> None:
    root = agent.sysroot
    (root / "f").write_text("x")
    (root / "d").mkdir()
    os.symlink("f", root / "l")
    os.symlink("missing", root / "dangling")
    assert g.exists("/f") and g.exists("/d") and g.exists("/l")
    assert g.exists("/dangling")  # guestfsd lstats: a dangling symlink exists
    assert not g.exists("/nope")
    assert g.is_file("/f") and not g.is_file("/d") and not g.is_file("/l")
    assert g.is_file("/l", followsymlinks=True)
    assert g.is_file_opts("/l", followsymlinks=True)
    assert g.is_dir("/d") and not g.is_dir("/f") and not g.is_dir("/nope/x")
    assert g.is_symlink("/l") and g.is_symlink("/dangling") and not g.is_symlink("/f")


def test_mkdir_family(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir("/a")
    with _raises("EEXIST", "/a: File exists"):
        g.mkdir("/a")
    with pytest.raises(GuestFSError) as info:
        g.mkdir("/x/y")
    assert info.value.errno_name == "ENOENT"
    g.mkdir_p("/a/b/c/d")
    g.mkdir_p("/a/b/c/d")  # existing is fine
    assert (agent.sysroot / "a/b/c/d").is_dir()
    (agent.sysroot / "file").write_text("")
    with pytest.raises(GuestFSError) as info:
        g.mkdir_p("/file/sub")
    assert (info.value.errno_name, str(info.value)) == (
        "ENOTDIR",
        "mkdir_p: /file/sub: Not a directory",
    )
    with _raises("", "/file: a path element was not a directory"):
        g.mkdir_p("/file")
    (agent.sysroot / "a/b/c/d/e").write_text("")
    with pytest.raises(GuestFSError) as info:
        g.rmdir("/a/b/c/d")
    assert info.value.errno_name == "ENOTEMPTY"
    g.rm("/a/b/c/d/e")
    g.rmdir("/a/b/c/d")
    assert not (agent.sysroot / "a/b/c/d").exists()


def test_rm_and_rm_rf(g: GuestFS, agent: RunningAgent) -> None:
    (agent.sysroot / "d/e").mkdir(parents=True)
    (agent.sysroot / "d/e/f").write_text("x")
    with pytest.raises(GuestFSError) as info:
        g.rm("/d")
    assert info.value.errno_name == "EISDIR"
    g.rm_rf("/d")
    assert not (agent.sysroot / "d").exists()
    g.rm_rf("/never-existed")  # rm -rf of nothing succeeds
    with _raises("", "cannot remove root directory"):
        g.rm_rf("/")


def test_touch(g: GuestFS, agent: RunningAgent) -> None:
    g.touch("/t")
    assert (agent.sysroot / "t").is_file()
    os.utime(agent.sysroot / "t", (1000, 1000))
    g.touch("/t")
    assert (agent.sysroot / "t").stat().st_mtime > 1000
    g.mkdir("/dir")
    with _raises("", "/dir: touch can only be used on a regular files"):
        g.touch("/dir")
    g.ln_s("t", "/link")
    with _raises("", "/link: touch can only be used on a regular files"):
        g.touch("/link")  # a symlink is refused, not followed


def test_chmod_chown(g: GuestFS, agent: RunningAgent) -> None:
    g.touch("/f")
    g.chmod(0o640, "/f")
    assert stat.S_IMODE((agent.sysroot / "f").stat().st_mode) == 0o640
    with _raises("", "/f: mode is negative"):
        g.chmod(-1, "/f")
    with _raises("ENOENT", r"/nope: 0755: No such file or directory"):
        g.chmod(0o755, "/nope")
    g.chown(1234, 5678, "/f")
    st = (agent.sysroot / "f").stat()
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    with _raises("ENOENT", r"/nope: 1\.2: No such file or directory"):
        g.chown(1, 2, "/nope")


def test_links(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir("/d")
    g.touch("/d/target")
    g.ln_s("target", "/d/link")
    assert os.readlink(agent.sysroot / "d/link") == "target"
    assert g.readlink("/d/link") == "target"
    assert g.realpath("/d/link") == "/d/target"
    assert g.realpath("/d/../d/./link") == "/d/target"
    with pytest.raises(GuestFSError) as info:
        g.readlink("/d/target")
    assert info.value.errno_name == "EINVAL"
    # guestfsd passes on ln's own message, without an errno.
    with _raises(
        "", "ln -s: x: /d/link: ln: failed to create symbolic link '/sysroot/d/link': File exists"
    ):
        g.ln_s("x", "/d/link")
    with _raises("ENOENT", "realpath: /d/none: No such file or directory"):
        g.realpath("/d/none")


def test_cp_cp_a_mv(g: GuestFS, agent: RunningAgent) -> None:
    g.write("/src", b"data")
    g.chmod(0o600, "/src")
    g.cp("/src", "/copy")
    assert (agent.sysroot / "copy").read_bytes() == b"data"
    g.mkdir_p("/tree/sub")
    g.write("/tree/sub/f", b"1")
    g.chmod(0o700, "/tree/sub/f")
    g.cp_a("/tree", "/tree2")
    assert stat.S_IMODE((agent.sysroot / "tree2/sub/f").stat().st_mode) == 0o700
    g.mv("/tree2", "/tree3")
    assert g.is_dir("/tree3/sub") and not g.exists("/tree2")
    with pytest.raises(GuestFSError, match="No such file or directory"):
        g.cp("/missing", "/x")
    g.mkdir("/into")
    g.ln_s("into", "/into-link")
    g.cp("/src", "/into-link")  # a symlink to a directory means "into it"
    assert (agent.sysroot / "into/src").read_bytes() == b"data"


def test_stat_family(g: GuestFS, agent: RunningAgent) -> None:
    g.write("/f", b"12345")
    g.ln_s("f", "/l")
    host = (agent.sysroot / "f").stat()
    s = g.statns("/f")
    assert s["st_size"] == 5 and s["st_ino"] == host.st_ino
    assert s["st_mtime_sec"] * 10**9 + s["st_mtime_nsec"] == host.st_mtime_ns
    assert stat.S_ISREG(s["st_mode"])
    assert stat.S_ISLNK(g.lstatns("/l")["st_mode"])
    assert g.statns("/l")["st_ino"] == host.st_ino
    assert len(s) == 22
    old = g.stat("/f")
    assert old["size"] == 5 and old["mtime"] == int(host.st_mtime) and len(old) == 13
    assert stat.S_ISLNK(g.lstat("/l")["mode"])
    with pytest.raises(GuestFSError) as info:
        g.statns("/missing")
    assert info.value.errno_name == "ENOENT"
    assert g.filesize("/f") == 5
    assert g.filesize("/l") == 5


def test_readdir_ls_find_ll(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir_p("/d/sub")
    g.write("/d/file", b"")
    g.ln_s("file", "/d/link")
    os.mkfifo(agent.sysroot / "d/fifo")
    entries = {e["name"]: e["ftyp"] for e in g.readdir("/d")}
    assert entries == {".": "d", "..": "d", "sub": "d", "file": "r", "link": "l", "fifo": "f"}
    assert g.ls("/d") == ["fifo", "file", "link", "sub"]
    g.write("/d/sub/deep", b"")
    # 1.48's names: relative below "DIR/", with a leading "/" below "DIR" (its find0 cuts
    # strlen("/sysroot" + DIR) off each name find prints).
    assert g.find("/d/") == ["fifo", "file", "link", "sub", "sub/deep"]
    assert g.find("/d") == ["/fifo", "/file", "/link", "/sub", "/sub/deep"]
    assert g.find("/d/sub") == ["/deep"]
    assert g.find("/") == ["d", "d/fifo", "d/file", "d/link", "d/sub", "d/sub/deep"]
    with _raises("", "/d/file: not a directory"):
        g.find("/d/file")
    with pytest.raises(GuestFSError, match="opendir: /nope"):
        g.ls("/nope")
    with pytest.raises(GuestFSError, match="opendir: /nope"):
        g.readdir("/nope")
    listing = g.ll("/d")
    assert "sub" in listing and listing.startswith("total")


def test_checksum_matches_the_tools(g: GuestFS, agent: RunningAgent) -> None:
    data = os.urandom(100_000)
    g.write("/blob", data)
    for algo in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
        assert g.checksum(algo, "/blob") == hashlib.new(algo, data).hexdigest()
    cksum = subprocess.run(
        ["cksum", str(agent.sysroot / "blob")], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert g.checksum("crc", "/blob") == cksum
    assert cksum != str(zlib.crc32(data))  # POSIX cksum is not zlib's CRC
    with _raises("", "unknown checksum type"):
        g.checksum("sha3", "/blob")
    assert g.checksum("SHA256", "/blob") == hashlib.sha256(data).hexdigest()
    with pytest.raises(GuestFSError) as info:
        g.checksum("md5", "/missing")
    assert info.value.errno_name == "ENOENT"


def test_statvfs_and_du(g: GuestFS, agent: RunningAgent) -> None:
    host = os.statvfs(agent.sysroot)
    s = g.statvfs("/")
    assert s["bsize"] == host.f_bsize and s["blocks"] == host.f_blocks
    assert len(s) == 11
    g.write("/big", os.urandom(300 * 1024))
    assert g.du("/big") >= 300


def test_write_read_and_append(g: GuestFS, agent: RunningAgent) -> None:
    g.write("/w", "text\r\nline 2\n")
    assert g.cat("/w") == "text\r\nline 2\n"
    assert g.read_lines("/w") == ["text", "line 2"]
    assert g.read_file("/w") == b"text\r\nline 2\n"
    g.write_append("/w", b"more")
    assert g.read_file("/w").endswith(b"more")
    assert g.read_lines("/w")[-1] == "more"
    big = os.urandom(3 * 1024 * 1024)  # above 2 MiB: goes through upload / upload_offset
    g.write("/big", big)
    g.write_append("/big", big)
    assert (agent.sysroot / "big").read_bytes() == big + big
    with pytest.raises(GuestFSError) as info:
        g.write("/no/dir/f", b"x")
    assert info.value.errno_name == "ENOENT"


def test_upload_download_offsets(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    g.upload(str(src), "/f")
    g.upload_offset(str(src), "/f", 5)
    assert (agent.sysroot / "f").read_bytes() == b"01234" + b"0123456789"
    out = tmp_path / "out"
    g.download_offset("/f", str(out), 3, 4)
    assert out.read_bytes() == b"3401"
    g.download_offset("/f", str(out), 10, 100)  # past the end: what is there
    assert out.read_bytes() == b"56789"
    with _raises("", "offset in file is negative"):
        g.upload_offset(str(src), "/f", -1)
    with _raises("", "size is negative"):
        g.download_offset("/f", str(out), 0, -1)
    with pytest.raises(GuestFSError) as info:
        g.upload(str(tmp_path / "no-local"), "/x")
    assert info.value.errno_name == "ENOENT"
    assert g.ping_daemon() is None
    with _raises("", "download: /: is a directory"):
        g.download("/", str(out))
    with pytest.raises(GuestFSError) as info:
        g.download("/missing", str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()  # nothing written locally on a remote error


def test_tar_in_and_out(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    g.mkdir_p("/t/sub")
    g.write("/t/sub/a", b"A" * 1000)
    g.write("/t/b", b"B")
    g.write("/t/skip.log", b"L")
    for compress in (None, "gzip", "bzip2", "xz"):  # 1.48 has no zstd: test_archives.py
        out = tmp_path / f"o-{compress}.tar"
        g.tar_out("/t", str(out), compress=compress, excludes=["*.log"], numericowner=True)
        mode = {"gzip": "r:gz", "bzip2": "r:bz2", "xz": "r:xz"}.get(compress or "", "r")
        with tarfile.open(out, mode) as tf:
            names = sorted(n.lstrip("./") for n in tf.getnames())
        assert names == ["", "b", "sub", "sub/a"]
        g.mkdir(f"/in-{compress}")
        g.tar_in(str(out), f"/in-{compress}", compress=compress)
        assert g.read_file(f"/in-{compress}/sub/a") == b"A" * 1000
        assert not g.exists(f"/in-{compress}/skip.log")
    with _raises("", "unknown compression type: rar"):
        g.tar_out("/t", str(tmp_path / "x"), compress="rar")
    with _raises("", "/t/b: not a directory"):
        g.tar_out("/t/b", str(tmp_path / "x"))
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar file" * 100)
    with pytest.raises(GuestFSError, match="tar subcommand failed on directory: /t"):
        g.tar_in(str(bad), "/t")
    with pytest.raises(GuestFSError) as info:
        g.tar_in(str(bad), "/missing-dir")
    assert info.value.errno_name == "ENOENT"
    assert g.ping_daemon() is None


def test_tar_in_from_an_in_memory_archive(g: GuestFS, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    (tmp_path / "a.tar").write_bytes(buf.getvalue())
    g.tar_in(str(tmp_path / "a.tar"), "/")
    assert g.cat("/hello.txt") == "hello"


def test_features(g: GuestFS) -> None:
    groups = g.available_all_groups()
    assert "lvm2" in groups and "xfs" in groups
    assert g.feature_available([]) is True
    has_lvm = shutil.which("lvm", path=AGENT_ENV["PATH"]) is not None
    assert g.feature_available(["lvm2"]) is has_lvm
    # Each group is reported as the agent's own test for it says (its programs on the
    # agent's PATH, its libraries loadable); lib/available.c's messages carry no API name.
    for group in FEATURE_GROUPS:
        test = group_test(group)  # its declaring family imported first
        assert test is not None
        available = bool(test())
        assert g.feature_available([group]) is available, group
        if not available:
            with _raises("", f"^{group}: group not available$"):
                g.available([group])
    with _raises("", "^nonsense: unknown group$"):
        g.available(["nonsense"])
    with _raises("", "^nonsense: unknown group$"):
        g.feature_available(["nonsense"])


def test_a_missing_group_is_refused_before_the_arguments_are_checked(g: GuestFS) -> None:
    # guestfsd's generated stub answers "feature not available" for a procedure of an
    # absent optional group before it decodes a single argument: arguments that would be
    # refused (a relative path, an unknown device) get that same answer.
    from pyguestfs.agent.registry import IMPLEMENTATIONS, group_available, load_all_families
    from pyguestfs.protocol.procedures import BY_NAME
    from pyguestfs.protocol.types import ArgType

    load_all_families()
    bad = {ArgType.BOOL: False, ArgType.INT: 0, ArgType.INT64: 0, ArgType.BUFFER: b""}
    lists = (ArgType.STRINGLIST, ArgType.DEVICELIST, ArgType.FILENAMELIST)
    absent = {name for name in FEATURE_GROUPS if not group_available(name)}
    called = 0
    for proc in BY_NAME.values():
        if proc.group not in absent or proc.name not in IMPLEMENTATIONS:
            continue
        if proc.file_in or proc.file_out:
            continue
        args = {
            a.name: [] if a.type in lists else bad.get(a.type, "relative/or/unknown")
            for a in proc.args
        }
        with _raises("ENOTSUP", f"^{proc.name}: feature '{proc.group}' is not available in"):
            g._call(proc.name, args, {})
        called += 1
    if not called:
        pytest.skip(f"every optional group is available on this host: {sorted(absent)}")


def test_argument_checking_on_the_host(g: GuestFS) -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'path'"):
        g.mkdir()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        g.is_file("/", follow=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="mode"):
        g.chmod("0755", "/")  # type: ignore[arg-type]
    assert g.ping_daemon() is None


def test_lifecycle(agent: RunningAgent) -> None:
    h = GuestFS()
    with pytest.raises(GuestFSError, match="call launch before using this function"):
        h.ping_daemon()
    h.attach(agent.socket)
    assert h.is_ready()
    h.write("/x", b"1")
    h.shutdown()  # internal_autosync, then the connection is dropped
    assert h.is_config()
    h.close()
    with pytest.raises(ClosedHandle):
        h.ping_daemon()
    assert agent.stop() == 0
    log = agent.log.read_text()
    assert "internal_autosync (0x11a)" in log


def test_context_manager_and_internal_exit(agent: RunningAgent) -> None:
    with GuestFS() as h:
        h.attach(agent.socket)
        h.internal_exit()  # the daemon replies, then exits
    assert agent.stop() == 0


def test_verbose_log_has_one_line_per_request(g: GuestFS, agent: RunningAgent) -> None:
    g.exists("/")
    with pytest.raises(GuestFSError):
        g.rmdir("/x")
    g.close()
    agent.stop()
    lines = [ln for ln in agent.log.read_text().splitlines() if "request" in ln]
    assert lines[0].startswith("pyguestfs-agent: exists (0x24) request 48 bytes")
    assert lines[0].endswith("ok")
    assert "rmdir (0x1e)" in lines[1] and lines[1].endswith("error: ENOENT")
