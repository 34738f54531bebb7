"""More file operations: reading parts of files, searching, xattrs, links, special files.

Semantics and error texts follow guestfsd 1.48 (``daemon/headtail.c``, ``wc.c``, ``grep.c``,
``strings.c``, ``hexdump.c``, ``glob.c``, ``xattr.c``, ``link.c``, ``mknod.c``, ``file.c``,
``truncate.c``, ``fallocate.c``, ``utimens.c``, ``umask.c``, ``mktemp.c``, ``stat.c``).

guestfsd runs head, tail, wc, grep, zgrep and hexdump with the file (opened inside its
chroot) as their standard input, so a symlink cannot lead the tool out of the sysroot; the
same is done here with a file opened through :class:`Sysroot`. ``strings`` is computed
here instead of running binutils (tens of MiB in the appliance for one API): the scan below
is GNU strings's ``-a -e ENC`` with its default minimum length of 4.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import string
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from ..protocol import constants as C
from ..protocol.types import STRUCTS
from .api_block import device_node
from .api_files import _statns
from .commands import ENV, run
from .context import CallContext
from .errors import AgentError
from .registry import implements, provides_group

provides_group("linuxxattrs", lambda: hasattr(os, "setxattr"))
provides_group("mknod", lambda: True)

# -- the tools that read a file on their standard input ------------------------------------


def _open_in_sysroot(ctx: CallContext, path: str, what: str) -> int:
    """open(path, O_RDONLY) as guestfsd does inside its chroot; errors are
    "<what>: <strerror>"."""
    try:
        return os.open(ctx.sysroot.resolve(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, what) from None


def _filter(argv: Sequence[str], fd: int) -> tuple[int, str, str]:
    """Run a tool with ``fd`` as its stdin (closed afterwards): exit status, stdout as
    guestfsd keeps it (a C string: cut at the first NUL byte) and stderr without its
    trailing newlines. A tool missing from the appliance is exit status 127."""
    try:
        proc = subprocess.run(list(argv), stdin=fd, capture_output=True, env=ENV, check=False)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: No such file or directory"
    finally:
        os.close(fd)
    out = proc.stdout.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    err = proc.stderr.decode("utf-8", "surrogateescape").rstrip("\n")
    return proc.returncode, out, err


def split_lines(text: str) -> list[str]:
    """guestfsd's split_lines: split at LF; an empty text is no lines, and a final LF does
    not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _headtail(ctx: CallContext, prog: str, count: str, path: str) -> list[str]:
    fd = _open_in_sysroot(ctx, path, path)
    status, out, err = _filter([prog, "-n", count], fd)
    if status != 0:
        raise AgentError(f"{prog} -n {count}: {err}")
    return split_lines(out)


@implements("head")
def head(ctx: CallContext, path: str) -> list[str]:
    return _headtail(ctx, "head", "10", path)


@implements("head_n")
def head_n(ctx: CallContext, nrlines: int, path: str) -> list[str]:
    # head's own reading of a negative count: all but the last -N lines.
    return _headtail(ctx, "head", str(nrlines), path)


@implements("tail")
def tail(ctx: CallContext, path: str) -> list[str]:
    return _headtail(ctx, "tail", "10", path)


@implements("tail_n")
def tail_n(ctx: CallContext, nrlines: int, path: str) -> list[str]:
    # A negative count means "from line -N on", which tail spells +N.
    count = str(nrlines) if nrlines >= 0 else f"+{-nrlines}"
    return _headtail(ctx, "tail", count, path)


def _wc(ctx: CallContext, flag: str, path: str) -> int:
    fd = _open_in_sysroot(ctx, path, f"wc {flag}: {path}")
    status, out, err = _filter(["wc", flag], fd)
    if status != 0:
        raise AgentError(f"wc {flag}: {err}")
    m = re.match(r"\s*([-+]?\d+)", out)
    if m is None:
        raise AgentError(f"cannot parse number: {out}")
    return int(m.group(1))


@implements("wc_l")
def wc_l(ctx: CallContext, path: str) -> int:
    return _wc(ctx, "-l", path)


@implements("wc_w")
def wc_w(ctx: CallContext, path: str) -> int:
    return _wc(ctx, "-w", path)


@implements("wc_c")
def wc_c(ctx: CallContext, path: str) -> int:
    return _wc(ctx, "-c", path)


