"""Differential tests: the same calls to our agent and to Debian's real guestfsd 1.48.

One table of cases (``CASES``) runs, in order, through two ``GuestFS`` handles: one attached
to ``python -m pyguestfs.agent``, one to the real guestfsd confined by :mod:`realdaemon` (a
mount namespace and a chroot; its sysroot is a scratch directory). Both scratch directories
start empty. After each case the replies are compared -- return values (inode and device
numbers, timestamps and free-space counters normalised away), errno names and complete
error messages -- and so are the two trees (names, types, modes, owners, contents, link
targets). If the trees differ, ours is made a copy of the real one, so every case starts
from the same tree and each difference shows up at the case that caused it. A daemon that
dies is restarted on its scratch directory (the outcome records it).

Every difference not yet fixed is listed in ``KNOWN_DIFFERENCES`` with its cause.
``test_same_replies[API]`` checks all the cases of one API: any other difference fails it,
and so does a listed case whose replies now agree (the list cannot go stale); if only
listed differences remain it is an xfail naming them (``-ra`` prints the reasons).
``test_report`` prints every difference with both replies (``pytest -s``) and writes it to
``differential-report.txt`` in its temporary directory.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from realdaemon import (
    Daemon,
    RealDaemonUnavailable,
    check_can_confine,
    daemon_tarball,
    our_agent,
    real_guestfsd,
    require_real_daemon,
)

from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol.procedures import BY_NAME

# -- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalIn:
    """A FileIn argument: a local file holding ``data``."""

    data: bytes

    def __repr__(self) -> str:
        return f"<local file, {len(self.data)} bytes>"


@dataclass(frozen=True)
class LocalOut:
    """A FileOut argument: a fresh local file; its contents become part of the result."""

    def __repr__(self) -> str:
        return "<local file>"


OUT = LocalOut()


@dataclass(frozen=True)
class Case:
    id: str
    api: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def _case(case_id: str, api: str, *args: Any, **kwargs: Any) -> Case:
    return Case(case_id, api, args, kwargs)


def _tar(members: list[tuple[str, bytes | str | None]], gz: bool = False) -> bytes:
    """A tar archive: ``(name, bytes)`` files, ``(name/, None)`` directories and
    ``(name, "->target")`` symlinks, with fixed owners and times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, content in members:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 1_600_000_000, 0, 0, "", ""
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, content[2:], 0o777
                tf.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tf.addfile(info, io.BytesIO(content))
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if gz else data


TAR_MEMBERS: list[tuple[str, bytes | str | None]] = [
    ("sub/", None),
    ("sub/a.txt", b"in a tar\n"),
    ("b.bin", bytes(range(256)) * 40),
    ("lnk", "->b.bin"),
]
TAR = _tar(TAR_MEMBERS)
TAR_GZ = _tar([("gz/", None), ("gz/z.txt", b"gzipped\n")], gz=True)
BIG = bytes(i * 7 % 251 for i in range(20000))


# archives: data for the "# archives" block at the end of CASES.
ARCH_TAR_XZ = lzma.compress(_tar([("xz/", None), ("xz/x.txt", b"xz-compressed\n")]))
ARCH_PAYLOAD = bytes(range(256)) * 12 + b"\x00 no final newline"
ARCH_B64 = base64.encodebytes(ARCH_PAYLOAD)
ARCH_GUEST_PROGRAMS = {"bin/sh": "/bin/dash", "bin/echo": "/bin/echo", "bin/cat": "/bin/cat"}


def _arch_runnable_tree() -> bytes:
    """A tar of the least a command can run in: dash as /bin/sh, echo, cat and the
    libraries ldd lists (no dev, proc or sys: guestfsd would bind the host's there)."""
    files = dict(ARCH_GUEST_PROGRAMS)
    for program in ARCH_GUEST_PROGRAMS.values():
        if not os.path.exists(program):
            continue  # the case then fails on both sides alike
        ldd = subprocess.run(["ldd", program], capture_output=True, text=True, check=False)
        for lib in re.findall(r"(/\S+) \(0x", ldd.stdout):
            files[lib.lstrip("/")] = lib
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tf:
        for inside, host in sorted(files.items()):
            if os.path.exists(host):
                tf.add(host, arcname=inside)
    return buf.getvalue()


ARCH_RUNNABLE = _arch_runnable_tree()

