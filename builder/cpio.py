"""A reproducible writer of cpio "newc" archives, the format the kernel unpacks as initramfs.

Same entries in, same bytes out: every mtime is 0, every owner 0:0, inode numbers count
up from 1 in write order, and nothing is read from the build host's clock, umask or user
database. That is what makes an initrd's hash usable in a cache key (u-root's
``pkg/cpio`` tests the same property as ``TestReproducible``).

The layout is the kernel's (``Documentation/driver-api/early-userspace/buffer-format.rst``,
``init/initramfs.c``): a 110-byte ASCII header "070701" + 13 eight-digit hex fields, the
NUL-terminated name, padding to a multiple of 4, the data, padding to 4; a final entry
named ``TRAILER!!!``; then zeros up to a multiple of 512, which the kernel skips (so
archives may be concatenated, e.g. a microcode cpio in front).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from typing import BinaryIO

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
_HEADER_LEN = 110
_MAX_FIELD = 0xFFFFFFFF
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class CpioDir:
    """A directory entry."""

    name: str
    mode: int = 0o755


@dataclass(frozen=True)
class CpioFile:
    """A regular file, from ``data`` or from the host file ``source`` (exactly one).

    ``mode`` None means 0644 for ``data`` and the source file's permission bits for
    ``source`` (so an executable stays executable).
    """

    name: str
    data: bytes | None = None
    _: KW_ONLY
    source: str | os.PathLike[str] | None = None
    mode: int | None = None


@dataclass(frozen=True)
class CpioSymlink:
    """A symbolic link; ``target`` is stored verbatim, as the link's data."""

    name: str
    target: str


CpioEntry = CpioDir | CpioFile | CpioSymlink


def normalize_name(name: str) -> str:
    """The name as stored: relative, no ``./`` prefix, no trailing slash, "." for the root.

    The kernel unpacks names relative to the initramfs root; a leading "/" would work
    for it but makes ``cpio -i`` write outside its directory, so it is dropped.
    """
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"cpio entry name {name!r} contains '..'")
    return "/".join(parts) or "."


