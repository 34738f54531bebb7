"""The ``copy`` family: copying between devices and files, at offsets, optionally
sparse (``daemon/copy.c``, ``dd.c`` of 1.48)."""

from __future__ import annotations

import os

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device, GuestPath
from ..runner import literal

#: Bytes per read/write in the zero and copy loops. guestfsd uses 4 KiB / BUFSIZ (8 KiB)
#: steps; larger ones give the same bytes on disk for far fewer system calls.
_BLOCK = 1 << 20


#: guestfsd's copy unit: the sparse flag skips writing each all-zero run of this size.
_SPARSE_UNIT = 8192


def _copy(
    call: CallContext,
    src: str,
    src_shown: str,
    dest: str,
    dest_shown: str,
    wrflags: int,
    *,
    unlink_on_failure: bool,
    srcoffset: int | None,
    destoffset: int | None,
    size: int | None,
    sparse: bool | None,
) -> None:
    """guestfsd's copy(): ``size`` bytes (all, if unset) from ``srcoffset`` of ``src``
    to ``destoffset`` of ``dest``; with ``sparse`` all-zero runs are seeked over."""
    if srcoffset is not None and srcoffset < 0:
        raise AgentError("srcoffset is negative")
    if destoffset is not None and destoffset < 0:
        raise AgentError("destoffset is negative")
    if size is not None and size < 0:
        raise AgentError("size is negative")
    srcoffset = srcoffset or 0
    destoffset = destoffset or 0
    try:
        src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, src_shown) from None
    dest_fd = -1

    def fail(exc: OSError | None, what: str) -> AgentError:
        for fd in (src_fd, dest_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if unlink_on_failure:
            try:
                os.unlink(dest)
            except OSError:
                pass
        if exc is None:
            return AgentError(what)
        return AgentError.from_os(exc, what)

    try:
        if srcoffset:
            os.lseek(src_fd, srcoffset, os.SEEK_SET)
    except OSError as e:
        raise fail(e, f"lseek: {src_shown}") from None
    try:
        dest_fd = os.open(dest, wrflags | os.O_CLOEXEC, 0o666)
    except OSError as e:
        os.close(src_fd)
        raise AgentError.from_os(e, dest_shown) from None
    try:
        if destoffset:
            os.lseek(dest_fd, destoffset, os.SEEK_SET)
    except OSError as e:
        raise fail(e, f"lseek: {dest_shown}") from None

    total = size or 0
    left = size
    while left is None or left > 0:
        n = _BLOCK if left is None else min(_BLOCK, left)
        try:
            data = os.read(src_fd, n)
        except OSError as e:
            raise fail(e, f"read: {src_shown}") from None
        if not data:
            if left is None:
                break
            raise fail(None, f"{src_shown}: input too short")
        view = memoryview(data)
        for i in range(0, len(view), _SPARSE_UNIT):
            piece = view[i : i + _SPARSE_UNIT]
            try:
                if sparse and piece.tobytes().count(0) == len(piece):
                    os.lseek(dest_fd, len(piece), os.SEEK_CUR)
                    continue
            except OSError as e:
                raise fail(e, f"{dest_shown}: seek (because of sparse flag)") from None
            try:
                while piece:
                    # Apart from the slice: mypyc would evaluate the call twice.
                    written = os.write(dest_fd, piece)
                    piece = piece[written:]
            except OSError as e:
                raise fail(e, f"{dest_shown}: write") from None
        if left is None:
            call.progress(0, 1)  # "pulse mode": progress without a known end
        else:
            left -= len(data)
            call.progress(total - left, total)
    if left is None:
        call.progress_done(1)
    try:
        os.close(src_fd)
    except OSError as e:
        src_fd = -1
        raise fail(e, f"close: {src_shown}") from None
    src_fd = -1
    try:
        os.close(dest_fd)
    except OSError as e:
        dest_fd = -1
        raise fail(e, f"close: {dest_shown}") from None


def _file_flags(append: bool | None) -> int:
    return os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | (os.O_APPEND if append else os.O_TRUNC)


def _no_append(append: bool | None) -> None:
    if append:
        raise AgentError("the append flag cannot be set for this call")


@procedure("copy_device_to_device")
def copy_device_to_device(
    call: CallContext,
    src: Device,
    dest: Device,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _no_append(append)
    _copy(
        call,
        src.node,
        src,
        dest.node,
        dest,
        os.O_WRONLY,
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@procedure("copy_device_to_file")
def copy_device_to_file(
    call: CallContext,
    src: Device,
    dest: GuestPath,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _copy(
        call,
        src.node,
        src,
        dest.host(),
        dest,
        _file_flags(append),
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@procedure("copy_file_to_device")
def copy_file_to_device(
    call: CallContext,
    src: GuestPath,
    dest: Device,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _no_append(append)
    _copy(
        call,
        src.host(),
        src,
        dest.node,
        dest,
        os.O_WRONLY,
        unlink_on_failure=False,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


@procedure("copy_file_to_file")
def copy_file_to_file(
    call: CallContext,
    src: GuestPath,
    dest: GuestPath,
    *,
    srcoffset: int | None = None,
    destoffset: int | None = None,
    size: int | None = None,
    sparse: bool | None = None,
    append: bool | None = None,
) -> None:
    _copy(
        call,
        src.host(),
        src,
        dest.host(),
        dest,
        _file_flags(append),
        unlink_on_failure=True,
        srcoffset=srcoffset,
        destoffset=destoffset,
        size=size,
        sparse=sparse,
    )


def _dev_or_path(name: Device | GuestPath) -> str:
    return name.node if isinstance(name, Device) else name.host()


@procedure("copy_size")
def copy_size(
    call: CallContext, src: Device | GuestPath, dest: Device | GuestPath, size: int
) -> None:
    """The deprecated dd-like copy: exactly ``size`` bytes from the start of each."""
    try:
        src_fd = os.open(_dev_or_path(src), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, src) from None
    flags = os.O_WRONLY | os.O_CLOEXEC
    if not isinstance(dest, Device):
        flags |= os.O_CREAT | os.O_TRUNC | os.O_NOCTTY
    try:
        dest_fd = os.open(_dev_or_path(dest), flags, 0o666)
    except OSError as e:
        os.close(src_fd)
        raise AgentError.from_os(e, dest) from None
    try:
        position = 0
        while position < size:
            try:
                data = os.read(src_fd, min(_BLOCK, size - position))
            except OSError as e:
                raise AgentError.from_os(e, f"{src}: read") from None
            if not data:
                raise AgentError(f"{src}: input file too short")
            try:
                view = memoryview(data)
                while view:
                    # Apart from the slice: mypyc would evaluate the call twice.
                    written = os.write(dest_fd, view)
                    view = view[written:]
            except OSError as e:
                raise AgentError.from_os(e, f"{dest}: write") from None
            position += len(data)
            call.progress(position, size)
    finally:
        os.close(src_fd)
        os.close(dest_fd)


@procedure("dd")
def dd(call: CallContext, src: Device | GuestPath, dest: Device | GuestPath) -> None:
    """The deprecated whole copy, through dd(1) in 1 MiB blocks as 1.48 runs it."""
    call.run(
        ["dd", "bs=1024K", f"if={_dev_or_path(src)}", f"of={_dev_or_path(dest)}"],
        error=literal(f"{src}: {dest}") + ": {err}",
    )
