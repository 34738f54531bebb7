"""The newc writer, checked by the real GNU cpio (listing, extraction, and byte-for-byte
against its own ``--reproducible`` output) and by an independent parser here."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pyguestfs.builder.cpio import (
    CpioDir,
    CpioEntry,
    CpioFile,
    CpioSymlink,
    CpioWriter,
    sorted_entries,
    write_cpio,
)

#: The tests that run GNU cpio itself; the others need only this parser.
needs_gnu_cpio = pytest.mark.skipif(
    shutil.which("cpio") is None, reason="GNU cpio is not installed (apt-get install cpio)"
)

# The 13 header fields, in order, each 8 hex digits after the 6-byte magic.
FIELDS = (
    *("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize"),
    *("devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"),
)


def parse_newc(archive: bytes) -> list[dict[str, object]]:
    """Read a newc archive the way the kernel does, insisting on its alignment rules:
    each header starts on a 4-byte boundary, the name is padded to 4, the data too, and
    after the trailer only zeros follow."""
    entries: list[dict[str, object]] = []
    pos = 0
    while True:
        assert pos % 4 == 0
        assert archive[pos : pos + 6] == b"070701", f"bad magic at {pos}"
        values = [int(archive[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        entry: dict[str, object] = dict(zip(FIELDS, values, strict=True))
        namesize, size = values[11], values[6]
        name_end = pos + 110 + namesize
        assert archive[name_end - 1] == 0, "name is not NUL-terminated"
        entry["name"] = archive[pos + 110 : name_end - 1].decode()
        data_at = name_end + (-name_end % 4)
        assert archive[name_end:data_at] == bytes(data_at - name_end)
        entry["data"] = archive[data_at : data_at + size]
        pos = data_at + size + (-(data_at + size) % 4)
        entries.append(entry)
        if entry["name"] == "TRAILER!!!":
            assert archive[pos:] == bytes(len(archive) - pos)
            return entries


def archive_bytes(entries: list[CpioEntry]) -> bytes:
    buf = io.BytesIO()
    with CpioWriter(buf) as w:
        for e in entries:
            w.add(e)
    return buf.getvalue()


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A host file over the writer's 1 MiB copy chunk, with a length that needs padding."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom((1 << 20) + 4099))
    path.chmod(0o750)
    return path


def sample_entries(host_file: Path) -> list[CpioEntry]:
    return [
        CpioDir(".", 0o755),
        CpioFile("init", b"#!/bin/sh\necho hi\n", mode=0o755),
        CpioFile("usr/lib/modules/ext4.ko", b"\x7fELF" + bytes(1001)),  # parents implied
        CpioFile("empty", b""),
        CpioFile("a", b"x"),  # a 1-byte name and 1-byte data: both need padding
        CpioFile("big.bin", source=host_file),  # mode from the host file: 0750
        CpioDir("root", 0o700),
        CpioFile("root/secret", b"s", mode=0o600),
        CpioSymlink("bin", "usr/bin"),
        CpioSymlink("lib64", "/usr/lib64"),
        CpioFile("usr/bin/su", b"", mode=0o4755),  # setuid survives
        CpioFile("naïve-ünïcode", b"utf-8 name"),
    ]


@needs_gnu_cpio
def test_round_trip_through_gnu_cpio(tmp_path: Path, host_file: Path) -> None:
    archive = tmp_path / "initrd"
    size = write_cpio(archive, sample_entries(host_file))
    assert size == archive.stat().st_size and size % 512 == 0
    out = tmp_path / "out"
    out.mkdir()
    with archive.open("rb") as f:
        subprocess.run(
            ["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames"],
            stdin=f,
            cwd=out,
            check=True,
        )
    assert (out / "init").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (out / "usr/lib/modules/ext4.ko").read_bytes() == b"\x7fELF" + bytes(1001)
    assert (out / "empty").read_bytes() == b""
    assert (out / "a").read_bytes() == b"x"
    assert (out / "big.bin").read_bytes() == host_file.read_bytes()
    assert (out / "naïve-ünïcode").read_bytes() == b"utf-8 name"
    assert os.readlink(out / "bin") == "usr/bin"
    assert os.readlink(out / "lib64") == "/usr/lib64"
    modes = {
        "init": 0o755,
        "big.bin": 0o750,
        "root": 0o700,
        "root/secret": 0o600,
        "usr": 0o755,
        "usr/lib/modules": 0o755,
        "usr/lib/modules/ext4.ko": 0o644,
        "usr/bin/su": 0o4755,
    }
    assert {n: stat.S_IMODE(os.lstat(out / n).st_mode) for n in modes} == modes


@needs_gnu_cpio
def test_listing_by_gnu_cpio(host_file: Path) -> None:
    data = archive_bytes(sample_entries(host_file))
    listing = subprocess.run(
        ["cpio", "-t", "-v", "--quiet"], input=data, capture_output=True, check=True
    ).stdout.decode()
    rows = [line.split() for line in listing.splitlines()]
    # Implied parents come right before the first entry that needs them.
    assert [r[8] for r in rows] == [
        ".",
        "init",
        "usr",
        "usr/lib",
        "usr/lib/modules",
        "usr/lib/modules/ext4.ko",
        "empty",
        "a",
        "big.bin",
        "root",
        "root/secret",
        "bin",
        "lib64",
        "usr/bin",
        "usr/bin/su",
        "naïve-ünïcode",
    ]
    assert all(r[2:4] == ["root", "root"] for r in rows)  # uid/gid 0
    assert all(r[5:8] == ["Jan", "1", "1970"] for r in rows)  # mtime 0
    assert rows[11][0].startswith("l") and rows[11][9:] == ["->", "usr/bin"]


def test_header_fields_and_layout(host_file: Path) -> None:
    entries = parse_newc(archive_bytes(sample_entries(host_file)))
    names = [e["name"] for e in entries]
    assert names[-1] == "TRAILER!!!"
    body = entries[:-1]
    assert [e["ino"] for e in body] == list(range(1, len(body) + 1))  # write order
    assert entries[-1]["ino"] == 0
    for e in body:
        assert (e["uid"], e["gid"], e["mtime"], e["check"]) == (0, 0, 0, 0)
        assert (e["devmajor"], e["devminor"], e["rdevmajor"], e["rdevminor"]) == (0, 0, 0, 0)
        assert e["nlink"] == (2 if stat.S_ISDIR(int(str(e["mode"]))) else 1)
    link = next(e for e in body if e["name"] == "lib64")
    assert link["mode"] == stat.S_IFLNK | 0o777 and link["data"] == b"/usr/lib64"


def test_reproducible(tmp_path: Path, host_file: Path) -> None:
    """Same entries, same bytes: whatever the host file's mtime, the umask, the path."""
    first = tmp_path / "one.cpio"
    write_cpio(first, sample_entries(host_file))
    os.utime(host_file, (1, 1))
    old = os.umask(0o077)
    try:
        second = tmp_path / "sub" / "two.cpio"
        second.parent.mkdir()
        write_cpio(second, sample_entries(host_file))
    finally:
        os.umask(old)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == archive_bytes(sample_entries(host_file))
    assert stat.S_IMODE(second.stat().st_mode) == 0o644  # not the umask's 0600


