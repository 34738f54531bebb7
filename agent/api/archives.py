"""The ``archives`` family: tar in and out (plain, gzip, xz), cpio_out, and compressed
downloads of files and devices.

Messages, checks and their order follow guestfsd 1.48 (``daemon/tar.c``, ``cpio.c``,
``compress.c``). Like guestfsd, every archive is made by the appliance's own tools (tar,
find | cpio, gzip ...), streamed by :func:`pyguestfs.agent.streams.stream_program`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import stat
import tempfile
from typing import IO

from ...protocol import constants as C
from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure, require_group
from ..resolve import Device, GuestPath
from ..runner import DEVNULL, ENV, pipe, start
from ..streams import error_text, stream_program

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


def _tar_filter(compress: str | None) -> list[str]:
    if compress is None:
        return []
    flag = _TAR_FILTERS.get(compress)
    if flag is None:
        raise AgentError(f"unknown compression type: {compress}")
    return [flag]


def _chown_supported(call: CallContext, directory: GuestPath) -> bool:
    """guestfsd's probe before unpacking: create a file in the directory and try to give
    it to uid/gid 1000. EPERM means the filesystem (vfat, say) has no owners, so tar must
    not try to restore them. Creating the file is also what reports a missing directory,
    a file in the way or a read-only filesystem."""
    host = directory.host()
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
    call: CallContext,
    directory: GuestPath,
    compress: str | None = None,
    *,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    """Receive a tar archive and unpack it into ``directory`` (tar_in, tgz_in, txz_in)."""
    chown_ok = _chown_supported(call, directory)
    filt = _tar_filter(compress)
    argv = ["tar", "-C", directory.host(), *filt, "-xf", "-"]
    if not chown_ok:
        argv.append("--no-same-owner")
    if xattrs:
        # --xattrs-include: without it GNU tar restores only the user.* namespace.
        argv += ["--xattrs", "--xattrs-include=*"]
    if selinux:
        argv.append("--selinux")
    if acls:
        argv.append("--acls")
    hide = call.sysroot.hide
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
                    hide(f"write error on directory: {directory}: {error_text(err)}")
                ) from None

        try:
            call.receive_file(sink)
            stdin.close()
        except BaseException:
            tar.kill()
            tar.wait()
            raise
        if tar.wait() != 0:
            raise AgentError(
                hide(f"tar subcommand failed on directory: {directory}: {error_text(err)}")
            )


@procedure("tar_in")
def tar_in(
    call: CallContext,
    directory: GuestPath,
    compress: str | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    unpack_tar(call, directory, compress, xattrs=xattrs, selinux=selinux, acls=acls)


def _exclude_file(excludes: list[str]) -> IO[str]:
    """The patterns for tar -X, one a line (a pattern holding a newline cannot be said)."""
    for pat in excludes:
        if "\n" in pat:
            raise AgentError("tar-out: excludes file patterns cannot contain \\n character")
    f = tempfile.NamedTemporaryFile("w", prefix="excludes")  # noqa: SIM115 (caller closes)
    f.write("".join(f"{pat}\n" for pat in excludes))
    f.flush()
    return f


def host_directory(call: CallContext, directory: str) -> str:
    """A directory named by a plain string (tar_out, cpio_out): it must exist and be a
    directory. guestfsd glues the name onto "/sysroot" without a slash, so a relative name
    ("tin" -> "/sysroottin") is never found."""
    if not directory.startswith("/"):
        raise AgentError.from_errno(errno.ENOENT, f"stat: {directory}")
    host = call.sysroot.resolve(directory)
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {directory}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    return host


def pack_tar(
    call: CallContext,
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
        host = host_directory(call, directory)
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
        stream_program(call, argv, directory)


@procedure("tar_out")
def tar_out(
    call: CallContext,
    directory: str,
    compress: str | None = None,
    numericowner: bool = False,
    excludes: list[str] | None = None,
    xattrs: bool = False,
    selinux: bool = False,
    acls: bool = False,
) -> None:
    pack_tar(
        call,
        directory,
        compress,
        numericowner=numericowner,
        excludes=excludes,
        xattrs=xattrs,
        selinux=selinux,
        acls=acls,
    )


#: The ``level`` range each compression program accepts, None where no level may be given
#: (daemon/compress.c).
_LEVELS: dict[str, range | None] = {
    "compress": None,
    "gzip": range(1, 10),
    "bzip2": range(1, 10),
    "xz": range(0, 10),
    "lzop": range(1, 10),
}


@procedure("tgz_in")
def tgz_in(call: CallContext, directory: GuestPath) -> None:
    unpack_tar(call, directory, "gzip")


@procedure("tgz_out")
def tgz_out(call: CallContext, directory: GuestPath) -> None:
    pack_tar(call, directory, "gzip")


@procedure("txz_in")
def txz_in(call: CallContext, directory: GuestPath) -> None:
    require_group("xz")
    unpack_tar(call, directory, "xz")


@procedure("txz_out")
def txz_out(call: CallContext, directory: GuestPath) -> None:
    require_group("xz")
    pack_tar(call, directory, "xz")


@procedure("cpio_out")
def cpio_out(call: CallContext, directory: str, format: str | None = None) -> None:
    host = host_directory(call, directory)
    if format is None:
        format = "newc"
    elif format not in ("newc", "crc"):
        raise AgentError(f"{format}: format must be 'newc' or 'crc'")
    # guestfsd runs "cd DIR && find -print0 | cpio -0 -o -H FORMAT --quiet": names are
    # "." and "./a/b", relative to the directory, parents before children.
    find = start(["find", "-print0"], feed=False, stderr=DEVNULL, cwd=host)
    assert find.stdout is not None
    try:
        stream_program(
            call,
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


@procedure("compress_out")
def compress_out(call: CallContext, ctype: str, file: GuestPath, level: int | None = None) -> None:
    argv = _compressor(ctype, level)
    # A missing file is noticed by the program, after the OK reply: the transfer is
    # cancelled, as guestfsd's is.
    stream_program(call, [*argv, file.host()], file)


@procedure("compress_device_out")
def compress_device_out(
    call: CallContext, ctype: str, device: Device, level: int | None = None
) -> None:
    argv = _compressor(ctype, level)
    # The device on stdin: lzop refuses to compress anything but a regular file by name.
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        # guestfsd's shell fails the redirection after the OK reply: a cancelled transfer.
        call.begin_file_out()
        raise AgentError.from_errno(e.errno or errno.EIO, device) from None
    try:
        stream_program(call, argv, device, stdin=fd)
    finally:
        os.close(fd)


# -- initrd_list, initrd_cat (daemon/initrd.c): zcat into cpio, as 1.48 pipes them ------------


@procedure("initrd_list")
def initrd_list(call: CallContext, path: GuestPath) -> list[str]:
    done = pipe(["zcat", "--", path.host()], ["cpio", "--quiet", "-it"])
    if done.status != 0:
        raise AgentError(f"pclose: command failed with return code {done.status}")
    return done.out.splitlines()


@procedure("initrd_cat")
def initrd_cat(call: CallContext, initrdpath: GuestPath, filename: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="initrd-cat-") as work:
        # cpio extracts the named member under the current directory, making its parents;
        # it says nothing when the member is not in the archive.
        done = pipe(
            ["zcat", "--", initrdpath.host()], ["cpio", "--quiet", "-id", "--", filename], cwd=work
        )
        if done.status != 0:
            raise AgentError(f"command failed with return code {done.status}")
        member = os.path.join(work, filename)
        try:
            with open(member, "rb") as f:
                data = f.read()
        except OSError as e:
            raise AgentError.from_os(e, f"open: {initrdpath}:{filename}") from None
    if len(data) >= C.MESSAGE_MAX:
        raise AgentError(f"{initrdpath}:{filename}: file is too large for the protocol")
    return data