def _grep(
    ctx: CallContext,
    regex: str,
    path: str,
    *,
    extended: bool = False,
    fixed: bool = False,
    insensitive: bool = False,
    compressed: bool = False,
) -> list[str]:
    if extended and fixed:
        raise AgentError("can't use 'extended' and 'fixed' flags at the same time")
    argv = ["zgrep" if compressed else "grep"]
    argv += ["-E"] if extended else []
    argv += ["-F"] if fixed else []
    argv += ["-i"] if insensitive else []
    # The pattern is one argument; a pattern starting with "-" is an option to grep, as
    # with guestfsd (which passes it the same way).
    argv.append(regex)
    fd = _open_in_sysroot(ctx, path, path)
    status, out, err = _filter(argv, fd)
    if status > 1:  # 1 is "no line matched": an empty list, not an error
        raise AgentError(f"{regex}: {err}")
    return split_lines(out)


@implements("grep")
def grep(
    ctx: CallContext,
    regex: str,
    path: str,
    *,
    extended: bool = False,
    fixed: bool = False,
    insensitive: bool = False,
    compressed: bool = False,
) -> list[str]:
    return _grep(
        ctx,
        regex,
        path,
        extended=extended,
        fixed=fixed,
        insensitive=insensitive,
        compressed=compressed,
    )


def _register_grep_variant(name: str, arg: str, **flags: bool) -> None:
    def variant(ctx: CallContext, path: str, **kwargs: str) -> list[str]:
        return _grep(ctx, kwargs[arg], path, **flags)

    variant.__name__ = name
    implements(name)(variant)


for _name, _arg, _flags in (
    ("egrep", "regex", {"extended": True}),
    ("fgrep", "pattern", {"fixed": True}),
    ("grepi", "regex", {"insensitive": True}),
    ("egrepi", "regex", {"extended": True, "insensitive": True}),
    ("fgrepi", "pattern", {"fixed": True, "insensitive": True}),
    ("zgrep", "regex", {"compressed": True}),
    ("zegrep", "regex", {"extended": True, "compressed": True}),
    ("zfgrep", "pattern", {"fixed": True, "compressed": True}),
    ("zgrepi", "regex", {"insensitive": True, "compressed": True}),
    ("zegrepi", "regex", {"extended": True, "insensitive": True, "compressed": True}),
    ("zfgrepi", "pattern", {"fixed": True, "insensitive": True, "compressed": True}),
):
    _register_grep_variant(_name, _arg, **_flags)


@implements("hexdump")
def hexdump(ctx: CallContext, path: str) -> str:
    fd = _open_in_sysroot(ctx, path, path)
    status, out, err = _filter(["hexdump", "-C"], fd)
    if status != 0:
        raise AgentError(f"{path}: {err}")
    return out


_KINDS = {
    stat.S_IFDIR: "directory",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFLNK: "symbolic link",
    stat.S_IFSOCK: "socket",
}


@implements("file")
def file(ctx: CallContext, path: str) -> str:
    if path.startswith("/dev/"):
        # A device: its contents (-s), through symlinks (-L).
        node = _device(ctx, path)
        return run(["file", "-zSbsL", node], error_prefix="file: ").rstrip()
    # RHBZ#582484: only a regular file is given to file(1); anything else is named by
    # its kind from an lstat (so a symlink is "symbolic link", never followed).
    host = ctx.sysroot.resolve(path, follow=False)
    try:
        mode = os.lstat(host).st_mode
    except OSError as e:
        raise AgentError.from_os(e, f"lstat: {path}") from None
    if not stat.S_ISREG(mode):
        return _KINDS.get(stat.S_IFMT(mode), "unknown")
    return run(["file", "-zSb", host], error_prefix="file: ", hide=ctx.sysroot.hide).rstrip()


# -- strings ------------------------------------------------------------------------------

