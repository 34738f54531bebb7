"""FileIn / FileOut procedures: upload, download, tar in and out, and the NUL-separated
name lists (ls0, find0) that the library's ``ls`` and ``find`` are built on.

Messages follow guestfsd 1.48's ``daemon/upload.c``, ``tar.c``, ``ls.c`` and ``find.c``.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from collections.abc import Iterator

from .api_block import device_node
from .commands import start
from .context import CallContext
from .errors import AgentError
from .registry import implements

#: Incoming file data is written in blocks of this size, not 8 KiB chunk by chunk.
_WRITE_BUFFER = 1024 * 1024

_TAR_FILTERS = {
    "compress": "--compress",
    "gzip": "--gzip",
    "bzip2": "--bzip2",
    "xz": "--xz",
    "lzop": "--lzop",
    "zstd": "--zstd",
}


def _host_path(ctx: CallContext, name: str) -> str:
    """A Dev_or_Path argument: a device of the appliance, or a path in the sysroot."""
    if name.startswith("/dev/"):
        return device_node(ctx, name)
    return ctx.sysroot.resolve(name)


def _open_for_upload(ctx: CallContext, name: str, offset: int | None) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC
    if offset is None:
        flags |= os.O_TRUNC
    try:
        fd = os.open(_host_path(ctx, name), flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, name) from None
    if offset:
        try:
            os.lseek(fd, offset, os.SEEK_SET)
        except OSError as e:
            os.close(fd)
            raise AgentError.from_os(e, f"lseek: {name}") from None
    return fd


def _upload(ctx: CallContext, name: str, offset: int | None) -> None:
    fd = _open_for_upload(ctx, name, offset)
    out = io.FileIO(fd, "wb", closefd=True)
    pending = bytearray()

    def flush() -> None:
        nonlocal pending
        view = memoryview(pending)
        try:
            while view:
                view = view[out.write(view) or 0 :]
        except OSError as e:
            # ENOSPC, EIO ...: the name and the errno both reach the caller.
            raise AgentError(
                f"write error: {name}: {e.strerror}", errno.errorcode.get(e.errno or 0, "")
            ) from None
        finally:
            view.release()
        pending = bytearray()  # a new buffer: slices of the old view may still be alive

    def sink(data: bytes) -> None:
        pending.extend(data)
        if len(pending) >= _WRITE_BUFFER:
            flush()

    try:
        ctx.receive_file(sink)
        flush()
    finally:
        try:
            out.close()
        except OSError as e:
            raise AgentError.from_os(e, "close") from None


@implements("upload")
def upload(ctx: CallContext, remotefilename: str) -> None:
    _upload(ctx, remotefilename, None)


@implements("upload_offset")
def upload_offset(ctx: CallContext, remotefilename: str, offset: int) -> None:
    if offset < 0:
        raise AgentError(f"{remotefilename}: offset in file is negative")
    _upload(ctx, remotefilename, offset)


def _download(ctx: CallContext, name: str, offset: int, size: int | None) -> None:
    try:
        fd = os.open(_host_path(ctx, name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, name) from None
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise AgentError(f"{name}: is a directory")  # guestfsd's words, without errno
    with io.FileIO(fd, "rb", closefd=True) as f:
        # Devices report st_size 0: their size is where SEEK_END lands.
        end = st.st_size if stat.S_ISREG(st.st_mode) else os.lseek(fd, 0, os.SEEK_END)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
        except OSError as e:
            raise AgentError.from_os(e, f"lseek: {name}") from None
        remaining = max(0, end - offset) if size is None else size
        total = remaining

        def read(n: int) -> bytes:
            nonlocal remaining
            if remaining <= 0:
                return b""
            try:
                data = f.read(min(n, remaining)) or b""
            except OSError as e:
                raise AgentError.from_os(e, f"read: {name}") from None
            remaining -= len(data)
            if not data:
                remaining = 0
            return data

        ctx.begin_file_out()
        ctx.send_file(read, total)


@implements("download")
def download(ctx: CallContext, remotefilename: str) -> None:
    _download(ctx, remotefilename, 0, None)


@implements("download_offset")
def download_offset(ctx: CallContext, remotefilename: str, offset: int, size: int) -> None:
    if offset < 0:
        raise AgentError(f"{remotefilename}: offset in file is negative")
    if size < 0:
        raise AgentError(f"{remotefilename}: size is negative")
    _download(ctx, remotefilename, offset, size)


def _send_names(ctx: CallContext, names: Iterator[str]) -> None:
    data = b"".join(os.fsencode(n) + b"\0" for n in names)
    ctx.begin_file_out()
    ctx.send_file(io.BytesIO(data).read)


@implements("ls0")
def ls0(ctx: CallContext, dir: str) -> None:
    try:
        names = os.listdir(ctx.sysroot.resolve(dir))
    except OSError as e:
        raise AgentError.from_os(e, f"opendir: {dir}") from None
    _send_names(ctx, iter(names))


def _walk(top: str, prefix: str = "") -> Iterator[str]:
    """Every name below ``top``, relative, parents before children, as find prints them;
    symlinks are listed, never followed."""
    with os.scandir(top) as it:
        entries = list(it)
    for entry in entries:
        rel = prefix + entry.name
        yield rel
        if entry.is_dir(follow_symlinks=False):
            try:
                yield from _walk(entry.path, rel + "/")
            except OSError:
                continue  # unreadable subdirectory: find reports and goes on


@implements("find0")
def find0(ctx: CallContext, directory: str) -> None:
    host = ctx.sysroot.resolve(directory)
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    _send_names(ctx, _walk(host))


def _tar_filter(compress: str | None) -> list[str]:
    if compress is None:
        return []
    flag = _TAR_FILTERS.get(compress)
    if flag is None:
        raise AgentError(f"unknown compression type: {compress}")
    return [flag]


@implements("tar_in")
def tar_in(
    ctx: CallContext,
    directory: str,
    compress: str | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    filt = _tar_filter(compress)
    host = ctx.sysroot.resolve(directory)
    if not os.path.isdir(host):
        code = errno.ENOTDIR if os.path.exists(host) else errno.ENOENT
        raise AgentError.from_errno(code, directory)
    argv = ["tar", "-C", host, *filt, "-xf", "-"]
    if xattrs:
        argv += ["--xattrs", "--xattrs-include=*"]
    if selinux:
        argv.append("--selinux")
    if acls:
        argv.append("--acls")
    tar = start(argv, feed=True)
    assert tar.stdin is not None and tar.stderr is not None

    stdin, stderr = tar.stdin, tar.stderr

    def sink(data: bytes) -> None:
        try:
            stdin.write(data)
        except BrokenPipeError:
            # tar died early (a corrupt archive, say): say what tar said.
            tar.wait()
            raise AgentError(
                f"write error on directory: {directory}: "
                f"{stderr.read().decode('utf-8', 'replace').strip()}"
            ) from None

    try:
        ctx.receive_file(sink)
        stdin.close()
    except BaseException:
        tar.kill()
        tar.wait()
        raise
    err = stderr.read().decode("utf-8", "replace").strip()
    if tar.wait() != 0:
        raise AgentError(f"tar subcommand failed on directory: {directory}: {err}")


@implements("tar_out")
def tar_out(
    ctx: CallContext,
    directory: str,
    compress: str | None = None,
    numericowner: bool = False,
    excludes: list[str] | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    filt = _tar_filter(compress)
    if not directory.startswith("/"):
        # guestfsd glues a relative name onto "/sysroot" ("/sysroottin"): never found.
        raise AgentError.from_errno(errno.ENOENT, f"stat: {directory}")
    host = ctx.sysroot.resolve(directory)
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {directory}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    argv = ["tar", "-C", host, *filt]
    if numericowner:
        argv.append("--numeric-owner")
    with tempfile.NamedTemporaryFile("w", prefix="tar-out-", suffix=".excl") as excl:
        if excludes:
            excl.write("".join(f"{pat}\n" for pat in excludes))
            excl.flush()
            argv += ["-X", excl.name]
        if xattrs:
            argv.append("--xattrs")
        if selinux:
            argv.append("--selinux")
        if acls:
            argv.append("--acls")
        argv += ["-cf", "-", "."]
        tar = start(argv, feed=False)
        assert tar.stdout is not None and tar.stderr is not None
        try:
            ctx.begin_file_out()
            ctx.send_file(tar.stdout.read)
        except BaseException:
            tar.kill()  # cancelled or failed half-way: tar's output has nowhere to go
            tar.wait()
            raise
        err = tar.stderr.read().decode("utf-8", "replace").strip()
        status = tar.wait()
        if status != 0:
            # The OK reply has gone: the dispatcher turns this into a cancel chunk.
            raise AgentError(f"tar subcommand failed on directory: {directory}: {err}")
