"""``mount_local``: the guest's mounted filesystems as a FUSE filesystem on the host
(1.48's ``lib/fuse.c``), served by the handle's own calls.

The binding is **pyfuse3** on **libfuse3** (``pip install pyguestfs[fuse]``; Debian's
``fuse3`` and ``libfuse3-dev``): libfuse 2, which 1.48 links, is in maintenance only,
and the Python bindings of libfuse 2 (fusepy, python-fuse) are unmaintained; pyfuse3 is
maintained with libfuse itself and is typed. Its API is the low-level, inode-based one,
so this module keeps a table of guest paths by inode number of its own (the guest's
inode numbers can repeat across the filesystems mounted in it).

As in 1.48: ``mount_local`` mounts (the mount point exists from then on);
``mount_local_run`` serves requests until the filesystem is unmounted, by
``umount_local`` from another thread or ``fusermount3 -u`` / ``pyguestunmount``; a
directory read fetches its names with ``readdir`` and then the attributes, extended
attributes and link targets of all of them with ``lstatnslist``, ``lxattrlist`` and
``readlinklist`` (1000 names a call), kept for ``cachetimeout`` seconds (60 by
default) so that ``ls -l`` costs four calls, not one per file; writes drop the cached
entries of the paths they touch; ``readonly=True`` answers EROFS to every change.

A hostile guest cannot take the host with it: every request runs the handle call in a
worker thread under a time limit (:data:`CALL_TIMEOUT`); when the appliance does not
answer in time the connection is shut down, so the stuck call and every later one fail
at once and the mount answers EIO until it is unmounted. Names the guest sends are
checked (no ``/``, no NUL, at most 255 bytes); a daemon error becomes its errno (EINVAL
when it sent none, as 1.48); anything unexpected becomes EIO, never a dead FUSE loop.
pyfuse3 serves one mount per process, so a second ``mount_local`` in the same process
fails as 1.48's does in a handle that is already mounted.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ...core import runner
from ..calls import _H, Statns
from ..errors import GuestFSError
from .base import HandleBase

#: Seconds one handle call may take on behalf of a FUSE request before the appliance
#: counts as hung (a 2 MiB pread under TCG takes well under a second).
CALL_TIMEOUT = 120.0
#: The most one read or write moves (1.48: the protocol's message limit).
IO_LIMIT = 2 * 1024 * 1024
#: What the kernel may cache of attributes and names (libfuse's default, as guestmount).
ATTR_TIMEOUT = 1.0

_T = TypeVar("_T")
#: One mount per process (pyfuse3 is a process-wide singleton).
_process_lock = threading.Lock()
_mounted_by: object | None = None

_FTYPES = {
    "b": stat.S_IFBLK,
    "c": stat.S_IFCHR,
    "d": stat.S_IFDIR,
    "f": stat.S_IFIFO,
    "l": stat.S_IFLNK,
    "r": stat.S_IFREG,
    "s": stat.S_IFSOCK,
}


def _pyfuse3() -> Any:
    try:
        import pyfuse3
    except ImportError:
        raise GuestFSError(
            "mount_local needs pyfuse3 (pip install pyguestfs[fuse]; it builds on libfuse3)",
            "ENOTSUP",
        ) from None
    return pyfuse3


def _valid_name(name: str) -> bool:
    raw = os.fsencode(name)
    return 0 < len(raw) <= 255 and b"/" not in raw and b"\0" not in raw


def _join(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


class _Cache:
    """1.48's three directory caches (lstat, xattrs, readlink) with expiry times."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.lstat: dict[str, tuple[float, Statns]] = {}
        self.xattrs: dict[str, tuple[float, list[tuple[str, bytes]]]] = {}
        self.links: dict[str, tuple[float, str]] = {}

    def get(self, table: dict[str, tuple[float, _T]], path: str) -> _T | None:
        hit = table.get(path)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del table[path]
            return None
        return hit[1]

    def put(self, table: dict[str, tuple[float, _T]], path: str, value: _T) -> None:
        table[path] = (time.monotonic() + self.timeout, value)

    def invalidate(self, path: str) -> None:
        """A change at ``path``: forget it (and, for a directory, what is below it)."""
        below = path.rstrip("/") + "/"
        for table in (self.lstat, self.xattrs, self.links):
            for key in [k for k in table if k == path or k.startswith(below)]:
                del table[key]

    def expire(self) -> None:
        now = time.monotonic()
        for table in (self.lstat, self.xattrs, self.links):
            for key in [k for k, (t, _) in table.items() if t < now]:
                del table[key]


