"""Choose the host kernel, and extract a PVH-bootable ``vmlinux`` from its bzImage.

Kernel selection follows supermin 5.2 (``src/format_ext2_kernel.ml``) so that a user who
already steers libguestfs with ``SUPERMIN_KERNEL``, ``SUPERMIN_KERNEL_VERSION`` and
``SUPERMIN_MODULES`` gets the same kernel from us. Two deliberate differences, both
because a silent fallback hides a mistake: an explicit kernel whose version cannot be
worked out is an error (supermin quietly ignores ``SUPERMIN_KERNEL`` then), and a modules
override applies whichever way the kernel was found (supermin ignores ``SUPERMIN_MODULES``
for ``/lib/modules/*/vmlinuz`` kernels).

Extraction exists because under TCG the bzImage's own xz decompressor costs ~3 s of every
boot, while qemu boots the ELF inside it directly through the Xen PVH note
(``../shared/docs/environment.md``, "Boot floor"). Doing it once on the host, at build
time, moves that cost into the cached build.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import lzma
import os
import platform
import re
import shlex
import stat
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..core import runner
from ..core.settings import read_environment
from .errors import BuildError, tool_error

log = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"

#: Compressed-payload formats a bzImage may carry, by the magic that starts each stream.
#: lz4 is the *legacy* frame format: that is what the kernel's ``lz4 -l`` produces.
PAYLOAD_MAGICS: dict[str, bytes] = {
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "gzip": b"\x1f\x8b\x08",
    "lz4": b"\x02\x21\x4c\x18",
}

#: Formats the standard library cannot decode (Python 3.11 has no zstd or lz4), so a
#: command-line tool does it: the argv decompresses stdin to stdout.
_TOOL_ARGV: dict[str, list[str]] = {
    "zstd": ["zstd", "-d", "-c", "-q"],
    "lz4": ["lz4", "-d", "-c", "-q"],
}

PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18

#: supermin ignores /lib/modules/*/vmlinuz files smaller than this (placeholders).
_MIN_KERNEL_SIZE = 10_000


# --------------------------------------------------------------------------------------
# Finding the kernel


@dataclass(frozen=True)
class KernelInfo:
    """The kernel the appliance boots, and the modules that belong to it.

    ``size`` and ``mtime_ns`` are taken when the kernel is chosen; with ``path`` and
    ``version`` they form :attr:`identity`, the kernel's part of the build cache key.
    ``source`` says how it was chosen ("argument", "SUPERMIN_KERNEL", "/lib/modules",
    "/boot"), for ``--debug`` output and error messages.
    """

    path: str
    version: str
    modules_dir: str
    size: int
    mtime_ns: int
    source: str

    @property
    def identity(self) -> dict[str, str | int]:
        """The fields that change when the kernel or its modules are replaced."""
        return {
            "path": self.path,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "version": self.version,
            "modules_dir": self.modules_dir,
        }


def find_kernel(
    kernel: str | None = None,
    modules: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    version: str | None = None,
    boot_dir: str = "/boot",
    modules_root: str = "/lib/modules",
    host_cpu: str | None = None,
) -> KernelInfo:
    """Pick the kernel to boot and its modules directory.

    Precedence, as in supermin 5.2: an explicit ``kernel`` argument, else
    ``env["SUPERMIN_KERNEL"]``; else the newest ``<modules_root>/*/vmlinuz``; else the
    newest non-Xen ``<boot_dir>/vmlinu?-*`` for ``host_cpu`` that has a modules
    directory. The version comes from ``version`` (or ``SUPERMIN_KERNEL_VERSION`` with
    ``SUPERMIN_KERNEL``), else from the kernel's own header, else from its file name.
    The modules directory is ``modules``, else ``SUPERMIN_MODULES``, else
    ``<modules_root>/<version>``. A ``version`` without ``kernel`` limits the automatic
    choice to kernels of that version.

    Raises :class:`BuildError` when no kernel is found, when the chosen one cannot be
    read (Ubuntu installs ``/boot/vmlinuz-*`` mode 0600), or when its modules directory
    is missing.
    """
    cpu = host_cpu or platform.machine()
    settings = read_environment(env)  # SUPERMIN_KERNEL, SUPERMIN_MODULES ... (os.environ)
    modules_override = modules or settings.modules
    modules_origin = "argument" if modules else "SUPERMIN_MODULES"

    if kernel is not None or settings.kernel:
        source = "argument" if kernel is not None else "SUPERMIN_KERNEL"
        path = kernel if kernel is not None else str(settings.kernel)
        if version is None and source == "SUPERMIN_KERNEL":
            version = settings.kernel_version
        if not os.path.lexists(path):
            raise BuildError(
                f"kernel {path} (from {source}) does not exist",
                "point it at a kernel image, e.g. /boot/vmlinuz-$(uname -r)",
            )
        _check_readable(path, source)
        if version is None:
            version = _kernel_version(path)
        if version is None:
            raise BuildError(
                f"cannot tell the version of kernel {path} (from {source}): it has no "
                "x86 boot header with a version string, and its name is not vmlinuz-VERSION",
                "set SUPERMIN_KERNEL_VERSION (or pass the version explicitly)",
            )
        modules_dir = modules_override or os.path.join(modules_root, version)
        _check_modules_dir(modules_dir, path, version, modules_origin if modules_override else None)
        return _info(path, version, modules_dir, source)

    if settings.kernel_version and version is None:
        # supermin reads SUPERMIN_KERNEL_VERSION only together with SUPERMIN_KERNEL.
        log.debug("ignoring SUPERMIN_KERNEL_VERSION: SUPERMIN_KERNEL is not set")

    rejected: list[str] = []
    found = _from_lib_modules(modules_root, cpu, version, rejected)
    if found is None:
        found = _from_boot(boot_dir, modules_root, cpu, version, modules_override, rejected)
    if found is None:
        wanted = f" of version {version}" if version else ""
        detail = "".join(f"\n  {r}" for r in rejected)
        raise BuildError(
            f"no Linux kernel{wanted} found for host cpu {cpu}: looked for "
            f"{modules_root}/*/vmlinuz and {boot_dir}/vmlinu?-* (without 'xen' in the "
            f"name) with modules in {modules_root}/VERSION{detail}",
            "apt-get install linux-image-amd64, or set SUPERMIN_KERNEL (and "
            "SUPERMIN_MODULES) to a kernel and its modules",
        )
    path, version, source = found
    _check_readable(path, source)
    modules_dir = modules_override or os.path.join(modules_root, version)
    _check_modules_dir(modules_dir, path, version, modules_origin if modules_override else None)
    info = _info(path, version, modules_dir, source)
    log.debug(
        "kernel: picked %s (version %s, from %s), modules %s", path, version, source, modules_dir
    )
    return info


