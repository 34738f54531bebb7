"""The ``paths`` family: tests on paths, links, names (``daemon/is.ml``, ``is.c``,
``link.c``, ``realpath.c``, ``cpmv.c``, ``mktemp.c``, ``readlink.c`` of 1.48).

Error texts and errno names follow guestfsd 1.48: "<path>: <strerror>" where it calls
reply_with_perror. Paths arrive resolved inside the sysroot (``GuestPath.host()``).

Also renaming and copying trees, as guestfsd 1.48's ``daemon/rename.c``
and ``cpmv.c`` do it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import string
from typing import Any

from ..context import CallContext
from ..errors import AgentError
from ..guest import child_in, open_directory
from ..registry import procedure
from ..resolve import GuestPath
from ..runner import literal


@procedure("exists")
def exists(call: CallContext, path: GuestPath) -> bool:
    # guestfsd lstats: a dangling symlink exists.
    return os.path.lexists(path.host(follow=False))


def _is_kind(call: CallContext, api: str, path: GuestPath, follow: bool, kind: int) -> bool:
    host = call.sysroot.resolve(path, follow=follow)
    try:
        st = os.stat(host) if follow else os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise AgentError.from_os(e, f"{api}: {path}") from None
    return stat.S_IFMT(st.st_mode) == kind


@procedure("is_file")
def is_file(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_kind(
        call, "lstat" if not followsymlinks else "stat", path, followsymlinks, stat.S_IFREG
    )


@procedure("is_dir")
def is_dir(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_kind(
        call, "lstat" if not followsymlinks else "stat", path, followsymlinks, stat.S_IFDIR
    )


@procedure("is_symlink")
def is_symlink(call: CallContext, path: GuestPath) -> bool:
    return _is_kind(call, "lstat", path, False, stat.S_IFLNK)


@procedure("ln_s")
def ln_s(call: CallContext, target: str, linkname: GuestPath) -> None:
    # The target is stored verbatim: it is only ever followed through Sysroot.resolve.
    try:
        os.symlink(target, linkname.host(follow=False))
    except OSError as e:
        # guestfsd runs ln -s and passes on ln's message (and no errno).
        raise AgentError(
            f"ln -s: {target}: {linkname}: ln: failed to create symbolic link "
            f"'{linkname.display()}': {e.strerror}"
        ) from None


@procedure("readlink")
def readlink(call: CallContext, path: GuestPath) -> str:
    try:
        return os.readlink(path.host(follow=False))
    except OSError as e:
        raise AgentError.from_os(e, f"readlink: {path}") from None


@procedure("realpath")
def realpath(call: CallContext, path: GuestPath) -> str:
    canonical = call.sysroot.canonical(path)
    host = call.sysroot.resolve(canonical, follow=False)
    if not os.path.lexists(host):
        raise AgentError.from_errno(errno.ENOENT, f"realpath: {path}")
    return canonical


def _cp_mv(
    call: CallContext, argv: list[str], src: GuestPath, dest: GuestPath, follow_src: bool
) -> None:
    host_src = src.host(follow=follow_src)
    # A destination that is a symlink to a directory means "into that directory".
    host_dest = dest.host(follow=False)
    if os.path.islink(host_dest) and os.path.isdir(dest.host()):
        host_dest = dest.host()
    call.run([*argv, "--", host_src, host_dest])


@procedure("cp")
def cp(call: CallContext, src: GuestPath, dest: GuestPath) -> None:
    _cp_mv(call, ["cp"], src, dest, follow_src=True)


@procedure("cp_a")
def cp_a(call: CallContext, src: GuestPath, dest: GuestPath) -> None:
    _cp_mv(call, ["cp", "-a"], src, dest, follow_src=False)


@procedure("mv")
def mv(call: CallContext, src: GuestPath, dest: GuestPath) -> None:
    _cp_mv(call, ["mv"], src, dest, follow_src=False)


def _is_special(call: CallContext, path: GuestPath, follow: bool, kind: int) -> bool:
    host = call.sysroot.resolve(path, follow=follow)
    try:
        st = os.stat(host) if follow else os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False  # guestfsd: a missing path is simply not one
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {path}") from None
    return stat.S_IFMT(st.st_mode) == kind


@procedure("is_blockdev")
def is_blockdev(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_special(call, path, followsymlinks, stat.S_IFBLK)


@procedure("is_chardev")
def is_chardev(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_special(call, path, followsymlinks, stat.S_IFCHR)


@procedure("is_fifo")
def is_fifo(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_special(call, path, followsymlinks, stat.S_IFIFO)


@procedure("is_socket")
def is_socket(call: CallContext, path: GuestPath, followsymlinks: bool = False) -> bool:
    return _is_special(call, path, followsymlinks, stat.S_IFSOCK)


_TEMPLATE_CHARS = string.ascii_letters + string.digits


def _make_unique(call: CallContext, template: str, suffix_len: int, create: Any, shown: str) -> str:
    """glibc's mkdtemp/mkstemps: the six X before the suffix become random letters and
    digits; try again while the name exists."""
    stem_end = len(template) - suffix_len
    if stem_end < 6 or template[stem_end - 6 : stem_end] != "XXXXXX":
        raise AgentError.from_errno(errno.EINVAL, shown)
    for _ in range(100):
        random_part = "".join(secrets.choice(_TEMPLATE_CHARS) for _ in range(6))
        name = template[: stem_end - 6] + random_part + template[stem_end:]
        try:
            create(call.sysroot.resolve(name, follow=False))
        except FileExistsError:
            continue
        except OSError as e:
            raise AgentError.from_os(e, shown) from None
        return name
    raise AgentError.from_errno(errno.EEXIST, shown)


@procedure("mkdtemp")
def mkdtemp(call: CallContext, tmpl: GuestPath) -> str:
    return _make_unique(call, tmpl, 0, lambda host: os.mkdir(host, 0o700), tmpl)


@procedure("mktemp")
def mktemp(call: CallContext, tmpl: GuestPath, *, suffix: str | None = None) -> str:
    name: str = tmpl
    suffix_len = 0
    if suffix is not None:
        if not tmpl.endswith("X"):
            raise AgentError(f"template {tmpl} must end in X")
        name, suffix_len = tmpl + suffix, len(suffix.encode("utf-8", "surrogateescape"))

    def create(host: str) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        os.close(os.open(host, flags, 0o600))

    return _make_unique(call, name, suffix_len, create, name)


def _hard_link(call: CallContext, target: str, linkname: GuestPath, replace: bool) -> None:
    # link(2) inside guestfsd's chroot: neither name's final symlink is followed. A relative
    # target is relative to the daemon's working directory, the root.
    host_target = call.sysroot.resolve(
        target if target.startswith("/") else "/" + target, follow=False
    )
    host_link = linkname.host(follow=False)
    if replace:
        try:
            os.unlink(host_link)
        except OSError:
            pass  # guestfsd ignores the unlink's failure; link reports what matters
    try:
        os.link(host_target, host_link, follow_symlinks=False)
    except OSError as e:
        raise AgentError.from_os(e, f"link: {target}: {linkname}") from None


@procedure("ln")
def ln(call: CallContext, target: str, linkname: GuestPath) -> None:
    _hard_link(call, target, linkname, replace=False)


@procedure("ln_f")
def ln_f(call: CallContext, target: str, linkname: GuestPath) -> None:
    _hard_link(call, target, linkname, replace=True)


@procedure("ln_sf")
def ln_sf(call: CallContext, target: str, linkname: GuestPath) -> None:
    # guestfsd runs "ln -sf -- TARGET /sysroot/LINKNAME". ln follows a final symlink to a
    # directory (and makes the link inside it); here that symlink is resolved within the
    # sysroot first, so ln is never handed a symlink that could lead out of it.
    host = linkname.host(follow=False)
    flags = "-sf"
    if os.path.islink(host):
        inside = linkname.host()
        if os.path.isdir(inside):
            host = inside
        else:
            # Not a directory inside the sysroot: ln must replace the symlink itself, even
            # if on this host it happens to lead to a directory outside.
            flags = "-sfn"
    call.run(
        ["ln", flags, "--", target, host],
        error=literal(f"ln -sf: {target}: {linkname}: ") + "{err}",
    )


@procedure("internal_readlinklist")
def internal_readlinklist(call: CallContext, path: GuestPath, names: list[str]) -> list[str]:
    directory = open_directory(path.host(), f"open: {path}")
    out = []
    for name in names:
        child = child_in(call.sysroot.root, directory, name)
        try:
            if child is None:
                raise FileNotFoundError(name)
            out.append(os.readlink(child))
        except OSError:
            out.append("")  # missing or not a symlink: an empty string, not an error
    return out


@procedure("rename")
def rename(call: CallContext, oldpath: GuestPath, newpath: GuestPath) -> None:
    """rename(2): neither a final symlink of ``oldpath`` nor of ``newpath`` is followed."""
    try:
        os.rename(oldpath.host(follow=False), newpath.host(follow=False))
    except OSError as e:
        raise AgentError.from_os(e, f"rename: {oldpath}: {newpath}") from None


@procedure("cp_r")
def cp_r(call: CallContext, src: GuestPath, dest: GuestPath) -> None:
    """``cp -rP SRC DEST``: a tree copied without following its symlinks; the copy goes
    into ``dest`` when that is a directory (or a symlink to one, which cp follows)."""
    host_dest = dest.host(follow=False)
    if os.path.islink(host_dest) and os.path.isdir(dest.host()):
        host_dest = dest.host()
    call.run(["cp", "-rP", src.host(follow=False), host_dest])


# -- case_sensitive_path ----------------------------------------------------------------------


def _find_entry(directory: str, name: str) -> str | None:
    """The first entry of ``directory``, in readdir order, equal to ``name`` ignoring
    ASCII case (1.48 compares with ``String.lowercase_ascii``; an exact match is not
    preferred)."""
    wanted = _ascii_lower(name)
    try:
        entries = os.listdir(directory)
    except OSError as e:
        # 1.48's Sys.readdir failure is a Sys_error: "<dir>: <strerror>".
        raise AgentError(f".: {os.strerror(e.errno or 0)}") from None
    return next((e for e in entries if _ascii_lower(e) == wanted), None)


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


@procedure("case_sensitive_path")
def case_sensitive_path(call: CallContext, path: GuestPath) -> str:
    """The path with each component spelled as the directory spells it, found ignoring
    case (Windows guests, NTFS mounted by ntfs-3g); the last component may be missing
    and is then returned as given. 1.48 walks the tree with chdir inside its chroot;
    here each directory is resolved inside the sysroot, so a symlink cannot lead out."""
    sysroot = call.sysroot
    elems = str(path).split("/")[1:]
    found: list[str] = []
    while elems:
        elem = elems.pop(0)
        if not elem:  # "//" in the middle, or a trailing "/": ignored, as in 1.48
            continue
        if not elems and elem in (".", ".."):
            raise AgentError('path contains "." or ".." elements')
        here = sysroot.resolve("/" + "/".join(found))
        match = _find_entry(here, elem)
        if not elems:
            found.append(match if match is not None else elem)
            break
        if match is None:
            raise AgentError(f"{elem}: not found")
        # 1.48 chdirs into it: a file is ENOTDIR, a dangling symlink ENOENT.
        target = sysroot.resolve("/" + "/".join([*found, match]))
        if not os.path.isdir(target):
            code = errno.ENOTDIR if os.path.lexists(target) else errno.ENOENT
            raise AgentError.from_errno(code, f"chdir: {match}")
        found.append(match)
    return "/" + "/".join(found)