class _Mount:
    """One mount: its options, inode table, caches and the handle calls behind them."""

    def __init__(
        self, handle: Any, mountpoint: str, readonly: bool, timeout: float, debug: bool
    ) -> None:
        self.g = handle
        self.mountpoint = mountpoint
        self.readonly = readonly
        self.debug = debug
        self.cache = _Cache(timeout)
        self.paths: dict[int, str] = {1: "/"}
        self.inodes: dict[str, int] = {"/": 1}
        self.next_inode = 2
        self.dirs: dict[int, list[tuple[str, Statns | None, str]]] = {}
        self.next_fh = 1
        self.hung = False

    # -- paths and inodes ---------------------------------------------------------------
    def inode(self, path: str) -> int:
        ino = self.inodes.get(path)
        if ino is None:
            ino = self.next_inode
            self.next_inode += 1
            self.inodes[path] = ino
            self.paths[ino] = path
        return ino

    def path(self, ino: int) -> str:
        try:
            return self.paths[ino]
        except KeyError:
            raise GuestFSError("stale inode", "ESTALE") from None

    def renamed(self, old: str, new: str) -> None:
        below = old.rstrip("/") + "/"
        for p in [p for p in self.inodes if p == old or p.startswith(below)]:
            ino = self.inodes.pop(p)
            moved = new + p[len(old) :]
            self.inodes[moved] = ino
            self.paths[ino] = moved

    # -- calls ---------------------------------------------------------------------------
    def lstat(self, path: str) -> Statns:
        hit = self.cache.get(self.cache.lstat, path)
        if hit is not None:
            return hit
        result: Statns = self.g.lstatns(path)
        return result

    def list_dir(self, path: str) -> list[tuple[str, Statns | None, str]]:
        """``readdir``, then the batched l*list calls filling the caches (1.48)."""
        self.cache.expire()
        ents = self.g.readdir(path)
        names = [e["name"] for e in ents if e["name"] not in (".", "..")]
        bad = [n for n in names if not _valid_name(n)]
        if bad:
            raise GuestFSError(f"the guest sent a bad file name {bad[0]!r}", "EIO")
        real = list(names)
        stats: list[Statns] = self.g.lstatnslist(path, real) if real else []
        if len(stats) != len(real):
            raise GuestFSError("lstatnslist answered for other names", "EIO")
        for name, st in zip(real, stats, strict=True):
            if st["st_ino"] >= 0:
                self.cache.put(self.cache.lstat, _join(path, name), st)
        try:
            self._fill_xattrs(path, real)
        except GuestFSError:
            pass  # an optimisation only (1.48 ignores its failure too)
        links: list[str] = []
        try:
            links = self.g.readlinklist(path, real) if real else []
        except GuestFSError:
            links = []
        for name, link in zip(real, links, strict=False):
            if link:
                self.cache.put(self.cache.links, _join(path, name), link)
        out: list[tuple[str, Statns | None, str]] = [
            (".", None, "d"),
            ("..", None, "d"),
        ]
        ftypes = {e["name"]: e["ftyp"] for e in ents}
        for name, st in zip(real, stats, strict=True):
            out.append((name, st if st["st_ino"] >= 0 else None, ftypes.get(name, "?")))
        return out

    def _fill_xattrs(self, path: str, names: list[str]) -> None:
        if not names:
            return
        flat = self.g.lxattrlist(path, names)
        i = 0
        for name in names:
            if i >= len(flat) or flat[i]["attrname"] != "":
                raise GuestFSError("lxattrlist: bad answer", "EIO")
            # The count, as text; 1.48's daemon counts the trailing NUL in.
            text = bytes(flat[i]["attrval"]).rstrip(b"\0")
            if not text.isdigit():
                raise GuestFSError("lxattrlist: bad answer", "EIO")
            count = int(text)
            items = flat[i + 1 : i + 1 + count]
            if len(items) != count:
                raise GuestFSError("lxattrlist: bad answer", "EIO")
            self.cache.put(
                self.cache.xattrs,
                _join(path, name),
                [(x["attrname"], bytes(x["attrval"])) for x in items],
            )
            i += 1 + count

    def xattrs(self, path: str) -> list[tuple[str, bytes]]:
        hit = self.cache.get(self.cache.xattrs, path)
        if hit is not None:
            return hit
        return [(x["attrname"], bytes(x["attrval"])) for x in self.g.lgetxattrs(path)]

    def readlink(self, path: str) -> str:
        hit = self.cache.get(self.cache.links, path)
        if hit is not None:
            return hit
        return str(self.g.readlink(path))


