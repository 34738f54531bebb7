"""Files and directories under the sysroot: tests, creation, removal, metadata, contents.

Error texts and errno names follow guestfsd 1.48 (``daemon/dir.c``, ``file.c``, ``is.ml``,
``link.c``, ``stat.c``, ...): "<path>: <strerror>" where it calls reply_with_perror.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from typing import Any

from .commands import run
from .context import CallContext
from .errors import AgentError
from .registry import implements

# -- tests on paths ------------------------------------------------------------------------


@implements("exists")
def exists(ctx: CallContext, path: str) -> bool:
    # guestfsd lstats: a dangling symlink exists.
    return os.path.lexists(ctx.sysroot.resolve(path, follow=False))


def _is_kind(ctx: CallContext, api: str, path: str, follow: bool, kind: int) -> bool:
    host = ctx.sysroot.resolve(path, follow=follow)
    try:
        st = os.stat(host) if follow else os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise AgentError.from_os(e, f"{api}: {path}") from None
    return stat.S_IFMT(st.st_mode) == kind


@implements("is_file")
def is_file(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(
        ctx, "lstat" if not followsymlinks else "stat", path, followsymlinks, stat.S_IFREG
    )


@implements("is_dir")
def is_dir(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(
        ctx, "lstat" if not followsymlinks else "stat", path, followsymlinks, stat.S_IFDIR
    )


@implements("is_symlink")
def is_symlink(ctx: CallContext, path: str) -> bool:
    return _is_kind(ctx, "lstat", path, False, stat.S_IFLNK)


# -- creating and removing -----------------------------------------------------------------


@implements("mkdir")
def mkdir(ctx: CallContext, path: str) -> None:
    try:
        os.mkdir(ctx.sysroot.resolve(path, follow=False), 0o777)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@implements("mkdir_p")
def mkdir_p(ctx: CallContext, path: str) -> None:
    # guestfsd's recursive_mkdir: an existing directory is fine, an existing non-directory
    # is an error, missing parents are made first. The path is resolved inside the sysroot
    # once; the missing tail is then made top-down (a loop, not recursion: a path may have
    # 2000 components).
    host = ctx.sysroot.resolve(path)
    try:
        os.mkdir(host, 0o777)
        return
    except FileExistsError:
        if not os.path.isdir(host):
            raise AgentError(f"{path}: a path element was not a directory") from None
        return
    except FileNotFoundError:
        pass
    except OSError as e:
        raise AgentError.from_os(e, path) from None
    missing = [host]
    parent = os.path.dirname(host)
    while parent != ctx.sysroot.root and not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    try:
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o777)
            except FileExistsError:  # made meanwhile by someone else: fine if a directory
                if not os.path.isdir(directory):
                    raise
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@implements("rmdir")
def rmdir(ctx: CallContext, path: str) -> None:
    try:
        os.rmdir(ctx.sysroot.resolve(path, follow=False))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@implements("rm")
def rm(ctx: CallContext, path: str) -> None:
    try:
        os.unlink(ctx.sysroot.resolve(path, follow=False))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@implements("rm_rf")
def rm_rf(ctx: CallContext, path: str) -> None:
    host = ctx.sysroot.resolve(path, follow=False)
    if host == ctx.sysroot.root:
        raise AgentError("cannot remove root directory")
    errors: list[str] = []

    def onerror(_fn: Any, p: str, exc: Any) -> None:
        errors.append(f"{ctx.sysroot.to_guest(p)}: {exc[1].strerror}")

    try:
        st = os.lstat(host)
    except FileNotFoundError:
        return  # rm -rf of nothing succeeds
    except OSError as e:
        raise AgentError.from_os(e, path) from None
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(host, onerror=onerror)
    else:
        try:
            os.unlink(host)
        except OSError as e:
            errors.append(f"{path}: {e.strerror}")
    if errors:
        raise AgentError(f"{path}: {'; '.join(errors[:5])}")


@implements("touch")
def touch(ctx: CallContext, path: str) -> None:
    # RHBZ#582484: only regular files (or nothing yet); a symlink is refused, not followed.
    host = ctx.sysroot.resolve(path, follow=False)
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


@implements("chmod")
def chmod(ctx: CallContext, mode: int, path: str) -> None:
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    try:
        os.chmod(ctx.sysroot.resolve(path), mode)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: 0{mode:o}") from None


@implements("chown")
def chown(ctx: CallContext, owner: int, group: int, path: str) -> None:
    try:
        os.chown(ctx.sysroot.resolve(path), owner, group)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: {owner}.{group}") from None


@implements("ln_s")
def ln_s(ctx: CallContext, target: str, linkname: str) -> None:
    # The target is stored verbatim: it is only ever followed through Sysroot.resolve.
    try:
        os.symlink(target, ctx.sysroot.resolve(linkname, follow=False))
    except OSError as e:
        # guestfsd runs ln -s and passes on ln's message (and no errno).
        raise AgentError(
            f"ln -s: {target}: {linkname}: ln: failed to create symbolic link "
            f"'{ctx.sysroot.display(linkname)}': {e.strerror}"
        ) from None


@implements("readlink")
def readlink(ctx: CallContext, path: str) -> str:
    try:
        return os.readlink(ctx.sysroot.resolve(path, follow=False))
    except OSError as e:
        raise AgentError.from_os(e, f"readlink: {path}") from None


@implements("realpath")
def realpath(ctx: CallContext, path: str) -> str:
    canonical = ctx.sysroot.canonical(path)
    host = ctx.sysroot.resolve(canonical, follow=False)
    if not os.path.lexists(host):
        raise AgentError.from_errno(errno.ENOENT, f"realpath: {path}")
    return canonical


def _cp_mv(ctx: CallContext, argv: list[str], src: str, dest: str, follow_src: bool) -> None:
    host_src = ctx.sysroot.resolve(src, follow=follow_src)
    # A destination that is a symlink to a directory means "into that directory".
    host_dest = ctx.sysroot.resolve(dest, follow=False)
    if os.path.islink(host_dest) and os.path.isdir(ctx.sysroot.resolve(dest)):
        host_dest = ctx.sysroot.resolve(dest)
    run([*argv, "--", host_src, host_dest], hide=ctx.sysroot.hide)


@implements("cp")
def cp(ctx: CallContext, src: str, dest: str) -> None:
    _cp_mv(ctx, ["cp"], src, dest, follow_src=True)


@implements("cp_a")
def cp_a(ctx: CallContext, src: str, dest: str) -> None:
    _cp_mv(ctx, ["cp", "-a"], src, dest, follow_src=False)


@implements("mv")
def mv(ctx: CallContext, src: str, dest: str) -> None:
    _cp_mv(ctx, ["mv"], src, dest, follow_src=False)


# -- metadata ------------------------------------------------------------------------------


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


@implements("statns")
def statns(ctx: CallContext, path: str) -> dict[str, int]:
    try:
        return _statns(os.stat(ctx.sysroot.resolve(path)))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@implements("lstatns")
def lstatns(ctx: CallContext, path: str) -> dict[str, int]:
    try:
        return _statns(os.lstat(ctx.sysroot.resolve(path, follow=False)))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


_FTYP = {
    stat.S_IFBLK: "b",
    stat.S_IFCHR: "c",
    stat.S_IFDIR: "d",
    stat.S_IFIFO: "f",
    stat.S_IFLNK: "l",
    stat.S_IFREG: "r",
    stat.S_IFSOCK: "s",
}


@implements("readdir")
def readdir(ctx: CallContext, dir: str) -> list[dict[str, Any]]:
    host = ctx.sysroot.resolve(dir)
    out: list[dict[str, Any]] = []
    parent = os.path.dirname(host) if host != ctx.sysroot.root else host  # /.. is /
    try:
        for name, target in ((".", host), ("..", parent)):
            out.append({"ino": os.lstat(target).st_ino, "ftyp": "d", "name": name})
        with os.scandir(host) as it:
            for entry in it:
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                    ftyp = _FTYP.get(stat.S_IFMT(mode), "?")
                except OSError:
                    ftyp = "u"
                out.append({"ino": entry.inode(), "ftyp": ftyp, "name": entry.name})
    except OSError as e:
        raise AgentError.from_os(e, f"opendir: {dir}") from None
    return out


@implements("ll")
def ll(ctx: CallContext, directory: str) -> str:
    host = ctx.sysroot.resolve(directory)
    if not os.path.lexists(host):
        raise AgentError.from_errno(errno.ENOENT, directory)
    return run(["ls", "-la", host], hide=ctx.sysroot.hide)


@implements("filesize")
def filesize(ctx: CallContext, file: str) -> int:
    try:
        return os.stat(ctx.sysroot.resolve(file)).st_size
    except OSError as e:
        raise AgentError.from_os(e, file) from None


_PROGRAMS = {
    "crc": "cksum",
    "md5": "md5sum",
    "sha1": "sha1sum",
    "sha224": "sha224sum",
    "sha256": "sha256sum",
    "sha384": "sha384sum",
    "sha512": "sha512sum",
}


@implements("checksum")
def checksum(ctx: CallContext, csumtype: str, path: str) -> str:
    host = ctx.sysroot.resolve(path)
    try:
        fd = os.open(host, os.O_RDONLY | os.O_CLOEXEC)  # guestfsd opens first: ENOENT wins
    except OSError as e:
        raise AgentError.from_os(e, path) from None
    is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    if is_dir:
        os.close(fd)  # a file object cannot even be made of a directory descriptor
    algo = csumtype.lower()  # guestfsd matches the type case-insensitively
    program = _PROGRAMS.get(algo)
    if program is None:
        if not is_dir:
            os.close(fd)
        raise AgentError(
            "unknown checksum type, expecting crc|md5|sha1|sha224|sha256|sha384|sha512"
        )
    if is_dir:
        # guestfsd pipes the file into the tool: reading a directory fails inside it.
        if algo == "crc":
            return "4294967295"  # what cksum prints for no data, as guestfsd returns
        raise AgentError(f"{program}: {program}: -: Is a directory")
    with os.fdopen(fd, "rb") as f:
        if algo == "crc":
            # POSIX cksum's CRC is not zlib's; the cksum program computes it.
            return run(["cksum"], stdin=f).split()[0]
        try:
            return hashlib.file_digest(f, algo).hexdigest()
        except OSError as e:
            raise AgentError.from_os(e, path) from None


@implements("statvfs")
def statvfs(ctx: CallContext, path: str) -> dict[str, int]:
    try:
        r = os.statvfs(ctx.sysroot.resolve(path))
    except OSError as e:
        raise AgentError.from_os(e, f"statvfs: {path}") from None
    fields = {
        "bsize": r.f_bsize,
        "frsize": r.f_frsize,
        "blocks": r.f_blocks,
        "bfree": r.f_bfree,
        "bavail": r.f_bavail,
        "files": r.f_files,
        "ffree": r.f_ffree,
        "favail": r.f_favail,
        "fsid": r.f_fsid,
        "flag": r.f_flag,
        "namemax": r.f_namemax,
    }
    # The struct's fields are int64; C copies the unsigned statvfs values across, so a
    # large fsid wraps to a negative number. Do the same rather than fail to encode.
    return {k: v - (1 << 64) if v >= 1 << 63 else v for k, v in fields.items()}


@implements("du")
def du(ctx: CallContext, path: str) -> int:
    out = run(
        ["du", "-s", ctx.sysroot.resolve(path, follow=False)],
        error_prefix=f"{path}: ",
        hide=ctx.sysroot.hide,
    )
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        raise AgentError(f"{path}: could not read output: {out}") from None


# -- small writes --------------------------------------------------------------------------


def _write(ctx: CallContext, path: str, content: bytes, flags: int) -> None:
    try:
        fd = os.open(
            ctx.sysroot.resolve(path),
            flags | os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_CLOEXEC,
            0o666,
        )
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        view = memoryview(content)
        while view:
            # The count is taken apart from the slice: mypyc (2.4) evaluates a call
            # inside a slice bound twice, which wrote every chunk twice.
            n = os.write(fd, view)
            view = view[n:]
    except OSError as e:
        raise AgentError.from_os(e, "write") from None
    finally:
        os.close(fd)


@implements("internal_write")
def internal_write(ctx: CallContext, path: str, content: bytes) -> None:
    _write(ctx, path, content, os.O_TRUNC)


@implements("internal_write_append")
def internal_write_append(ctx: CallContext, path: str, content: bytes) -> None:
    _write(ctx, path, content, os.O_APPEND)