CASES: list[Case] = [
    # daemon
    _case("ping", "ping_daemon"),
    _case("groups", "available_all_groups"),
    _case("feature-linuxxattrs", "feature_available", ["linuxxattrs"]),
    _case("feature-xfs", "feature_available", ["xfs"]),
    _case("feature-realpath", "feature_available", ["realpath"]),
    _case("feature-xz", "feature_available", ["xz"]),
    _case("feature-unknown", "feature_available", ["no-such-group"]),
    # creating: mkdir, mkdir_p, write, ln_s
    _case("mkdir", "mkdir", "/d"),
    _case("mkdir-exists", "mkdir", "/d"),
    _case("mkdir-no-parent", "mkdir", "/nodir/sub"),
    _case("mkdir-relative", "mkdir", "rel"),
    _case("write", "write", "/f", "hello\n"),
    _case("write-empty", "write", "/empty", ""),
    _case("write-bytes", "write", "/bin8", bytes(range(256))),
    _case("write-onto-dir", "write", "/d", "x"),
    _case("write-no-parent", "write", "/nodir/x", "x"),
    _case("write-relative", "write", "rel", "x"),
    _case("mkdir-under-file", "mkdir", "/f/sub"),
    _case("mkdir_p", "mkdir_p", "/d/p/q/r"),
    _case("mkdir_p-exists", "mkdir_p", "/d/p/q/r"),
    _case("mkdir_p-over-file", "mkdir_p", "/f"),
    _case("mkdir_p-under-file", "mkdir_p", "/f/x/y"),
    _case("mkdir_p-relative", "mkdir_p", "rel/x"),
    _case("mkdir-empty-dir", "mkdir", "/emptydir"),
    _case("ln_s-relative-target", "ln_s", "f", "/lf"),
    _case("ln_s-dir", "ln_s", "/d", "/ld"),
    _case("ln_s-dangling", "ln_s", "/nowhere", "/dangling"),
    _case("ln_s-exists", "ln_s", "f", "/lf"),
    _case("ln_s-no-parent", "ln_s", "x", "/nodir/l"),
    _case("ln_s-relative-linkname", "ln_s", "x", "rel"),
    # tests on paths
    _case("exists-file", "exists", "/f"),
    _case("exists-dir", "exists", "/d"),
    _case("exists-missing", "exists", "/missing"),
    _case("exists-dangling", "exists", "/dangling"),
    _case("exists-under-file", "exists", "/f/x"),
    _case("exists-relative", "exists", "f"),
    _case("is_file-file", "is_file", "/f"),
    _case("is_file-dir", "is_file", "/d"),
    _case("is_file-missing", "is_file", "/missing"),
    _case("is_file-under-file", "is_file", "/f/x"),
    _case("is_file-symlink", "is_file", "/lf"),
    _case("is_file-symlink-follow", "is_file", "/lf", followsymlinks=True),
    _case("is_file-dangling-follow", "is_file", "/dangling", followsymlinks=True),
    _case("is_file-relative", "is_file", "f"),
    _case("is_dir-dir", "is_dir", "/d"),
    _case("is_dir-root", "is_dir", "/"),
    _case("is_dir-file", "is_dir", "/f"),
    _case("is_dir-missing", "is_dir", "/missing"),
    _case("is_dir-symlink", "is_dir", "/ld"),
    _case("is_dir-symlink-follow", "is_dir", "/ld", followsymlinks=True),
    _case("is_dir-relative", "is_dir", "d"),
    _case("is_symlink-link", "is_symlink", "/lf"),
    _case("is_symlink-dangling", "is_symlink", "/dangling"),
    _case("is_symlink-file", "is_symlink", "/f"),
    _case("is_symlink-missing", "is_symlink", "/missing"),
    _case("is_symlink-relative", "is_symlink", "lf"),
    # symlinks and names
    _case("readlink", "readlink", "/lf"),
    _case("readlink-absolute", "readlink", "/ld"),
    _case("readlink-file", "readlink", "/f"),
    _case("readlink-missing", "readlink", "/missing"),
    _case("readlink-relative", "readlink", "lf"),
    _case("realpath-symlink", "realpath", "/lf"),
    _case("realpath-dots", "realpath", "/d/./p/../p/q/.."),
    _case("realpath-through-link", "realpath", "/ld/p"),
    _case("realpath-root", "realpath", "/"),
    _case("realpath-missing", "realpath", "/missing"),
    _case("realpath-dangling", "realpath", "/dangling"),
    _case("realpath-relative", "realpath", "f"),
    # touch, chmod, chown
    _case("touch-new", "touch", "/t1"),
    _case("touch-existing", "touch", "/f"),
    _case("touch-dir", "touch", "/d"),
    _case("touch-symlink", "touch", "/lf"),
    _case("touch-dangling", "touch", "/dangling"),
    _case("touch-no-parent", "touch", "/nodir/x"),
    _case("touch-relative", "touch", "t1"),
    _case("chmod", "chmod", 0o600, "/t1"),
    _case("chmod-check", "statns", "/t1"),
    _case("chmod-setuid-dir", "chmod", 0o4750, "/emptydir"),
    _case("chmod-setuid-dir-check", "lstatns", "/emptydir"),
    _case("chmod-through-link", "chmod", 0o640, "/lf"),
    _case("chmod-through-link-check", "statns", "/f"),
    _case("chmod-negative", "chmod", -1, "/f"),
    _case("chmod-too-big", "chmod", 0o177777, "/t1"),
    _case("chmod-missing", "chmod", 0o644, "/missing"),
    _case("chmod-relative", "chmod", 0o644, "f"),
    _case("chown", "chown", 1000, 1001, "/t1"),
    _case("chown-check", "lstatns", "/t1"),
    _case("chown-minus-one", "chown", -1, -1, "/t1"),
    _case("chown-through-link", "chown", 1002, 1003, "/lf"),
    _case("chown-through-link-check-file", "lstatns", "/f"),
    _case("chown-through-link-check-link", "lstatns", "/lf"),
    _case("chown-missing", "chown", 0, 0, "/missing"),
    _case("chown-relative", "chown", 0, 0, "f"),
    # metadata
    _case("statns-file", "statns", "/f"),
    _case("statns-dir", "statns", "/d"),
    _case("statns-symlink", "statns", "/lf"),
    _case("statns-dangling", "statns", "/dangling"),
    _case("statns-missing", "statns", "/missing"),
    _case("statns-under-file", "statns", "/f/x"),
    _case("statns-relative", "statns", "f"),
    _case("lstatns-symlink", "lstatns", "/lf"),
    _case("lstatns-dangling", "lstatns", "/dangling"),
    _case("lstatns-missing", "lstatns", "/missing"),
    _case("lstatns-relative", "lstatns", "lf"),
    _case("stat-file", "stat", "/f"),
    _case("stat-missing", "stat", "/missing"),
    _case("lstat-symlink", "lstat", "/lf"),
    _case("lstat-missing", "lstat", "/missing"),
    _case("filesize", "filesize", "/f"),
    _case("filesize-empty", "filesize", "/empty"),
    _case("filesize-dir", "filesize", "/d"),
    _case("filesize-symlink", "filesize", "/lf"),
    _case("filesize-missing", "filesize", "/missing"),
    _case("filesize-relative", "filesize", "f"),
    *[
        _case(f"checksum-{t}", "checksum", t, "/f")
        for t in ("crc", "md5", "sha1", "sha224", "sha256", "sha384", "sha512")
    ],
    _case("checksum-crc-empty", "checksum", "crc", "/empty"),
    _case("checksum-sha256-binary", "checksum", "sha256", "/bin8"),
    _case("checksum-through-link", "checksum", "md5", "/lf"),
    _case("checksum-bad-type", "checksum", "sha3", "/f"),
    _case("checksum-bad-type-missing-file", "checksum", "sha3", "/missing"),
    _case("checksum-uppercase-type", "checksum", "MD5", "/f"),
    _case("checksum-dir", "checksum", "md5", "/d"),
    _case("checksum-crc-dir", "checksum", "crc", "/d"),
    _case("checksum-missing", "checksum", "md5", "/missing"),
    _case("checksum-crc-missing", "checksum", "crc", "/missing"),
    _case("checksum-relative", "checksum", "md5", "f"),
    _case("statvfs", "statvfs", "/"),
    _case("statvfs-file", "statvfs", "/f"),
    _case("statvfs-missing", "statvfs", "/missing"),
    _case("statvfs-relative", "statvfs", "f"),
    # contents: write_append, cat, read_file, read_lines
    _case("write_append", "write_append", "/f", "more\n"),
    _case("write_append-new", "write_append", "/appended", "new\n"),
    _case("write_append-dir", "write_append", "/d", "x"),
    _case("write_append-no-parent", "write_append", "/nodir/x", "x"),
    _case("write_append-relative", "write_append", "f", "x"),
    _case("cat", "cat", "/f"),
    _case("cat-empty", "cat", "/empty"),
    _case("cat-symlink", "cat", "/lf"),
    _case("cat-dir", "cat", "/d"),
    _case("cat-missing", "cat", "/missing"),
    _case("cat-relative", "cat", "f"),
    _case("read_file", "read_file", "/bin8"),
    _case("read_file-dir", "read_file", "/d"),
    _case("read_file-missing", "read_file", "/missing"),
    _case("write-lines", "write", "/lines", "a\nb\r\n\nc"),
    _case("read_lines", "read_lines", "/lines"),
    _case("read_lines-empty", "read_lines", "/empty"),
    _case("read_lines-missing", "read_lines", "/missing"),
    # cp, cp_a, mv
    _case("cp", "cp", "/f", "/d/fcopy"),
    _case("cp-into-dir", "cp", "/f", "/d/p"),
    _case("cp-through-link-dest", "cp", "/empty", "/ld"),
    _case("cp-missing", "cp", "/missing", "/x"),
    _case("cp-dir", "cp", "/d", "/dcopy"),
    _case("cp-no-dest-parent", "cp", "/f", "/nodir/x"),
    _case("cp-relative", "cp", "f", "/x"),
    _case("cp_a", "cp_a", "/d", "/dcopy"),
    _case("cp_a-symlink", "cp_a", "/lf", "/lfcopy"),
    _case("cp_a-symlink-check", "readlink", "/lfcopy"),
    _case("cp_a-missing", "cp_a", "/missing", "/x"),
    _case("cp_a-relative", "cp_a", "d", "/x"),
    _case("mv", "mv", "/t1", "/t2"),
    _case("mv-into-dir", "mv", "/t2", "/d"),
    _case("mv-missing", "mv", "/missing", "/x"),
    _case("mv-dir-onto-file", "mv", "/dcopy", "/f"),
    _case("mv-relative", "mv", "f", "/x"),
    # listing
    _case("readdir", "readdir", "/d"),
    _case("readdir-root", "readdir", "/"),
    _case("readdir-symlink", "readdir", "/ld"),
    _case("readdir-missing", "readdir", "/missing"),
    _case("readdir-file", "readdir", "/f"),
    _case("readdir-relative", "readdir", "d"),
    _case("ls", "ls", "/d"),
    _case("ls-root", "ls", "/"),
    _case("ls-missing", "ls", "/missing"),
    _case("ls-file", "ls", "/f"),
    _case("ls-relative", "ls", "d"),
    _case("ls0", "ls0", "/d", OUT),
    _case("ls0-empty", "ls0", "/emptydir", OUT),
    _case("ls0-missing", "ls0", "/missing", OUT),
    _case("ls0-file", "ls0", "/f", OUT),
    _case("find", "find", "/d"),
    _case("find-root", "find", "/"),
    _case("find-symlink", "find", "/ld"),
    _case("find-trailing-slash", "find", "/d/"),
    _case("find-missing", "find", "/missing"),
    _case("find-file", "find", "/f"),
    _case("find-relative", "find", "d"),
    _case("find0", "find0", "/d", OUT),
    _case("find0-trailing-slash", "find0", "/d/", OUT),
    _case("find0-empty", "find0", "/emptydir", OUT),
    _case("find0-missing", "find0", "/missing", OUT),
    _case("find0-file", "find0", "/f", OUT),
    _case("ll", "ll", "/d"),
    _case("ll-empty", "ll", "/emptydir"),
    _case("ll-file", "ll", "/f"),
    _case("ll-missing", "ll", "/missing"),
    _case("ll-relative", "ll", "d"),
    _case("du-dir", "du", "/d"),
    _case("du-file", "du", "/f"),
    _case("du-missing", "du", "/missing"),
    _case("du-relative", "du", "d"),
    # upload, upload_offset, download, download_offset
    _case("upload", "upload", LocalIn(BIG), "/up"),
    _case("upload-check", "checksum", "sha1", "/up"),
    _case("upload-empty", "upload", LocalIn(b""), "/up-empty"),
    _case("upload-replace", "upload", LocalIn(b"short"), "/up-empty"),
    _case("upload-onto-dir", "upload", LocalIn(b"x"), "/d"),
    _case("upload-no-parent", "upload", LocalIn(b"x"), "/nodir/x"),
    _case("upload-relative", "upload", LocalIn(b"x"), "up"),
    _case("upload-missing-device", "upload", LocalIn(b"x"), "/dev/nosuchdisk"),
    _case("upload_offset", "upload_offset", LocalIn(b"YYY"), "/up", 5),
    _case("upload_offset-check", "checksum", "sha1", "/up"),
    _case("upload_offset-past-end", "upload_offset", LocalIn(b"Z"), "/up-empty", 10),
    _case("upload_offset-past-end-check", "read_file", "/up-empty"),
    _case("upload_offset-new", "upload_offset", LocalIn(b"new"), "/up-new", 0),
    _case("upload_offset-negative", "upload_offset", LocalIn(b"x"), "/up", -1),
    _case("upload_offset-dir", "upload_offset", LocalIn(b"x"), "/d", 0),
    _case("upload_offset-no-parent", "upload_offset", LocalIn(b"x"), "/nodir/x", 0),
    _case("upload_offset-relative", "upload_offset", LocalIn(b"x"), "up", 0),
    _case("download", "download", "/up", OUT),
    _case("download-empty", "download", "/empty", OUT),
    _case("download-symlink", "download", "/lf", OUT),
    _case("download-dir", "download", "/d", OUT),
    _case("download-missing", "download", "/missing", OUT),
    _case("download-relative", "download", "up", OUT),
    _case("download-missing-device", "download", "/dev/nosuchdisk", OUT),
    _case("download_offset", "download_offset", "/up", OUT, 5, 10),
    _case("download_offset-zero-size", "download_offset", "/up", OUT, 5, 0),
    _case("download_offset-past-end", "download_offset", "/up", OUT, 30000, 10),
    _case("download_offset-size-past-end", "download_offset", "/up", OUT, 19990, 100),
    _case("download_offset-negative-offset", "download_offset", "/up", OUT, -1, 10),
    _case("download_offset-negative-size", "download_offset", "/up", OUT, 0, -1),
    _case("download_offset-dir", "download_offset", "/d", OUT, 0, 1),
    _case("download_offset-missing", "download_offset", "/missing", OUT, 0, 1),
    _case("download_offset-relative", "download_offset", "up", OUT, 0, 1),
    # tar_in, tar_out
    _case("mkdir-tin", "mkdir", "/tin"),
    _case("tar_in", "tar_in", LocalIn(TAR), "/tin"),
    _case("tar_in-check", "find", "/tin"),
    _case("tar_in-gzip", "tar_in", LocalIn(TAR_GZ), "/tin", compress="gzip"),
    _case("tar_in-gzip-check", "cat", "/tin/gz/z.txt"),
    _case("tar_in-bad-compress", "tar_in", LocalIn(TAR), "/tin", compress="rar"),
    _case("tar_in-corrupt", "tar_in", LocalIn(b"this is not a tar file" * 30), "/tin"),
    _case("tar_in-missing-dir", "tar_in", LocalIn(TAR), "/missing"),
    _case("tar_in-file", "tar_in", LocalIn(TAR), "/f"),
    _case("tar_in-relative", "tar_in", LocalIn(TAR), "tin"),
    _case("tar_out", "tar_out", "/tin", OUT),
    _case("tar_out-gzip", "tar_out", "/tin", OUT, compress="gzip"),
    _case("tar_out-excludes", "tar_out", "/tin", OUT, excludes=["./sub", "*.bin"]),
    _case("tar_out-numericowner", "tar_out", "/tin", OUT, numericowner=True),
    _case("tar_out-bad-compress", "tar_out", "/tin", OUT, compress="rar"),
    _case("tar_out-missing", "tar_out", "/missing", OUT),
    _case("tar_out-file", "tar_out", "/f", OUT),
    _case("tar_out-relative", "tar_out", "tin", OUT),
    # removing: rm, rmdir, rm_rf
    _case("rm", "rm", "/appended"),
    _case("rm-symlink", "rm", "/lfcopy"),
    _case("rm-symlink-check", "exists", "/f"),
    _case("rm-missing", "rm", "/missing"),
    _case("rm-dir", "rm", "/emptydir"),
    _case("rm-relative", "rm", "f"),
    _case("rmdir", "rmdir", "/emptydir"),
    _case("rmdir-non-empty", "rmdir", "/d"),
    _case("rmdir-missing", "rmdir", "/missing"),
    _case("rmdir-file", "rmdir", "/f"),
    _case("rmdir-symlink", "rmdir", "/ld"),
    _case("rmdir-relative", "rmdir", "d"),
    _case("rm_rf", "rm_rf", "/dcopy"),
    _case("rm_rf-file", "rm_rf", "/up-new"),
    _case("rm_rf-missing", "rm_rf", "/missing"),
    _case("rm_rf-symlink-to-dir", "rm_rf", "/ld"),
    _case("rm_rf-symlink-to-dir-check", "is_dir", "/d"),
    _case("rm_rf-root", "rm_rf", "/"),
    _case("rm_rf-relative", "rm_rf", "d"),
    # absolute and escaping symlinks: guestfsd resolves some paths in a chroot into the
    # sysroot and hands others (sysroot prefix + path) to programs outside it
    _case("abs-mkdir", "mkdir", "/abs"),
    _case("abs-link", "ln_s", "/abs", "/abs-link"),
    _case("abs-write-through", "write", "/abs-link/w", "through an absolute link"),
    _case("abs-upload-through", "upload", LocalIn(b"up"), "/abs-link/u"),
    _case("abs-download-through", "download", "/abs-link/w", OUT),
    _case("abs-checksum-through", "checksum", "md5", "/abs-link/w"),
    _case("abs-is_file-through", "is_file", "/abs-link/w"),
    _case("abs-statns-through", "statns", "/abs-link/w"),
    _case("abs-mkdir_p-through", "mkdir_p", "/abs-link/m/n"),
    _case("abs-touch-through", "touch", "/abs-link/t"),
    _case("abs-cp-through", "cp", "/abs-link/w", "/abs-link/w2"),
    _case("abs-cp_a-through", "cp_a", "/abs-link/m", "/abs-link/m2"),
    _case("abs-mv-through", "mv", "/abs-link/w2", "/abs-link/w3"),
    _case("abs-ls-through", "ls", "/abs-link"),
    _case("abs-find-through", "find", "/abs-link/m"),
    _case("abs-readdir-through", "readdir", "/abs-link/m"),
    _case("abs-ll-link", "ll", "/abs-link"),
    _case("abs-ll-through", "ll", "/abs-link/m"),
    _case("abs-du-link", "du", "/abs-link"),
    _case("abs-du-through", "du", "/abs-link/m"),
    _case("abs-tar_out-link", "tar_out", "/abs-link", OUT),
    _case("abs-tar_in-link", "tar_in", LocalIn(TAR), "/abs-link"),
    _case("abs-realpath", "realpath", "/abs-link/m/n"),
    _case("abs-rm_rf-through", "rm_rf", "/abs-link/m2"),
    _case("esc-link", "ln_s", "../../../../etc", "/esc"),
    _case("esc-is_dir", "is_dir", "/esc", followsymlinks=True),
    _case("esc-realpath", "realpath", "/esc"),
    _case("esc-exists-etc-file", "exists", "/esc/debian_version"),
    _case("esc-cp-etc-file", "cp", "/esc/debian_version", "/copied-from-esc"),
    _case("esc-ll", "ll", "/esc/"),
    # the whole tree at the end
    _case("final-find", "find", "/"),
    # archives
    _case("arch-mkdir", "mkdir", "/arch"),
    _case("arch-write", "write", "/arch/a.txt", "alpha\n" * 50),
    _case("arch-mkdir-sub", "mkdir", "/arch/sub"),
    _case("arch-write-sub", "write", "/arch/sub/skip.log", "log\n"),
    _case("tgz_out", "tgz_out", "/arch", OUT),
    _case("tgz_out-missing", "tgz_out", "/missing", OUT),
    _case("tgz_out-file", "tgz_out", "/arch/a.txt", OUT),
    _case("tgz_out-relative", "tgz_out", "arch", OUT),
    _case("tgz_in", "tgz_in", LocalIn(TAR_GZ), "/arch"),
    _case("tgz_in-check", "cat", "/arch/gz/z.txt"),
    _case("tgz_in-not-gzip", "tgz_in", LocalIn(TAR), "/arch"),
    _case("tgz_in-missing", "tgz_in", LocalIn(TAR_GZ), "/missing"),
    _case("tgz_in-relative", "tgz_in", LocalIn(TAR_GZ), "arch"),
    _case("txz_in", "txz_in", LocalIn(ARCH_TAR_XZ), "/arch"),
    _case("txz_in-check", "cat", "/arch/xz/x.txt"),
    _case("txz_out", "txz_out", "/arch", OUT),
    _case("tar_out-zstd", "tar_out", "/arch", OUT, compress="zstd"),
    _case("tar_out-bzip2", "tar_out", "/arch", OUT, compress="bzip2"),
    _case("tar_out-xattrs", "tar_out", "/arch", OUT, xattrs=True, selinux=True, acls=True),
    _case("tar_out-excludes-newline", "tar_out", "/arch", OUT, excludes=["a\nb"]),
    _case("tar_out-excludes-empty", "tar_out", "/arch", OUT, excludes=[]),
    _case("tar_in-xattrs", "tar_in", LocalIn(TAR), "/arch/sub", xattrs=True, acls=True),
    _case("tar_in-xattrs-check", "find", "/arch/sub/"),
    _case("cpio_out", "cpio_out", "/arch", OUT),
    _case("cpio_out-crc", "cpio_out", "/arch", OUT, format="crc"),
    _case("cpio_out-bad-format", "cpio_out", "/arch", OUT, format="odc"),
    _case("cpio_out-missing", "cpio_out", "/missing", OUT, format="odc"),
    _case("cpio_out-file", "cpio_out", "/arch/a.txt", OUT),
    _case("cpio_out-relative", "cpio_out", "arch", OUT),
    _case("base64_in", "base64_in", LocalIn(ARCH_B64), "/arch/b64"),
    _case("base64_in-check", "read_file", "/arch/b64"),
    _case("base64_in-invalid", "base64_in", LocalIn(b"!!! not base64 ###\n"), "/arch/bad"),
    _case("base64_in-no-parent", "base64_in", LocalIn(ARCH_B64), "/nodir/x"),
    _case("base64_in-onto-dir", "base64_in", LocalIn(ARCH_B64), "/arch/sub"),
    _case("base64_in-relative", "base64_in", LocalIn(ARCH_B64), "arch/b64"),
    _case("base64_out", "base64_out", "/arch/b64", OUT),
    _case("base64_out-empty", "base64_out", "/empty", OUT),
    _case("base64_out-dir", "base64_out", "/arch", OUT),
    _case("base64_out-missing", "base64_out", "/missing", OUT),
    _case("compress_out-gzip", "compress_out", "gzip", "/arch/a.txt", OUT),
    _case("compress_out-gzip-9", "compress_out", "gzip", "/arch/a.txt", OUT, level=9),
    _case("compress_out-bzip2", "compress_out", "bzip2", "/arch/a.txt", OUT, level=1),
    _case("compress_out-xz", "compress_out", "xz", "/arch/a.txt", OUT, level=0),
    _case("compress_out-gzip-level-0", "compress_out", "gzip", "/arch/a.txt", OUT, level=0),
    _case("compress_out-xz-level-10", "compress_out", "xz", "/arch/a.txt", OUT, level=10),
    _case("compress_out-compress", "compress_out", "compress", "/arch/a.txt", OUT),
    _case("compress_out-zstd", "compress_out", "zstd", "/arch/a.txt", OUT),
    _case("compress_out-missing", "compress_out", "gzip", "/missing", OUT),
    _case("available-xz", "available", ["xz"]),
    _case("available-unknown", "available", ["no-such-group"]),
    # commands: first with nothing to run, then in a tree holding dash, echo and cat
    _case("command-empty", "command", []),
    _case("command-not-found", "command", ["/bin/echo", "x"]),
    _case("sh-no-shell", "sh", "echo x"),
    _case("arch-runnable-tree", "tar_in", LocalIn(ARCH_RUNNABLE), "/"),
    _case("command", "command", ["/bin/echo", "hello", "$HOME", "*"]),
    _case("command-no-newline", "command", ["/bin/echo", "-n", "x"]),
    _case("command-path-lookup", "command", ["echo", "via PATH"]),
    _case("command-fails", "command", ["/bin/cat", "/missing"]),
    _case("command-stdin-is-null", "command", ["/bin/cat"]),
    _case("command_lines", "command_lines", ["/bin/echo", "-e", "a\\n\\nb\\n"]),
    _case("command_lines-no-newline", "command_lines", ["/bin/echo", "-n", "one"]),
    _case("command_lines-empty", "command_lines", ["/bin/echo", "-n"]),
    _case("sh", "sh", "echo a; echo err >&2; pwd; cd / && echo *"),
    _case("sh-fails", "sh", "echo out; echo first >&2; echo second >&2; exit 3"),
    _case("sh-fails-silently", "sh", "exit 1"),
    _case("sh-writes", "sh", "echo written > /arch/by-sh"),
    _case("sh-writes-check", "cat", "/arch/by-sh"),
    _case("sh_lines", "sh_lines", "printf 'x\\n\\ny'"),
    _case("sh_lines-nothing", "sh_lines", "true"),
    _case("sh_lines-fails", "sh_lines", "echo bad >&2; exit 2"),
    _case("arch-final-find", "find", "/arch/"),
    # fileops: head/tail, grep family, wc, strings, hexdump, glob, pread/pwrite, umask,
    # special files, links, sizes, times, owners, xattrs and the internal batch calls;
    # everything under /fo, made here
    _case("fo-feature-mknod", "feature_available", ["mknod"]),
    _case("fo-mkdir", "mkdir", "/fo"),
    _case(
        "fo-write-10k",
        "write",
        "/fo/10k",
        "".join(f"{i}abcdefghijklmnopqrstuvwxyz\n" for i in range(10000)),
    ),
    _case("fo-write-text", "write", "/fo/g.txt", "abc\nabc123\nABC\ndef\n-v\n"),
    _case("fo-write-gz", "write", "/fo/g.txt.gz", gzip.compress(b"abc\nabc123\nABC\n", mtime=0)),
    _case("fo-write-bin", "write", "/fo/bin", b"abcdefghi\0jklmnopqr\0xy\n\x01st\tuvw\x80\xffzz"),
    _case("fo-write-u16", "write", "/fo/u16", "hello\nworld\n".encode("utf-16-be")),
    _case("fo-write-noeol", "write", "/fo/noeol", "one\ntwo"),
    _case("fo-write-nul", "write", "/fo/nul", b"a\nb\0c\nd\n"),
    _case("fo-write-empty", "write", "/fo/empty", ""),
    _case("fo-write-zeros", "write", "/fo/zeros", bytes(100)),
    _case("fo-ln_s-abs", "ln_s", "/fo/10k", "/fo/abslink"),
    _case("fo-mkdir-sub", "mkdir", "/fo/sub"),
    _case("fo-head", "head", "/fo/10k"),
    _case("fo-head-abslink", "head", "/fo/abslink"),
    _case("fo-head-empty", "head", "/fo/empty"),
    _case("fo-head-nul", "head", "/fo/nul"),
    _case("fo-head-dir", "head", "/fo/sub"),
    _case("fo-head-missing", "head", "/fo/missing"),
    _case("fo-head-relative", "head", "fo/10k"),
    _case("fo-head_n", "head_n", 3, "/fo/10k"),
    _case("fo-head_n-negative", "head_n", -9997, "/fo/10k"),
    _case("fo-head_n-zero", "head_n", 0, "/fo/10k"),
    _case("fo-head_n-missing", "head_n", 3, "/fo/missing"),
    _case("fo-tail", "tail", "/fo/10k"),
    _case("fo-tail-noeol", "tail", "/fo/noeol"),
    _case("fo-tail-dir", "tail", "/fo/sub"),
    _case("fo-tail_n", "tail_n", 3, "/fo/10k"),
    _case("fo-tail_n-negative", "tail_n", -9998, "/fo/10k"),
    _case("fo-tail_n-zero", "tail_n", 0, "/fo/10k"),
    _case("fo-tail_n-missing", "tail_n", 1, "/fo/missing"),
    _case("fo-wc_l", "wc_l", "/fo/10k"),
    _case("fo-wc_l-noeol", "wc_l", "/fo/noeol"),
    _case("fo-wc_l-dir", "wc_l", "/fo/sub"),
    _case("fo-wc_l-missing", "wc_l", "/fo/missing"),
    _case("fo-wc_w", "wc_w", "/fo/bin"),
    _case("fo-wc_c", "wc_c", "/fo/abslink"),
    _case("fo-wc_c-missing", "wc_c", "/fo/missing"),
    _case("fo-grep", "grep", "abc", "/fo/g.txt"),
    _case("fo-grep-nomatch", "grep", "nomatch", "/fo/g.txt"),
    _case("fo-grep-insensitive", "grep", "abc", "/fo/g.txt", insensitive=True),
    _case("fo-grep-extended", "grep", "c[0-9]+$", "/fo/g.txt", extended=True),
    _case("fo-grep-fixed", "grep", "a.c", "/fo/g.txt", fixed=True),
    _case("fo-grep-extended-fixed", "grep", "a", "/fo/g.txt", extended=True, fixed=True),
    _case("fo-grep-compressed", "grep", "abc", "/fo/g.txt.gz", compressed=True),
    _case("fo-grep_opts", "grep_opts", "ABC", "/fo/g.txt", fixed=True, insensitive=True),
    _case("fo-grep-bad-regex", "grep", "a[", "/fo/g.txt"),
    _case("fo-grep-dash-pattern", "grep", "-v", "/fo/g.txt"),
    _case("fo-grep-binary", "grep", "c", "/fo/nul"),
    _case("fo-grep-dir", "grep", "x", "/fo/sub"),
    _case("fo-grep-missing", "grep", "x", "/fo/missing"),
    _case("fo-grep-relative", "grep", "x", "fo/g.txt"),
    _case("fo-egrep", "egrep", "^(abc|def)$", "/fo/g.txt"),
    _case("fo-fgrep", "fgrep", "c1", "/fo/g.txt"),
    _case("fo-grepi", "grepi", "abc$", "/fo/g.txt"),
    _case("fo-egrepi", "egrepi", "^a.c$", "/fo/g.txt"),
    _case("fo-fgrepi", "fgrepi", "C1", "/fo/g.txt"),
    _case("fo-zgrep", "zgrep", "abc", "/fo/g.txt.gz"),
    _case("fo-zgrep-plain", "zgrep", "abc", "/fo/g.txt"),
    _case("fo-zgrep-missing", "zgrep", "abc", "/fo/missing"),
    _case("fo-zegrep", "zegrep", "c[0-9]+", "/fo/g.txt.gz"),
    _case("fo-zfgrep", "zfgrep", "ab", "/fo/g.txt.gz"),
    _case("fo-zgrepi", "zgrepi", "abc", "/fo/g.txt.gz"),
    _case("fo-zegrepi", "zegrepi", "^abc$", "/fo/g.txt.gz"),
    _case("fo-zfgrepi", "zfgrepi", "ABC1", "/fo/g.txt.gz"),
    _case("fo-strings", "strings", "/fo/bin"),
    _case("fo-strings-10k", "strings", "/fo/abslink"),
    _case("fo-strings-empty", "strings", "/fo/empty"),
    _case("fo-strings-dir", "strings", "/fo/sub"),
    _case("fo-strings-missing", "strings", "/fo/missing"),
    *[_case(f"fo-strings_e-{e}-bin", "strings_e", e, "/fo/bin") for e in "sSblBL"],
    *[_case(f"fo-strings_e-{e}-u16", "strings_e", e, "/fo/u16") for e in "sblBL"],
    _case("fo-strings_e-bad", "strings_e", "x", "/fo/bin"),
    _case("fo-strings_e-long", "strings_e", "bb", "/fo/bin"),
    _case("fo-strings_e-bad-missing", "strings_e", "x", "/fo/missing"),
    _case("fo-hexdump", "hexdump", "/fo/bin"),
    _case("fo-hexdump-zeros", "hexdump", "/fo/zeros"),
    _case("fo-hexdump-empty", "hexdump", "/fo/empty"),
    _case("fo-hexdump-dir", "hexdump", "/fo/sub"),
    _case("fo-hexdump-missing", "hexdump", "/fo/missing"),
    _case("fo-pread", "pread", "/fo/g.txt", 6, 4),
    _case("fo-pread-past-end", "pread", "/fo/g.txt", 10, 1000),
    _case("fo-pread-abslink", "pread", "/fo/abslink", 5, 0),
    _case("fo-pread-negative-count", "pread", "/fo/g.txt", -1, 0),
    _case("fo-pread-negative-offset", "pread", "/fo/g.txt", 1, -1),
    _case("fo-pread-too-large", "pread", "/fo/g.txt", 4 * 1024 * 1024, 0),
    _case("fo-pread-dir", "pread", "/fo/sub", 1, 0),
    _case("fo-pread-missing", "pread", "/fo/missing", 1, 0),
    _case("fo-pread-relative", "pread", "fo/g.txt", 1, 0),
    _case("fo-pwrite", "pwrite", "/fo/noeol", b"ONE", 0),
    _case("fo-pwrite-extend", "pwrite", "/fo/noeol", b"three", 8),
    _case("fo-pwrite-check", "read_file", "/fo/noeol"),
    _case("fo-pwrite-empty", "pwrite", "/fo/noeol", b"", 2),
    _case("fo-pwrite-negative-offset", "pwrite", "/fo/noeol", b"x", -1),
    _case("fo-pwrite-dir", "pwrite", "/fo/sub", b"x", 0),
    _case("fo-pwrite-missing", "pwrite", "/fo/missing", b"x", 0),
    _case("fo-pread_device", "pread_device", "/dev/sda", 1, 0),
    _case("fo-pwrite_device", "pwrite_device", "/dev/sda", b"x", 0),
    _case("fo-pread_device-not-device", "pread_device", "/fo/g.txt", 1, 0),
    _case("fo-pwrite_device-negative-offset", "pwrite_device", "/dev/sda", b"x", -1),
    _case("fo-glob-mkdir_p", "mkdir_p", "/fo/glob/b/c"),
    _case("fo-glob-touch-d", "touch", "/fo/glob/b/c/d"),
    _case("fo-glob-touch-e", "touch", "/fo/glob/b/c/e"),
    _case("fo-glob-touch-hidden", "touch", "/fo/glob/b/c/.hidden"),
    _case("fo-glob-link", "ln_s", "/fo/glob/b", "/fo/glob/lb"),
    _case("fo-glob", "glob_expand", "/fo/glob/b/c/*"),
    _case("fo-glob-nested", "glob_expand", "/fo/glob/*/c/*"),
    _case("fo-glob-dirs", "glob_expand", "/fo/glob/*"),
    _case("fo-glob-noslash", "glob_expand", "/fo/glob/*", directoryslash=False),
    _case("fo-glob-slash-true", "glob_expand_opts", "/fo/glob/*", directoryslash=True),
    _case("fo-glob-braces", "glob_expand", "/fo/glob/b/c/{e,d,x*}"),
    _case("fo-glob-bracket", "glob_expand", "/fo/glob/b/c/[!d]"),
    _case("fo-glob-caret", "glob_expand", "/fo/glob/b/c/[^d]"),
    _case("fo-glob-question", "glob_expand", "/fo/glob/b/?/?"),
    _case("fo-glob-hidden", "glob_expand", "/fo/glob/b/c/.*"),
    _case("fo-glob-nomatch", "glob_expand", "/fo/glob/b/c/nomatch*"),
    _case("fo-glob-literal", "glob_expand", "/fo/glob/b/c/d"),
    _case("fo-glob-literal-missing", "glob_expand", "/fo/glob/b/c/missing"),
    _case("fo-glob-trailing-slash", "glob_expand", "/fo/glob/*/"),
    _case("fo-glob-escape", "glob_expand", "/fo/glob/b/c/\\d"),
    _case("fo-glob-root", "glob_expand", "/"),
    _case("fo-glob-root-noslash", "glob_expand", "/", directoryslash=False),
    _case("fo-glob-literal-dir", "glob_expand", "/fo/glob"),
    _case("fo-glob-double-slash", "glob_expand", "/fo/glob//b"),
    _case("fo-glob-file-slash", "glob_expand", "/fo/glob/b/c/d/"),
    _case("fo-glob-files-slash", "glob_expand", "/fo/glob/b/c/*/"),
    _case("fo-glob-dotdot", "glob_expand", "/fo/glob/b/c/../c/?"),
    _case("fo-glob-class", "glob_expand", "/fo/glob/b/c/[[:alpha:]]"),
    _case("fo-glob-unclosed-brace", "glob_expand", "/fo/glob/b/c/{d"),
    _case("fo-glob-empty-brace", "glob_expand", "/fo/glob/b/c/{}"),
    _case("fo-glob-through-link", "glob_expand", "/fo/glob/lb/c/*"),
    _case("fo-glob-relative", "glob_expand", "fo/*"),
    _case("fo-mkdtemp-bad-template", "mkdtemp", "/fo/tmpXX"),
    _case("fo-mkdtemp-no-parent", "mkdtemp", "/fo/nodir/tmpXXXXXX"),
    _case("fo-mkdtemp-relative", "mkdtemp", "tmpXXXXXX"),
    _case("fo-mktemp-bad-template", "mktemp", "/fo/tmp"),
    _case("fo-mktemp-suffix-no-x", "mktemp", "/fo/tmp", suffix=".txt"),
    _case("fo-mktemp-no-parent", "mktemp", "/fo/nodir/tmpXXXXXX"),
    _case("fo-get_umask", "get_umask"),
    _case("fo-umask", "umask", 0o077),
    _case("fo-umask-touch", "touch", "/fo/private"),
    _case("fo-umask-mkdir", "mkdir", "/fo/privdir"),
    _case("fo-umask-get", "get_umask"),
    _case("fo-umask-restore", "umask", 0o022),
    _case("fo-umask-too-big", "umask", 0o1000),
    _case("fo-umask-negative", "umask", -1),
    _case("fo-mknod-fifo", "mknod", 0o10777, 0, 0, "/fo/fifo"),
    _case("fo-mknod-fifo-check", "lstatns", "/fo/fifo"),
    _case("fo-mknod-block", "mknod", 0o60644, 66, 99, "/fo/blk"),
    _case("fo-mknod-block-check", "lstatns", "/fo/blk"),
    _case("fo-mknod-negative", "mknod", -1, 0, 0, "/fo/x"),
    _case("fo-mknod-exists", "mknod", 0o10644, 0, 0, "/fo/fifo"),
    _case("fo-mknod-relative", "mknod", 0o10644, 0, 0, "fo/x"),
    _case("fo-mkfifo", "mkfifo", 0o644, "/fo/fifo2"),
    _case("fo-mkfifo-bad-mode", "mkfifo", 0o20777, "/fo/fifo3"),
    _case("fo-mkfifo-no-parent", "mkfifo", 0o644, "/fo/nodir/f"),
    _case("fo-mknod_b", "mknod_b", 0o777, 99, 66, "/fo/blk2"),
    _case("fo-mknod_b-check", "lstatns", "/fo/blk2"),
    _case("fo-mknod_b-bad-mode", "mknod_b", 0o10777, 99, 66, "/fo/blk3"),
    _case("fo-mknod_c", "mknod_c", 0o600, 1, 3, "/fo/chr"),
    _case("fo-mknod_c-check", "lstatns", "/fo/chr"),
    _case("fo-mknod_c-bad-mode", "mknod_c", 0o20777, 1, 3, "/fo/chr2"),
    _case("fo-ln", "ln", "/fo/g.txt", "/fo/hard"),
    _case("fo-ln-check", "lstatns", "/fo/hard"),
    _case("fo-ln-exists", "ln", "/fo/g.txt", "/fo/hard"),
    _case("fo-ln-missing", "ln", "/fo/missing", "/fo/hard2"),
    _case("fo-ln-dir", "ln", "/fo/sub", "/fo/hardsub"),
    _case("fo-ln-symlink", "ln", "/fo/abslink", "/fo/hardlink-to-link"),
    _case("fo-ln-symlink-check", "lstatns", "/fo/hardlink-to-link"),
    _case("fo-ln-relative-linkname", "ln", "/fo/g.txt", "fo/x"),
    _case("fo-ln_f", "ln_f", "/fo/bin", "/fo/hard"),
    _case("fo-ln_f-check", "lstatns", "/fo/bin"),
    _case("fo-ln_f-missing", "ln_f", "/fo/missing", "/fo/hard"),
    _case("fo-ln_f-missing-check", "exists", "/fo/hard"),
    _case("fo-ln_sf", "ln_sf", "../d", "/fo/sub/c"),
    _case("fo-ln_sf-over-file", "ln_sf", "target", "/fo/noeol"),
    _case("fo-ln_sf-over-file-check", "readlink", "/fo/noeol"),
    _case("fo-ln_sf-into-dir", "ln_sf", "/some/where", "/fo/sub"),
    _case("fo-ln_sf-into-dir-check", "readlink", "/fo/sub/where"),
    _case("fo-ln_sf-no-parent", "ln_sf", "x", "/fo/nodir/y"),
    _case("fo-ln_sf-relative", "ln_sf", "x", "fo/y"),
    _case("fo-truncate", "truncate", "/fo/bin"),
    _case("fo-truncate-check", "filesize", "/fo/bin"),
    _case("fo-truncate_size", "truncate_size", "/fo/bin", 1000),
    _case("fo-truncate_size-check", "pread", "/fo/bin", 10, 990),
    _case("fo-truncate_size-negative", "truncate_size", "/fo/bin", -1),
    _case("fo-truncate-dir", "truncate", "/fo/sub"),
    _case("fo-truncate-missing", "truncate", "/fo/missing"),
    _case("fo-truncate-relative", "truncate", "fo/bin"),
    _case("fo-fallocate64", "fallocate64", "/fo/falloc", 1000000),
    _case("fo-fallocate64-check", "filesize", "/fo/falloc"),
    _case("fo-fallocate", "fallocate", "/fo/falloc", 10),
    _case("fo-fallocate-negative", "fallocate", "/fo/falloc", -1),
    _case("fo-fallocate64-negative", "fallocate64", "/fo/falloc", -1),
    _case("fo-fallocate64-dir", "fallocate64", "/fo/sub", 1),
    _case("fo-fallocate64-no-parent", "fallocate64", "/fo/nodir/x", 1),
    _case("fo-utimens", "utimens", "/fo/g.txt", 12345, 67890, 9876, 5432),
    _case("fo-utimens-dir", "utimens", "/fo/sub", 1, 2, 3, 4),
    _case("fo-utimens-fifo", "utimens", "/fo/fifo", 1, 2, 3, 4),
    _case("fo-utimens-symlink", "utimens", "/fo/abslink", 1, 2, 3, 4),
    _case("fo-utimens-now-omit", "utimens", "/fo/g.txt", 0, -1, 0, -2),
    _case("fo-utimens-bad-nsec", "utimens", "/fo/g.txt", 0, 1_000_000_000, 0, 0),
    _case("fo-utimens-negative-nsec", "utimens", "/fo/g.txt", 0, -3, 0, 0),
    _case("fo-utimens-missing", "utimens", "/fo/missing", 0, 0, 0, 0),
    _case("fo-utimens-relative", "utimens", "fo/g.txt", 0, 0, 0, 0),
    _case("fo-lchown", "lchown", 1000, 1001, "/fo/abslink"),
    _case("fo-lchown-check-link", "lstatns", "/fo/abslink"),
    _case("fo-lchown-check-target", "lstatns", "/fo/10k"),
    _case("fo-lchown-minus-one", "lchown", -1, -1, "/fo/abslink"),
    _case("fo-lchown-missing", "lchown", 0, 0, "/fo/missing"),
    _case("fo-lchown-relative", "lchown", 0, 0, "fo/abslink"),
    _case("fo-xattr-touch", "touch", "/fo/x"),
    _case("fo-xattr-link", "ln_s", "x", "/fo/xl"),
    _case("fo-getxattrs-none", "getxattrs", "/fo/x"),
    _case("fo-setxattr", "setxattr", "user.b", "two", 3, "/fo/x"),
    _case("fo-setxattr-with-nul", "setxattr", "user.a", "one", 4, "/fo/xl"),
    _case("fo-setxattr-short", "setxattr", "user.short", "abcdef", 2, "/fo/x"),
    _case("fo-setxattr-empty", "setxattr", "user.empty", "", 0, "/fo/x"),
    _case("fo-setxattr-too-large", "setxattr", "user.big", "x", 65537, "/fo/x"),
    _case("fo-setxattr-negative", "setxattr", "user.neg", "x", -1, "/fo/x"),
    _case("fo-setxattr-bad-namespace", "setxattr", "bogus.ns", "x", 1, "/fo/x"),
    _case("fo-setxattr-missing", "setxattr", "user.a", "x", 1, "/fo/missing"),
    _case("fo-setxattr-relative", "setxattr", "user.a", "x", 1, "fo/x"),
    _case("fo-lsetxattr-user-on-link", "lsetxattr", "user.a", "x", 1, "/fo/xl"),
    _case("fo-lsetxattr-trusted-on-link", "lsetxattr", "trusted.t", "v", 1, "/fo/xl"),
    _case("fo-getxattrs", "getxattrs", "/fo/x"),
    _case("fo-getxattrs-link", "getxattrs", "/fo/xl"),
    _case("fo-lgetxattrs-link", "lgetxattrs", "/fo/xl"),
    _case("fo-getxattrs-missing", "getxattrs", "/fo/missing"),
    _case("fo-lgetxattrs-relative", "lgetxattrs", "fo/xl"),
    _case("fo-getxattr", "getxattr", "/fo/x", "user.a"),
    _case("fo-getxattr-link", "getxattr", "/fo/xl", "user.b"),
    _case("fo-getxattr-none", "getxattr", "/fo/x", "user.none"),
    _case("fo-getxattr-missing", "getxattr", "/fo/missing", "user.a"),
    _case("fo-lgetxattr-link", "lgetxattr", "/fo/xl", "trusted.t"),
    _case("fo-lgetxattr-none", "lgetxattr", "/fo/xl", "user.b"),
    _case("fo-removexattr", "removexattr", "user.short", "/fo/xl"),
    _case("fo-removexattr-again", "removexattr", "user.short", "/fo/x"),
    _case("fo-removexattr-missing", "removexattr", "user.a", "/fo/missing"),
    _case("fo-lremovexattr", "lremovexattr", "trusted.t", "/fo/xl"),
    _case("fo-lremovexattr-none", "lremovexattr", "trusted.t", "/fo/xl"),
    _case("fo-lxattrlist", "internal_lxattrlist", "/fo", ["x", "xl", "missing", "sub", ""]),
    _case("fo-lxattrlist-slash", "internal_lxattrlist", "/fo", ["sub/c"]),
    _case("fo-lxattrlist-missing-dir", "internal_lxattrlist", "/fo/nodir", ["x"]),
    _case("fo-lstatnslist", "internal_lstatnslist", "/fo", ["g.txt", "abslink", "missing", ""]),
    _case("fo-lstatnslist-root-dotdot", "internal_lstatnslist", "/", ["..", "."]),
    _case("fo-lstatnslist-file", "internal_lstatnslist", "/fo/g.txt", ["x"]),
    _case("fo-lstatnslist-missing", "internal_lstatnslist", "/fo/nodir", ["x"]),
    _case("fo-lstatnslist-slash", "internal_lstatnslist", "/fo", ["sub/c"]),
    _case("fo-lstatnslist-relative", "internal_lstatnslist", "fo", ["x"]),
    _case("fo-readlinklist", "internal_readlinklist", "/fo", ["abslink", "g.txt", "missing", ""]),
    _case("fo-readlinklist-file", "internal_readlinklist", "/fo/g.txt", ["x"]),
    _case("fo-readlinklist-missing", "internal_readlinklist", "/fo/nodir", ["x"]),
    _case("fo-readlinklist-slash", "internal_readlinklist", "/fo", ["sub/c"]),
    _case("fo-file", "file", "/fo/10k"),
    _case("fo-file-gz", "file", "/fo/g.txt.gz"),
    _case("fo-file-empty", "file", "/fo/empty"),
    _case("fo-file-dir", "file", "/fo/sub"),
    _case("fo-file-symlink", "file", "/fo/abslink"),
    _case("fo-file-fifo", "file", "/fo/fifo"),
    _case("fo-file-block", "file", "/fo/blk"),
    _case("fo-file-char", "file", "/fo/chr"),
    _case("fo-file-missing", "file", "/fo/missing"),
    _case("fo-file-relative", "file", "fo/10k"),
    _case("fo-file-device", "file", "/dev/sda"),
    _case("fo-final-find", "find", "/fo/"),
]

