"""The ``content`` family: comparing and checksumming contents, as guestfsd 1.48's
``daemon/cmp.c`` and ``daemon/checksum.c`` do it."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device, GuestPath
from ..runner import ENV, not_found, start

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
