"""FileIn / FileOut procedures: upload, download, tar in and out, and the NUL-separated
name lists (ls0, find0) that the library's ``ls`` and ``find`` are built on.

Messages follow guestfsd 1.48's ``daemon/upload.c``, ``tar.c``, ``ls.c`` and ``find.c``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import random
import stat
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from .api_block import device_node
from .commands import start
from .context import CallContext
from .errors import AgentError
from .registry import implements

#: The characters of guestfsd's random_name.
_RANDOM_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"

#: tar's option for each ``compress`` value guestfsd 1.48 accepts (daemon/tar.c). zstd is
#: not among them in 1.48: it is refused as an unknown compression type.
_TAR_FILTERS = {
    "compress": "--compress",
    "gzip": "--gzip",
    "bzip2": "--bzip2",
    "xz": "--xz",
    "lzop": "--lzop",
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
        ctx.receive_file(sink)
    finally:
        try:
            os.close(fd)
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

        ctx.begin_file_out()
        ctx.send_from(readinto, total)
    finally:
        os.close(fd)


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
    # guestfsd 1.48 cuts strlen("/sysroot" + directory) off each name find prints
    # ("/sysroot/d/a"), so below a directory given without a final slash every name
    # keeps its leading "/" ("/a", "/a/b"); with one ("/d/") names are relative.
    _send_names(ctx, _walk(host, "" if directory.endswith("/") else "/"))


def _tar_filter(compress: str | None) -> list[str]:
    if compress is None:
        return []
    flag = _TAR_FILTERS.get(compress)
    if flag is None:
        raise AgentError(f"unknown compression type: {compress}")
    return [flag]


def _error_text(err: IO[bytes]) -> str:
    """A program's stderr collected in a file, as guestfsd's read_error_file gives it:
    the whole text, one final newline removed."""
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


def _chown_supported(ctx: CallContext, directory: str) -> bool:
    """guestfsd's probe before unpacking: create a file in the directory and try to give
    it to uid/gid 1000. EPERM means the filesystem (vfat, say) has no owners, so tar must
    not try to restore them. Creating the file is also what reports a missing directory,
    a file in the way or a read-only filesystem."""
    host = ctx.sysroot.resolve(directory)
    name = "".join(random.choices(_RANDOM_CHARS, k=8))
    probe = os.path.join(host, f"{name}.{''.join(random.choices(_RANDOM_CHARS, k=3))}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    try:
        os.fchown(fd, 1000, 1000)
    except OSError as e:
        if e.errno == errno.EPERM:
            return False
        raise AgentError.from_errno(e.errno or 0, "unexpected error in fchown") from None
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return True


def unpack_tar(
    ctx: CallContext,
    directory: str,
    compress: str | None = None,
    *,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    """Receive a tar archive and unpack it into ``directory`` (tar_in, tgz_in, txz_in)."""
    chown_ok = _chown_supported(ctx, directory)
    filt = _tar_filter(compress)
    argv = ["tar", "-C", ctx.sysroot.resolve(directory), *filt, "-xf", "-"]
    if not chown_ok:
        argv.append("--no-same-owner")
    if xattrs:
        # --xattrs-include: without it GNU tar restores only the user.* namespace.
        argv += ["--xattrs", "--xattrs-include=*"]
    if selinux:
        argv.append("--selinux")
    if acls:
        argv.append("--acls")
    hide = ctx.sysroot.hide
    with tempfile.TemporaryFile(prefix="tar-in-") as err:
        tar = start(argv, feed=True, stderr=err)
        assert tar.stdin is not None
        stdin = tar.stdin

        def sink(data: memoryview) -> None:
            try:
                stdin.write(data)
            except BrokenPipeError:
                # tar died early (a corrupt archive, say): say what tar said.
                tar.wait()
                raise AgentError(
                    hide(f"write error on directory: {directory}: {_error_text(err)}")
                ) from None

        try:
            ctx.receive_file(sink)
            stdin.close()
        except BaseException:
            tar.kill()
            tar.wait()
            raise
        if tar.wait() != 0:
            raise AgentError(
                hide(f"tar subcommand failed on directory: {directory}: {_error_text(err)}")
            )


@implements("tar_in")
def tar_in(
    ctx: CallContext,
    directory: str,
    compress: str | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    unpack_tar(ctx, directory, compress, xattrs=xattrs, selinux=selinux, acls=acls)


def _exclude_file(excludes: list[str]) -> IO[str]:
    """The patterns for tar -X, one a line (a pattern holding a newline cannot be said)."""
    for pat in excludes:
        if "\n" in pat:
            raise AgentError("tar-out: excludes file patterns cannot contain \\n character")
    f = tempfile.NamedTemporaryFile("w", prefix="excludes")  # noqa: SIM115 (caller closes)
    f.write("".join(f"{pat}\n" for pat in excludes))
    f.flush()
    return f


def host_directory(ctx: CallContext, directory: str) -> str:
    """A directory named by a plain string (tar_out, cpio_out): it must exist and be a
    directory. guestfsd glues the name onto "/sysroot" without a slash, so a relative name
    ("tin" -> "/sysroottin") is never found."""
    if not directory.startswith("/"):
        raise AgentError.from_errno(errno.ENOENT, f"stat: {directory}")
    host = ctx.sysroot.resolve(directory)
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {directory}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    return host


def stream_program(ctx: CallContext, argv: list[str], what: str, **popen: Any) -> None:
    """Send a program's stdout as the FileOut stream. Its failure after the OK reply can
    only cancel the transfer (the dispatcher sends the cancel chunk); its stderr, which
    guestfsd leaves in the appliance's log, goes to ours under --verbose."""
    with tempfile.TemporaryFile(prefix="out-err-") as err:
        proc = start(argv, feed=False, stderr=err, **popen)
        assert proc.stdout is not None
        try:
            ctx.begin_file_out()
            ctx.send_file(proc.stdout.read)
        except BaseException:
            proc.kill()  # cancelled or failed half-way: the output has nowhere to go
            proc.wait()
            raise
        status = proc.wait()
        if status != 0:
            text = _error_text(err)
            raise AgentError(ctx.sysroot.hide(f"{argv[0]}: {what}: exit {status}: {text}"))


def pack_tar(
    ctx: CallContext,
    directory: str,
    compress: str | None = None,
    *,
    numericowner: bool = False,
    excludes: list[str] | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    """Pack ``directory`` and send the archive (tar_out, tgz_out, txz_out)."""
    filt = _tar_filter(compress)
    with contextlib.ExitStack() as stack:
        excl = stack.enter_context(_exclude_file(excludes)) if excludes is not None else None
        host = host_directory(ctx, directory)
        argv = ["tar", "-C", host, *filt]
        if numericowner:
            argv.append("--numeric-owner")
        if excl is not None:
            argv += ["-X", excl.name]
        if xattrs:
            argv.append("--xattrs")
        if selinux:
            argv.append("--selinux")
        if acls:
            argv.append("--acls")
        argv += ["-cf", "-", "."]
        stream_program(ctx, argv, directory)


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
    pack_tar(
        ctx,
        directory,
        compress,
        numericowner=numericowner,
        excludes=excludes,
        xattrs=xattrs,
        selinux=selinux,
        acls=acls,
    )