#: Every API the differential table must exercise.
APIS = {
    "ping_daemon",
    "exists",
    "is_file",
    "is_dir",
    "is_symlink",
    "mkdir",
    "mkdir_p",
    "rmdir",
    "rm",
    "rm_rf",
    "touch",
    "chmod",
    "chown",
    "ln_s",
    "readlink",
    "realpath",
    "cp",
    "cp_a",
    "mv",
    "statns",
    "lstatns",
    "readdir",
    "ls0",
    "find0",
    "ll",
    "filesize",
    "checksum",
    "upload",
    "upload_offset",
    "download",
    "download_offset",
    "tar_in",
    "tar_out",
    "statvfs",
    "du",
    "available_all_groups",
    "ls",
    "cat",
    "read_file",
    "read_lines",
    "write",
    "write_append",
    "find",
    "stat",
    "lstat",
    "feature_available",
    # archives
    "tgz_in",
    "tgz_out",
    "txz_in",
    "txz_out",
    "cpio_out",
    "base64_in",
    "base64_out",
    "compress_out",
    "available",
    "command",
    "command_lines",
    "sh",
    "sh_lines",
    # fileops
    "file",
    "head",
    "head_n",
    "tail",
    "tail_n",
    "grep",
    "grep_opts",
    "egrep",
    "fgrep",
    "grepi",
    "egrepi",
    "fgrepi",
    "zgrep",
    "zegrep",
    "zfgrep",
    "zgrepi",
    "zegrepi",
    "zfgrepi",
    "wc_l",
    "wc_w",
    "wc_c",
    "strings",
    "strings_e",
    "hexdump",
    "pread",
    "pwrite",
    "pread_device",
    "pwrite_device",
    "glob_expand",
    "glob_expand_opts",
    "mkdtemp",
    "mktemp",
    "umask",
    "get_umask",
    "mknod",
    "mkfifo",
    "mknod_b",
    "mknod_c",
    "ln",
    "ln_f",
    "ln_sf",
    "truncate",
    "truncate_size",
    "fallocate",
    "fallocate64",
    "utimens",
    "lchown",
    "getxattrs",
    "lgetxattrs",
    "setxattr",
    "lsetxattr",
    "removexattr",
    "lremovexattr",
    "getxattr",
    "lgetxattr",
    "internal_lxattrlist",
    "internal_lstatnslist",
    "internal_readlinklist",
}