def _from_lib_modules(
    modules_root: str, cpu: str, version: str | None, rejected: list[str]
) -> tuple[str, str, str] | None:
    """Fedora/RHEL layout: the kernel lives beside its modules as ``<ver>/vmlinuz``."""
    kernels = []
    for path in _bootable(glob.glob(os.path.join(glob.escape(modules_root), "*", "vmlinuz")), cpu):
        ver = os.path.basename(os.path.dirname(path))
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0
        if size < _MIN_KERNEL_SIZE:
            rejected.append(f"{path}: ignored, smaller than {_MIN_KERNEL_SIZE} bytes")
        elif version is None or ver == version:
            kernels.append((path, ver))
    if not kernels:
        return None
    kernels.sort(key=lambda k: version_key(k[1]), reverse=True)
    return kernels[0][0], kernels[0][1], modules_root


def _from_boot(
    boot_dir: str,
    modules_root: str,
    cpu: str,
    version: str | None,
    modules_override: str | None,
    rejected: list[str],
) -> tuple[str, str, str] | None:
    """Debian/Ubuntu layout: ``/boot/vmlinuz-<ver>``, newest first, that has modules."""
    try:
        names = os.listdir(boot_dir)
    except OSError as e:
        rejected.append(f"{boot_dir}: {e.strerror}")
        return None
    # As supermin (after `ls -1dvr /boot/vmlinuz-*.$arch* | grep -v xen`): the kernels
    # named for this cpu, and only if there are none, every vmlinu?-*.
    files = _bootable(_matching(_cpu_patterns(cpu), names), cpu)
    if not files:
        files = _bootable(_matching(["vmlinu?-*"], names), cpu)
    for name in sorted(files, key=version_key, reverse=True):
        path = os.path.join(boot_dir, name)
        ver = _kernel_version(path)
        if ver is None:
            rejected.append(f"{path}: cannot tell its version")
            continue
        if version is not None and ver != version:
            continue
        modpath = modules_override or os.path.join(modules_root, ver)
        if not os.path.isfile(os.path.join(modpath, "modules.dep")):
            rejected.append(f"{path}: no {os.path.join(modpath, 'modules.dep')}")
            continue
        return path, ver, boot_dir
    return None


