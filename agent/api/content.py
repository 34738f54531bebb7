"""The ``content`` family: reading what is in files (``daemon/headtail.c``, ``wc.c``,
``grep.c``, ``hexdump.c``, ``file.c``, ``checksum.c``, ``strings.c`` of 1.48).

guestfsd runs head, tail, wc, grep, zgrep and hexdump with the file (opened inside its
chroot) as their standard input, so a symlink cannot lead the tool out of the sysroot; the
same is done here with the resolved path. ``strings`` is computed here instead of running
binutils (tens of MiB in the appliance for one API): the scan below is GNU strings's
``-a -e ENC`` with its default minimum length of 4. A file's contents are never rewritten
(no device names translated): the tools run through :func:`pyguestfs.agent.runner.run`.

Also comparing and checksumming contents, as guestfsd 1.48's
``daemon/cmp.c`` and ``daemon/checksum.c`` do it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence

from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..guest import split_lines
from ..registry import procedure
from ..resolve import Device, GuestPath
from ..runner import ENV, not_found, start


def _open_in_sysroot(call: CallContext, path: GuestPath, what: str) -> int:
    """open(path, O_RDONLY) as guestfsd does inside its chroot; errors are
    "<what>: <strerror>"."""
    try:
        return os.open(path.host(), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, what) from None


def _read_with(argv: Sequence[str], fd: int) -> tuple[int, str, str]:
    """Run a tool with ``fd`` as its stdin (closed afterwards): exit status, stdout as
    guestfsd keeps it (a C string: cut at the first NUL byte) and stderr without its
    trailing newlines. The output is the file's: nothing in it is renamed."""
    try:
        done = runner.run(argv, stdin=fd, check=False)
    finally:
        os.close(fd)
    return done.status, done.out.split("\0", 1)[0], done.err


def _headtail(call: CallContext, prog: str, count: str, path: GuestPath) -> list[str]:
    fd = _open_in_sysroot(call, path, path)
    status, out, err = _read_with([prog, "-n", count], fd)
    if status != 0:
        raise AgentError(f"{prog} -n {count}: {err}")
    return split_lines(out)


@procedure("head")
def head(call: CallContext, path: GuestPath) -> list[str]:
    return _headtail(call, "head", "10", path)


@procedure("head_n")
def head_n(call: CallContext, nrlines: int, path: GuestPath) -> list[str]:
    # head's own reading of a negative count: all but the last -N lines.
    return _headtail(call, "head", str(nrlines), path)


@procedure("tail")
def tail(call: CallContext, path: GuestPath) -> list[str]:
    return _headtail(call, "tail", "10", path)


@procedure("tail_n")
def tail_n(call: CallContext, nrlines: int, path: GuestPath) -> list[str]:
    # A negative count means "from line -N on", which tail spells +N.
    count = str(nrlines) if nrlines >= 0 else f"+{-nrlines}"
    return _headtail(call, "tail", count, path)


def _wc(call: CallContext, flag: str, path: GuestPath) -> int:
    fd = _open_in_sysroot(call, path, f"wc {flag}: {path}")
    status, out, err = _read_with(["wc", flag], fd)
    if status != 0:
        raise AgentError(f"wc {flag}: {err}")
    m = re.match(r"\s*([-+]?\d+)", out)
    if m is None:
        raise AgentError(f"cannot parse number: {out}")
    return int(m.group(1))


@procedure("wc_l")
def wc_l(call: CallContext, path: GuestPath) -> int:
    return _wc(call, "-l", path)


@procedure("wc_w")
def wc_w(call: CallContext, path: GuestPath) -> int:
    return _wc(call, "-w", path)


@procedure("wc_c")
def wc_c(call: CallContext, path: GuestPath) -> int:
    return _wc(call, "-c", path)


