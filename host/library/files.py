"""File conveniences that 1.48 runs in the library on top of daemon calls
(``lib/file.c``, ``lib/copy-in-out.c``): ``ls``, ``find``, ``cat``, ``read_file``,
``read_lines``, ``write``, ``stat``; the ``l*list`` batches; ``copy_in``/``copy_out``.

The ``l*list`` calls split long name lists into batches of 1000 names, 1.48's batch,
which keeps every request well under the 4 MiB message limit (a name is at most 255
bytes). ``copy_in`` and ``copy_out`` pipe a local ``tar`` into ``tar_in`` / out of
``tar_out`` as 1.48 does, so owners, modes, times and links travel as in a tar archive.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ...protocol import constants as C
from ...protocol.procedures import BY_NAME
from ..calls import _H, Stat, Statns, Xattr
from ..errors import GuestFSError
from .base import HandleBase

#: Names per internal_l*list call (1.48's LSTATNSLIST_MAX, LXATTRLIST_MAX, READLINK_MAX).
LIST_BATCH = 1000


class Files(HandleBase[_H]):
    """Whole-file helpers, batched directory listings and tar copies."""

    # -- whole files ------------------------------------------------------------------------
    def _download_bytes(self, proc_name: str, path: str) -> bytes:
        with scratch_file() as tmp:
            self._call(proc_name, {_first_arg(proc_name): path}, {}, file_out=tmp)
            with open(tmp, "rb") as f:
                return f.read()

    def _names(self, proc_name: str, directory: str) -> list[str]:
        data = self._download_bytes(proc_name, directory)
        return sorted(os.fsdecode(n) for n in data.split(b"\0") if n)

    def ls(self, directory: str) -> list[str]:
        """The names in a directory, sorted, without ``.`` and ``..`` (via ls0)."""
        return self._names("ls0", directory)

    def find(self, directory: str) -> list[str]:
        """Every name below a directory, sorted (via find0): relative to it when it ends
        in "/" (or is "/"), else each with a leading "/", as libguestfs 1.48 gives them."""
        return self._names("find0", directory)

    def read_file(self, path: str) -> bytes:
        """A whole file as bytes (via download)."""
        return self._download_bytes("download", path)

    def cat(self, path: str) -> str:
        """A whole file as text (via download)."""
        return self.read_file(path).decode("utf-8", "surrogateescape")

    def read_lines(self, path: str) -> list[str]:
        """A file as lines, without their LF or CRLF endings."""
        text = self.cat(path)
        if not text:
            return []
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def write(self, path: str, content: bytes | str) -> None:
        """Create or replace a file: internal_write up to 2 MiB, upload above."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        if len(data) <= C.WRITE_INLINE_MAX:
            self._call("internal_write", {"path": path, "content": data}, {})
            return
        with scratch_file(data) as tmp:
            self._call("upload", {"remotefilename": path}, {}, file_in=tmp)

    def write_append(self, path: str, content: bytes | str) -> None:
        """Append to a file: internal_write_append up to 2 MiB, filesize + upload_offset
        above."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        if len(data) <= C.WRITE_INLINE_MAX:
            self._call("internal_write_append", {"path": path, "content": data}, {})
            return
        size = self._call("filesize", {"file": path}, {})
        with scratch_file(data) as tmp:
            self._call("upload_offset", {"remotefilename": path, "offset": size}, {}, file_in=tmp)

    def stat(self, path: str) -> Stat:
        """Deprecated libguestfs ``stat``: statns without nanoseconds."""
        return old_stat(self.statns(path))

    def lstat(self, path: str) -> Stat:
        """Deprecated libguestfs ``lstat``: lstatns without nanoseconds."""
        return old_stat(self.lstatns(path))

    # -- batched listings --------------------------------------------------------------------
    def _batched(self, proc_name: str, path: str, names: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        names = list(names)
        for i in range(0, len(names), LIST_BATCH):
            out += self._call(proc_name, {"path": path, "names": names[i : i + LIST_BATCH]}, {})
        return out

    def lstatnslist(self, path: str, names: Sequence[str]) -> list[Statns]:
        """lstatns of each name in directory ``path``, in batches of 1000 names; a name
        that cannot be lstat'd gives a struct whose st_ino is -1."""
        return self._batched("internal_lstatnslist", path, names)

    def lstatlist(self, path: str, names: Sequence[str]) -> list[Stat]:
        """Deprecated: lstatnslist without nanoseconds."""
        return [old_stat(s) for s in self.lstatnslist(path, names)]

    def lxattrlist(self, path: str, names: Sequence[str]) -> list[Xattr]:
        """The extended attributes of each name in directory ``path``: for each name an
        entry whose attrname is empty and whose attrval is the count (as text) of the
        entries that follow, as 1.48 returns them."""
        return self._batched("internal_lxattrlist", path, names)

    def readlinklist(self, path: str, names: Sequence[str]) -> list[str]:
        """readlink of each name in directory ``path``; ``""`` for a name that is not a
        link or cannot be read."""
        return self._batched("internal_readlinklist", path, names)

    # -- tar copies --------------------------------------------------------------------------
    def copy_in(self, localpath: str, remotedir: str) -> None:
        """Copy a local file or directory, recursively, into guest directory
        ``remotedir`` (``tar -cf -`` on the host piped into tar_in)."""
        if not os.path.exists(localpath):
            raise GuestFSError(f"source ‘{localpath}’ does not exist (or cannot be read)")
        if not self.is_dir(remotedir):
            raise GuestFSError(f"target ‘{remotedir}’ is not a directory")
        parent: str | None
        basename: str
        parent, basename = split_path(localpath)
        argv = ["tar", *(["-C", parent] if parent else []), "-cf", "-", "--", basename]
        with tempfile.TemporaryFile() as errors:
            tar = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
            assert tar.stdout is not None
            try:
                self.tar_in(f"/dev/fd/{tar.stdout.fileno()}", remotedir)
            finally:
                tar.stdout.close()
                status = tar.wait()
            _check_tar(status, errors)

    def copy_out(self, remotepath: str, localdir: str) -> None:
        """Copy a guest file or directory, recursively, into local directory
        ``localdir``: a file by download, a directory by tar_out piped into ``tar -xf -``
        run in ``localdir/BASENAME``."""
        if not os.path.isdir(localdir):
            raise GuestFSError(f"target ‘{localdir}’ is not a directory")
        _, basename = split_path(remotepath)
        if self.is_file(remotepath):
            self.download(remotepath, os.path.join(localdir, basename))
            return
        if not self.is_dir(remotepath):
            raise GuestFSError(f"‘{remotepath}’ is not a file or directory")
        target = os.path.join(localdir, basename or ".")
        try:
            os.mkdir(target)
        except FileExistsError:
            pass
        except OSError as e:
            raise GuestFSError(f"{basename}: {e.strerror}") from None
        with tempfile.TemporaryFile() as errors:
            tar = subprocess.Popen(
                ["tar", "-xf", "-"],
                cwd=target,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            assert tar.stdin is not None
            try:
                self.tar_out(remotepath, f"/dev/fd/{tar.stdin.fileno()}")
            finally:
                tar.stdin.close()
                status = tar.wait()
            _check_tar(status, errors)


def _check_tar(status: int, errors: Any) -> None:
    if status != 0:
        errors.seek(0)
        text = errors.read().decode("utf-8", "replace").strip()
        raise GuestFSError(f"tar subprocess failed: {text}")


def split_path(path: str) -> tuple[str | None, str]:
    """1.48's split_path: (directory or None, last name); one trailing ``/`` is ignored;
    ``/foo`` → (``/``, ``foo``)."""
    if not path:
        raise GuestFSError("error: argument is zero length or longer than maximum permitted")
    if len(path) >= 2 and path.endswith("/"):
        path = path[:-1]
    head, sep, tail = path.rpartition("/")
    if not sep:
        return None, path
    return (head or "/"), tail


def _first_arg(proc_name: str) -> str:
    return BY_NAME[proc_name].wire_args[0].name


def old_stat(ns: Statns) -> Stat:
    """A statns struct as the deprecated stat struct (seconds only)."""
    return Stat(
        dev=ns["st_dev"],
        ino=ns["st_ino"],
        mode=ns["st_mode"],
        nlink=ns["st_nlink"],
        uid=ns["st_uid"],
        gid=ns["st_gid"],
        rdev=ns["st_rdev"],
        size=ns["st_size"],
        blksize=ns["st_blksize"],
        blocks=ns["st_blocks"],
        atime=ns["st_atime_sec"],
        mtime=ns["st_mtime_sec"],
        ctime=ns["st_ctime_sec"],
    )


@contextmanager
def scratch_file(data: bytes | None = None) -> Iterator[str]:
    """A private temporary file (holding ``data``), removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="pyguestfs-")
    try:
        if data is not None:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            os.close(fd)
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