class CpioWriter:
    """Write a newc archive to a binary file object, one entry at a time.

    Parents of an entry that were not added yet are added first as mode 0755
    directories: the kernel creates files with ``open(O_CREAT)`` and cannot place one in
    a directory that does not exist. A name may appear only once. :meth:`close` writes
    the trailer and the padding; it does not close ``fileobj``.
    """

    def __init__(self, fileobj: BinaryIO) -> None:
        self._f = fileobj
        self._offset = 0
        self._next_ino = 1
        self._names: set[str] = set()
        # The root exists before unpacking starts; an explicit "." entry only sets its
        # mode, as `cpio -o` of "." does, so it is never added automatically.
        self._dirs: set[str] = {"."}
        self._closed = False

    @property
    def size(self) -> int:
        """Bytes written so far (the archive's size once closed)."""
        return self._offset

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        """Add a directory (``mode`` holds the permission bits only)."""
        name = normalize_name(name)
        self._prepare(name)
        self._dirs.add(name)
        self._write_entry(name, stat.S_IFDIR | _perm(mode), 2, b"")

    def add_file(
        self,
        name: str,
        data: bytes | str | os.PathLike[str],
        mode: int | None = None,
    ) -> None:
        """Add a regular file whose content is ``data`` (bytes) or the host file at a path.

        A host file is streamed, not loaded whole; if its size changes while it is being
        copied, :class:`OSError` is raised rather than writing a corrupt archive.
        """
        name = normalize_name(name)
        self._prepare(name)
        if isinstance(data, bytes):
            self._write_entry(name, stat.S_IFREG | _perm(0o644 if mode is None else mode), 1, data)
            return
        with open(data, "rb") as src:
            st = os.fstat(src.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ValueError(f"cpio: {os.fspath(data)} is not a regular file")
            perm = stat.S_IMODE(st.st_mode) if mode is None else mode
            self._write_header(name, stat.S_IFREG | _perm(perm), 1, st.st_size)
            copied = 0
            while chunk := src.read(_COPY_CHUNK):
                copied += len(chunk)
                if copied > st.st_size:
                    break
                self._write(chunk)
            if copied != st.st_size:
                raise OSError(f"cpio: {os.fspath(data)} changed size while being archived")
            self._pad(4)

    def add_symlink(self, name: str, target: str) -> None:
        """Add a symbolic link pointing at ``target``."""
        name = normalize_name(name)
        self._prepare(name)
        self._write_entry(name, stat.S_IFLNK | 0o777, 1, os.fsencode(target))

    def add(self, entry: CpioEntry) -> None:
        """Add one :data:`CpioEntry`."""
        if isinstance(entry, CpioDir):
            self.add_dir(entry.name, entry.mode)
        elif isinstance(entry, CpioSymlink):
            self.add_symlink(entry.name, entry.target)
        elif entry.data is not None and entry.source is None:
            self.add_file(entry.name, entry.data, entry.mode)
        elif entry.source is not None and entry.data is None:
            self.add_file(entry.name, entry.source, entry.mode)
        else:
            raise ValueError(f"cpio: {entry.name}: give exactly one of data and source")

    def close(self) -> None:
        """Write the trailer and pad the archive to a multiple of 512 bytes."""
        if self._closed:
            return
        # The trailer carries inode 0 and nlink 1, as GNU cpio writes it.
        self._write_header(TRAILER, 0, 1, 0, ino=0)
        self._pad(512)
        self._closed = True

    def __enter__(self) -> CpioWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

    # -- internals -------------------------------------------------------------------

    def _prepare(self, name: str) -> None:
        if self._closed:
            raise ValueError("cpio: archive already closed")
        if name in self._names:
            raise ValueError(f"cpio: duplicate entry {name!r}")
        parent = name.rpartition("/")[0] or "."
        if name != "." and parent not in self._dirs:
            if parent in self._names:
                raise ValueError(f"cpio: parent of {name!r} is not a directory")
            self.add_dir(parent)
        self._names.add(name)

    def _write_entry(self, name: str, mode: int, nlink: int, data: bytes) -> None:
        self._write_header(name, mode, nlink, len(data))
        self._write(data)
        self._pad(4)

    def _write_header(
        self, name: str, mode: int, nlink: int, size: int, ino: int | None = None
    ) -> None:
        if size > _MAX_FIELD:
            raise ValueError(f"cpio: {name} is too large for newc ({size} bytes, max 4 GiB - 1)")
        if ino is None:
            ino = self._next_ino
            self._next_ino += 1
        encoded = os.fsencode(name) + b"\0"
        fields = (
            ino,
            mode,
            0,  # uid
            0,  # gid
            nlink,
            0,  # mtime: fixed, for reproducibility
            size,
            0,  # devmajor
            0,  # devminor
            0,  # rdevmajor
            0,  # rdevminor
            len(encoded),  # namesize, NUL included
            0,  # check (only the "070702" crc format uses it)
        )
        self._write(MAGIC + b"".join(b"%08X" % v for v in fields) + encoded)
        self._pad(4)

    def _write(self, data: bytes) -> None:
        self._f.write(data)
        self._offset += len(data)

    def _pad(self, align: int) -> None:
        n = -self._offset % align
        if n:
            self._write(b"\0" * n)


def _perm(mode: int) -> int:
    """Permission bits only (incl. setuid/setgid/sticky): the type comes from the entry."""
    return stat.S_IMODE(mode)


def sorted_entries(entries: Iterable[CpioEntry]) -> list[CpioEntry]:
    """``entries`` ordered by path components, so each directory precedes its contents
    ("a" < "a/b" < "a-b": comparing component lists, not strings, keeps a tree together).
    """
    return sorted(entries, key=lambda e: normalize_name(e.name).split("/"))


def write_cpio(
    path: str | os.PathLike[str], entries: Iterable[CpioEntry], *, sort: bool = False
) -> int:
    """Write ``entries`` as a newc archive at ``path``; return its size in bytes.

    Entries are written in the order given, or by :func:`sorted_entries` with ``sort``.

    The archive is written to a temporary file in the same directory, fsync'd and renamed
    into place, so a reader (or a crash) sees either the old file or the complete new one,
    never a prefix the kernel would half-unpack. The result is mode 0644.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            writer = CpioWriter(f)
            for entry in sorted_entries(entries) if sort else entries:
                writer.add(entry)
            writer.close()
            f.flush()
            os.fchmod(f.fileno(), 0o644)  # mkstemp made it 0600
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return writer.size
