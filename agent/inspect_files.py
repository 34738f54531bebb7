"""Reading a guest filesystem that inspection has mounted, without trusting it.

Every path goes through :class:`~pyguestfs.agent.sysroot.Sysroot` (symlinks are followed
inside the mounted tree, never out of it), files are read only when they are regular and
small (2 MiB, as 1.48's ``read_small_file``), and binary headers are parsed here instead of
running ``file(1)`` on guest data.
"""

from __future__ import annotations

import os
import stat
import struct

from .sysroot import Sysroot

#: 1.48's is_small_file limit.
SMALL_FILE = 2 * 1048 * 1024


class GuestTree:
    """A mounted guest filesystem seen from its own ``/``."""

    def __init__(self, mountpoint: str) -> None:
        self.sysroot = Sysroot(mountpoint)

    def _stat(self, path: str, follow: bool) -> os.stat_result | None:
        try:
            host = self.sysroot.resolve(path, follow=follow)
            return os.stat(host) if follow else os.lstat(host)
        except (OSError, ValueError):
            return None
        except Exception:  # an AgentError (ELOOP) from a hostile symlink chain
            return None

    def is_file(self, path: str, follow: bool = False) -> bool:
        st = self._stat(path, follow)
        return st is not None and stat.S_ISREG(st.st_mode)

    def is_dir(self, path: str, follow: bool = False) -> bool:
        st = self._stat(path, follow)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_symlink(self, path: str) -> bool:
        st = self._stat(path, False)
        return st is not None and stat.S_ISLNK(st.st_mode)

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(self.sysroot.resolve(path, follow=False))
        except OSError:
            return None

    def realpath(self, path: str) -> str:
        """The canonical guest path (every symlink followed inside the tree)."""
        return self.sysroot.canonical(path)

    def read_bytes(self, path: str, limit: int = SMALL_FILE, head: bool = False) -> bytes | None:
        """The contents of a regular file of at most ``limit`` bytes, else None; with
        ``head``, the first ``limit`` bytes of a regular file of any size."""
        try:
            host = self.sysroot.resolve(path)
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except Exception:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_size > limit and not head):
                return None
            if head:
                return os.read(fd, limit)
            chunks = []
            remaining = limit + 1
            while remaining > 0:
                data = os.read(fd, min(remaining, 1 << 16))
                if not data:
                    break
                chunks.append(data)
                remaining -= len(data)
            data = b"".join(chunks)
            return data if len(data) <= limit else None
        except OSError:
            return None
        finally:
            os.close(fd)

    def read_lines(self, path: str) -> list[str] | None:
        """A small file split at newlines (a final newline leaves an empty last line,
        as 1.48's ``read_small_file``), or None if it is not a small regular file."""
        data = self.read_bytes(path)
        if data is None:
            return None
        return data.decode("utf-8", "replace").split("\n")

    def first_line(self, path: str) -> str:
        """The first line of a small regular file; "" if none or not small."""
        lines = self.read_lines(path)
        return lines[0] if lines else ""

    def case_sensitive_path(self, path: str) -> str | None:
        """Find ``path`` ignoring case (Windows trees), as 1.48's case_sensitive_path:
        each component matches exactly, else the one directory entry equal to it
        ignoring case. None if some component does not exist."""
        done = ""
        for comp in [c for c in path.split("/") if c]:
            candidate = f"{done}/{comp}"
            if self._stat(candidate, False) is not None:
                done = candidate
                continue
            try:
                entries = os.listdir(self.sysroot.resolve(done or "/"))
            except Exception:
                return None
            match = next((e for e in entries if e.lower() == comp.lower()), None)
            if match is None:
                return None
            done = f"{done}/{match}"
        return done or "/"


# -- binary architecture --------------------------------------------------------------------

#: ELF e_machine → the names 1.48's file_architecture gives (from file(1)'s words).
_ELF_MACHINES = {
    2: "sparc",  # EM_SPARC
    3: "i386",  # EM_386
    6: "i386",  # EM_486
    18: "sparc",  # EM_SPARC32PLUS ("SPARC32PLUS" contains "SPARC32")
    20: "ppc",  # EM_PPC
    40: "arm",  # EM_ARM
    43: "sparc64",  # EM_SPARCV9
    50: "ia64",  # EM_IA_64
    62: "x86_64",  # EM_X86_64
    183: "aarch64",  # EM_AARCH64
}


def binary_architecture(header: bytes) -> str | None:
    """The architecture of an ELF or PE executable from its first bytes (at least 64;
    a PE header needs up to ``e_lfanew`` + 26), else None."""
    if header[:4] == b"\x7fELF" and len(header) >= 20:
        bits = {1: 32, 2: 64}.get(header[4])
        order = {1: "<", 2: ">"}.get(header[5])
        if bits is None or order is None:
            return None
        (machine,) = struct.unpack_from(order + "H", header, 18)
        if machine == 21:  # EM_PPC64: the byte order names the variant
            return "ppc64le" if order == "<" else "ppc64"
        if machine == 243:  # EM_RISCV
            return f"riscv{bits}"
        if machine == 22:  # EM_S390
            return "s390x" if bits == 64 else "s390"
        return _ELF_MACHINES.get(machine)
    if header[:2] == b"MZ" and len(header) >= 64:
        (pe_offset,) = struct.unpack_from("<I", header, 0x3C)
        opt = pe_offset + 24  # "PE\0\0" + COFF header, then the optional header's magic
        if header[pe_offset : pe_offset + 4] != b"PE\0\0" or len(header) < opt + 2:
            return None
        (magic,) = struct.unpack_from("<H", header, opt)
        # file(1) says "PE32" or "PE32+"; 1.48 maps those to i386 and x86_64.
        return {0x10B: "i386", 0x20B: "x86_64"}.get(magic)
    return None


def file_architecture(tree: GuestTree, path: str) -> str | None:
    """Architecture of the executable at ``path`` in the guest, or None."""
    data = tree.read_bytes(path, limit=4096, head=True)
    return binary_architecture(data) if data is not None else None