@needs_gnu_cpio
def test_same_bytes_as_gnu_cpio_reproducible(tmp_path: Path) -> None:
    """GNU cpio --reproducible -R 0:0 of the same tree gives the same bytes, except two
    fields it takes from the host: inodes renumbered from 0 instead of 1, and a
    directory's real link count (2 + subdirectories) where we always write 2."""
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin/init").write_bytes(b"#!/bin/sh\n")
    (tree / "bin/init").chmod(0o755)
    (tree / "etc").mkdir()
    (tree / "etc/hostname").write_bytes(b"appliance\n")
    (tree / "etc/hostname").chmod(0o644)
    (tree / "sbin").symlink_to("bin")
    for p in [tree / "bin/init", tree / "etc/hostname", tree / "bin", tree / "etc", tree]:
        os.chmod(p, 0o755) if p.is_dir() else None
        os.utime(p, (0, 0))
    os.utime(tree / "sbin", (0, 0), follow_symlinks=False)
    names = [".", "bin", "bin/init", "etc", "etc/hostname", "sbin"]
    gnu = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet", "--reproducible", "-R", "0:0"],
        input="".join(n + "\n" for n in names).encode(),
        cwd=tree,
        capture_output=True,
        check=True,
    ).stdout
    ours = archive_bytes(
        [
            CpioDir("."),
            CpioDir("bin"),
            CpioFile("bin/init", source=tree / "bin/init"),
            CpioDir("etc"),
            CpioFile("etc/hostname", source=tree / "etc/hostname"),
            CpioSymlink("sbin", "bin"),
        ]
    )
    assert len(gnu) == len(ours)

    def without_ino_nlink(archive: bytes) -> list[dict[str, object]]:
        return [
            {k: v for k, v in e.items() if k not in ("ino", "nlink")} for e in parse_newc(archive)
        ]

    assert without_ino_nlink(gnu) == without_ino_nlink(ours)
    gnu_ino = [e["ino"] for e in parse_newc(gnu)]
    assert gnu_ino[:-1] == list(range(len(names)))  # GNU counts from 0; we from 1