def _make_operations(pyfuse3: Any, trio: Any, m: _Mount) -> Any:
    """The pyfuse3 Operations of one mount (a class made here: pyfuse3 is imported
    only when mount_local is used)."""
    FUSEError = pyfuse3.FUSEError

    def attrs(ino: int, st: Statns) -> Any:
        a = pyfuse3.EntryAttributes()
        a.st_ino = ino
        a.generation = 0
        a.entry_timeout = ATTR_TIMEOUT
        a.attr_timeout = ATTR_TIMEOUT
        a.st_mode = st["st_mode"]
        a.st_nlink = st["st_nlink"]
        a.st_uid = st["st_uid"]
        a.st_gid = st["st_gid"]
        a.st_rdev = st["st_rdev"]
        a.st_size = max(0, st["st_size"])
        a.st_blksize = st["st_blksize"] or 4096
        a.st_blocks = max(0, st["st_blocks"])
        a.st_atime_ns = st["st_atime_sec"] * 10**9 + st["st_atime_nsec"]
        a.st_mtime_ns = st["st_mtime_sec"] * 10**9 + st["st_mtime_nsec"]
        a.st_ctime_ns = st["st_ctime_sec"] * 10**9 + st["st_ctime_nsec"]
        return a

    async def call(what: str, fn: Callable[[], _T]) -> _T:
        """Run a handle call in a worker thread under CALL_TIMEOUT; map its errors."""
        if m.debug:
            m.g._log(f"{m.mountpoint}: {what}")
        if m.hung:
            raise FUSEError(errno.EIO)
        result: list[Any] = []

        def run() -> None:
            result.append(fn())

        try:
            with trio.move_on_after(CALL_TIMEOUT) as scope:
                await trio.to_thread.run_sync(run, abandon_on_cancel=True)
        except GuestFSError as e:
            raise FUSEError(e.errno or errno.EINVAL) from None
        except FUSEError:
            raise
        except Exception as e:
            m.g._log(f"{m.mountpoint}: {what}: {type(e).__name__}: {e}")
            raise FUSEError(errno.EIO) from None
        if scope.cancelled_caught:
            m.hung = True
            m.g._log(f"{m.mountpoint}: {what}: no answer in {CALL_TIMEOUT:g} s; disconnecting")
            _break_connection(m.g)
            raise FUSEError(errno.EIO)
        value: _T = result[0]
        return value

    def name_of(raw: bytes) -> str:
        name = os.fsdecode(raw)
        if not _valid_name(name):
            raise FUSEError(errno.EINVAL)
        return name

    def writable() -> None:
        if m.readonly:
            raise FUSEError(errno.EROFS)

    class Ops(pyfuse3.Operations):  # type: ignore[misc, unused-ignore]
        async def lookup(self, parent_inode: int, name: bytes, ctx: Any) -> Any:
            parent = m.path(parent_inode)
            n = os.fsdecode(name)
            if n == ".":
                path = parent
            elif n == "..":
                path = parent.rsplit("/", 1)[0] or "/"
            else:
                path = _join(parent, name_of(name))
            st = await call(f"lookup {path}", lambda: m.lstat(path))
            return attrs(m.inode(path), st)

        async def getattr(self, inode: int, ctx: Any) -> Any:
            path = m.path(inode)
            return attrs(inode, await call(f"getattr {path}", lambda: m.lstat(path)))

        async def access(self, inode: int, mode: int, ctx: Any) -> bool:
            if m.readonly and mode & os.W_OK:
                raise FUSEError(errno.EROFS)
            path = m.path(inode)
            st = await call(f"access {path}", lambda: m.lstat(path))
            if mode == os.F_OK:
                return True
            who = 6 if ctx.uid == st["st_uid"] else 3 if ctx.gid == st["st_gid"] else 0
            ok = True
            if ctx.uid != 0:  # root may read and write anything (1.48, RHBZ#1106548)
                if mode & os.R_OK:
                    ok = ok and bool(st["st_mode"] & (0o4 << who))
                if mode & os.W_OK:
                    ok = ok and bool(st["st_mode"] & (0o2 << who))
            if mode & os.X_OK:
                ok = ok and bool(st["st_mode"] & (0o1 << who))
            return ok

        async def readlink(self, inode: int, ctx: Any) -> bytes:
            path = m.path(inode)
            return os.fsencode(await call(f"readlink {path}", lambda: m.readlink(path)))

        async def opendir(self, inode: int, ctx: Any) -> int:
            path = m.path(inode)
            listing = await call(f"readdir {path}", lambda: m.list_dir(path))
            fh = m.next_fh
            m.next_fh += 1
            parent = path.rsplit("/", 1)[0] or "/"
            # For "." and "..", the third item is the path they stand for.
            m.dirs[fh] = [
                (n, st, t if n not in (".", "..") else (path if n == "." else parent))
                for n, st, t in listing
            ]
            return fh

        async def readdir(self, fh: int, start_id: int, token: Any) -> None:
            entries = m.dirs.get(fh, [])
            for i in range(start_id, len(entries)):
                name, st, extra = entries[i]
                if name in (".", ".."):
                    path = extra
                    st2 = await call(f"getattr {path}", _bind_lstat(m, path))
                    a = attrs(m.inode(path), st2)
                else:
                    parent = entries[0][2]
                    path = _join(parent, name)
                    if st is None:
                        a = pyfuse3.EntryAttributes()
                        a.st_ino = m.inode(path)
                        a.st_mode = _FTYPES.get(extra, 0)
                    else:
                        a = attrs(m.inode(path), st)
                if not pyfuse3.readdir_reply(token, os.fsencode(name), a, i + 1):
                    break

        async def releasedir(self, fh: int) -> None:
            m.dirs.pop(fh, None)

        async def open(self, inode: int, flags: int, ctx: Any) -> Any:
            if m.readonly and flags & os.O_ACCMODE != os.O_RDONLY:
                raise FUSEError(errno.EROFS)
            m.path(inode)
            return pyfuse3.FileInfo(fh=inode)

        async def read(self, fh: int, off: int, size: int) -> bytes:
            path = m.path(fh)
            size = min(size, IO_LIMIT)
            data: bytes = await call(f"read {path}", lambda: m.g.pread(path, size, off))
            return data[:size]

        async def write(self, fh: int, off: int, buf: bytes) -> int:
            writable()
            path = m.path(fh)
            m.cache.invalidate(path)
            data = bytes(buf[:IO_LIMIT])
            n: int = await call(f"write {path}", lambda: m.g.pwrite(path, data, off))
            return n

        async def flush(self, fh: int) -> None:
            return None

        async def release(self, fh: int) -> None:
            return None

        async def fsync(self, fh: int, datasync: bool) -> None:
            await call("fsync", lambda: m.g.sync())

        async def statfs(self, ctx: Any) -> Any:
            v = await call("statfs", lambda: m.g.statvfs("/"))
            s = pyfuse3.StatvfsData()
            s.f_bsize = v["bsize"]
            s.f_frsize = v["frsize"]
            s.f_blocks = v["blocks"]
            s.f_bfree = v["bfree"]
            s.f_bavail = v["bavail"]
            s.f_files = v["files"]
            s.f_ffree = v["ffree"]
            s.f_favail = v["favail"]
            s.f_namemax = v["namemax"]
            return s

        # -- changes (EROFS when read-only) ------------------------------------------------
        async def _new(
            self, parent_inode: int, name: bytes, what: str, fn: Callable[[str], Any]
        ) -> Any:
            writable()
            path = _join(m.path(parent_inode), name_of(name))
            m.cache.invalidate(path)
            await call(f"{what} {path}", lambda: fn(path))
            st = await call(f"getattr {path}", lambda: m.g.lstatns(path))
            return attrs(m.inode(path), st)

        async def mknod(
            self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: Any
        ) -> Any:
            return await self._new(
                parent_inode,
                name,
                "mknod",
                lambda p: m.g.mknod(mode, os.major(rdev), os.minor(rdev), p),
            )

        async def create(
            self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any
        ) -> Any:
            a = await self._new(
                parent_inode,
                name,
                "create",
                lambda p: m.g.mknod(stat.S_IFREG | (mode & 0o7777), 0, 0, p),
            )
            return pyfuse3.FileInfo(fh=a.st_ino), a

        async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> Any:
            return await self._new(parent_inode, name, "mkdir", lambda p: _mkdir(m.g, p, mode))

        async def symlink(self, parent_inode: int, name: bytes, target: bytes, ctx: Any) -> Any:
            t = os.fsdecode(target)
            return await self._new(parent_inode, name, "symlink", lambda p: m.g.ln_s(t, p))

        async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
            writable()
            path = _join(m.path(parent_inode), name_of(name))
            m.cache.invalidate(path)
            await call(f"unlink {path}", lambda: m.g.rm(path))

        async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
            writable()
            path = _join(m.path(parent_inode), name_of(name))
            m.cache.invalidate(path)
            await call(f"rmdir {path}", lambda: m.g.rmdir(path))

        async def rename(
            self, p_old: int, n_old: bytes, p_new: int, n_new: bytes, flags: int, ctx: Any
        ) -> None:
            writable()
            if flags:
                raise FUSEError(errno.EINVAL)  # RENAME_EXCHANGE/NOREPLACE: not in 1.48 either
            old = _join(m.path(p_old), name_of(n_old))
            new = _join(m.path(p_new), name_of(n_new))
            m.cache.invalidate(old)
            m.cache.invalidate(new)
            await call(f"rename {old} {new}", lambda: _rename(m.g, old, new))
            m.renamed(old, new)

        async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any) -> Any:
            target = m.path(inode)
            return await self._new(new_parent_inode, new_name, "link", lambda p: m.g.ln(target, p))

        async def setattr(self, inode: int, attr: Any, fields: Any, fh: Any, ctx: Any) -> Any:
            path = m.path(inode)
            if any(
                (
                    fields.update_mode,
                    fields.update_uid,
                    fields.update_gid,
                    fields.update_size,
                    fields.update_atime,
                    fields.update_mtime,
                )
            ):
                writable()
            m.cache.invalidate(path)
            if fields.update_mode:
                await call(f"chmod {path}", lambda: m.g.chmod(attr.st_mode & 0o7777, path))
            if fields.update_uid or fields.update_gid:
                uid = attr.st_uid if fields.update_uid else -1
                gid = attr.st_gid if fields.update_gid else -1
                await call(f"chown {path}", lambda: m.g.lchown(uid, gid, path))
            if fields.update_size:
                await call(f"truncate {path}", lambda: m.g.truncate_size(path, attr.st_size))
            if fields.update_atime or fields.update_mtime:
                omit = (-1, (1 << 30) - 2)  # UTIME_OMIT, as utimens takes it
                at = divmod(attr.st_atime_ns, 10**9) if fields.update_atime else omit
                mt = divmod(attr.st_mtime_ns, 10**9) if fields.update_mtime else omit
                await call(f"utimens {path}", lambda: m.g.utimens(path, at[0], at[1], mt[0], mt[1]))
            st = await call(f"getattr {path}", lambda: m.g.lstatns(path))
            return attrs(inode, st)

        # -- extended attributes -----------------------------------------------------------
        async def getxattr(self, inode: int, name: bytes, ctx: Any) -> bytes:
            path = m.path(inode)
            want = os.fsdecode(name)
            for k, v in await call(f"getxattr {path}", lambda: m.xattrs(path)):
                if k == want:
                    return v
            raise FUSEError(pyfuse3.ENOATTR)

        async def listxattr(self, inode: int, ctx: Any) -> list[bytes]:
            path = m.path(inode)
            return [
                os.fsencode(k) for k, _ in await call(f"listxattr {path}", lambda: m.xattrs(path))
            ]

        async def setxattr(self, inode: int, name: bytes, value: bytes, ctx: Any) -> None:
            writable()
            path = m.path(inode)
            m.cache.invalidate(path)
            text = value.decode("utf-8", "surrogateescape")
            await call(
                f"setxattr {path}",
                lambda: m.g.lsetxattr(os.fsdecode(name), text, len(value), path),
            )

        async def removexattr(self, inode: int, name: bytes, ctx: Any) -> None:
            writable()
            path = m.path(inode)
            m.cache.invalidate(path)
            await call(f"removexattr {path}", lambda: m.g.lremovexattr(os.fsdecode(name), path))

    return Ops()


