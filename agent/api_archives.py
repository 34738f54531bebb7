"""Archives and encodings: tgz/txz in and out, cpio_out, base64 in and out, and
compressed downloads of files and devices.

Messages, checks and their order follow guestfsd 1.48 (``daemon/tar.c``, ``cpio.c``,
``base64.c``, ``compress.c``). Like guestfsd, every archive is made by the appliance's own
tools (tar, find | cpio, base64, gzip ...); the streaming lives in ``api_transfer``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess

from .api_block import device_node
from .api_transfer import host_directory, pack_tar, stream_program, unpack_tar
from .commands import ENV, start
from .context import CallContext
from .errors import AgentError
from .registry import FEATURE_GROUPS, implements

#: The ``level`` range each compression program accepts, None where no level may be given
#: (daemon/compress.c).
_LEVELS: dict[str, range | None] = {
    "compress": None,
    "gzip": range(1, 10),
    "bzip2": range(1, 10),
    "xz": range(0, 10),
    "lzop": range(1, 10),
}


def _require_group(group: str) -> None:
    """The check guestfsd's stub makes before an API of an optional group runs."""
    if not FEATURE_GROUPS[group]():
        raise AgentError(
            f"feature '{group}' is not available in this\n"
            "build of libguestfs.  Read 'AVAILABILITY' in the guestfs(3) man page for\n"
            "how to check for the availability of features.",
            "ENOTSUP",
        )


# -- tar with a fixed compression (deprecated in libguestfs, still served) -------------------


@implements("tgz_in")
def tgz_in(ctx: CallContext, directory: str) -> None:
    unpack_tar(ctx, directory, "gzip")


@implements("tgz_out")
def tgz_out(ctx: CallContext, directory: str) -> None:
    pack_tar(ctx, directory, "gzip")


@implements("txz_in")
def txz_in(ctx: CallContext, directory: str) -> None:
    _require_group("xz")
    unpack_tar(ctx, directory, "xz")


@implements("txz_out")
def txz_out(ctx: CallContext, directory: str) -> None:
    _require_group("xz")
    pack_tar(ctx, directory, "xz")


# -- cpio ------------------------------------------------------------------------------------


@implements("cpio_out")
def cpio_out(ctx: CallContext, directory: str, format: str | None = None) -> None:
    host = host_directory(ctx, directory)
    if format is None:
        format = "newc"
    elif format not in ("newc", "crc"):
        raise AgentError(f"{format}: format must be 'newc' or 'crc'")
    # guestfsd runs "cd DIR && find -print0 | cpio -0 -o -H FORMAT --quiet": names are
    # "." and "./a/b", relative to the directory, parents before children.
    find = start(["find", "-print0"], feed=False, stderr=subprocess.DEVNULL, cwd=host)
    assert find.stdout is not None
    try:
        stream_program(
            ctx,
            ["cpio", "-0", "-o", "-H", format, "--quiet"],
            directory,
            stdin=find.stdout,
            cwd=host,
        )
    finally:
        find.stdout.close()
        if find.poll() is None:
            find.kill()
        find.wait()


# -- base64 ----------------------------------------------------------------------------------


@implements("base64_in")
def base64_in(ctx: CallContext, filename: str) -> None:
    # guestfsd: "base64 -d -i > /sysroot/FILE" through the shell. The shell creates the
    # file before base64 starts; if it cannot, base64 never runs and the call fails
    # with the subcommand's message once the data has been received.
    failed = AgentError(f"base64 subcommand failed on file: {filename}")
    try:
        fd = os.open(
            ctx.sysroot.resolve(filename),
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC,
            0o666,
        )
    except OSError:
        ctx.receive_file(lambda data: None)
        raise failed from None
    try:
        proc = subprocess.Popen(
            ["base64", "-d", "-i"],
            stdin=subprocess.PIPE,
            stdout=fd,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
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
        ctx.receive_file(sink)
        stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.wait() != 0:
        raise failed


@implements("base64_out")
def base64_out(ctx: CallContext, filename: str) -> None:
    host = ctx.sysroot.resolve(filename)
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {filename}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{filename}: is a directory")
    stream_program(ctx, ["base64", host], filename)


# -- compressed downloads --------------------------------------------------------------------


def _compressor(ctype: str, level: int | None) -> list[str]:
    """The compression command for ``ctype`` and an optional ``level``, checked as
    guestfsd's get_filter does."""
    if ctype not in _LEVELS:
        raise AgentError("unknown compression type")
    if shutil.which(ctype, path=ENV["PATH"]) is None:
        raise AgentError(
            f"compression type {ctype} is not supported, because external program "
            f"'{ctype}' is not available in the appliance",
            "ENOTSUP",
        )
    allowed = _LEVELS[ctype]
    if level is None:
        return [ctype, "-c"]
    if allowed is None:
        raise AgentError(f"{ctype}: cannot use optional level parameter with this compression type")
    if level not in allowed:
        raise AgentError(f"{ctype}: incorrect value for level parameter")
    return [ctype, "-c", f"-{level}"]


@implements("compress_out")
def compress_out(ctx: CallContext, ctype: str, file: str, level: int | None = None) -> None:
    argv = _compressor(ctype, level)
    # A missing file is noticed by the program, after the OK reply: the transfer is
    # cancelled, as guestfsd's is.
    stream_program(ctx, [*argv, ctx.sysroot.resolve(file)], file)


@implements("compress_device_out")
def compress_device_out(
    ctx: CallContext, ctype: str, device: str, level: int | None = None
) -> None:
    argv = _compressor(ctype, level)
    # The device on stdin: lzop refuses to compress anything but a regular file by name.
    try:
        fd = os.open(device_node(ctx, device), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        # guestfsd's shell fails the redirection after the OK reply: a cancelled transfer.
        ctx.begin_file_out()
        raise AgentError.from_errno(e.errno or errno.EIO, device) from None
    try:
        stream_program(ctx, argv, device, stdin=fd)
    finally:
        os.close(fd)