#: Differences not fixed yet: case id -> what differs and why. test_same_replies[API] is an
#: xfail naming them, test_report shows both replies; remove an entry once the agent
#: matches (it then fails as stale), or document it in docs/compatibility.md and keep it.
_HOST_PATH = (
    "external program's message names the agent's host sysroot path where "
    "guestfsd's names /sysroot/..."
)
_ABS_OUTSIDE = (
    'guestfsd runs this outside the chroot on "/sysroot" + path, so an absolute '
    "symlink resolves against the appliance's root (not found there); ours resolves "
    "it inside the sysroot"
)
_SUCCESS = (
    'guestfsd: reply_with_perror with errno 0, so the text ends ": Success" and has '
    "no errno; ours has no suffix"
)
KNOWN_DIFFERENCES: dict[str, str] = {
    # fileops
    "fo-mktemp-no-parent": "glibc's mkstemps writes each random name it tries into "
    "guestfsd's buffer, so the message names the last random try; ours names the template",
    "fo-lstatnslist-root-dotdot": 'guestfsd fstatat()s ".." of the sysroot\'s root after '
    "leaving its chroot, so it gets the appliance's / ; ours stays in the sysroot (its root)",
    "cp-through-link-dest": _ABS_OUTSIDE + " (cp: not writing through dangling symlink)",
    "abs-mv-through": "both fail; ours names the resolved path (/sysroot/abs/w2), guestfsd "
    "the link (/sysroot/abs-link/w2)",
    "find-symlink": _ABS_OUTSIDE,
    "upload_offset-negative": _SUCCESS + "; and guestfsd does not drain the FileIn chunks "
    "(no cancel_receive), reads them as a request and exits",
    "download_offset-negative-offset": _SUCCESS,
    "download_offset-negative-size": _SUCCESS,
    "tar_in-bad-compress": "same reply, but guestfsd does not drain the FileIn chunks (no "
    "cancel_receive), reads them as a request and exits",
    "abs-cp-through": _ABS_OUTSIDE,
    "abs-cp_a-through": _ABS_OUTSIDE,
    "abs-find-through": _ABS_OUTSIDE,
    "abs-du-through": _ABS_OUTSIDE,
    "abs-tar_out-link": _ABS_OUTSIDE,
    "abs-tar_in-link": _ABS_OUTSIDE,
    "esc-cp-etc-file": "a relative symlink climbing out of the sysroot: guestfsd's cp follows "
    "it into the appliance's /etc; ours stays inside the sysroot",
}

