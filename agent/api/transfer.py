"""The ``transfer`` family: files in and out as chunk streams (upload, download, at an
offset, and base64 encoded), as guestfsd 1.48's ``daemon/upload.c`` and ``base64.c``."""

from __future__ import annotations

import errno
import os
import stat

from ..context import CallContext
from ..errors import AgentError
from ..fstools import command
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath
from ..runner import DEVNULL, literal, start
from ..streams import stream_program


def _host_path(call: CallContext, name: Device | GuestPath) -> str:
    """A Dev_or_Path argument: a device of the appliance, or a path in the sysroot."""
    return name.node if isinstance(name, Device) else name.host()


def _open_for_upload(call: CallContext, name: Device | GuestPath, offset: int | None) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC
    if offset is None:
        flags |= os.O_TRUNC
    try:
        fd = os.open(_host_path(call, name), flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, name) from None
    if offset:
        try:
            os.lseek(fd, offset, os.SEEK_SET)
        except OSError as e:
            os.close(fd)
            raise AgentError.from_os(e, f"lseek: {name}") from None
    return fd


def _upload(call: CallContext, name: Device | GuestPath, offset: int | None) -> None:
    fd = _open_for_upload(call, name, offset)

    def sink(data: memoryview) -> None:
        # ``data`` is about 1 MiB of chunks in the connection's buffer: written from
        # there, never copied.
        try:
            done = 0
            size = len(data)
            while done < size:
                done += os.write(fd, data[done:])
        except OSError as e:
            # ENOSPC, EIO ...: the name and the errno both reach the caller.
            raise AgentError(
                f"write error: {name}: {e.strerror}", errno.errorcode.get(e.errno or 0, "")
            ) from None

    try:
        call.receive_file(sink)
    finally:
        try:
            os.close(fd)
        except OSError as e:
            raise AgentError.from_os(e, "close") from None


@procedure("upload")
def upload(call: CallContext, remotefilename: Device | GuestPath) -> None:
    _upload(call, remotefilename, None)


@procedure("upload_offset")
def upload_offset(call: CallContext, remotefilename: Device | GuestPath, offset: int) -> None:
    if offset < 0:
        raise AgentError(f"{remotefilename}: offset in file is negative")
    _upload(call, remotefilename, offset)


def _download(call: CallContext, name: Device | GuestPath, offset: int, size: int | None) -> None:
    try:
        fd = os.open(_host_path(call, name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, name) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise AgentError(f"{name}: is a directory")  # guestfsd's words, without errno
        # Devices report st_size 0: their size is where SEEK_END lands.
        end = st.st_size if stat.S_ISREG(st.st_mode) else os.lseek(fd, 0, os.SEEK_END)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
        except OSError as e:
            raise AgentError.from_os(e, f"lseek: {name}") from None
        remaining = max(0, end - offset) if size is None else size
        total = remaining

        def readinto(view: memoryview) -> int:
            # The file's data is read straight into the chunks' buffer.
            nonlocal remaining
            if remaining <= 0:
                return 0
            if len(view) > remaining:
                view = view[:remaining]
            try:
                n = os.readv(fd, [view])
            except OSError as e:
                raise AgentError.from_os(e, f"read: {name}") from None
            remaining = remaining - n if n else 0
            return n

        call.begin_file_out()
        call.send_from(readinto, total)
    finally:
        os.close(fd)


@procedure("download")
def download(call: CallContext, remotefilename: Device | GuestPath) -> None:
    _download(call, remotefilename, 0, None)


@procedure("download_offset")
def download_offset(
    call: CallContext, remotefilename: Device | GuestPath, offset: int, size: int
) -> None:
    if offset < 0:
        raise AgentError(f"{remotefilename}: offset in file is negative")
    if size < 0:
        raise AgentError(f"{remotefilename}: size is negative")
    _download(call, remotefilename, offset, size)


@procedure("base64_in")
def base64_in(call: CallContext, filename: GuestPath) -> None:
    # guestfsd: "base64 -d -i > /sysroot/FILE" through the shell. The shell creates the
    # file before base64 starts; if it cannot, base64 never runs and the call fails
    # with the subcommand's message once the data has been received.
    failed = AgentError(f"base64 subcommand failed on file: {filename}")
    try:
        fd = os.open(
            filename.host(),
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC,
            0o666,
        )
    except OSError:
        call.receive_file(lambda data: None)
        raise failed from None
    try:
        proc = start(["base64", "-d", "-i"], feed=True, stdout=fd, stderr=DEVNULL)
    finally:
        os.close(fd)
    assert proc.stdin is not None
    stdin = proc.stdin

    def sink(data: memoryview) -> None:
        try:
            stdin.write(data)
        except BrokenPipeError:
            proc.wait()
            raise AgentError(f"write error on file: {filename}") from None

    try:
        call.receive_file(sink)
        stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        raise failed


@procedure("base64_out")
def base64_out(call: CallContext, filename: GuestPath) -> None:
    host = filename.host()
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {filename}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{filename}: is a directory")
    stream_program(call, ["base64", host], filename)


# -- rsync (daemon/rsync.c): the appliance's rsync between two paths, or to/from a server -----

provides_group("rsync", has_program("rsync"))


def _rsync_path(path: GuestPath) -> str:
    # A trailing slash means "the directory's contents" to rsync: keep it.
    host = path.host()
    return host + "/" if path.endswith("/") and not host.endswith("/") else host


def _rsync(
    call: CallContext,
    src: str,
    shown_src: str,
    dest: str,
    shown_dest: str,
    archive: bool | None,
    deletedest: bool | None,
) -> None:
    argv = ["rsync"]
    if archive:
        argv.append("--archive")
    if deletedest:
        argv.append("--delete")
    command(call, [*argv, src, dest], literal(f"'{shown_src}' to '{shown_dest}'") + ": {err}")


@procedure("rsync")
def rsync(
    call: CallContext,
    src: GuestPath,
    dest: GuestPath,
    *,
    archive: bool | None = None,
    deletedest: bool | None = None,
) -> None:
    _rsync(call, _rsync_path(src), src, _rsync_path(dest), dest, archive, deletedest)


@procedure("rsync_in")
def rsync_in(
    call: CallContext,
    remote: str,
    dest: GuestPath,
    *,
    archive: bool | None = None,
    deletedest: bool | None = None,
) -> None:
    _rsync(call, remote, remote, _rsync_path(dest), dest, archive, deletedest)


@procedure("rsync_out")
def rsync_out(
    call: CallContext,
    src: GuestPath,
    remote: str,
    *,
    archive: bool | None = None,
    deletedest: bool | None = None,
) -> None:
    _rsync(call, _rsync_path(src), src, remote, remote, archive, deletedest)
