"""The ``files`` family: creating, removing and changing files, their metadata, and
reads and writes at an offset (``daemon/file.c``, ``stat.c``, ``mknod.c``,
``truncate.c``, ``fallocate.c``, ``utimens.c`` of 1.48)."""

from __future__ import annotations

import errno
import os
import stat
import time

from ...protocol import constants as C
from ...protocol.types import STRUCTS
from ..context import CallContext
from ..errors import AgentError
from ..guest import child_in, open_directory
from ..registry import procedure, provides_group
from ..resolve import Device, GuestPath

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
            view = view[os.write(fd, view) :]
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