# -- running a case and normalising its outcome -------------------------------------------

_TIME_KEYS = re.compile(r"^(st_)?[amc]time(_sec|_nsec)?$")
_VOLATILE = {"st_dev", "st_ino", "dev", "ino", "bfree", "bavail", "ffree", "favail"}
# ls -la dates: "Nov 25 13:59" or "Nov 25  2024".
_LS_DATE = re.compile(r"\b[A-Z][a-z]{2} [ \d]\d (?:\d\d:\d\d| \d{4})\b")


@dataclass(frozen=True)
class Outcome:
    """What one daemon did with one case."""

    kind: str  # "ok", "error" (a GuestFSError from the daemon) or "exception"
    value: Any = None  # the normalised return value, for "ok"
    errno: str = ""  # errno name, for "error"
    message: str = ""  # the exception text, for "error" and "exception"
    #: The daemon was gone after this call (it was restarted for the next case).
    connection_lost: bool = False

    def show(self) -> str:
        if self.kind == "ok":
            text = repr(self.value)
            text = "ok " + (text if len(text) <= 300 else text[:300] + "...")
        elif self.kind == "error":
            text = f"error {self.errno or '(no errno)'} {self.message!r}"
        else:
            text = f"exception {self.message!r}"
        return text + (" [then the daemon was gone]" if self.connection_lost else "")


