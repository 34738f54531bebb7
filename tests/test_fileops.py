"""The file-operation APIs (head/tail, grep, wc, strings, hexdump, glob, xattrs, links,
special files, sizes and times, pread/pwrite, the internal batch calls) against a real
agent process serving a scratch sysroot, with libguestfs 1.48's results and errors.

tests/test_differential.py sends the same kind of calls to Debian's real guestfsd too.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RunningAgent, launch_vm, needs_qemu

from pyguestfs.agent.api.content import find_strings
from pyguestfs.agent.guest import split_lines
from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol.procedures import BY_NAME

TEN_K = "".join(f"{i}abcdefghijklmnopqrstuvwxyz\n" for i in range(10000))


@contextmanager
def _raises(errno_name: str, text: str) -> Iterator[None]:
    with pytest.raises(GuestFSError, match=text) as info:
        yield
    assert info.value.errno_name == errno_name, (info.value.errno_name, str(info.value))


def _internal(g: GuestFS, name: str, **args: object) -> object:
    """Call an internal procedure (the Python bindings have no method for it)."""
    return g._shape(BY_NAME[name], g._call(name, args, {}))  # type: ignore[attr-defined]


# -- pure helpers ----------------------------------------------------------------------------


def test_split_lines_is_guestfsds() -> None:
    assert split_lines("") == []
    assert split_lines("\n") == [""]
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\nb\n\n") == ["a", "b", ""]


def test_find_strings_encodings() -> None:
    data = b"abc\0defgh\x01ijkl\tmn\x80\xffopqr"
    assert find_strings(data, "s") == [b"defgh", b"ijkl\tmn", b"opqr"]
    assert find_strings(data, "S") == [b"defgh", b"ijkl\tmn\x80\xffopqr"]
    utf16be = "\0h\0e\0l\0l\0o\0\n\0w\0o\0r\0l\0d\0\n".encode("latin-1")
    assert find_strings(utf16be, "b") == [b"hello", b"world"]
    assert find_strings("hello".encode("utf-16-le"), "l") == [b"hello"]
    assert find_strings("hello".encode("utf-32-be"), "B") == [b"hello"]
    assert find_strings("hello".encode("utf-32-le"), "L") == [b"hello"]
    # A run broken by a non-graphic character resumes one byte later: realignment.
    assert find_strings(b"\0a\0b\0c\x41\0\0d\0e\0f\0g", "b") == [b"defg"]
    assert find_strings(b"abc", "s") == []


@pytest.mark.skipif(shutil.which("strings") is None, reason="GNU strings (binutils) missing")
def test_find_strings_matches_gnu_strings() -> None:
    rng = random.Random(4)
    for _ in range(60):
        parts = []
        for _ in range(rng.randint(1, 8)):
            word = "".join(rng.choice("ab\tc ~") for _ in range(rng.randint(1, 7)))
            codec = rng.choice(["latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
            parts.append(word.encode(codec))
            parts.append(bytes(rng.choice([0, 9, 0x41, 0x80, 0xFF, 1]) for _ in range(3)))
        data = b"".join(parts)
        for encoding in "sSblBL":
            out = subprocess.run(
                ["strings", "-a", "-e", encoding], input=data, capture_output=True, check=True
            ).stdout
            assert find_strings(data, encoding) == out.split(b"\n")[:-1], (encoding, data)


# -- head, tail, wc --------------------------------------------------------------------------


def test_head_tail(g: GuestFS, agent: RunningAgent) -> None:
    g.write("/10k", TEN_K)
    first = [f"{i}abcdefghijklmnopqrstuvwxyz" for i in range(10)]
    assert g.head("/10k") == first
    assert g.head_n(3, "/10k") == first[:3]
    assert g.head_n(-9997, "/10k") == first[:3]
    assert g.head_n(0, "/10k") == []
    last = [f"{i}abcdefghijklmnopqrstuvwxyz" for i in range(9990, 10000)]
    assert g.tail("/10k") == last
    assert g.tail_n(3, "/10k") == last[-3:]
    assert g.tail_n(-9998, "/10k") == last[-3:]
    assert g.tail_n(0, "/10k") == []
    g.write("/empty", "")
    assert g.head("/empty") == []
    g.ln_s("/10k", "/abslink")  # absolute symlinks resolve inside the sysroot
    assert g.tail_n(1, "/abslink") == last[-1:]
    with _raises("ENOENT", r"^head: /missing: No such file or directory$"):
        g.head("/missing")
    g.mkdir("/d")
    with _raises("", r"^head: head -n 10: head: error reading 'standard input': Is a directory$"):
        g.head("/d")


def test_wc(g: GuestFS) -> None:
    g.write("/10k", TEN_K)
    assert g.wc_l("/10k") == 10000
    assert g.wc_w("/10k") == 10000
    g.write("/spaces", " " * 102400)
    assert g.wc_c("/spaces") == 102400
    assert g.wc_w("/spaces") == 0
    with _raises("ENOENT", r"^wc_l: wc -l: /missing: No such file or directory$"):
        g.wc_l("/missing")


# -- grep ------------------------------------------------------------------------------------


def test_grep_family(g: GuestFS) -> None:
    text = "abc\nabc123\nABC\ndef\n"
    g.write("/g.txt", text)
    g.write("/g.txt.gz", gzip.compress(text.encode(), mtime=0))
    assert g.grep("abc", "/g.txt") == ["abc", "abc123"]
    assert g.grep("nomatch", "/g.txt") == []
    assert g.grep_opts("abc", "/g.txt", insensitive=True) == ["abc", "abc123", "ABC"]
    assert g.grep("a.c[0-9]+", "/g.txt", extended=True) == ["abc123"]
    assert g.grep("a.c", "/g.txt", fixed=True) == []
    assert g.grep("abc", "/g.txt.gz", compressed=True) == ["abc", "abc123"]
    assert g.egrep("c[0-9]+$", "/g.txt") == ["abc123"]
    assert g.fgrep("c1", "/g.txt") == ["abc123"]
    assert g.grepi("abc$", "/g.txt") == ["abc", "ABC"]
    assert g.egrepi("^(abc|def)$", "/g.txt") == ["abc", "ABC", "def"]
    assert g.fgrepi("C1", "/g.txt") == ["abc123"]
    assert g.zgrep("abc", "/g.txt.gz") == ["abc", "abc123"]
    assert g.zegrep("c[0-9]+", "/g.txt.gz") == ["abc123"]
    assert g.zfgrep("ab", "/g.txt.gz") == ["abc", "abc123"]
    assert g.zgrepi("abc", "/g.txt.gz") == ["abc", "abc123", "ABC"]
    assert g.zegrepi("^abc$", "/g.txt.gz") == ["abc", "ABC"]
    assert g.zfgrepi("ABC1", "/g.txt.gz") == ["abc123"]
    assert g.zgrep("abc", "/g.txt") == ["abc", "abc123"]  # zgrep reads plain text too
    with _raises("", r"^grep: can't use 'extended' and 'fixed' flags at the same time$"):
        g.grep("x", "/g.txt", extended=True, fixed=True)
    with _raises("", r"^grep: a\[: grep: Invalid regular expression$"):
        g.grep("a[", "/g.txt")
    with _raises("ENOENT", r"^grep: /missing: No such file or directory$"):
        g.grep("x", "/missing")


# -- strings, hexdump -----------------------------------------------------------------------


def test_strings(g: GuestFS) -> None:
    g.write("/bin", b"abcdefghi\0jklmnopqr\0xy\n\x01st\tuvw")
    assert g.strings("/bin") == ["abcdefghi", "jklmnopqr", "st\tuvw"]
    g.write("/u16", "\0h\0e\0l\0l\0o\0\n\0w\0o\0r\0l\0d\0\n".encode("latin-1"))
    assert g.strings_e("b", "/u16") == ["hello", "world"]
    assert g.strings_e("l", "/u16") == ["hello", "world"]  # read one byte later
    assert g.strings_e("B", "/u16") == []
    g.write("/empty", "")
    assert g.strings("/empty") == []
    with _raises("", r"^strings_e: x: invalid encoding$"):
        g.strings_e("x", "/bin")
    with _raises("", r"^strings_e: bb: invalid encoding$"):
        g.strings_e("bb", "/bin")
    with _raises("ENOENT", r"^strings: /missing: No such file or directory$"):
        g.strings("/missing")


@pytest.mark.skipif(shutil.which("hexdump") is None, reason="hexdump (bsdextrautils) missing")
def test_hexdump(g: GuestFS) -> None:
    g.write("/known-4", "abc\ndef\nghi")
    expected = (
        "00000000  61 62 63 0a 64 65 66 0a  67 68 69                 |abc.def.ghi|\n0000000b\n"
    )
    assert g.hexdump("/known-4") == expected
    g.write("/zeros", bytes(64))
    assert g.hexdump("/zeros") == (
        "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
        "*\n00000040\n"
    )


@pytest.mark.skipif(shutil.which("file") is None, reason="file(1) is not installed")
def test_file(g: GuestFS) -> None:
    g.write("/text", "hello\n")
    assert g.file("/text") == "ASCII text"
    g.write("/empty", "")
    assert g.file("/empty") == "empty"
    g.write("/text.gz", gzip.compress(b"hello\n", mtime=0))
    assert g.file("/text.gz").startswith("ASCII text (gzip compressed data")
    g.mkdir("/d")
    assert g.file("/d") == "directory"
    g.ln_s("/text", "/abslink")
    assert g.file("/abslink") == "symbolic link"
    g.mkfifo(0o644, "/fifo")
    assert g.file("/fifo") == "FIFO"
    with _raises("ENOENT", r"^file: lstat: /missing: No such file or directory$"):
        g.file("/missing")


# -- pread, pwrite --------------------------------------------------------------------------


def test_pread_pwrite(g: GuestFS) -> None:
    g.write("/f", "new file contents")
    assert g.pread("/f", 4, 4) == b"file"
    assert g.pread("/f", 100, 9) == b"contents"
    assert g.pread("/f", 10, 1000) == b""
    assert g.pwrite("/f", b"data", 4) == 4
    assert g.cat("/f") == "new data contents"
    assert g.pwrite("/f", b"is extended", 9) == 11
    assert g.cat("/f") == "new data is extended"
    assert g.pwrite("/f", b"", 4) == 0
    with _raises("", r"^pread: count is negative$"):
        g.pread("/f", -1, 0)
    with _raises("", r"^pread: offset is negative$"):
        g.pread("/f", 1, -1)
    with _raises("", r"^pread: /f: count is too large for the protocol, use smaller reads$"):
        g.pread("/f", 4 * 1024 * 1024, 0)
    with _raises("ENOENT", r"^pread: open: /missing: No such file or directory$"):
        g.pread("/missing", 1, 0)
    with _raises("", r"^pwrite: offset is negative$"):
        g.pwrite("/f", b"x", -1)
    with _raises("ENOENT", r"^pwrite: open: /missing: No such file or directory$"):
        g.pwrite("/missing", b"x", 0)
    g.mkdir("/d")
    with _raises("EISDIR", r"^pread: pread: /d: Is a directory$"):
        g.pread("/d", 1, 0)
    # No block devices are served by a standalone agent.
    with _raises("ENOENT", r"/dev/sda"):
        g.pread_device("/dev/sda", 1, 0)


# -- glob ----------------------------------------------------------------------------------


def test_glob_expand(g: GuestFS) -> None:
    g.mkdir_p("/glob/b/c")
    g.touch("/glob/b/c/d")
    g.touch("/glob/b/c/e")
    g.touch("/glob/b/c/.hidden")
    assert g.glob_expand("/glob/b/c/*") == ["/glob/b/c/d", "/glob/b/c/e"]
    assert g.glob_expand("/glob/*/c/*") == ["/glob/b/c/d", "/glob/b/c/e"]
    assert g.glob_expand("/glob/*/*") == ["/glob/b/c/"]
    assert g.glob_expand_opts("/glob/*/*", directoryslash=False) == ["/glob/b/c"]
    assert g.glob_expand("/glob/b/c/{e,d}") == ["/glob/b/c/e", "/glob/b/c/d"]
    assert g.glob_expand("/glob/b/c/[!d]") == ["/glob/b/c/e"]
    assert g.glob_expand("/glob/b/c/.h*") == ["/glob/b/c/.hidden"]
    assert g.glob_expand("/glob/b/c/nomatch*") == []
    assert g.glob_expand("/glob/b/c/d") == ["/glob/b/c/d"]
    assert g.glob_expand("/glob/b/c/missing") == []


def test_glob_stays_in_the_sysroot(g: GuestFS, agent: RunningAgent) -> None:
    # An absolute symlink to /etc names the guest's /etc, which is not there.
    g.ln_s("/etc", "/etc-link")
    assert g.glob_expand("/etc-link/*") == []
    g.mkdir("/etc")
    g.touch("/etc/guest-file")
    assert g.glob_expand("/etc-link/*") == ["/etc-link/guest-file"]


# -- temporary names, umask -------------------------------------------------------------


def test_mkdtemp_mktemp(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir("/tmp")
    made = g.mkdtemp("/tmp/tmpXXXXXX")
    assert made.startswith("/tmp/tmp") and len(made) == len("/tmp/tmpXXXXXX")
    assert stat.S_IMODE(os.stat(agent.sysroot / made[1:]).st_mode) == 0o700
    assert g.is_dir(made)
    with _raises("EINVAL", r"^mkdtemp: /tmp/tmpXX: Invalid argument$"):
        g.mkdtemp("/tmp/tmpXX")
    with _raises("ENOENT", r"^mkdtemp: /nodir/XXXXXX: No such file or directory$"):
        g.mkdtemp("/nodir/XXXXXX")
    name = g.mktemp("/tmp/fXXXXXX")
    assert g.is_file(name) and g.filesize(name) == 0
    with_suffix = g.mktemp("/tmp/fXXXXXX", suffix=".txt")
    assert with_suffix.endswith(".txt") and g.is_file(with_suffix)
    with _raises("", r"^mktemp: template /tmp/f must end in X$"):
        g.mktemp("/tmp/f", suffix=".txt")


def test_umask(g: GuestFS, agent: RunningAgent) -> None:
    assert g.get_umask() == 0o022
    assert g.umask(0o077) == 0o022
    assert g.get_umask() == 0o077
    g.touch("/private")
    assert stat.S_IMODE(os.stat(agent.sysroot / "private").st_mode) == 0o600
    assert g.umask(0o022) == 0o077
    with _raises("", r"^umask: 01000: mask negative or out of range$"):
        g.umask(0o1000)


# -- special files ----------------------------------------------------------------------------


def test_mknod_family(g: GuestFS, agent: RunningAgent) -> None:
    assert g.feature_available(["mknod"])
    g.mknod(0o10777, 0, 0, "/fifo")
    st = g.lstatns("/fifo")
    assert stat.S_ISFIFO(st["st_mode"]) and st["st_mode"] & 0o777 == 0o755
    g.mkfifo(0o644, "/fifo2")
    assert stat.S_ISFIFO(g.lstatns("/fifo2")["st_mode"])
    with _raises("", r"^mkfifo: 20777: mode must specify only file permission bits$"):
        g.mkfifo(0o20777, "/fifo3")
    with _raises("", r"^mknod: /x: mode is negative$"):
        g.mknod(-1, 0, 0, "/x")
    with _raises("EEXIST", r"^mkfifo: /fifo: File exists$"):
        g.mkfifo(0o644, "/fifo")
    if os.geteuid() != 0:
        pytest.skip("device nodes need CAP_MKNOD (the tests do not run as root)")
    g.mknod_b(0o777, 99, 66, "/blk")
    st = g.lstatns("/blk")
    assert stat.S_ISBLK(st["st_mode"]) and os.major(st["st_rdev"]) == 99
    assert os.minor(st["st_rdev"]) == 66
    g.mknod_c(0o600, 1, 3, "/chr")
    assert stat.S_ISCHR(g.lstatns("/chr")["st_mode"])


# -- links ------------------------------------------------------------------------------------


def test_ln_ln_f_ln_sf(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir("/ln")
    g.touch("/ln/a")
    g.ln("/ln/a", "/ln/b")
    assert g.statns("/ln/b")["st_nlink"] == 2
    with _raises("EEXIST", r"^ln: link: /ln/a: /ln/b: File exists$"):
        g.ln("/ln/a", "/ln/b")
    g.touch("/ln/c")
    g.ln_f("/ln/a", "/ln/c")
    assert g.statns("/ln/a")["st_nlink"] == 3
    with _raises("ENOENT", r"^ln: link: /ln/missing: /ln/x: No such file or directory$"):
        g.ln("/ln/missing", "/ln/x")
    g.mkdir_p("/ln_sf/b")
    g.touch("/ln_sf/b/c")
    g.ln_sf("../d", "/ln_sf/b/c")
    assert g.readlink("/ln_sf/b/c") == "../d"
    # A link name that is a symlink to a directory: the link is made inside it.
    g.ln_s("/ln_sf/b", "/ln_sf/to-b")
    g.ln_sf("/target", "/ln_sf/to-b")
    assert g.readlink("/ln_sf/b/target") == "/target"
    with _raises("", r"^ln_sf: ln -sf: x: /nodir/y: ln: failed to create symbolic link "):
        g.ln_sf("x", "/nodir/y")


def test_ln_sf_does_not_follow_an_escaping_link(
    g: GuestFS, agent: RunningAgent, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), agent.sysroot / "esc")
    g.ln_sf("x", "/esc")
    assert list(outside.iterdir()) == []
    assert g.readlink("/esc") == "x"


# -- sizes, times, owners -------------------------------------------------------------------


def test_truncate_fallocate(g: GuestFS) -> None:
    g.write("/t", "some stuff so size is not zero")
    g.truncate("/t")
    assert g.filesize("/t") == 0
    g.truncate_size("/t", 1000)
    assert g.filesize("/t") == 1000
    assert g.pread("/t", 10, 0) == bytes(10)
    with _raises("ENOENT", r"^truncate: open: /missing: No such file or directory$"):
        g.truncate("/missing")
    with _raises("EINVAL", r"^truncate_size: ftruncate: /t: Invalid argument$"):
        g.truncate_size("/t", -1)
    g.fallocate64("/fa", 1000000)
    assert g.filesize("/fa") == 1000000
    g.fallocate("/fa", 10)  # O_TRUNC first: the file is replaced
    assert g.filesize("/fa") == 10
    with _raises("", r"^fallocate: length < 0$"):
        g.fallocate("/fa", -1)
    with _raises("EINVAL", r"^fallocate64: /fa: Invalid argument$"):
        g.fallocate64("/fa", -1)


def test_utimens_lchown(g: GuestFS, agent: RunningAgent) -> None:
    g.touch("/u")
    g.utimens("/u", 12345, 67890, 9876, 5432)
    st = g.statns("/u")
    assert (st["st_atime_sec"], st["st_atime_nsec"]) == (12345, 67890)
    assert (st["st_mtime_sec"], st["st_mtime_nsec"]) == (9876, 5432)
    g.utimens("/u", 1, -2, 2, 0)  # -2: leave atime alone
    st = g.statns("/u")
    assert (st["st_atime_sec"], st["st_mtime_sec"]) == (12345, 2)
    g.utimens("/u", 0, -1, 0, -2)  # -1: now
    assert g.statns("/u")["st_atime_sec"] > 1_600_000_000
    g.ln_s("/u", "/ul")
    g.utimens("/ul", 5, 0, 6, 0)  # the symlink itself, not its target
    assert g.lstatns("/ul")["st_mtime_sec"] == 6
    assert g.statns("/u")["st_mtime_sec"] == 2
    with _raises("EINVAL", r"^utimens: utimensat: /u: Invalid argument$"):
        g.utimens("/u", 0, 1_000_000_000, 0, 0)
    with _raises("ENOENT", r"^utimens: utimensat: /missing: No such file or directory$"):
        g.utimens("/missing", 0, 0, 0, 0)
    g.lchown(1000, 1001, "/ul")
    assert (g.lstatns("/ul")["st_uid"], g.lstatns("/ul")["st_gid"]) == (1000, 1001)
    assert g.statns("/u")["st_uid"] == os.lstat(agent.sysroot / "u").st_uid
    with _raises("ENOENT", r"^lchown: /missing: 1.2: No such file or directory$"):
        g.lchown(1, 2, "/missing")


# -- extended attributes ---------------------------------------------------------------------


def _xattrs_supported(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def test_xattrs(g: GuestFS, agent: RunningAgent) -> None:
    if not _xattrs_supported(agent.sysroot):
        pytest.skip("the filesystem of the test's temporary directory has no user xattrs")
    assert g.feature_available(["linuxxattrs"])
    g.touch("/x")
    g.ln_s("/x", "/xl")
    assert g.getxattrs("/x") == []
    g.setxattr("user.b", "two", 3, "/x")
    g.setxattr("user.a", "one", 4, "/xl")  # through the symlink, NUL included
    assert g.getxattrs("/x") == [
        {"attrname": "user.a", "attrval": b"one\0"},
        {"attrname": "user.b", "attrval": b"two"},
    ]
    assert g.getxattrs("/xl") == g.getxattrs("/x")
    assert g.lgetxattrs("/xl") == []
    assert g.getxattr("/x", "user.b") == b"two"
    assert g.getxattr("/xl", "user.b") == b"two"
    g.setxattr("user.short", "abcdef", 2, "/x")
    assert g.getxattr("/x", "user.short") == b"ab"
    with _raises("ENODATA", r"^lgetxattr: getxattr: No data available$"):
        g.lgetxattr("/xl", "user.b")
    with _raises("ENODATA", r"^getxattr: getxattr: No data available$"):
        g.getxattr("/x", "user.none")
    g.removexattr("user.short", "/xl")
    with _raises("ENODATA", r"^removexattr: removexattr: No data available$"):
        g.removexattr("user.short", "/x")
    with _raises("ENOENT", r"^getxattrs: listxattr: /missing: No such file or directory$"):
        g.getxattrs("/missing")
    with _raises("", r"^setxattr: extended attribute is too large$"):
        g.setxattr("user.big", "x", 65537, "/x")
    with _raises("ENOTSUP", r"^setxattr: setxattr: Operation not supported$"):
        g.setxattr("bogus.ns", "x", 1, "/x")
    g.lsetxattr("trusted.t", "v", 1, "/xl")  # root may set trusted.* on a symlink
    assert g.lgetxattr("/xl", "trusted.t") == b"v"
    g.lremovexattr("trusted.t", "/xl")
    assert g.lgetxattrs("/xl") == []


def test_internal_lxattrlist(g: GuestFS, agent: RunningAgent) -> None:
    if not _xattrs_supported(agent.sysroot):
        pytest.skip("the filesystem of the test's temporary directory has no user xattrs")
    g.mkdir("/d")
    g.touch("/d/a")
    g.touch("/d/b")
    g.setxattr("user.z", "1", 1, "/d/a")
    g.setxattr("user.y", "22", 2, "/d/a")
    got = _internal(g, "internal_lxattrlist", path="/d", names=["a", "b", "missing"])
    assert got == [
        {"attrname": "", "attrval": b"2\0"},
        {"attrname": "user.y", "attrval": b"22"},
        {"attrname": "user.z", "attrval": b"1"},
        {"attrname": "", "attrval": b"0\0"},
        {"attrname": "", "attrval": b""},
    ]
    with _raises("", r"^internal_lxattrlist: internal_lxattrlist_stub: 'a/b' is not a file"):
        _internal(g, "internal_lxattrlist", path="/d", names=["a/b"])


# -- the batch calls behind lstatnslist, readlinklist ----------------------------------------


def test_internal_lstatnslist_readlinklist(g: GuestFS, agent: RunningAgent) -> None:
    g.mkdir("/d")
    g.write("/d/f", "12345")
    g.ln_s("f", "/d/l")
    got = _internal(g, "internal_lstatnslist", path="/d", names=["f", "l", "missing", ""])
    assert isinstance(got, list)
    assert got[0]["st_size"] == 5 and stat.S_ISREG(got[0]["st_mode"])
    assert stat.S_ISLNK(got[1]["st_mode"])
    assert got[2]["st_ino"] == -1 and got[2]["st_mode"] == 0
    assert got[3]["st_ino"] == -1
    root = _internal(g, "internal_lstatnslist", path="/", names=[".."])
    assert isinstance(root, list)
    assert root[0]["st_ino"] == os.stat(agent.sysroot).st_ino  # ".." of / is /
    with _raises("ENOTDIR", r"^internal_lstatnslist: /d/f: Not a directory$"):
        _internal(g, "internal_lstatnslist", path="/d/f", names=["x"])
    links = _internal(g, "internal_readlinklist", path="/d", names=["l", "f", "missing"])
    assert links == ["f", "", ""]
    with _raises("ENOENT", r"^internal_readlinklist: open: /nodir: No such file or directory$"):
        _internal(g, "internal_readlinklist", path="/nodir", names=["x"])


# -- in the appliance: the tools behind these APIs are there --------------------------------


@pytest.fixture(scope="module")
def vm(appliance: Path, cachedir: str) -> Iterator[GuestFS]:
    handle = launch_vm(cachedir, scratch=(64 << 20,))
    try:
        yield handle
    finally:
        handle.close()


@needs_qemu
def test_tools_in_the_appliance(vm: GuestFS) -> None:
    """grep, zgrep (gzip + grep + sed), hexdump, head, wc and mknod work in the guest."""
    vm.mkfs("ext4", "/dev/sda")
    vm.mount("/dev/sda", "/")
    vm.write("/g.txt", "abc\nabc123\nABC\n")
    vm.write("/g.txt.gz", gzip.compress(b"abc\nabc123\nABC\n", mtime=0))
    assert vm.grep("abc", "/g.txt") == ["abc", "abc123"]
    assert vm.zgrepi("abc$", "/g.txt.gz") == ["abc", "ABC"]
    assert vm.head_n(1, "/g.txt") == ["abc"]
    assert vm.tail_n(1, "/g.txt") == ["ABC"]
    assert vm.wc_l("/g.txt") == 3
    assert vm.strings("/g.txt") == ["abc123"]
    assert vm.hexdump("/g.txt").startswith("00000000  61 62 63 0a")
    assert vm.glob_expand("/g*") == ["/g.txt", "/g.txt.gz"]
    vm.setxattr("user.k", "v", 1, "/g.txt")
    assert vm.getxattr("/g.txt", "user.k") == b"v"
    vm.mknod_c(0o600, 1, 3, "/null")
    assert stat.S_ISCHR(vm.lstatns("/null")["st_mode"])
    assert vm.pread_device("/dev/sda", 2, 1080) == b"\x53\xef"  # the ext4 magic
    vm.umount_all()