def _unknown(e: GuestFSError) -> bool:
    """The daemon does not have the procedure (an older or partial daemon)."""
    return "unknown procedure" in str(e)


def _mkdir(g: Any, path: str, mode: int) -> None:
    """mkdir_mode (1.48's call), or mkdir then chmod where the daemon lacks it."""
    try:
        g.mkdir_mode(path, mode & 0o7777)
    except GuestFSError as e:
        if not _unknown(e):
            raise
        g.mkdir(path)
        g.chmod(mode & 0o7777, path)


def _rename(g: Any, old: str, new: str) -> None:
    """rename (1.48's call), or mv where the daemon lacks it."""
    try:
        g.rename(old, new)
    except GuestFSError as e:
        if not _unknown(e):
            raise
        g.mv(old, new)


def _bind_lstat(m: _Mount, path: str) -> Callable[[], Statns]:
    return lambda: m.lstat(path)


def _break_connection(handle: Any) -> None:
    """Shut the agent connection down under a call that does not return: the call's
    read then ends, and every later call fails at once (the connection is unusable)."""
    conn = handle._conn
    if conn is None:
        return
    conn.broken = conn.broken or "the appliance stopped answering (mount_local)"
    try:
        sock = socket.socket(fileno=os.dup(conn.stream.fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


class MountLocal(HandleBase[_H]):
    """``mount_local``, ``mount_local_run``, ``umount_local``."""

    _mount: _Mount | None

    def _init_mount_local(self) -> None:
        """Set up the handle's FUSE state (none until mount_local)."""
        self._mount = None

    def mount_local(
        self,
        localmountpoint: str,
        readonly: bool | None = None,
        options: str | None = None,
        cachetimeout: int | None = None,
        debugcalls: bool | None = None,
    ) -> None:
        """Mount the guest's filesystems (as mounted in the appliance) on host directory
        ``localmountpoint``; requests are served by :meth:`mount_local_run`.
        ``options`` are FUSE mount options (``allow_other,ro``...)."""
        global _mounted_by
        pyfuse3 = _pyfuse3()
        if self._mount is not None:
            raise GuestFSError("filesystem is already mounted in another thread")
        with _process_lock:
            if _mounted_by is not None:
                raise GuestFSError(
                    "filesystem is already mounted in another thread (pyfuse3 serves one "
                    "mount per process)"
                )
            mount = _Mount(
                self,
                localmountpoint,
                bool(readonly),
                60 if cachetimeout is None else cachetimeout,
                bool(debugcalls),
            )
            fuse_options = {o for o in (options or "").split(",") if o}
            fuse_options.add(f"fsname={self.get_program() or 'pyguestfs'}")
            fuse_options.add("subtype=pyguestfs")
            ops = _make_operations(pyfuse3, _trio(), mount)
            try:
                pyfuse3.init(ops, localmountpoint, fuse_options)
            except RuntimeError as e:
                raise GuestFSError(
                    f"fuse_mount failed: {localmountpoint}, see error messages above ({e})"
                ) from None
            _mounted_by = self
            self._mount = mount

    def mount_local_run(self) -> None:
        """Serve the mount made by mount_local until it is unmounted."""
        global _mounted_by
        mount = self._mount
        if mount is None:
            raise GuestFSError("you must call guestfs_mount_local first")
        try:
            self.exists("/")
        except GuestFSError:
            raise GuestFSError(
                "you must call ‘guestfs_mount’ first to mount a filesystem on '/'.\n"
                f"Note: ‘{mount.mountpoint}’ is still mounted.  Use ‘guestunmount "
                f"{mount.mountpoint}’ to clean up."
            ) from None
        pyfuse3 = _pyfuse3()
        trio = _trio()
        failed: BaseException | None = None
        try:
            trio.run(pyfuse3.main)
        except BaseException as e:
            failed = e
        finally:
            try:
                pyfuse3.close(unmount=failed is not None)
            except Exception:
                pass
            with _process_lock:
                _mounted_by = None
            self._mount = None
        if failed is not None and not isinstance(failed, KeyboardInterrupt):
            raise GuestFSError(f"fuse_loop: {mount.mountpoint}: {failed}") from None
        if failed is not None:
            raise failed

    def umount_local(self, retry: bool | None = None) -> None:
        """Unmount the mount point of mount_local (``fusermount3 -u``, retried for up
        to 5 s with ``retry`` while it is busy); mount_local_run then returns."""
        mount = self._mount
        if mount is None:
            raise GuestFSError("no filesystem is mounted")
        unmount(mount.mountpoint, tries=5 if retry else 1)


def _trio() -> Any:
    import trio

    return trio


def unmount(mountpoint: str, tries: int = 1) -> None:
    """``fusermount3 -u MOUNTPOINT``, tried up to ``tries`` times a second apart while
    the mount is busy (guestunmount's ``--retry``)."""
    last = ""
    for attempt in range(max(1, tries)):
        try:
            runner.run(["fusermount3", "-u", mountpoint], timeout=30)
            return
        except runner.CommandError as e:
            last = e.message
        if attempt + 1 < tries:
            time.sleep(1)
    raise GuestFSError(f"umount_local: {mountpoint}: {last}")