def _matching(patterns: Sequence[str], names: Sequence[str]) -> list[str]:
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _bootable(files: Sequence[str], cpu: str) -> list[str]:
    """Drop kernels qemu cannot boot as a plain guest (supermin's ignore list)."""
    bad = ["xen", "zfcpdump", "+debug"] + (["tegra"] if cpu.startswith("arm") else [])
    return [f for f in files if not any(b in f for b in bad)]


def _cpu_patterns(cpu: str) -> list[str]:
    """supermin's ``patt_of_cpu``: Debian names kernels by its own arch names."""
    models = {
        "mips": [cpu, "*-malta"],
        "mips64": [cpu, "*-malta"],
        "ppc": ["ppc", "powerpc", "powerpc64"],
        "powerpc": ["ppc", "powerpc", "powerpc64"],
        "powerpc64": ["ppc", "powerpc", "powerpc64"],
        "sparc": ["sparc", "sparc64"],
        "sparc64": ["sparc", "sparc64"],
        "amd64": ["amd64", "x86_64"],
        "x86_64": ["amd64", "x86_64"],
        "parisc": ["hppa", "hppa64"],
        "parisc64": ["hppa", "hppa64"],
        "ppc64el": ["powerpc64le"],
        "aarch64": ["aarch64", "arm64"],
    }.get(cpu)
    if models is None:
        if re.fullmatch(r"i.86", cpu):
            models = ["?86"]
        elif cpu.startswith("armv7"):
            models = ["armmp"]
        else:
            models = [cpu]
    return [f"vmlinu?-*-{m}" for m in models]


def _kernel_version(path: str) -> str | None:
    """The version a kernel file declares, else the one its name gives (supermin order).

    supermin trusts a name only if that version has a modules directory; here the
    caller checks the modules directory next, which rejects the same kernels but can
    then say what is missing.
    """
    ver = read_kernel_version(path)
    if ver is not None:
        return ver
    base = os.path.basename(path)
    if base.startswith(("vmlinuz-", "vmlinux-")) and len(base) > 8:
        return base[8:]
    return None


