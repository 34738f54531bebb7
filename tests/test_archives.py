"""Archives and encodings without a VM: the agent serves a scratch sysroot on this host.

tar_in/tar_out with every option, tgz/txz, cpio_out, base64 in and out, compress_out;
the archives are checked with Python's own readers and the host's cpio, not with the
agent's tools. Messages are guestfsd 1.48's (daemon/tar.c, cpio.c, base64.c, compress.c).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RunningAgent

from pyguestfs.host import GuestFS, GuestFSError

#: What tar_in/tar_out accept in 1.48, with the program each one needs.
COMPRESSORS = {"compress": "compress", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "lzop": "lzop"}


@contextmanager
def _raises(errno_name: str, text: str) -> Iterator[None]:
    """The call must fail with this errno name ("" for none) and a message matching text."""
    with pytest.raises(GuestFSError, match=text) as info:
        yield
    assert info.value.errno_name == errno_name, (info.value.errno_name, str(info.value))


def _tree(g: GuestFS) -> None:
    """A small tree at /t: a subdirectory, text, binary, a symlink, a log to exclude."""
    g.mkdir_p("/t/sub/deep")
    g.write("/t/sub/a.txt", b"A" * 1000)
    g.write("/t/bin", bytes(range(256)) * 64)
    g.write("/t/skip.log", b"log")
    g.write("/t/sub/deep/other.log", b"log")
    g.ln_s("bin", "/t/link")


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        return sorted(n.removeprefix("./") for n in tf.getnames())


def _unpack_any(data: bytes, compress: str | None) -> bytes:
    """The plain tar inside ``data``, undone by Python (or the host's program)."""
    if compress in (None, "gzip", "bzip2", "xz"):
        return {
            None: lambda d: d,
            "gzip": gzip.decompress,
            "bzip2": bz2.decompress,
            "xz": lzma.decompress,
        }[compress](data)
    assert compress is not None
    done = subprocess.run([compress, "-dc"], input=data, capture_output=True, check=True)
    return done.stdout


# -- tar_in / tar_out ------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [None, *COMPRESSORS])
def test_tar_round_trip_in_each_compression(
    g: GuestFS, agent: RunningAgent, tmp_path: Path, compress: str | None
) -> None:
    program = COMPRESSORS.get(compress or "")
    if program and shutil.which(program) is None:
        # Accepted by name, but tar cannot run the program: the transfer is cancelled.
        _tree(g)
        with pytest.raises(GuestFSError, match="cancelled"):
            g.tar_out("/t", str(tmp_path / "x"), compress=compress)
        return
    _tree(g)
    out = tmp_path / "t.tar"
    g.tar_out("/t", str(out), compress=compress)
    data = out.read_bytes()
    plain = _unpack_any(data, compress)
    if compress is not None:
        assert plain != data  # really compressed
    assert _names(plain) == [".", "bin", "link", "skip.log", "sub", "sub/a.txt", "sub/deep",
                             "sub/deep/other.log"]  # fmt: skip
    g.mkdir("/back")
    g.tar_in(str(out), "/back", compress=compress)
    assert g.read_file("/back/bin") == bytes(range(256)) * 64
    assert g.read_file("/back/sub/a.txt") == b"A" * 1000
    assert g.readlink("/back/link") == "bin"


def test_zstd_and_unknown_compression_are_refused(g: GuestFS, tmp_path: Path) -> None:
    g.mkdir("/t")
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"")
    for bad in ("zstd", "rar", ""):
        with _raises("", f"^tar_out: unknown compression type: {bad}$"):
            g.tar_out("/t", str(tmp_path / "x"), compress=bad)
        with _raises("", f"^tar_in: unknown compression type: {bad}$"):
            g.tar_in(str(archive), "/t", compress=bad)
    assert g.ping_daemon() is None  # the FileIn chunks were drained


def test_tar_out_excludes(g: GuestFS, tmp_path: Path) -> None:
    _tree(g)
    out = tmp_path / "t.tar"
    g.tar_out("/t", str(out), excludes=["*.log", "./sub/deep"])
    assert _names(out.read_bytes()) == [".", "bin", "link", "sub", "sub/a.txt"]
    g.tar_out("/t", str(out), excludes=[])  # an empty list: nothing excluded
    assert "skip.log" in _names(out.read_bytes())
    with _raises("", r"^tar_out: tar-out: excludes file patterns cannot contain \\n character$"):
        g.tar_out("/t", str(out), excludes=["a\nb"])


