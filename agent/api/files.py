"""The ``files`` family: creating, filling and copying the attributes of files, with the
semantics and messages of guestfsd 1.48's ``daemon/file.c`` and ``daemon/fill.c``.

Every path is resolved inside the sysroot by the dispatcher (:class:`GuestPath`); a call
that follows a final symlink in guestfsd (``open``, ``stat``, ``chmod``) uses
``host()``, one that acts on the link itself (``unlink``) ``host(follow=False)``.
"""

from __future__ import annotations

import errno
import os
import subprocess

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import GuestPath
from ..runner import ENV, not_found

#: guestfsd's fill writes through a buffer of stdio's BUFSIZ.
_BUFSIZ = 8192
#: An attribute guestfsd never lists or copies (Windows compressed data under ntfs-3g).
_HIDDEN_XATTR = "user.WofCompressedData"
#: Linux's XATTR_SIZE_MAX: a larger value cannot be read back with getxattr.
_XATTR_SIZE_MAX = 65536


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
