"""The ``dirs`` family: making, removing, listing and globbing directories
(``daemon/dir.c``, ``readdir.c``, ``ls.c``, ``glob.c`` of 1.48).

Also directories, as guestfsd 1.48's ``daemon/dir.c`` and ``ls.c``
make and list them.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import stat
import string
from collections.abc import Iterator
from typing import Any

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import GuestPath


@procedure("mkdir")
def mkdir(call: CallContext, path: GuestPath) -> None:
    try:
        os.mkdir(path.host(follow=False), 0o777)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("mkdir_p")
def mkdir_p(call: CallContext, path: GuestPath) -> None:
    # guestfsd's recursive_mkdir: an existing directory is fine, an existing non-directory
    # is an error, missing parents are made first. The path is resolved inside the sysroot
    # once; the missing tail is then made top-down (a loop, not recursion: a path may have
    # 2000 components).
    host = path.host()
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
    while parent != call.sysroot.root and not os.path.lexists(parent):
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


@procedure("rmdir")
def rmdir(call: CallContext, path: GuestPath) -> None:
    try:
        os.rmdir(path.host(follow=False))
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("rm_rf")
def rm_rf(call: CallContext, path: GuestPath) -> None:
    host = path.host(follow=False)
    if host == call.sysroot.root:
        raise AgentError("cannot remove root directory")
    errors: list[str] = []

    def onerror(_fn: Any, p: str, exc: Any) -> None:
        errors.append(f"{call.sysroot.to_guest(p)}: {exc[1].strerror}")

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


_FTYP = {
    stat.S_IFBLK: "b",
    stat.S_IFCHR: "c",
    stat.S_IFDIR: "d",
    stat.S_IFIFO: "f",
    stat.S_IFLNK: "l",
    stat.S_IFREG: "r",
    stat.S_IFSOCK: "s",
}


@procedure("readdir")
def readdir(call: CallContext, dir: GuestPath) -> list[dict[str, Any]]:
    host = dir.host()
    out: list[dict[str, Any]] = []
    parent = os.path.dirname(host) if host != call.sysroot.root else host  # /.. is /
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


@procedure("ll")
def ll(call: CallContext, directory: GuestPath) -> str:
    host = directory.host()
    if not os.path.lexists(host):
        raise AgentError.from_errno(errno.ENOENT, directory)
    return call.run(["ls", "-la", host]).out


def _expand_braces(pattern: str) -> list[str]:
    """glibc's GLOB_BRACE: ``a{b,c{d,e}}f`` -> ``abf acdf acef``, left to right. A brace
    without its closing partner is left as it is."""
    depth, start = 0, -1
    for i, ch in enumerate(pattern):
        if ch == "\\":
            continue
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                inner = pattern[start + 1 : i]
                alternatives, level, last = [], 0, 0
                for j, c in enumerate(inner):
                    if c == "{":
                        level += 1
                    elif c == "}":
                        level -= 1
                    elif c == "," and level == 0:
                        alternatives.append(inner[last:j])
                        last = j + 1
                alternatives.append(inner[last:])
                head, rest = pattern[:start], pattern[i + 1 :]
                return [
                    expanded
                    for alt in alternatives
                    for expanded in _expand_braces(head + alt + rest)
                ]
    return [pattern]


_MAGIC = re.compile(r"[*?\[]")


def _component_regex(component: str) -> re.Pattern[str]:
    """A glob pattern for one name as a regular expression (fnmatch without flags:
    backslash escapes, [!...] and [^...] negate, [:class:] inside brackets)."""
    out, i, n = [], 0, len(component)
    while i < n:
        ch = component[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i < n:
            out.append(re.escape(component[i]))
            i += 1
        elif ch == "[":
            j = i
            if j < n and component[j] in "!^":
                j += 1
            if j < n and component[j] == "]":
                j += 1
            while j < n and component[j] != "]":
                if component.startswith("[:", j):
                    end = component.find(":]", j + 2)
                    j = end + 2 if end != -1 else j + 1
                else:
                    j += 1
            if j >= n:
                out.append(re.escape("["))  # no closing bracket: a literal "["
                continue
            body = component[i:j]
            i = j + 1
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            for cls, chars in _CLASSES.items():
                body = body.replace(f"[:{cls}:]", chars)
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^' if negate else ''}{body}]")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "xdigit": "0-9A-Fa-f",
    "punct": re.escape(string.punctuation),
}


def _unescape(component: str) -> str:
    return re.sub(r"\\(.)", r"\1", component)


def _glob_names(call: CallContext, pattern: str, only_dirs: bool) -> list[str]:
    """Names matching a pattern without a trailing slash, spelled as the pattern spells
    them (doubled slashes, "." and ".." kept). Each directory read is resolved inside
    the sysroot."""
    parts = pattern.split("/")
    matches = [parts[0]]  # "" for an absolute pattern
    for index, part in enumerate(parts[1:], start=1):
        is_last = index == len(parts) - 1
        if not _MAGIC.search(part):
            matches = [f"{m}/{_unescape(part)}" for m in matches]
            continue
        regex = _component_regex(part)
        new: list[str] = []
        for base in matches:
            try:
                names = os.listdir(call.sysroot.resolve(base or "/"))
            except OSError:
                continue
            # readdir also returns . and .. ; a leading dot is only matched explicitly.
            for name in [".", "..", *names]:
                if name.startswith(".") and not part.startswith("."):
                    continue
                if regex.fullmatch(name):
                    new.append(f"{base}/{name}")
        matches = new
        if not is_last:
            # Only directories can have more components below them.
            matches = [m for m in matches if os.path.isdir(call.sysroot.resolve(m))]
    matches = [m for m in matches if os.path.lexists(call.sysroot.resolve(m, follow=False))]
    if only_dirs:
        matches = [m for m in matches if os.path.isdir(call.sysroot.resolve(m))]
    return matches


def _glob_one(call: CallContext, pattern: str, mark: bool) -> list[str]:
    """glob(3) of one brace-free pattern, sorted bytewise as in the C locale (after the
    slashes GLOB_MARK adds, as glibc sorts)."""
    stripped = pattern.rstrip("/")
    if not stripped:  # "/", "//" ...: the root, marked like any directory
        return ["//" if mark else "/"]
    if stripped != pattern:
        # A trailing slash asks for directories: each comes back with one slash, marked
        # or not. A name without magic is returned as it is if it exists (glibc's way).
        if _MAGIC.search(stripped):
            found = [m + "/" for m in _glob_names(call, stripped, only_dirs=True)]
        else:
            found = _glob_names(call, stripped, only_dirs=False)
            found = [m + "/" if os.path.isdir(call.sysroot.resolve(m)) else m for m in found]
    else:
        found = _glob_names(call, pattern, only_dirs=False)
        if mark:
            # GLOB_MARK: a slash after each directory (stat: symlinks followed).
            found = [m + "/" if os.path.isdir(call.sysroot.resolve(m)) else m for m in found]
    return sorted(found, key=os.fsencode)


@procedure("glob_expand")
def glob_expand(call: CallContext, pattern: GuestPath, *, directoryslash: bool = True) -> list[str]:
    # GLOB_BRACE: each alternative is globbed (and sorted) on its own, in order.
    return [
        path
        for alternative in _expand_braces(pattern)
        for path in _glob_one(call, alternative, directoryslash)
    ]


def _send_names(call: CallContext, names: Iterator[str]) -> None:
    data = b"".join(os.fsencode(n) + b"\0" for n in names)
    call.begin_file_out()
    call.send_file(io.BytesIO(data).read)


@procedure("ls0")
def ls0(call: CallContext, dir: GuestPath) -> None:
    try:
        names = os.listdir(dir.host())
    except OSError as e:
        raise AgentError.from_os(e, f"opendir: {dir}") from None
    _send_names(call, iter(names))


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


@procedure("find0")
def find0(call: CallContext, directory: GuestPath) -> None:
    host = directory.host()
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    # guestfsd 1.48 cuts strlen("/sysroot" + directory) off each name find prints
    # ("/sysroot/d/a"), so below a directory given without a final slash every name
    # keeps its leading "/" ("/a", "/a/b"); with one ("/d/") names are relative.
    _send_names(call, _walk(host, "" if directory.endswith("/") else "/"))


@procedure("mkdir_mode")
def mkdir_mode(call: CallContext, path: GuestPath, mode: int) -> None:
    """mkdir(2) with ``mode``; the agent's umask applies, as it does to guestfsd's."""
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    try:
        os.mkdir(path.host(follow=False), mode)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


@procedure("llz")
def llz(call: CallContext, directory: GuestPath) -> str:
    """``ls -laZ`` of the directory's real path (guestfsd resolves it first, so a
    symlink to a directory lists that directory)."""
    host = directory.host()
    try:
        os.lstat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    return call.run(["ls", "-laZ", host]).out