def _normalise(api: str, value: Any, out: bytes | None) -> Any:
    if api in _ARCHIVE_OUT:  # archives
        assert out is not None
        return _ARCHIVE_OUT[api](out)
    if isinstance(value, dict):
        value = {k: ("*" if k in _VOLATILE or _TIME_KEYS.match(k) else v) for k, v in value.items()}
    elif api == "internal_lstatnslist":
        value = [
            {
                k: ("*" if (k in _VOLATILE or _TIME_KEYS.match(k)) and v != -1 else v)
                for k, v in d.items()
            }
            for d in value
        ]
    if api == "readdir":
        value = sorted(({**d, "ino": "*"} for d in value), key=lambda d: d["name"])
    elif api == "ll":
        value = _LS_DATE.sub("DATE", value)
    elif api in ("ls0", "find0"):
        assert out is not None
        names = out.split(b"\0")
        value = {"names": sorted(names[:-1]), "nul_terminated": names[-1] == b""}
    elif api == "tar_out":
        assert out is not None
        value = _tar_listing(out)
    elif api in ("download", "download_offset"):
        value = out
    return value


# archives: what a FileOut call of the archives block downloaded, without times or inodes.
def _cpio_listing(data: bytes) -> Any:
    done = subprocess.run(["cpio", "-itv", "--quiet"], input=data, capture_output=True)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    # "-rw-r--r--   1 root     root            6 Nov 25 13:59 a.txt": keep all but the date
    fields = sorted(ln.split()[:5] + ln.split()[8:] for ln in lines)
    return {"magic": data[:6], "status": done.returncode, "members": fields}