def test_sorted_entries_keep_trees_together(tmp_path: Path) -> None:
    entries: list[CpioEntry] = [
        CpioFile("a-b", b"1"),
        CpioFile("a/b", b"2"),
        CpioDir("a"),
        CpioSymlink("0", "a"),
    ]
    assert [e.name for e in sorted_entries(entries)] == ["0", "a", "a/b", "a-b"]
    archive = tmp_path / "x.cpio"
    write_cpio(archive, entries, sort=True)
    assert [e["name"] for e in parse_newc(archive.read_bytes())] == [
        "0",
        "a",
        "a/b",
        "a-b",
        "TRAILER!!!",
    ]


def test_rejected_entries() -> None:
    w = CpioWriter(io.BytesIO())
    w.add_file("etc/passwd", b"")
    with pytest.raises(ValueError, match="duplicate entry 'etc/passwd'"):
        w.add_file("/etc/passwd", b"")  # the same name once normalised
    with pytest.raises(ValueError, match=r"contains '\.\.'"):
        w.add_file("etc/../../escape", b"")
    with pytest.raises(ValueError, match="parent of 'etc/passwd/x' is not a directory"):
        w.add_file("etc/passwd/x", b"")
    with pytest.raises(ValueError, match="exactly one of data and source"):
        w.add(CpioFile("both", b"x", source="/etc/hostname"))
    with pytest.raises(ValueError, match="not a regular file"):
        w.add_file("dev", "/dev/null")
    w.close()
    with pytest.raises(ValueError, match="already closed"):
        w.add_dir("late")


def test_write_cpio_is_atomic(tmp_path: Path) -> None:
    """A failure part-way leaves the old archive as it was, and no temporary file."""
    target = tmp_path / "initrd"
    target.write_bytes(b"previous build")
    with pytest.raises(FileNotFoundError):
        write_cpio(target, [CpioFile("ok", b"fine"), CpioFile("gone", source=tmp_path / "missing")])
    assert target.read_bytes() == b"previous build"
    assert sorted(os.listdir(tmp_path)) == ["initrd"]
    write_cpio(target, [CpioFile("ok", b"fine")])
    assert [e["name"] for e in parse_newc(target.read_bytes())] == ["ok", "TRAILER!!!"]
    assert sorted(os.listdir(tmp_path)) == ["initrd"]
