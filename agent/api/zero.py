"""The ``zero`` family: wiping signatures and zeroing devices and free space
(``daemon/zero.c``, ``wipefs.c`` of 1.48)."""

from __future__ import annotations

import errno
import fcntl
import os
import random
import string
import struct

from ..context import CallContext
from ..errors import AgentError
from ..fstools import command, wipefs_argv
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath
from ..runner import literal

provides_group("wipefs", has_program("wipefs"))


#: Bytes per read/write in the zero and copy loops. guestfsd uses 4 KiB / BUFSIZ (8 KiB)
#: steps; larger ones give the same bytes on disk for far fewer system calls.
_BLOCK = 1 << 20


@procedure("wipefs")
def wipefs(call: CallContext, device: Device) -> None:
    command(call, wipefs_argv(call, device.node))


def _open_device(call: CallContext, device: Device, flags: int) -> int:
    try:
        return os.open(device.node, flags | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None


@procedure("zero")
def zero(call: CallContext, device: Device) -> None:
    """Zero the first 32 blocks of 4 KiB, skipping the blocks that are zero already."""
    block = 4096
    fd = _open_device(call, device, os.O_RDWR)
    try:
        for i in range(32):
            try:
                data = os.pread(fd, block, i * block)
            except OSError as e:
                raise AgentError.from_os(e, f"pread: {device}") from None
            if len(data) != block:
                raise AgentError.from_errno(0, f"pread: {device}")
            if data.count(0) != block:
                try:
                    if os.pwrite(fd, bytes(block), i * block) != block:
                        raise AgentError.from_errno(0, f"pwrite: {device}")
                except OSError as e:
                    raise AgentError.from_os(e, f"pwrite: {device}") from None
            call.progress(i, 32)
    finally:
        os.close(fd)


@procedure("zero_device")
def zero_device(call: CallContext, device: Device) -> None:
    fd = _open_device(call, device, os.O_RDWR)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        pos = 0
        zeroes = bytes(_BLOCK)
        while pos < size:
            n = min(_BLOCK, size - pos)
            try:
                data = os.pread(fd, n, pos)
            except OSError as e:
                raise AgentError.from_os(e, f"pread: {device} at offset {pos}") from None
            if data.count(0) != len(data) or len(data) < n:
                try:
                    pos += os.pwrite(fd, zeroes[:n], pos)
                except OSError as e:
                    raise AgentError.from_os(
                        e, f"pwrite: {device} (with {size} bytes left to write)"
                    ) from None
            else:
                pos += n
            call.progress(pos, size)
        os.fsync(fd)
    finally:
        os.close(fd)


_NAME_CHARS = string.ascii_lowercase + string.digits


@procedure("zero_free_space")
def zero_free_space(call: CallContext, directory: GuestPath) -> None:
    # A random 8.3 name: no clash with existing files, and valid on FAT too.
    stem = "".join(random.choices(_NAME_CHARS, k=8))
    name = stem + "." + "".join(random.choices(_NAME_CHARS, k=3))
    host = os.path.join(directory.host(), name)
    shown = call.sysroot.hide(host)
    try:
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {shown}") from None
    try:
        initial = os.fstatvfs(fd).f_bfree
        zeroes = bytes(64 * 1024)
        while True:
            try:
                os.write(fd, zeroes)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    break  # the point: the filesystem is full of zeroes now
                os.close(fd)
                fd = -1
                os.unlink(host)
                raise AgentError.from_os(e, f"write: {shown}") from None
            try:
                call.progress(initial - os.fstatvfs(fd).f_bfree, initial)
            except OSError:
                pass
    finally:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass  # delayed allocation may fail here on a full filesystem: expected
    os.sync()
    call.progress_done(initial)
    try:
        os.unlink(host)
    except OSError as e:
        raise AgentError.from_os(e, f"unlink: {shown}") from None


# -- scrub (daemon/scrub.c): scrub(1) with its default pattern set ----------------------------

provides_group("scrub", has_program("scrub"))


@procedure("scrub_device")
def scrub_device(call: CallContext, device: Device) -> None:
    command(call, ["scrub", device.node], literal(device) + ": {err}")


@procedure("scrub_file")
def scrub_file(call: CallContext, file: GuestPath) -> None:
    # The file is resolved inside the sysroot first: scrub must not follow a symlink out.
    host = file.host()
    try:
        os.stat(host)
    except OSError as e:
        # 1.48 resolves the path with realpath() and words its failure (a missing file,
        # a dangling link) as a failed malloc, with realpath's errno.
        raise AgentError.from_os(e, "malloc") from None
    command(call, ["scrub", "-r", host], literal(file) + ": {err}")


@procedure("scrub_freespace")
def scrub_freespace(call: CallContext, dir: GuestPath) -> None:
    command(call, ["scrub", "-X", dir.host()], literal(dir) + ": {err}")


# -- is_zero, is_zero_device ----------------------------------------------------------------


def _all_zero(fd: int, shown: str) -> bool:
    while True:
        try:
            data = os.read(fd, _BLOCK)
        except OSError as e:
            raise AgentError.from_os(e, f"read: {shown}") from None
        if not data:
            return True
        if data.count(0) != len(data):
            return False


@procedure("is_zero")
def is_zero(call: CallContext, path: GuestPath) -> bool:
    try:
        fd = os.open(path.host(), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        return _all_zero(fd, path)
    finally:
        os.close(fd)


@procedure("is_zero_device")
def is_zero_device(call: CallContext, device: Device) -> bool:
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    try:
        return _all_zero(fd, device)
    finally:
        os.close(fd)


# -- blkdiscard, blkdiscardzeroes (daemon/blkdiscard.c): the two block ioctls -----------------

# <linux/fs.h>: _IO(0x12, 119) and _IO(0x12, 124).
_BLKDISCARD = 0x1277
_BLKDISCARDZEROES = 0x127C

provides_group("blkdiscard", lambda: True)
provides_group("blkdiscardzeroes", lambda: True)


@procedure("blkdiscard")
def blkdiscard(call: CallContext, device: Device) -> None:
    try:
        fd = os.open(device.node, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        try:
            fcntl.ioctl(fd, _BLKDISCARD, struct.pack("=QQ", 0, size))
        except OSError as e:
            raise AgentError.from_os(e, f"ioctl: {device}: BLKDISCARD") from None
    finally:
        os.close(fd)


@procedure("blkdiscardzeroes")
def blkdiscardzeroes(call: CallContext, device: Device) -> bool:
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    try:
        try:
            out = fcntl.ioctl(fd, _BLKDISCARDZEROES, bytes(4))
        except OSError as e:
            raise AgentError.from_os(e, f"ioctl: {device}: BLKDISCARDZEROES") from None
        return struct.unpack("=I", out)[0] != 0
    finally:
        os.close(fd)