def _decompressed(data: bytes) -> Any:
    for magic, undo in ((b"\x1f\x8b", gzip.decompress), (b"BZh", bz2.decompress),
                        (b"\xfd7zXZ", lzma.decompress)):  # fmt: skip
        if data.startswith(magic):
            return {"magic": magic, "content": undo(data)}
    return {"raw": data}


_ARCHIVE_OUT: dict[str, Callable[[bytes], Any]] = {
    "tgz_out": lambda out: _tar_listing(out),
    "txz_out": lambda out: _tar_listing(out),
    "cpio_out": _cpio_listing,
    "base64_out": lambda out: out,
    "compress_out": _decompressed,
}


def _tar_listing(data: bytes) -> Any:
    """The members of a tar archive, without times; the compression used."""
    compression = "gzip" if data[:2] == b"\x1f\x8b" else "none"
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            members = sorted(
                (
                    m.name,
                    m.type.decode(),
                    oct(m.mode),
                    m.size,
                    m.uid,
                    m.gid,
                    m.uname,
                    m.gname,
                    m.linkname,
                )
                for m in tf.getmembers()
            )
    except tarfile.TarError as e:
        return {"compression": compression, "error": str(e), "size": len(data)}
    return {"compression": compression, "members": members}


#: Failures guestfsd reports one way or another depending on timing, taken as one.
#: base64_in pipes the data into "base64 -d -i > FILE" through a shell: when the shell
#: cannot create FILE (or base64 gives up) it exits, and guestfsd says "write error" if
#: its write into the pipe came after that exit (EPIPE), else "base64 subcommand failed"
#: when it closes the pipe. Which one depends on how fast the chunk arrives: on a loaded
#: machine the shell has long exited. Our agent has the same pipe, so the same race.
_RACES = (
    (
        re.compile(r"^base64_in: write error on file: "),
        "base64_in: base64 subcommand failed on file: ",
    ),
)


def _settle_race(message: str) -> str:
    for pattern, canonical in _RACES:
        message = pattern.sub(canonical, message)
    return message


def _method(g: GuestFS, api: str) -> Callable[..., Any]:
    """The handle's method; for an internal procedure (the bindings have no method) a
    direct call of it with positional arguments."""
    if hasattr(g, api):
        return getattr(g, api)  # type: ignore[no-any-return]
    proc = BY_NAME[api]

    def call(*args: Any) -> Any:
        wire = dict(zip([a.name for a in proc.wire_args], args, strict=True))
        return g._shape(proc, g._call(api, wire, {}))  # type: ignore[attr-defined]

    return call


def run_case(g: GuestFS, case: Case, local: Path) -> Outcome:
    """Make one call on one handle; ``local`` is a directory for FileIn/FileOut files."""
    args: list[Any] = []
    out_path: Path | None = None
    for i, a in enumerate(case.args):
        if isinstance(a, LocalIn):
            p = local / f"in-{i}"
            p.write_bytes(a.data)
            args.append(str(p))
        elif isinstance(a, LocalOut):
            out_path = local / f"out-{i}"
            if out_path.exists():
                out_path.unlink()
            args.append(str(out_path))
        else:
            args.append(a)
    try:
        value = _method(g, case.api)(*args, **case.kwargs)
    except GuestFSError as e:
        return Outcome("error", errno=e.errno_name, message=_settle_race(str(e)))
    except Exception as e:
        return Outcome("exception", message=f"{type(e).__name__}: {e}")
    out = out_path.read_bytes() if out_path is not None and out_path.exists() else None
    return Outcome("ok", value=_normalise(case.api, value, out))


# -- comparing the trees the calls leave behind ------------------------------------------------

Entry = tuple[str, str, int, int, int, int, str, str]


#: Content digests by (path, inode, size, ctime): a file is read again only once changed.
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def _digest(path: str, st: os.stat_result) -> str:
    key = (path, st.st_ino, st.st_size, st.st_ctime_ns)
    if key not in _DIGESTS:
        with open(path, "rb") as f:
            _DIGESTS[key] = hashlib.sha1(f.read()).hexdigest()[:12]
    return _DIGESTS[key]


def snapshot(root: Path) -> list[Entry]:
    """Every name under ``root``: type, permission bits, owner, group, size and content
    digest (regular files), symlink target. No times or inode numbers; no directory sizes
    (they depend on a directory's history, not its contents)."""
    out: list[Entry] = []
    top = str(root)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            size, digest, target = 0, "", ""
            if stat.S_ISREG(st.st_mode):
                size, digest = st.st_size, _digest(path, st)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)
            kind = stat.filemode(st.st_mode)[0]
            rel = os.path.relpath(path, top)
            mode = stat.S_IMODE(st.st_mode)
            out.append((rel, kind, mode, st.st_uid, st.st_gid, size, digest, target))
    return sorted(out)


def tree_difference(ours: list[Entry], real: list[Entry]) -> str:
    only_ours = sorted(set(ours) - set(real))
    only_real = sorted(set(real) - set(ours))
    return f"tree afterwards: only ours {only_ours}, only real {only_real}"