_PRINTABLE = rb"[\t\x20-\x7e]"
#: For each encoding of ``strings -e``: the bytes of one character, and where in them the
#: character's value sits. A character is "graphic" when its value is a tab or 0x20-0x7e
#: (also 0x80-0xff for S); every other byte of a multi-byte character must be 0.
_STRING_RUNS = {
    "s": (re.compile(_PRINTABLE + rb"{4,}"), 1, 0),
    "S": (re.compile(rb"[\t\x20-\x7e\x80-\xff]{4,}"), 1, 0),
    "b": (re.compile(rb"(?:\x00" + _PRINTABLE + rb"){4,}"), 2, 1),
    "l": (re.compile(rb"(?:" + _PRINTABLE + rb"\x00){4,}"), 2, 0),
    "B": (re.compile(rb"(?:\x00\x00\x00" + _PRINTABLE + rb"){4,}"), 4, 3),
    "L": (re.compile(rb"(?:" + _PRINTABLE + rb"\x00\x00\x00){4,}"), 4, 0),
}


def find_strings(data: bytes, encoding: str) -> list[bytes]:
    """The strings GNU ``strings -a -e ENCODING`` prints for ``data``.

    GNU strings reads one character (1, 2 or 4 bytes) at a time; a graphic one extends
    the current run, any other ends it and scanning resumes one byte after that
    character's first byte. Runs of 4 or more characters are printed. Inside a run of
    multi-byte characters no character can start at an unaligned offset (its leading or
    trailing zero bytes would make it non-graphic), so a leftmost-longest regular
    expression search visits exactly the same runs."""
    pattern, width, at = _STRING_RUNS[encoding]
    return [m.group()[at::width] for m in pattern.finditer(data)]


@implements("strings_e")
def strings_e(ctx: CallContext, encoding: str, path: str) -> list[str]:
    if len(encoding) != 1 or encoding not in _STRING_RUNS:
        raise AgentError(f"{encoding}: invalid encoding")
    fd = _open_in_sysroot(ctx, path, path)
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read()
    except OSError:
        # strings reading its stdin treats a read error (a directory) as the end of input.
        data = b""
    return [s.decode("utf-8", "surrogateescape") for s in find_strings(data, encoding)]


@implements("strings")
def strings(ctx: CallContext, path: str) -> list[str]:
    return strings_e(ctx, "s", path)


# -- reading and writing at an offset ----------------------------------------------------


def _pread_fd(fd: int, count: int, offset: int, display: str) -> bytes:
    try:
        if count < 0:
            raise AgentError("count is negative")
        if offset < 0:
            raise AgentError("offset is negative")
        if count >= C.MESSAGE_MAX:
            raise AgentError(f"{display}: count is too large for the protocol, use smaller reads")
        try:
            return os.pread(fd, count, offset)
        except OSError as e:
            raise AgentError.from_os(e, f"pread: {display}") from None
    finally:
        os.close(fd)


def _pwrite_fd(fd: int, content: bytes, offset: int, display: str) -> int:
    try:
        return os.pwrite(fd, content, offset)
    except OSError as e:
        raise AgentError.from_os(e, f"pwrite: {display}") from None
    finally:
        os.close(fd)


@implements("pread")
def pread(ctx: CallContext, path: str, count: int, offset: int) -> bytes:
    fd = _open_in_sysroot(ctx, path, f"open: {path}")
    return _pread_fd(fd, count, offset, path)


