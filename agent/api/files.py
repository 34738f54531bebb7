"""The ``files`` family: creating, removing and changing files, their metadata, and
reads and writes at an offset (``daemon/file.c``, ``stat.c``, ``mknod.c``,
``truncate.c``, ``fallocate.c``, ``utimens.c`` of 1.48).

Also creating, filling and copying the attributes of files, with the
semantics and messages of guestfsd 1.48's ``daemon/file.c`` and ``daemon/fill.c``.

Every path is resolved inside the sysroot by the dispatcher (:class:`GuestPath`); a call
that follows a final symlink in guestfsd (``open``, ``stat``, ``chmod``) uses
``host()``, one that acts on the link itself (``unlink``) ``host(follow=False)``.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import time

from ...protocol import constants as C
from ...protocol.types import STRUCTS
from ..context import CallContext
from ..errors import AgentError
from ..guest import child_in, open_directory
from ..registry import procedure, provides_group
from ..resolve import Device, GuestPath
from ..runner import ENV, not_found

provides_group("mknod", lambda: True)


@procedure("rm")
def rm(call: CallContext, path: GuestPath) -> None:
    try:
        os.unlink(path.host(follow=False))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("touch")
def touch(call: CallContext, path: GuestPath) -> None:
    # RHBZ#582484: only regular files (or nothing yet); a symlink is refused, not followed.
    host = path.host(follow=False)
    try:
        st = os.lstat(host)
        if not stat.S_ISREG(st.st_mode):
            raise AgentError(f"{path}: touch can only be used on a regular files")
    except FileNotFoundError:
        pass
    except OSError as e:
        raise AgentError.from_os(e, f"lstat: {path}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(host, flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        os.utime(fd)
    except OSError as e:
        raise AgentError.from_os(e, f"futimens: {path}") from None
    finally:
        os.close(fd)


@procedure("chmod")
def chmod(call: CallContext, mode: int, path: GuestPath) -> None:
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    try:
        os.chmod(path.host(), mode)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: 0{mode:o}") from None


@procedure("chown")
def chown(call: CallContext, owner: int, group: int, path: GuestPath) -> None:
    try:
        os.chown(path.host(), owner, group)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: {owner}.{group}") from None


def _statns(st: os.stat_result) -> dict[str, int]:
    return {
        "st_dev": st.st_dev,
        "st_ino": st.st_ino,
        "st_mode": st.st_mode,
        "st_nlink": st.st_nlink,
        "st_uid": st.st_uid,
        "st_gid": st.st_gid,
        "st_rdev": st.st_rdev,
        "st_size": st.st_size,
        "st_blksize": st.st_blksize,
        "st_blocks": st.st_blocks,
        "st_atime_sec": st.st_atime_ns // 1_000_000_000,
        "st_atime_nsec": st.st_atime_ns % 1_000_000_000,
        "st_mtime_sec": st.st_mtime_ns // 1_000_000_000,
        "st_mtime_nsec": st.st_mtime_ns % 1_000_000_000,
        "st_ctime_sec": st.st_ctime_ns // 1_000_000_000,
        "st_ctime_nsec": st.st_ctime_ns % 1_000_000_000,
        "st_spare1": 0,
        "st_spare2": 0,
        "st_spare3": 0,
        "st_spare4": 0,
        "st_spare5": 0,
        "st_spare6": 0,
    }


@procedure("statns")
def statns(call: CallContext, path: GuestPath) -> dict[str, int]:
    try:
        return _statns(os.stat(path.host()))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("lstatns")
def lstatns(call: CallContext, path: GuestPath) -> dict[str, int]:
    try:
        return _statns(os.lstat(path.host(follow=False)))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("filesize")
def filesize(call: CallContext, file: GuestPath) -> int:
    try:
        return os.stat(file.host()).st_size
    except OSError as e:
        raise AgentError.from_os(e, file) from None


def _write(call: CallContext, path: GuestPath, content: bytes, flags: int) -> None:
    try:
        fd = os.open(
            path.host(),
            flags | os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC,
            0o666,
        )
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        view = memoryview(content)
        while view:
            # Apart from the slice: mypyc would evaluate the call twice.
            written = os.write(fd, view)
            view = view[written:]
    except OSError as e:
        raise AgentError.from_os(e, "write") from None
    finally:
        os.close(fd)


@procedure("internal_write")
def internal_write(call: CallContext, path: GuestPath, content: bytes) -> None:
    _write(call, path, content, os.O_TRUNC)


@procedure("internal_write_append")
def internal_write_append(call: CallContext, path: GuestPath, content: bytes) -> None:
    _write(call, path, content, os.O_APPEND)


def _pread_fd(fd: int, count: int, offset: int, display: str) -> bytes:
    try:
        if count < 0:
            raise AgentError("count is negative")
        if offset < 0:
            raise AgentError("offset is negative")
        if count >= C.MESSAGE_MAX:
            raise AgentError(f"{display}: count is too large for the protocol, use smaller reads")
        try:
            return os.pread(fd, count, offset)
        except OSError as e:
            raise AgentError.from_os(e, f"pread: {display}") from None
    finally:
        os.close(fd)


def _pwrite_fd(fd: int, content: bytes, offset: int, display: str) -> int:
    try:
        return os.pwrite(fd, content, offset)
    except OSError as e:
        raise AgentError.from_os(e, f"pwrite: {display}") from None
    finally:
        os.close(fd)


@procedure("pread")
def pread(call: CallContext, path: GuestPath, count: int, offset: int) -> bytes:
    try:
        fd = os.open(path.host(), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    return _pread_fd(fd, count, offset, path)


@procedure("pwrite")
def pwrite(call: CallContext, path: GuestPath, content: bytes, offset: int) -> int:
    if offset < 0:
        raise AgentError("offset is negative")
    try:
        fd = os.open(path.host(), os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    return _pwrite_fd(fd, content, offset, path)


@procedure("pread_device")
def pread_device(call: CallContext, device: Device, count: int, offset: int) -> bytes:
    node = device.node
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    return _pread_fd(fd, count, offset, device)


@procedure("pwrite_device")
def pwrite_device(call: CallContext, device: Device, content: bytes, offset: int) -> int:
    node = device.node
    if offset < 0:
        raise AgentError("offset is negative")
    try:
        fd = os.open(node, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    return _pwrite_fd(fd, content, offset, device)


@procedure("mknod")
def mknod(call: CallContext, mode: int, devmajor: int, devminor: int, path: GuestPath) -> None:
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    # makedev takes unsigned numbers: C converts a negative int silently.
    device = os.makedev(devmajor & 0xFFFFFFFF, devminor & 0xFFFFFFFF)
    try:
        os.mknod(path.host(follow=False), mode, device)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


def _permission_bits_only(mode: int) -> None:
    if mode & ~0o7777:
        raise AgentError(f"{mode & 0xFFFFFFFF:o}: mode must specify only file permission bits")


@procedure("mkfifo")
def mkfifo(call: CallContext, mode: int, path: GuestPath) -> None:
    _permission_bits_only(mode)
    mknod(call, mode | stat.S_IFIFO, 0, 0, path)


@procedure("mknod_b")
def mknod_b(call: CallContext, mode: int, devmajor: int, devminor: int, path: GuestPath) -> None:
    _permission_bits_only(mode)
    mknod(call, mode | stat.S_IFBLK, devmajor, devminor, path)


@procedure("mknod_c")
def mknod_c(call: CallContext, mode: int, devmajor: int, devminor: int, path: GuestPath) -> None:
    _permission_bits_only(mode)
    mknod(call, mode | stat.S_IFCHR, devmajor, devminor, path)


@procedure("truncate_size")
def truncate_size(call: CallContext, path: GuestPath, size: int) -> None:
    try:
        fd = os.open(path.host(), os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        os.ftruncate(fd, size)
    except OSError as e:
        raise AgentError.from_os(e, f"ftruncate: {path}") from None
    finally:
        os.close(fd)


@procedure("truncate")
def truncate(call: CallContext, path: GuestPath) -> None:
    truncate_size(call, path, 0)


@procedure("fallocate64")
def fallocate64(call: CallContext, path: GuestPath, len: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path.host(), flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        os.posix_fallocate(fd, 0, len)
    except OSError as e:
        raise AgentError.from_os(e, path) from None
    finally:
        os.close(fd)


@procedure("fallocate")
def fallocate(call: CallContext, path: GuestPath, len: int) -> None:
    if len < 0:
        raise AgentError("length < 0")
    fallocate64(call, path, len)


_UTIME_NOW, _UTIME_OMIT = -1, -2


@procedure("utimens")
def utimens(
    call: CallContext, path: GuestPath, atsecs: int, atnsecs: int, mtsecs: int, mtnsecs: int
) -> None:
    host = path.host(follow=False)
    what = f"utimensat: {path}"
    for nsecs in (atnsecs, mtnsecs):
        # utimensat(2) refuses nanoseconds out of range, except its two special values.
        if nsecs not in (_UTIME_NOW, _UTIME_OMIT) and not 0 <= nsecs < 1_000_000_000:
            raise AgentError.from_errno(errno.EINVAL, what)
    try:
        st = os.lstat(host)
        now = time.time_ns()

        def pick(secs: int, nsecs: int, current: int) -> int:
            if nsecs == _UTIME_NOW:
                return now
            if nsecs == _UTIME_OMIT:
                return current
            return secs * 1_000_000_000 + nsecs

        times = (
            pick(atsecs, atnsecs, st.st_atime_ns),
            pick(mtsecs, mtnsecs, st.st_mtime_ns),
        )
        os.utime(host, ns=times, follow_symlinks=False)
    except OverflowError:
        raise AgentError.from_errno(errno.EINVAL, what) from None
    except OSError as e:
        raise AgentError.from_os(e, what) from None


@procedure("lchown")
def lchown(call: CallContext, owner: int, group: int, path: GuestPath) -> None:
    try:
        os.lchown(path.host(follow=False), owner, group)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: {owner}.{group}") from None


#: What guestfsd returns for a name it cannot lstat: a zeroed struct with st_ino -1.
_NO_STAT = {field: 0 for field, _ in STRUCTS["statns"].fields} | {"st_ino": -1}


@procedure("internal_lstatnslist")
def internal_lstatnslist(
    call: CallContext, path: GuestPath, names: list[str]
) -> list[dict[str, int]]:
    directory = open_directory(path.host(), path)
    out = []
    for name in names:
        child = child_in(call.sysroot.root, directory, name)
        try:
            if child is None:
                raise FileNotFoundError(name)
            out.append(_statns(os.lstat(child)))
        except OSError:
            out.append(dict(_NO_STAT))
    return out


#: guestfsd's fill writes through a buffer of stdio's BUFSIZ.
_BUFSIZ = 8192
#: An attribute guestfsd never lists or copies (Windows compressed data under ntfs-3g).
_HIDDEN_XATTR = "user.WofCompressedData"
#: Linux's XATTR_SIZE_MAX: a larger value cannot be read back with getxattr.
_XATTR_SIZE_MAX = 65536


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        # Apart from the slice: mypyc would evaluate the call twice.
        written = os.write(fd, view)
        view = view[written:]


@procedure("rm_f")
def rm_f(call: CallContext, path: GuestPath) -> None:
    """Remove a file; a missing one is no error (unlike ``rm``)."""
    try:
        os.unlink(path.host(follow=False))
    except FileNotFoundError:
        pass
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("write_file")
def write_file(call: CallContext, path: GuestPath, content: str, size: int) -> None:
    """The deprecated ``write_file``: ``content`` is a C string (it ends at the first NUL)
    and ``size`` (0: all of it) may not exceed it (RHBZ#597135)."""
    if size < 0:
        raise AgentError("size cannot be negative")
    data = content.encode("utf-8", "surrogateescape").split(b"\0", 1)[0]
    if size == 0:
        size = len(data)
    elif size > len(data):
        raise AgentError("size parameter is larger than string content")
    flags = os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path.host(), flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        _write_all(fd, data[:size])
    except OSError as e:
        raise AgentError.from_os(e, "write") from None
    finally:
        os.close(fd)


@procedure("zfile")
def zfile(call: CallContext, meth: str, path: GuestPath) -> str:
    """``file`` of a compressed file's contents: ``zcat PATH | file -bsL -``, the first
    line of what file prints (guestfsd reads it into a 256-byte buffer)."""
    if meth in ("gzip", "compress"):
        zcat = "zcat"
    elif meth == "bzip2":
        zcat = "bzcat"
    else:
        raise AgentError("unknown method")
    try:
        # zcat's complaints go to the agent's log, as guestfsd's popen leaves them on its
        # stderr: file then describes whatever came through (nothing at all: "empty").
        with subprocess.Popen(
            [zcat, path.host()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
        ) as decompress:
            described = subprocess.run(
                ["file", "-bsL", "-"],
                stdin=decompress.stdout,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=ENV,
                check=False,
            )
    except FileNotFoundError as e:
        raise not_found(str(e.filename or zcat)) from None
    text = described.stdout.decode("utf-8", "surrogateescape")
    if not text:
        raise AgentError("fgets: end of file")
    line = text.split("\n", 1)[0]
    return line[:255]


def _open_for_fill(path: GuestPath) -> int:
    # No O_TRUNC: fill overwrites the start of an existing file and keeps what follows.
    try:
        return os.open(path.host(), os.O_WRONLY | os.O_CREAT | os.O_NOCTTY, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None


def _fill(call: CallContext, path: GuestPath, pattern: bytes, length: int) -> None:
    """Write ``length`` bytes of ``pattern`` repeated, with progress messages."""
    fd = _open_for_fill(path)
    try:
        block = pattern * max(1, _BUFSIZ // len(pattern))
        written = 0
        while written < length:
            n = min(len(block), length - written)
            try:
                _write_all(fd, block[:n])
            except OSError as e:
                raise AgentError.from_os(e, f"write: {path}") from None
            written += n
            call.progress(written, length)
    finally:
        try:
            os.close(fd)
        except OSError as e:
            raise AgentError.from_os(e, f"close: {path}") from None


@procedure("fill")
def fill(call: CallContext, c: int, len: int, path: GuestPath) -> None:
    if c < 0 or c > 255:
        raise AgentError(f"{c}: byte number must be in range 0..255")
    if len < 0:
        raise AgentError(f"{len}: length is < 0")
    _fill(call, path, bytes([c]), len)


@procedure("fill_pattern")
def fill_pattern(call: CallContext, pattern: str, len: int, path: GuestPath) -> None:
    data = pattern.encode("utf-8", "surrogateescape").split(b"\0", 1)[0]
    if not data:
        raise AgentError("pattern string must be non-empty")
    if len < 0:
        raise AgentError(f"{len}: length is < 0")
    _fill(call, path, data, len)


@procedure("fill_dir")
def fill_dir(call: CallContext, dir: GuestPath, nr: int) -> None:
    """Create ``nr`` empty files named ``00000000``, ``00000001`` ... in ``dir``."""
    base = dir.host()
    for i in range(nr):
        name = f"{i:08d}"
        try:
            fd = os.open(
                os.path.join(base, name),
                os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC,
                0o666,
            )
        except OSError as e:
            raise AgentError.from_os(e, f"create: {dir}/{name}") from None
        os.close(fd)


def _copy_xattrs(src: GuestPath, dest: GuestPath) -> None:
    """guestfsd's ``copy_xattrs``: every attribute of ``src`` set on ``dest`` (symlinks
    followed), in the order listxattr gives them."""
    try:
        names = os.listxattr(src.host())
    except OSError as e:
        raise AgentError.from_os(e, f"listxattr: {src}") from None
    for name in names:
        if name == _HIDDEN_XATTR:
            continue
        try:
            value = os.getxattr(src.host(), name)
        except OSError as e:
            if e.errno == errno.ERANGE:
                raise AgentError(f"{name}: extended attribute is too large") from None
            raise AgentError.from_os(e, f"getxattr: {src}, {name}") from None
        if len(value) > _XATTR_SIZE_MAX:
            raise AgentError(f"{name}: extended attribute is too large")
        try:
            os.setxattr(dest.host(), name, value)
        except OSError as e:
            raise AgentError.from_os(e, f"setxattr: {dest}, {name}") from None


@procedure("copy_attributes")
def copy_attributes(
    call: CallContext,
    src: GuestPath,
    dest: GuestPath,
    *,
    all: bool = False,
    mode: bool | None = None,
    xattributes: bool | None = None,
    ownership: bool | None = None,
) -> None:
    """Copy the permission bits, owner and extended attributes of ``src`` to ``dest``.
    ``all`` turns on each attribute the caller did not set explicitly (1.48's bitmask
    rule: ``all=True, mode=False`` copies all but the mode)."""
    if all:
        mode = True if mode is None else mode
        xattributes = True if xattributes is None else xattributes
        ownership = True if ownership is None else ownership
    try:
        src_st = os.stat(src.host())
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {src}") from None
    try:
        dest_st = os.stat(dest.host())
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {dest}") from None
    file_bits = 0o7777
    if mode and (src_st.st_mode & file_bits) != (dest_st.st_mode & file_bits):
        try:
            os.chmod(dest.host(), src_st.st_mode & file_bits)
        except OSError as e:
            raise AgentError.from_os(e, f"chmod: {dest}") from None
    if ownership and (src_st.st_uid, src_st.st_gid) != (dest_st.st_uid, dest_st.st_gid):
        try:
            os.chown(dest.host(), src_st.st_uid, src_st.st_gid)
        except OSError as e:
            raise AgentError.from_os(e, f"chown: {dest}") from None
    if xattributes:
        _copy_xattrs(src, dest)