def _grep(
    call: CallContext,
    regex: str,
    path: GuestPath,
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
    fd = _open_in_sysroot(call, path, path)
    status, out, err = _read_with(argv, fd)
    if status > 1:  # 1 is "no line matched": an empty list, not an error
        raise AgentError(f"{regex}: {err}")
    return split_lines(out)


@procedure("grep")
def grep(
    call: CallContext,
    regex: str,
    path: GuestPath,
    *,
    extended: bool = False,
    fixed: bool = False,
    insensitive: bool = False,
    compressed: bool = False,
) -> list[str]:
    return _grep(
        call,
        regex,
        path,
        extended=extended,
        fixed=fixed,
        insensitive=insensitive,
        compressed=compressed,
    )


def _register_grep_variant(name: str, arg: str, **flags: bool) -> None:
    def variant(call: CallContext, path: GuestPath, **kwargs: str) -> list[str]:
        return _grep(call, kwargs[arg], path, **flags)

    variant.__name__ = name
    procedure(name)(variant)


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


@procedure("hexdump")
def hexdump(call: CallContext, path: GuestPath) -> str:
    fd = _open_in_sysroot(call, path, path)
    status, out, err = _read_with(["hexdump", "-C"], fd)
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


@procedure("file")
def file(call: CallContext, path: Device | GuestPath) -> str:
    if isinstance(path, Device):
        # A device: its contents (-s), through symlinks (-L).
        return call.run(["file", "-zSbsL", path.node], error="file: {err}").out.rstrip()
    # RHBZ#582484: only a regular file is given to file(1); anything else is named by
    # its kind from an lstat (so a symlink is "symbolic link", never followed).
    host = path.host(follow=False)
    try:
        mode = os.lstat(host).st_mode
    except OSError as e:
        raise AgentError.from_os(e, f"lstat: {path}") from None
    if not stat.S_ISREG(mode):
        return _KINDS.get(stat.S_IFMT(mode), "unknown")
    return call.run(["file", "-zSb", host], error="file: {err}").out.rstrip()


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


@procedure("strings_e")
def strings_e(call: CallContext, encoding: str, path: GuestPath) -> list[str]:
    if len(encoding) != 1 or encoding not in _STRING_RUNS:
        raise AgentError(f"{encoding}: invalid encoding")
    fd = _open_in_sysroot(call, path, path)
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read()
    except OSError:
        # strings reading its stdin treats a read error (a directory) as the end of input.
        data = b""
    return [s.decode("utf-8", "surrogateescape") for s in find_strings(data, encoding)]


@procedure("strings")
def strings(call: CallContext, path: GuestPath) -> list[str]:
    return strings_e(call, "s", path)


_PROGRAMS = {
    "crc": "cksum",
    "md5": "md5sum",
    "sha1": "sha1sum",
    "sha224": "sha224sum",
    "sha256": "sha256sum",
    "sha384": "sha384sum",
    "sha512": "sha512sum",
}


@procedure("checksum")
def checksum(call: CallContext, csumtype: str, path: GuestPath) -> str:
    host = path.host()
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
            return runner.run(["cksum"], stdin=f).out.split()[0]
        try:
            return hashlib.file_digest(f, algo).hexdigest()
        except OSError as e:
            raise AgentError.from_os(e, path) from None


#: The program for each checksum type guestfsd knows (matched case-insensitively).
_CHECKSUM_PROGRAMS = {
    "crc": "cksum",
    "md5": "md5sum",
    "sha1": "sha1sum",
    "sha224": "sha224sum",
    "sha256": "sha256sum",
    "sha384": "sha384sum",
    "sha512": "sha512sum",
}


def _checksum_program(csumtype: str) -> str:
    program = _CHECKSUM_PROGRAMS.get(csumtype.lower())
    if program is None:
        raise AgentError(
            "unknown checksum type, expecting crc|md5|sha1|sha224|sha256|sha384|sha512"
        )
    return program


@procedure("equal")
def equal(call: CallContext, file1: GuestPath, file2: GuestPath) -> bool:
    """``cmp -s``: true when both files have the same contents."""
    done = call.run(["cmp", "-s", file1.host(), file2.host()], check=False)
    if done.status > 1:
        raise AgentError(done.err)
    return done.status == 0


@procedure("checksum_device")
def checksum_device(call: CallContext, csumtype: str, device: Device) -> str:
    """The checksum of a whole device: its contents piped into the checksum program
    (guestfsd opens the device before it looks at the type)."""
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None
    try:
        program = _checksum_program(csumtype)
        done = call.run([program], stdin=fd, check=False)
    finally:
        os.close(fd)
    if done.status != 0:
        raise AgentError(f"{program}: {done.err}")
    return done.out.split(None, 1)[0] if done.out.split() else ""


@procedure("checksums_out")
def checksums_out(call: CallContext, csumtype: str, directory: GuestPath) -> None:
    """``cd DIR && find -type f -print0 | xargs -0 PROGRAM``, streamed as it runs: one
    line per regular file below ``directory``, names relative (``./a/b``)."""
    program = _checksum_program(csumtype)
    host = directory.host()
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    try:
        find = subprocess.Popen(
            ["find", "-type", "f", "-print0"],
            cwd=host,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
    except FileNotFoundError:
        raise not_found("find") from None
    try:
        sums = subprocess.Popen(
            ["xargs", "-0", program],
            cwd=host,
            stdin=find.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
    except FileNotFoundError:
        find.kill()
        find.wait()
        raise not_found("xargs") from None
    assert find.stdout is not None and sums.stdout is not None
    find.stdout.close()  # xargs holds it now: find sees SIGPIPE if xargs dies
    try:
        call.begin_file_out()
        call.send_file(sums.stdout.read)
    finally:
        sums.stdout.close()
        status = sums.wait()
        find.wait()
    if status != 0:
        # After the OK reply only a cancelled transfer can say it failed (as pclose's).
        raise AgentError(f"checksums_out: {directory}: {program} exited with status {status}")


# -- file_architecture ------------------------------------------------------------------------
# 1.48 (daemon/filearch.ml) runs file(1) and reads the architecture from its words, so
# this does the same: the answers, and the errors, follow file(1)'s output.

_RE_ELF = re.compile(
    r"ELF (\d+)-bit (MSB|LSB).*(?:executable|shared object|relocatable),? ([^,]+?),"
)
_RE_PPC64 = re.compile(r".*64.*PowerPC")

#: What 1.48 looks for inside an initrd (a cpio archive), in this order.
_INITRD_BINARIES = (
    "bin/ls",
    "bin/rm",
    "bin/modprobe",
    "sbin/modprobe",
    "bin/sh",
    "bin/bash",
    "bin/dash",
    "bin/nash",
)

#: file(1)'s kind words for what is not a regular file (1.48's File.file, RHBZ#582484).
_KINDS = {
    stat.S_IFDIR: "directory",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFLNK: "symbolic link",
    stat.S_IFSOCK: "socket",
}


def _magic(call: CallContext, path: GuestPath) -> str:
    """What the ``file`` procedure answers for a path: file(1) for a regular file, the
    kind of anything else (a symlink is not followed)."""
    host = path.host(follow=False)
    try:
        mode = os.lstat(host).st_mode
    except OSError as e:
        raise AgentError.from_os(e, f"lstat: {path}") from None
    if not stat.S_ISREG(mode):
        return _KINDS.get(stat.S_IFMT(mode), "unknown")
    return call.run(["file", "-zSb", host]).out.rstrip()


def _canonical_elf_arch(bits: str, endianness: str, elf_arch: str) -> str:
    def has(word: str) -> bool:
        return word in elf_arch

    if has("Intel 80386") or has("Intel 80486"):
        return "i386"
    if has("x86-64") or has("AMD x86-64"):
        return "x86_64"
    if has("SPARC32"):
        return "sparc"
    if has("SPARC V9"):
        return "sparc64"
    if has("IA-64"):
        return "ia64"
    if _RE_PPC64.match(elf_arch):
        if endianness == "MSB":
            return "ppc64"
        if endianness == "LSB":
            return "ppc64le"
        raise AgentError(f"unknown endianness '{endianness}'")
    if has("PowerPC"):
        return "ppc"
    if has("ARM aarch64"):
        return "aarch64"
    if has("ARM"):
        return "arm"
    if has("UCB RISC-V"):
        return f"riscv{bits}"
    if has("IBM S/390"):
        if bits == "32":
            return "s390"
        if bits == "64":
            return "s390x"
        raise AgentError(f"unknown S/390 bit size: {bits}")
    return elf_arch


def _of_magic(call: CallContext, magic: str, orig: GuestPath, host: str | None) -> str:
    m = _RE_ELF.search(magic)
    if m:
        return _canonical_elf_arch(m.group(1), m.group(2), m.group(3))
    if "PE32 executable" in magic:
        return "i386"
    if "PE32+ executable" in magic:
        return "x86_64"
    if "cpio archive" in magic and host is None:
        return _cpio_arch(call, magic, orig)
    raise AgentError(f"unknown architecture: {orig if host is None else host}")


def _cpio_arch(call: CallContext, magic: str, path: GuestPath) -> str:
    """An initrd: the architecture of the first of the usual binaries inside it."""
    if "gzip" in magic:
        unpack = "zcat"
    elif "bzip2" in magic:
        unpack = "bzcat"
    elif "XZ compressed" in magic:
        unpack = "xzcat"
    elif "Zstandard compressed" in magic:
        unpack = "zstdcat"
    else:
        unpack = "cat"
    tmpdir = tempfile.mkdtemp(prefix="filearch")
    try:
        # 1.48's pipeline (decompress | cpio extracting only the listed names into
        # tmpdir), as two programs joined by a pipe: no shell.
        with open(path.host(), "rb") as source:
            unpacker = start([unpack], feed=False, stdin=source, stderr=subprocess.DEVNULL)
            assert unpacker.stdout is not None
            try:
                cpio = start(
                    ["cpio", "--quiet", "--no-absolute-filenames", "-id", *_INITRD_BINARIES],
                    feed=False,
                    stdin=unpacker.stdout,
                    stderr=subprocess.DEVNULL,
                    cwd=tmpdir,
                )
            finally:
                unpacker.stdout.close()
            cpio.communicate()
            unpacker.wait()
        if cpio.returncode != 0:
            raise AgentError("cpio command failed")
        for name in _INITRD_BINARIES:
            binary = os.path.join(tmpdir, name)
            if os.path.isfile(binary) and not os.path.islink(binary):
                out = call.run(["file", "-zSb", binary]).out
                return _of_magic(call, out, path, binary)
        raise AgentError(f"could not determine architecture of cpio archive: {path}")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@procedure("file_architecture")
def file_architecture(call: CallContext, filename: GuestPath) -> str:
    return _of_magic(call, _magic(call, filename), filename, None)