def read_kernel_version(path: str) -> str | None:
    """The version string from an x86 kernel's boot header, or None if there is none.

    The rule is file(1)'s (``magic/Magdir/linux``), as supermin uses it: "HdrS" at 514,
    a protocol version >= 0x1ff at 518, and at 526 a pointer (minus 0x200) to the
    version text, which ends at the first NUL or blank. Unreadable files give None.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(528)
            if len(head) < 528 or head[514:518] != b"HdrS":
                return None
            (proto,) = struct.unpack_from("<H", head, 518)
            if proto < 0x1FF:
                return None
            (offset,) = struct.unpack_from("<H", head, 526)
            f.seek(offset + 0x200)
            text = f.read(132)
    except OSError:
        return None
    m = re.match(rb"[^\0 \t\n]*(?=[\0 \t\n])", text)
    if m is None or not m.group():
        return None
    return m.group().decode("ascii", "replace")


def _check_readable(path: str, source: str) -> None:
    """Fail early, and say why, when the kernel cannot be read.

    Ubuntu installs ``/boot/vmlinuz-*`` mode 0600 root:root, so an unprivileged build
    finds the kernel but cannot copy or extract it. ``os.access`` is not used: the open
    itself is the only honest test (ACLs, LSMs, root's capabilities).
    """
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError as e:
        try:
            st = os.stat(path)
            how = f"mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}"
        except OSError:
            how = "its mode could not be read"
        raise BuildError(
            f"kernel {path} (from {source}) is not readable by uid {os.geteuid()} "
            f"({how}): {e.strerror}",
            f"sudo chmod 0644 {shlex.quote(path)}, or copy it somewhere readable and set "
            "SUPERMIN_KERNEL to the copy (with SUPERMIN_KERNEL_VERSION and SUPERMIN_MODULES)",
        ) from None
    except OSError as e:
        raise BuildError(
            f"kernel {path} (from {source}) cannot be read: {e.strerror}",
            "set SUPERMIN_KERNEL to a kernel image file",
        ) from None


def _check_modules_dir(modules_dir: str, kernel: str, version: str, origin: str | None) -> None:
    where = f" (from {origin})" if origin else ""
    if not os.path.isdir(modules_dir):
        raise BuildError(
            f"modules directory {modules_dir}{where} for kernel {kernel} (version "
            f"{version}) does not exist",
            f"install the modules of kernel {version} (on Debian: apt-get install "
            f"linux-image-{version}), or set SUPERMIN_MODULES to its modules directory",
        )
    if not os.path.isfile(os.path.join(modules_dir, "modules.dep")):
        raise BuildError(
            f"modules directory {modules_dir}{where} has no modules.dep",
            f"run: depmod {shlex.quote(version)}",
        )


def _info(path: str, version: str, modules_dir: str, source: str) -> KernelInfo:
    st = os.stat(path)
    return KernelInfo(
        path=os.path.abspath(path),
        version=version,
        modules_dir=os.path.abspath(modules_dir),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        source=source,
    )


# supermin sorts versions with OCaml's polymorphic compare on lists of
# `Number n | `String s | `Char c. That compares constructors by the hash of their
# names before their contents, which puts letters before numbers before other chars.
# Reproduced exactly so that with several kernels we pick the one supermin picks.
_STRING, _NUMBER, _CHAR = 0, 1, 2
_VERSION_TOKEN = re.compile(r"([0-9]+)|([A-Za-z]+)|(.)", re.DOTALL)
_OCAML_MAX_INT = 2**62 - 1


def version_key(version: str) -> list[tuple[int, int | str]]:
    """A sort key ordering kernel versions as supermin's ``compare_version`` does."""
    key: list[tuple[int, int | str]] = []
    for m in _VERSION_TOKEN.finditer(version):
        digits, letters, other = m.groups()
        if digits is not None:
            n = int(digits)
            # OCaml's int_of_string fails past max_int, and supermin then keeps the text.
            key.append((_NUMBER, n) if n <= _OCAML_MAX_INT else (_STRING, digits))
        elif letters is not None:
            key.append((_STRING, letters))
        else:
            key.append((_CHAR, other))
    return key


# --------------------------------------------------------------------------------------
# Extracting vmlinux


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """Return the ELF ``vmlinux`` compressed inside an x86 bzImage, or None.

    The first candidate is the payload the boot header points at (boot protocol 2.08+:
    ``payload_offset``/``payload_length``), which is exact; then every xz, zstd, gzip and
    lz4 magic found in the file, in file order, in case the header is missing or lies.
    A candidate counts only if it decompresses to something starting with ``\\x7fELF``
    whose program and section tables lie inside it (so a truncated stream is refused).

    xz and gzip use the standard library; zstd and lz4 the command-line tools, which
    must be installed when such a payload is met (:class:`BuildError` otherwise).
    """
    data = bytes(bzimage)  # no copy for bytes; bytes.find needs a real bytes object
    view = memoryview(data)
    tried: set[tuple[int, str]] = set()
    tool_error: BuildError | None = None
    for start, end, fmt in _payload_candidates(data):
        if (start, fmt) in tried:
            continue
        tried.add((start, fmt))
        try:
            elf = _decompress_candidate(view, start, end, fmt)
        except BuildError as e:
            # A missing zstd/lz4 matters only if no other candidate works out.
            tool_error = tool_error or e
            continue
        if elf is not None:
            log.debug("vmlinux: %s payload at offset %d, %d bytes", fmt, start, len(elf))
            return elf
    if tool_error is not None:
        raise tool_error
    return None


def _payload_candidates(data: bytes) -> Iterator[tuple[int, int | None, str]]:
    """(start, end or None, format) of each possible compressed payload."""
    header = _header_payload(data)
    if header is not None:
        start, end = header
        for fmt, magic in PAYLOAD_MAGICS.items():
            if data.startswith(magic, start):
                yield start, end, fmt
    hits: list[tuple[int, str]] = []
    for fmt, magic in PAYLOAD_MAGICS.items():
        pos = data.find(magic)
        while pos != -1:
            hits.append((pos, fmt))
            pos = data.find(magic, pos + 1)
    for pos, fmt in sorted(hits):
        yield pos, None, fmt


def _header_payload(data: bytes) -> tuple[int, int] | None:
    """The payload's [start, end) per the x86 boot header, if it has one (>= 2.08)."""
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return None
    (proto,) = struct.unpack_from("<H", data, 0x206)
    if proto < 0x208:
        return None
    # setup_sects == 0 means 4 for historical reasons (Documentation/arch/x86/boot.rst).
    setup_sects = data[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    end = start + payload_length
    if payload_length < 4 or end > len(data):
        return None
    return start, end


def _decompress_candidate(view: memoryview, start: int, end: int | None, fmt: str) -> bytes | None:
    """Decompress one candidate; None unless it yields a complete ELF.

    When ``end`` is known, the payload's last 4 bytes hold the uncompressed size (the
    kernel's ``size_append``; for gzip it is the stream's own ISIZE), checked too.
    """
    chunk = view[start:end] if end is not None else view[start:]
    expected = None
    if end is not None:
        (expected,) = struct.unpack_from("<I", view, end - 4)
        if fmt != "gzip":
            # Not part of the compressed stream; the tools call it trailing garbage.
            chunk = chunk[:-4]
    out: bytes | None
    if fmt == "xz":
        out = _xz_decompress(chunk)
    elif fmt == "gzip":
        out = _gzip_decompress(chunk)
    else:
        try:
            proc = runner.run(_TOOL_ARGV[fmt], input=chunk, check=False)
        except runner.CommandError as e:
            raise tool_error(e) from None
        out = proc.stdout
        if proc.returncode != 0:
            # Without a known end the tool also reads what follows the stream and
            # fails on it after writing the complete output, so the output is judged.
            log.debug("vmlinux: %s", runner.failure(proc).message)
            if end is not None:
                return None
    if out is None or not out.startswith(ELF_MAGIC) or not elf_complete(out):
        return None
    if expected is not None and expected != len(out) & 0xFFFFFFFF:
        return None
    return out


# The first bytes of a stream suffice to decode its first 4 output bytes.
_PROBE = 1 << 16


def _xz_decompress(data: memoryview) -> bytes | None:
    """Decompress one xz stream, unless its first 4 output bytes are not the ELF magic.

    The probe, on a throwaway decoder and a short prefix, matters for the magic scan: a
    false candidate is refused without decompressing tens of megabytes. The real decode
    is then one call, because on this project's VMs first-touching memory is slow (~40 us
    a page): every extra copy of a 63 MiB vmlinux cost ~0.5 s when measured.
    """
    try:
        probe = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        if probe.decompress(data[:_PROBE], max_length=4) != ELF_MAGIC:
            return None
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        out = dec.decompress(data)  # whatever follows the stream lands in unused_data
    except (lzma.LZMAError, EOFError):
        return None
    return out if dec.eof else None  # not at eof: a truncated stream


def _gzip_decompress(data: memoryview) -> bytes | None:
    """As :func:`_xz_decompress`, for one gzip member."""
    try:
        if zlib.decompressobj(wbits=31).decompress(data[:_PROBE], 4) != ELF_MAGIC:
            return None
        dec = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer, 32 KiB window
        out = dec.decompress(data)
    except zlib.error:
        return None
    return out if dec.eof else None


# --------------------------------------------------------------------------------------
# ELF


@dataclass(frozen=True)
class _Elf:
    endian: str  # "<" or ">"
    is64: bool
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int


def _parse_elf(elf: bytes | memoryview) -> _Elf | None:
    if len(elf) < 52 or bytes(elf[:4]) != ELF_MAGIC or elf[4] not in (1, 2) or elf[5] not in (1, 2):
        return None
    is64 = elf[4] == 2
    endian = "<" if elf[5] == 1 else ">"
    if is64:
        if len(elf) < 64:
            return None
        f = struct.unpack_from(endian + "HHIQQQIHHHHHH", elf, 16)
    else:
        f = struct.unpack_from(endian + "HHIIIIIHHHHHH", elf, 16)
    _type, _machine, _version, _entry, phoff, shoff, _flags, _ehsize = f[:8]
    phentsize, phnum, shentsize, shnum = f[8], f[9], f[10], f[11]
    return _Elf(endian, is64, phoff, phentsize, phnum, shoff, shentsize, shnum)


def _program_headers(elf: bytes | memoryview, h: _Elf) -> Iterator[tuple[int, int, int, int]]:
    """(p_type, p_offset, p_filesz, p_align) of each program header inside the file."""
    fmt = h.endian + ("IIQQQQQQ" if h.is64 else "IIIIIIII")
    need = struct.calcsize(fmt)
    if h.phentsize < need:
        return
    for i in range(h.phnum):
        off = h.phoff + i * h.phentsize
        if off + need > len(elf):
            return
        p = struct.unpack_from(fmt, elf, off)
        if h.is64:
            yield p[0], p[2], p[5], p[7]
        else:
            yield p[0], p[1], p[4], p[7]


def elf_complete(elf: bytes) -> bool:
    """Whether the ELF header, its tables and its segments all lie inside ``elf``."""
    h = _parse_elf(elf)
    if h is None:
        return False
    ends = [h.phoff + h.phnum * h.phentsize, h.shoff + h.shnum * h.shentsize]
    ends += [off + size for _t, off, size, _a in _program_headers(elf, h)]
    return max(ends) <= len(elf)


def pvh_entry(elf: bytes) -> int | None:
    """The 32-bit PVH entry point from the ELF's Xen note, or None if it has none.

    qemu's ``-kernel`` loader boots an ELF that carries note "Xen" type
    ``XEN_ELFNOTE_PHYS32_ENTRY`` (18) through PVH; Linux has it with ``CONFIG_PVH=y``.
    Notes are read from PT_NOTE segments, as qemu does, not from sections.
    """
    h = _parse_elf(elf)
    if h is None:
        return None
    view = memoryview(elf)
    for p_type, off, size, align in _program_headers(view, h):
        if p_type != PT_NOTE or off + size > len(elf):
            continue
        for name, n_type, desc in _notes(view[off : off + size], h.endian, 8 if align == 8 else 4):
            if name == b"Xen" and n_type == XEN_ELFNOTE_PHYS32_ENTRY:
                if len(desc) >= 8:
                    return int(struct.unpack_from(h.endian + "Q", desc)[0])
                if len(desc) >= 4:
                    return int(struct.unpack_from(h.endian + "I", desc)[0])
    return None


def has_pvh_note(elf: bytes) -> bool:
    """Whether qemu can boot this ELF through PVH (see :func:`pvh_entry`)."""
    return pvh_entry(elf) is not None


def _notes(seg: memoryview, endian: str, align: int) -> Iterator[tuple[bytes, int, memoryview]]:
    """(name without NUL, type, desc) of each note in a PT_NOTE segment."""
    pos = 0
    while pos + 12 <= len(seg):
        namesz, descsz, n_type = struct.unpack_from(endian + "III", seg, pos)
        name_at = pos + 12
        desc_at = name_at + _align(namesz, align)
        end = desc_at + _align(descsz, align)
        if desc_at + descsz > len(seg):
            return
        yield (
            bytes(seg[name_at : name_at + namesz]).rstrip(b"\0"),
            n_type,
            seg[desc_at : desc_at + descsz],
        )
        pos = end


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)