@implements("pwrite")
def pwrite(ctx: CallContext, path: str, content: bytes, offset: int) -> int:
    if offset < 0:
        raise AgentError("offset is negative")
    try:
        fd = os.open(ctx.sysroot.resolve(path), os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    return _pwrite_fd(fd, content, offset, path)


def _device(ctx: CallContext, device: str) -> str:
    """The node to open for a Device argument, with the generated stub's errors (which
    name the stub: "pread_device_stub: /dev/sdz: No such file or directory")."""
    stub = f"{ctx.proc.name}_stub"
    try:
        return device_node(ctx, device)
    except AgentError as e:
        raise AgentError(f"{stub}: {e.message}", e.errno_name) from None


@implements("pread_device")
def pread_device(ctx: CallContext, device: str, count: int, offset: int) -> bytes:
    node = _device(ctx, device)
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    return _pread_fd(fd, count, offset, device)


@implements("pwrite_device")
def pwrite_device(ctx: CallContext, device: str, content: bytes, offset: int) -> int:
    node = _device(ctx, device)
    if offset < 0:
        raise AgentError("offset is negative")
    try:
        fd = os.open(node, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {device}") from None
    return _pwrite_fd(fd, content, offset, device)


# -- glob ---------------------------------------------------------------------------------


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


def _glob_names(ctx: CallContext, pattern: str, only_dirs: bool) -> list[str]:
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
                names = os.listdir(ctx.sysroot.resolve(base or "/"))
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
            matches = [m for m in matches if os.path.isdir(ctx.sysroot.resolve(m))]
    matches = [m for m in matches if os.path.lexists(ctx.sysroot.resolve(m, follow=False))]
    if only_dirs:
        matches = [m for m in matches if os.path.isdir(ctx.sysroot.resolve(m))]
    return matches


def _glob_one(ctx: CallContext, pattern: str, mark: bool) -> list[str]:
    """glob(3) of one brace-free pattern, sorted bytewise as in the C locale (after the
    slashes GLOB_MARK adds, as glibc sorts)."""
    stripped = pattern.rstrip("/")
    if not stripped:  # "/", "//" ...: the root, marked like any directory
        return ["//" if mark else "/"]
    if stripped != pattern:
        # A trailing slash asks for directories: each comes back with one slash, marked
        # or not. A name without magic is returned as it is if it exists (glibc's way).
        if _MAGIC.search(stripped):
            found = [m + "/" for m in _glob_names(ctx, stripped, only_dirs=True)]
        else:
            found = _glob_names(ctx, stripped, only_dirs=False)
            found = [m + "/" if os.path.isdir(ctx.sysroot.resolve(m)) else m for m in found]
    else:
        found = _glob_names(ctx, pattern, only_dirs=False)
        if mark:
            # GLOB_MARK: a slash after each directory (stat: symlinks followed).
            found = [m + "/" if os.path.isdir(ctx.sysroot.resolve(m)) else m for m in found]
    return sorted(found, key=os.fsencode)


@implements("glob_expand")
def glob_expand(ctx: CallContext, pattern: str, *, directoryslash: bool = True) -> list[str]:
    # GLOB_BRACE: each alternative is globbed (and sorted) on its own, in order.
    return [
        path
        for alternative in _expand_braces(pattern)
        for path in _glob_one(ctx, alternative, directoryslash)
    ]


# -- temporary names, the umask ------------------------------------------------------------

_TEMPLATE_CHARS = string.ascii_letters + string.digits


def _make_unique(ctx: CallContext, template: str, suffix_len: int, create: Any, shown: str) -> str:
    """glibc's mkdtemp/mkstemps: the six X before the suffix become random letters and
    digits; try again while the name exists."""
    stem_end = len(template) - suffix_len
    if stem_end < 6 or template[stem_end - 6 : stem_end] != "XXXXXX":
        raise AgentError.from_errno(errno.EINVAL, shown)
    for _ in range(100):
        random_part = "".join(secrets.choice(_TEMPLATE_CHARS) for _ in range(6))
        name = template[: stem_end - 6] + random_part + template[stem_end:]
        try:
            create(ctx.sysroot.resolve(name, follow=False))
        except FileExistsError:
            continue
        except OSError as e:
            raise AgentError.from_os(e, shown) from None
        return name
    raise AgentError.from_errno(errno.EEXIST, shown)


@implements("mkdtemp")
def mkdtemp(ctx: CallContext, tmpl: str) -> str:
    return _make_unique(ctx, tmpl, 0, lambda host: os.mkdir(host, 0o700), tmpl)


@implements("mktemp")
def mktemp(ctx: CallContext, tmpl: str, *, suffix: str | None = None) -> str:
    name = tmpl
    suffix_len = 0
    if suffix is not None:
        if not tmpl.endswith("X"):
            raise AgentError(f"template {tmpl} must end in X")
        name, suffix_len = tmpl + suffix, len(suffix.encode("utf-8", "surrogateescape"))

    def create(host: str) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        os.close(os.open(host, flags, 0o600))

    return _make_unique(ctx, name, suffix_len, create, name)


# -- special files ------------------------------------------------------------------------


@implements("mknod")
def mknod(ctx: CallContext, mode: int, devmajor: int, devminor: int, path: str) -> None:
    if mode < 0:
        raise AgentError(f"{path}: mode is negative")
    # makedev takes unsigned numbers: C converts a negative int silently.
    device = os.makedev(devmajor & 0xFFFFFFFF, devminor & 0xFFFFFFFF)
    try:
        os.mknod(ctx.sysroot.resolve(path, follow=False), mode, device)
    except OSError as e:
        raise AgentError.from_os(e, path) from None


def _permission_bits_only(mode: int) -> None:
    if mode & ~0o7777:
        raise AgentError(f"{mode & 0xFFFFFFFF:o}: mode must specify only file permission bits")


@implements("mkfifo")
def mkfifo(ctx: CallContext, mode: int, path: str) -> None:
    _permission_bits_only(mode)
    mknod(ctx, mode | stat.S_IFIFO, 0, 0, path)


@implements("mknod_b")
def mknod_b(ctx: CallContext, mode: int, devmajor: int, devminor: int, path: str) -> None:
    _permission_bits_only(mode)
    mknod(ctx, mode | stat.S_IFBLK, devmajor, devminor, path)


@implements("mknod_c")
def mknod_c(ctx: CallContext, mode: int, devmajor: int, devminor: int, path: str) -> None:
    _permission_bits_only(mode)
    mknod(ctx, mode | stat.S_IFCHR, devmajor, devminor, path)


# -- links ----------------------------------------------------------------------------------


def _hard_link(ctx: CallContext, target: str, linkname: str, replace: bool) -> None:
    # link(2) inside guestfsd's chroot: neither name's final symlink is followed. A relative
    # target is relative to the daemon's working directory, the root.
    host_target = ctx.sysroot.resolve(
        target if target.startswith("/") else "/" + target, follow=False
    )
    host_link = ctx.sysroot.resolve(linkname, follow=False)
    if replace:
        try:
            os.unlink(host_link)
        except OSError:
            pass  # guestfsd ignores the unlink's failure; link reports what matters
    try:
        os.link(host_target, host_link, follow_symlinks=False)
    except OSError as e:
        raise AgentError.from_os(e, f"link: {target}: {linkname}") from None


@implements("ln")
def ln(ctx: CallContext, target: str, linkname: str) -> None:
    _hard_link(ctx, target, linkname, replace=False)


@implements("ln_f")
def ln_f(ctx: CallContext, target: str, linkname: str) -> None:
    _hard_link(ctx, target, linkname, replace=True)


@implements("ln_sf")
def ln_sf(ctx: CallContext, target: str, linkname: str) -> None:
    # guestfsd runs "ln -sf -- TARGET /sysroot/LINKNAME". ln follows a final symlink to a
    # directory (and makes the link inside it); here that symlink is resolved within the
    # sysroot first, so ln is never handed a symlink that could lead out of it.
    host = ctx.sysroot.resolve(linkname, follow=False)
    flags = "-sf"
    if os.path.islink(host):
        inside = ctx.sysroot.resolve(linkname)
        if os.path.isdir(inside):
            host = inside
        else:
            # Not a directory inside the sysroot: ln must replace the symlink itself, even
            # if on this host it happens to lead to a directory outside.
            flags = "-sfn"
    run(
        ["ln", flags, "--", target, host],
        error_prefix=f"ln -sf: {target}: {linkname}: ",
        hide=ctx.sysroot.hide,
    )


# -- sizes, times, owners -----------------------------------------------------------------


@implements("truncate_size")
def truncate_size(ctx: CallContext, path: str, size: int) -> None:
    try:
        fd = os.open(ctx.sysroot.resolve(path), os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        os.ftruncate(fd, size)
    except OSError as e:
        raise AgentError.from_os(e, f"ftruncate: {path}") from None
    finally:
        os.close(fd)


@implements("truncate")
def truncate(ctx: CallContext, path: str) -> None:
    truncate_size(ctx, path, 0)


@implements("fallocate64")
def fallocate64(ctx: CallContext, path: str, len: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(ctx.sysroot.resolve(path), flags, 0o666)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        os.posix_fallocate(fd, 0, len)
    except OSError as e:
        raise AgentError.from_os(e, path) from None
    finally:
        os.close(fd)


@implements("fallocate")
def fallocate(ctx: CallContext, path: str, len: int) -> None:
    if len < 0:
        raise AgentError("length < 0")
    fallocate64(ctx, path, len)


_UTIME_NOW, _UTIME_OMIT = -1, -2


@implements("utimens")
def utimens(
    ctx: CallContext, path: str, atsecs: int, atnsecs: int, mtsecs: int, mtnsecs: int
) -> None:
    host = ctx.sysroot.resolve(path, follow=False)
    what = f"utimensat: {path}"
    for nsecs in (atnsecs, mtnsecs):
        # utimensat(2) refuses nanoseconds out of range, except its two special values.
        if nsecs not in (_UTIME_NOW, _UTIME_OMIT) and not 0 <= nsecs < 1_000_000_000:
            raise AgentError.from_errno(errno.EINVAL, what)
    try:
        st = os.lstat(host)
        now = time.time_ns()

        def pick(secs: int, nsecs: int, current: int) -> int:
            if nsecs == _UTIME_NOW:
                return now
            if nsecs == _UTIME_OMIT:
                return current
            return secs * 1_000_000_000 + nsecs

        times = (
            pick(atsecs, atnsecs, st.st_atime_ns),
            pick(mtsecs, mtnsecs, st.st_mtime_ns),
        )
        os.utime(host, ns=times, follow_symlinks=False)
    except OverflowError:
        raise AgentError.from_errno(errno.EINVAL, what) from None
    except OSError as e:
        raise AgentError.from_os(e, what) from None


@implements("lchown")
def lchown(ctx: CallContext, owner: int, group: int, path: str) -> None:
    try:
        os.lchown(ctx.sysroot.resolve(path, follow=False), owner, group)
    except OSError as e:
        raise AgentError.from_os(e, f"{path}: {owner}.{group}") from None


# -- extended attributes ------------------------------------------------------------------

#: An attribute guestfsd never lists (Windows compressed data under ntfs-3g).
_HIDDEN_XATTR = "user.WofCompressedData"
#: Linux's XATTR_SIZE_MAX.
_XATTR_SIZE_MAX = 65536


def _xattrs_of(host: str, follow: bool, list_error: str) -> list[dict[str, Any]]:
    try:
        names = os.listxattr(host, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, list_error) from None
    out = []
    for name in names:
        if name == _HIDDEN_XATTR:
            continue
        try:
            value = os.getxattr(host, name, follow_symlinks=follow)
        except OSError as e:
            raise AgentError.from_os(e, f"getxattr: {name}") from None
        out.append({"attrname": name, "attrval": value})
    out.sort(key=lambda x: os.fsencode(str(x["attrname"])))
    return out


@implements("getxattrs")
def getxattrs(ctx: CallContext, path: str) -> list[dict[str, Any]]:
    return _xattrs_of(ctx.sysroot.resolve(path), True, f"listxattr: {path}")


@implements("lgetxattrs")
def lgetxattrs(ctx: CallContext, path: str) -> list[dict[str, Any]]:
    return _xattrs_of(ctx.sysroot.resolve(path, follow=False), False, f"listxattr: {path}")


def _setxattr(ctx: CallContext, xattr: str, val: str, vallen: int, path: str, follow: bool) -> None:
    if vallen > _XATTR_SIZE_MAX:
        raise AgentError("extended attribute is too large")
    if vallen < 0:
        # C hands the negative length to setxattr as a huge size_t: the kernel says E2BIG.
        raise AgentError.from_errno(errno.E2BIG, "setxattr")
    # The value is the first vallen bytes at val, a C string: past its end come its NUL
    # and then whatever follows in memory (zeros here).
    data = val.encode("utf-8", "surrogateescape")
    value = data[:vallen].ljust(vallen, b"\0")
    try:
        os.setxattr(
            ctx.sysroot.resolve(path, follow=follow), xattr, value, 0, follow_symlinks=follow
        )
    except OSError as e:
        raise AgentError.from_os(e, "setxattr") from None


@implements("setxattr")
def setxattr(ctx: CallContext, xattr: str, val: str, vallen: int, path: str) -> None:
    _setxattr(ctx, xattr, val, vallen, path, True)


@implements("lsetxattr")
def lsetxattr(ctx: CallContext, xattr: str, val: str, vallen: int, path: str) -> None:
    _setxattr(ctx, xattr, val, vallen, path, False)


def _removexattr(ctx: CallContext, xattr: str, path: str, follow: bool) -> None:
    try:
        os.removexattr(ctx.sysroot.resolve(path, follow=follow), xattr, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, "removexattr") from None


@implements("removexattr")
def removexattr(ctx: CallContext, xattr: str, path: str) -> None:
    _removexattr(ctx, xattr, path, True)


@implements("lremovexattr")
def lremovexattr(ctx: CallContext, xattr: str, path: str) -> None:
    _removexattr(ctx, xattr, path, False)


def _getxattr(ctx: CallContext, path: str, name: str, follow: bool) -> bytes:
    try:
        return os.getxattr(ctx.sysroot.resolve(path, follow=follow), name, follow_symlinks=follow)
    except OSError as e:
        raise AgentError.from_os(e, "getxattr") from None


@implements("getxattr")
def getxattr(ctx: CallContext, path: str, name: str) -> bytes:
    return _getxattr(ctx, path, name, True)


@implements("lgetxattr")
def lgetxattr(ctx: CallContext, path: str, name: str) -> bytes:
    return _getxattr(ctx, path, name, False)


# -- batches for the library's lstatnslist, lxattrlist, readlinklist ------------------------


def _check_file_names(api: str, names: list[str]) -> None:
    # The generated stub's check of a StringList (Filename): no "/" in any element.
    for name in names:
        if "/" in name:
            raise AgentError(f"{api}_stub: '{name}' is not a file name")


def _open_dir(ctx: CallContext, path: str, what: str) -> str:
    """The directory's host path once guestfsd's open(O_DIRECTORY) would have succeeded."""
    host = ctx.sysroot.resolve(path)
    try:
        os.close(os.open(host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    except OSError as e:
        raise AgentError.from_os(e, what) from None
    return host


def _child(ctx: CallContext, directory: str, name: str) -> str | None:
    """Host path of ``name`` in ``directory`` as fstatat(dirfd, name) sees it inside the
    chroot: "" names nothing, and ".." of the root is the root."""
    if name == "":
        return None
    if name == ".." and directory == ctx.sysroot.root:
        return directory
    return os.path.join(directory, name)


#: What guestfsd returns for a name it cannot lstat: a zeroed struct with st_ino -1.
_NO_STAT = {field: 0 for field, _ in STRUCTS["statns"].fields} | {"st_ino": -1}


@implements("internal_lstatnslist")
def internal_lstatnslist(ctx: CallContext, path: str, names: list[str]) -> list[dict[str, int]]:
    _check_file_names("internal_lstatnslist", names)
    directory = _open_dir(ctx, path, path)
    out = []
    for name in names:
        child = _child(ctx, directory, name)
        try:
            if child is None:
                raise FileNotFoundError(name)
            out.append(_statns(os.lstat(child)))
        except OSError:
            out.append(dict(_NO_STAT))
    return out


@implements("internal_readlinklist")
def internal_readlinklist(ctx: CallContext, path: str, names: list[str]) -> list[str]:
    _check_file_names("internal_readlinklist", names)
    directory = _open_dir(ctx, path, f"open: {path}")
    out = []
    for name in names:
        child = _child(ctx, directory, name)
        try:
            if child is None:
                raise FileNotFoundError(name)
            out.append(os.readlink(child))
        except OSError:
            out.append("")  # missing or not a symlink: an empty string, not an error
    return out


@implements("internal_lxattrlist")
def internal_lxattrlist(ctx: CallContext, path: str, names: list[str]) -> list[dict[str, Any]]:
    _check_file_names("internal_lxattrlist", names)
    out: list[dict[str, Any]] = []
    for name in names:
        # Each file: an entry with an empty name whose value counts the attributes that
        # follow ("N" plus its NUL); a file that cannot be listed has an empty value.
        marker: dict[str, Any] = {"attrname": "", "attrval": b""}
        out.append(marker)
        host = ctx.sysroot.resolve(f"{path}/{name}", follow=False)
        try:
            names_here = os.listxattr(host, follow_symlinks=False)
        except OSError:
            continue
        attrs = []
        for attr in names_here:
            if attr == _HIDDEN_XATTR:
                continue
            try:
                value = os.getxattr(host, attr, follow_symlinks=False)
            except OSError as e:
                raise AgentError.from_os(e, f"getxattr: {attr}") from None
            attrs.append({"attrname": attr, "attrval": value})
        attrs.sort(key=lambda x: os.fsencode(str(x["attrname"])))
        marker["attrval"] = f"{len(attrs)}\0".encode()
        out += attrs
    return out