def test_tar_out_numericowner(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    g.mkdir("/t")
    g.write("/t/f", b"x")
    g.chown(0, 0, "/t/f")
    out = tmp_path / "t.tar"
    g.tar_out("/t", str(out))
    with tarfile.open(out) as tf:
        assert (tf.getmember("./f").uname, tf.getmember("./f").gname) == ("root", "root")
    g.tar_out("/t", str(out), numericowner=True)
    with tarfile.open(out) as tf:
        m = tf.getmember("./f")
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "")


def _supports_user_xattrs(path: Path) -> bool:
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def test_tar_xattrs_both_ways(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    if not _supports_user_xattrs(agent.sysroot):
        pytest.skip(f"the filesystem of {agent.sysroot} does not store user.* xattrs")
    g.mkdir("/t")
    g.write("/t/f", b"x")
    os.setxattr(agent.sysroot / "t" / "f", "user.colour", b"blue")
    out = tmp_path / "t.tar"
    g.tar_out("/t", str(out))
    with tarfile.open(out) as tf:
        assert not any("xattr" in k for k in tf.getmember("./f").pax_headers)
    g.tar_out("/t", str(out), xattrs=True)
    with tarfile.open(out) as tf:
        assert tf.getmember("./f").pax_headers.get("SCHILY.xattr.user.colour") == "blue"
    g.mkdir("/plain")
    g.tar_in(str(out), "/plain")
    assert "user.colour" not in os.listxattr(agent.sysroot / "plain" / "f")
    g.mkdir("/withx")
    g.tar_in(str(out), "/withx", xattrs=True)
    assert os.getxattr(agent.sysroot / "withx" / "f", "user.colour") == b"blue"


def test_tar_selinux_and_acls_flags_are_passed(g: GuestFS, tmp_path: Path) -> None:
    # The host's tar knows --selinux and --acls: the archive is made and unpacked.
    _tree(g)
    out = tmp_path / "t.tar"
    g.tar_out("/t", str(out), selinux=True, acls=True, xattrs=True)
    assert "sub/a.txt" in _names(out.read_bytes())
    g.mkdir("/back")
    g.tar_in(str(out), "/back", selinux=True, acls=True, xattrs=True)
    assert g.read_file("/back/sub/a.txt") == b"A" * 1000


def _tar_bytes(owner: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("owned")
        info.uid = info.gid = owner
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    return buf.getvalue()


def test_tar_in_restores_owners(g: GuestFS, agent: RunningAgent, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("restoring another owner needs root, and the agent runs as this user")
    (tmp_path / "o.tar").write_bytes(_tar_bytes(4321))
    g.mkdir("/o")
    g.tar_in(str(tmp_path / "o.tar"), "/o")
    st = g.lstatns("/o/owned")
    assert (st["st_uid"], st["st_gid"]) == (4321, 4321)
    # guestfsd's probe file (XXXXXXXX.XXX) is gone again.
    assert g.ls("/o") == ["owned"]


def test_tar_in_errors(g: GuestFS, tmp_path: Path) -> None:
    archive = tmp_path / "o.tar"
    archive.write_bytes(_tar_bytes(0))
    with _raises("ENOENT", "^tar_in: /missing: No such file or directory$"):
        g.tar_in(str(archive), "/missing")
    g.write("/file", b"")
    with _raises("ENOTDIR", "^tar_in: /file: Not a directory$"):
        g.tar_in(str(archive), "/file")
    archive.write_bytes(b"not a tar archive " * 100)
    with _raises("", "^tar_in: tar subcommand failed on directory: /: "):
        g.tar_in(str(archive), "/")
    assert g.ping_daemon() is None


def test_tar_out_errors(g: GuestFS, tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    with _raises("ENOENT", "^tar_out: stat: /missing: No such file or directory$"):
        g.tar_out("/missing", out)
    g.write("/file", b"")
    with _raises("", "^tar_out: /file: not a directory$"):
        g.tar_out("/file", out)
    # A plain string glued onto "/sysroot" in guestfsd: a relative name is never found.
    g.mkdir("/rel")
    with _raises("ENOENT", "^tar_out: stat: rel: No such file or directory$"):
        g.tar_out("rel", out)


# -- tgz and txz -----------------------------------------------------------------------------


def test_tgz_round_trip(g: GuestFS, tmp_path: Path) -> None:
    _tree(g)
    out = tmp_path / "t.tgz"
    g.tgz_out("/t", str(out))
    data = out.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert "sub/a.txt" in _names(gzip.decompress(data))
    g.mkdir("/back")
    g.tgz_in(str(out), "/back")
    assert g.read_file("/back/sub/a.txt") == b"A" * 1000
    with _raises("", "^tgz_out: tgz_out_stub: path must start with a / character$"):
        g.tgz_out("t", str(out))


@pytest.mark.skipif(shutil.which("xz") is None, reason="xz is not installed on this host")
def test_txz_round_trip(g: GuestFS, tmp_path: Path) -> None:
    assert g.feature_available(["xz"]) is True
    _tree(g)
    out = tmp_path / "t.txz"
    g.txz_out("/t", str(out))
    assert "sub/a.txt" in _names(lzma.decompress(out.read_bytes()))
    g.mkdir("/back")
    g.txz_in(str(out), "/back")
    assert g.read_file("/back/bin") == bytes(range(256)) * 64
    # A gzip tarball is not an xz one: tar says so, the call fails.
    g.tgz_out("/t", str(tmp_path / "t.tgz"))
    with _raises("", "^txz_in: tar subcommand failed on directory: /back: "):
        g.txz_in(str(tmp_path / "t.tgz"), "/back")


# -- cpio_out --------------------------------------------------------------------------------


def _cpio_list(data: bytes) -> list[str]:
    done = subprocess.run(["cpio", "-it", "--quiet"], input=data, capture_output=True, check=True)
    return sorted(done.stdout.decode().splitlines())


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed on this host")
def test_cpio_out_formats(g: GuestFS, tmp_path: Path) -> None:
    _tree(g)
    out = tmp_path / "t.cpio"
    # find prints "./bin"; GNU cpio stores the name without its "./".
    expected = [".", "bin", "link", "skip.log", "sub", "sub/a.txt", "sub/deep",
                "sub/deep/other.log"]  # fmt: skip
    g.cpio_out("/t", str(out))
    data = out.read_bytes()
    assert data[:6] == b"070701"  # newc
    assert _cpio_list(data) == expected
    g.cpio_out("/t", str(out), format="crc")
    data = out.read_bytes()
    assert data[:6] == b"070702"
    assert _cpio_list(data) == expected
    extract = tmp_path / "x"
    extract.mkdir()
    subprocess.run(["cpio", "-idm", "--quiet"], input=data, cwd=extract, check=True)
    assert (extract / "sub" / "a.txt").read_bytes() == b"A" * 1000
    assert os.readlink(extract / "link") == "bin"


def test_cpio_out_errors(g: GuestFS, tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    g.mkdir("/t")
    with _raises("", "^cpio_out: odc: format must be 'newc' or 'crc'$"):
        g.cpio_out("/t", out, format="odc")
    with _raises("ENOENT", "^cpio_out: stat: /missing: No such file or directory$"):
        g.cpio_out("/missing", out, format="odc")  # the directory is checked first
    g.write("/f", b"")
    with _raises("", "^cpio_out: /f: not a directory$"):
        g.cpio_out("/f", out)


# -- base64 -----------------------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 40 + b"\x00\xff tail without newline"


def test_base64_round_trip_is_byte_exact(g: GuestFS, tmp_path: Path) -> None:
    encoded = tmp_path / "in.b64"
    encoded.write_bytes(base64.encodebytes(PAYLOAD))
    g.base64_in(str(encoded), "/data")
    assert g.read_file("/data") == PAYLOAD
    out = tmp_path / "out.b64"
    g.base64_out("/data", str(out))
    # GNU base64's 76-column lines are Python's encodebytes'.
    assert out.read_bytes() == base64.encodebytes(PAYLOAD)
    # -i: garbage between the base64 characters is ignored, as are missing line breaks.
    encoded.write_bytes(
        b"\n".join(base64.b64encode(PAYLOAD)[i : i + 10] for i in range(0, 9000, 10))
    )
    g.base64_in(str(encoded), "/data")
    assert (
        g.read_file("/data") == PAYLOAD[: len(base64.b64decode(base64.b64encode(PAYLOAD)[:9000]))]
    )
    encoded.write_bytes(b"")
    g.base64_in(str(encoded), "/data")
    assert g.read_file("/data") == b""


def test_base64_errors(g: GuestFS, tmp_path: Path) -> None:
    bad = tmp_path / "bad.b64"
    bad.write_bytes(b"!!!! not base64 ####\n" * 10)
    with _raises("", "^base64_in: base64 subcommand failed on file: /bad$"):
        g.base64_in(str(bad), "/bad")
    with _raises("", "^base64_in: base64 subcommand failed on file: /nodir/x$"):
        g.base64_in(str(bad), "/nodir/x")
    assert g.ping_daemon() is None
    out = str(tmp_path / "out")
    g.mkdir("/d")
    with _raises("", "^base64_out: /d: is a directory$"):
        g.base64_out("/d", out)
    with _raises("ENOENT", "^base64_out: stat: /missing: No such file or directory$"):
        g.base64_out("/missing", out)


# -- compress_out ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "level", "decompress"),
    [
        ("gzip", None, gzip.decompress),
        ("gzip", 1, gzip.decompress),
        ("gzip", 9, gzip.decompress),
        ("bzip2", None, bz2.decompress),
        ("bzip2", 5, bz2.decompress),
        ("xz", None, lzma.decompress),
        ("xz", 0, lzma.decompress),
    ],
)
def test_compress_out(
    g: GuestFS, tmp_path: Path, ctype: str, level: int | None, decompress
) -> None:  # type: ignore[no-untyped-def]
    if shutil.which(ctype) is None:
        pytest.skip(f"{ctype} is not installed on this host")
    content = b"compress me " * 5000
    g.write("/f", content)
    out = tmp_path / "f.z"
    g.compress_out(ctype, "/f", str(out), level=level)
    assert len(out.read_bytes()) < len(content)
    assert decompress(out.read_bytes()) == content


@pytest.mark.skipif(shutil.which("lzop") is None, reason="lzop is not installed on this host")
def test_compress_out_lzop(g: GuestFS, tmp_path: Path) -> None:
    g.write("/f", b"lzop " * 1000)
    out = tmp_path / "f.lzo"
    g.compress_out("lzop", "/f", str(out), level=3)
    assert _unpack_any(out.read_bytes(), "lzop") == b"lzop " * 1000


def test_compress_out_errors(g: GuestFS, tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    g.write("/f", b"x")
    with _raises("", "^compress_out: unknown compression type$"):
        g.compress_out("zstd", "/f", out)
    with _raises("", "^compress_out: gzip: incorrect value for level parameter$"):
        g.compress_out("gzip", "/f", out, level=0)
    with _raises("", "^compress_out: xz: incorrect value for level parameter$"):
        g.compress_out("xz", "/f", out, level=10)
    if shutil.which("compress") is None:
        with _raises(
            "ENOTSUP",
            "^compress_out: compression type compress is not supported, because external "
            "program 'compress' is not available in the appliance$",
        ):
            g.compress_out("compress", "/f", out)
    else:
        with _raises("", "^compress_out: compress: cannot use optional level parameter with this"):
            g.compress_out("compress", "/f", out, level=5)
    # A missing file is found out by gzip after the OK reply: the transfer is cancelled.
    with pytest.raises(GuestFSError, match="cancelled"):
        g.compress_out("gzip", "/missing", out)
    assert g.ping_daemon() is None
    # Standalone, the agent serves no block device.
    with pytest.raises(GuestFSError):
        g.compress_device_out("gzip", "/dev/sda", out)


# -- optional groups -------------------------------------------------------------------------


def test_groups_reflect_what_this_agent_serves(g: GuestFS) -> None:
    groups = g.available_all_groups()
    assert "xz" in groups and "realpath" in groups
    assert g.feature_available(["xz"]) is (shutil.which("xz") is not None)
    g.available(["realpath"])  # served by every agent
    with _raises("", "^no-such-group: unknown group$"):
        g.feature_available(["realpath", "no-such-group"])