def resync(src: Path, dest: Path) -> None:
    """Make ``dest`` a copy of ``src`` (types, contents, modes, owners, symlinks), so the
    next case starts from the same tree on both sides whatever this one did."""
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    dirs: list[tuple[Path, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            s = Path(dirpath, name)
            d = dest / s.relative_to(src)
            st = s.lstat()
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISDIR(st.st_mode):
                d.mkdir()
                dirs.append((d, st))
                continue
            else:
                shutil.copyfile(s, d)
            os.lchown(d, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(d, stat.S_IMODE(st.st_mode))
    for d, st in dirs:
        os.chown(d, st.st_uid, st.st_gid)
        os.chmod(d, stat.S_IMODE(st.st_mode))


# -- the fixture that runs everything once ---------------------------------------------------


#: Library calls that download through a FileOut call of the daemon.
_VIA_FILE_OUT = {"ls", "find", "cat", "read_file", "read_lines"}


class Side:
    """One daemon and the handle attached to it; restarted on the same scratch directory
    if a case kills it (so one daemon bug does not fail every later case)."""

    def __init__(
        self, start: Callable[[Path], AbstractContextManager[Daemon]], scratch: Path
    ) -> None:
        self.start, self.scratch = start, scratch
        self.stack = ExitStack()
        self.restarts = 0
        self.log = ""
        self.g = self._open()

    def _open(self) -> GuestFS:
        self.daemon = self.stack.enter_context(self.start(self.scratch))
        return self.daemon.handle()

    def alive(self) -> bool:
        try:
            self.g.ping_daemon()
        except Exception:  # any failure means the connection is gone
            return False
        return True

    def restart(self) -> None:
        self.close()
        self.stack = ExitStack()
        self.restarts += 1
        self.g = self._open()

    def close(self) -> None:
        with suppress(Exception):
            self.g.close()
        self.log += self.daemon.log()
        self.stack.close()


@dataclass
class DifferentialRun:
    #: case id -> (ours, real)
    outcomes: dict[str, tuple[Outcome, Outcome]]
    #: case id -> how the trees differed after it (then ours was made a copy of real's)
    trees: dict[str, str]
    ours_scratch: Path
    real_scratch: Path
    real_log: str
    seconds: float

    def differs(self, case_id: str) -> bool:
        ours, real = self.outcomes[case_id]
        return ours != real or case_id in self.trees

    def differences(self) -> list[Case]:
        return [c for c in CASES if self.differs(c.id)]


def _unavailable(why: str) -> None:
    if require_real_daemon():
        pytest.fail(f"the real guestfsd is required but cannot run: {why}")
    pytest.skip(f"the real guestfsd cannot run here: {why}")


@pytest.fixture(scope="module")
def real_daemon_ready() -> None:
    try:
        check_can_confine()
        daemon_tarball()
    except RealDaemonUnavailable as e:
        _unavailable(str(e))


@pytest.fixture(scope="module")
def differential(
    real_daemon_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> DifferentialRun:
    started = time.monotonic()
    base = tmp_path_factory.mktemp("differential")
    ours_scratch, real_scratch, local = base / "ours", base / "real", base / "local"
    for d in (ours_scratch, real_scratch, local):
        d.mkdir()
    outcomes: dict[str, tuple[Outcome, Outcome]] = {}
    trees: dict[str, str] = {}
    ours = Side(our_agent, ours_scratch)
    try:
        real = Side(lambda s: real_guestfsd(s, verbose=True), real_scratch)
    except BaseException:
        ours.close()
        raise
    try:
        for c in CASES:
            pair = []
            for side in (ours, real):
                outcome = run_case(side.g, c, local)
                # A daemon can only lose the thread after a failure or a chunk stream.
                risky = (
                    outcome.kind != "ok"
                    or any(isinstance(a, LocalIn | LocalOut) for a in c.args)
                    or c.api in _VIA_FILE_OUT
                )
                if risky and not side.alive():
                    side.restart()
                    outcome = replace(outcome, connection_lost=True)
                pair.append(outcome)
            outcomes[c.id] = (pair[0], pair[1])
            tree_ours, tree_real = snapshot(ours_scratch), snapshot(real_scratch)
            if tree_ours != tree_real:
                trees[c.id] = tree_difference(tree_ours, tree_real)
                resync(real_scratch, ours_scratch)
    finally:
        ours.close()
        real.close()
    return DifferentialRun(
        outcomes, trees, ours_scratch, real_scratch, real.log, time.monotonic() - started
    )


# -- the tests ----------------------------------------------------------------------------------


def test_table_covers_every_api() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert APIS - {c.api for c in CASES} == set()
    assert set(KNOWN_DIFFERENCES) <= set(ids), "KNOWN_DIFFERENCES names an unknown case"


def describe(ours: Outcome, real: Outcome) -> str:
    """Both outcomes; for two lists or two dicts, only what differs."""
    if ours.kind == real.kind == "ok" and ours.connection_lost == real.connection_lost:
        a, b = ours.value, real.value
        if isinstance(a, list) and isinstance(b, list) and a != b:
            only_a = [x for x in a if x not in b]
            only_b = [x for x in b if x not in a]
            if not only_a and not only_b:
                return f"same items, different order: ours {a!r} | real {b!r}"
            return f"ok, lists differ: only ours {only_a!r} | only real {only_b!r}"
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
            keys = [k for k in a if a[k] != b[k]]
            return "ok, fields differ: " + ", ".join(
                f"{k}: ours {a[k]!r} real {b[k]!r}" for k in keys
            )
    return f"ours: {ours.show()} | real guestfsd: {real.show()}"


def _detail(run: DifferentialRun, case_id: str) -> str:
    ours, real = run.outcomes[case_id]
    text = describe(ours, real) if ours != real else f"same reply: {ours.show()}"
    if case_id in run.trees:
        text += " | " + run.trees[case_id]
    return text


@pytest.mark.parametrize("api", sorted({c.api for c in CASES}))
def test_same_replies(differential: DifferentialRun, api: str) -> None:
    """Every case of one API: replies and trees must agree, except for the differences
    listed in KNOWN_DIFFERENCES (then the test is an xfail naming them)."""
    cases = [c for c in CASES if c.api == api]
    new = [c for c in cases if differential.differs(c.id) and c.id not in KNOWN_DIFFERENCES]
    stale = [c for c in cases if not differential.differs(c.id) and c.id in KNOWN_DIFFERENCES]
    problems = [f"{c.id}: the daemons differ -- {_detail(differential, c.id)}" for c in new]
    problems += [
        f"{c.id}: listed in KNOWN_DIFFERENCES but both daemons now agree -- remove the entry"
        for c in stale
    ]
    assert not problems, "\n".join(problems)
    known = [c for c in cases if differential.differs(c.id)]
    if known:
        pytest.xfail("; ".join(f"{c.id}: {KNOWN_DIFFERENCES[c.id]}" for c in known))


def test_real_writes_land_in_scratch(differential: DifferentialRun) -> None:
    """What the real guestfsd wrote is in its scratch directory on the host."""
    assert (differential.real_scratch / "f").is_file()
    assert (differential.real_scratch / "d" / "p" / "q" / "r").is_dir()


def test_report(differential: DifferentialRun, tmp_path: Path) -> None:
    """Print every difference (run with -s to see it) and save it next to the test."""
    lines = []
    for c in differential.differences():
        call = ", ".join([*(repr(a) for a in c.args), *(f"{k}={v!r}" for k, v in c.kwargs.items())])
        status = "known" if c.id in KNOWN_DIFFERENCES else "NEW"
        lines += [
            f"[{status}] {c.id}: {c.api}({call})",
            "    " + _detail(differential, c.id).replace(" | ", "\n    "),
        ]
    report = "\n".join(
        [
            f"differential: {len(CASES)} cases in {differential.seconds:.1f} s, "
            f"{len(differential.differences())} differ",
            *lines,
        ]
    )
    (tmp_path / "differential-report.txt").write_text(report + "\n")
    print(report)


def test_real_daemon_is_confined(real_daemon_ready: None, tmp_path: Path) -> None:
    """guestfsd -r sees the confined root as its "/": the scratch directory (its /sysroot)
    is writable and lands on the host; the rest of its root is read-only."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    host_paths = ["/probe", "/usr/probe", "/etc/probe", "/usr/lib/probe", "/tmp/probe"]
    existed = {p for p in host_paths if os.path.lexists(p)}
    with real_guestfsd(scratch, standalone=True) as daemon:
        g = daemon.handle()
        g.write("/sysroot/probe", "landed")
        assert (scratch / "probe").read_text() == "landed"
        for path in (
            "/probe",
            "/usr/probe",
            "/etc/probe",
            "/dev/probe",
            "/run/probe",
            "/.guestfsd/probe",
            "/usr/lib/probe",
        ):
            with pytest.raises(GuestFSError) as info:
                g.write(path, "x")
            assert info.value.errno_name == "EROFS", f"{path}: {info.value}"
        # /tmp is the namespace's own tmpfs: writable, but gone with the daemon.
        g.write("/tmp/probe", "x")
    leaked = [p for p in host_paths if p not in existed and os.path.lexists(p)]
    assert leaked == [], f"written through the confined daemon, found on the host: {leaked}"


def test_big_chunks_with_our_agent_and_8k_with_guestfsd(
    real_daemon_ready: None, tmp_path: Path
) -> None:
    """Our host asks the daemon for 1 MiB chunks before its first transfer: our agent
    grants them, the real guestfsd answers "unknown procedure", and both transfers come
    out identical to the source."""
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 << 20) + b"odd tail")
    sizes = {}
    for name, start in (("ours", our_agent), ("real", real_guestfsd)):
        scratch = tmp_path / name
        scratch.mkdir()
        with start(scratch) as daemon:
            g = daemon.handle()
            g.upload(str(src), "/up.bin")
            back = tmp_path / f"{name}.back"
            g.download("/up.bin", str(back))
            assert back.read_bytes() == src.read_bytes()
            assert (scratch / "up.bin").read_bytes() == src.read_bytes()
            assert g.ping_daemon() is None  # the refused request left the stream in step
            sizes[name] = g._conn.chunk_size  # type: ignore[union-attr]
    assert sizes == {"ours": 1 << 20, "real": 8192}
