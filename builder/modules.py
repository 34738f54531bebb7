"""Which kernel modules the mini initrd loads, in an order ``init_module`` accepts.

The mini init has no modprobe: it loads each file listed in ``/modules`` with
``init_module``, which fails for a module whose dependencies are not loaded yet. So the
list is resolved here, on the host, from ``modules.dep``, as supermin does
(``src/format_ext2_initrd.ml``): top-level modules chosen by file-name pattern, then a
depth-first walk that puts every dependency before its dependents, each module once.
Sets are walked in sorted path order, like supermin's ``StringSet``, so the default
list comes out in exactly supermin's order (a test compares with a real supermin build).

Debian's 6.1 kernel stores modules uncompressed (``.ko``); other distributions use
``.ko.xz`` (Fedora, older Ubuntu), ``.ko.zst`` (Arch, Ubuntu >= 23.10) or ``.ko.gz``.
"""

from __future__ import annotations

import fnmatch
import gzip
import lzma
import os
import shutil
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from ..core import runner
from .errors import BuildError, tool_error
from .kernel import ELF_MAGIC

#: supermin's list: what is needed to find a disk with an ext2/ext4 root on it under
#: qemu (virtio, ATA/SCSI, pmem), plus the crc modules ext4 and virtio-blk use.
DEFAULT_MODULE_PATTERNS: tuple[str, ...] = (
    "ext2.ko*",
    "ext4.ko*",  # CONFIG_EXT4_USE_FOR_EXT2 makes ext4 serve the ext2 root
    "virtio*.ko*",
    "libata*.ko*",
    "piix*.ko*",
    "sd_mod.ko*",
    "ata_piix.ko*",
    "crc*.ko*",
    "libcrc*.ko*",
    "ibmvscsic.ko*",  # POWER; they match nothing on x86 but keep supermin's list whole
    "ibmvscsi.ko*",
    "libnvdimm.ko*",
    "nd_pmem.ko*",
    "nd_btt.ko*",
    "nfit.ko*",
    # The appliance's own devices, named although "virtio*" covers them, so that a
    # narrower list derived from this one does not lose them; they match only where
    # they are modules (=m), and scsi_mod is also sd_mod's dependency.
    "virtio_console.ko*",
    "virtio_scsi.ko*",
    "virtio_blk.ko*",
    "virtio_pci.ko*",
    "virtio_mmio.ko*",
    "virtio_rng.ko*",
    "scsi_mod.ko*",
)

#: Matched by the patterns but not wanted: virtio-gpu drags in the whole DRM stack.
DEFAULT_EXCLUDE_PATTERNS: tuple[str, ...] = ("virtio-gpu.ko*",)

_COMPRESSED_SUFFIXES = (".xz", ".gz", ".zst")


class Module(NamedTuple):
    """A module file to put in the initrd, and the name it gets there (uncompressed)."""

    path: str
    basename: str


def read_modules_dep(modules_dir: str) -> dict[str, list[str]]:
    """``modules.dep`` as {module path: [dependency paths]}, paths relative to the dir.

    Raises :class:`BuildError` if the file is missing or unreadable.
    """
    dep = os.path.join(modules_dir, "modules.dep")
    try:
        with open(dep, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError as e:
        version = os.path.basename(os.path.normpath(modules_dir))
        raise BuildError(f"cannot read {dep}: {e.strerror}", f"run: depmod {version}") from None
    deps: dict[str, list[str]] = {}
    for line in lines:
        name, sep, rest = line.partition(":")
        if not sep:
            continue  # blank or malformed; depmod writes neither
        deps[name.strip()] = rest.split()
    return deps


def _norm(name: str) -> str:
    # kmod treats "-" and "_" in module names as the same character (virtio-rng is
    # loaded as virtio_rng), so a pattern should not care which one a file uses.
    return name.replace("-", "_")


def _matches(basename: str, patterns: Iterable[str]) -> bool:
    b = _norm(basename)
    return any(fnmatch.fnmatchcase(b, _norm(p)) for p in patterns)


def resolve_modules(
    modules_dir: str,
    patterns: Iterable[str] = DEFAULT_MODULE_PATTERNS,
    exclude: Iterable[str] = DEFAULT_EXCLUDE_PATTERNS,
) -> list[Module]:
    """The modules to load, dependencies first, each once.

    Top-level modules are those whose file name matches one of ``patterns`` (shell
    wildcards on the base name, "-" and "_" alike) and none of ``exclude``. Each is
    visited after its dependencies, depth-first, in sorted path order at every level.
    Raises :class:`BuildError` for a listed file that does not exist, or for two
    modules whose base names collide (the initrd keeps them in one directory).
    """
    patterns = list(patterns)
    exclude = list(exclude)
    deps = read_modules_dep(modules_dir)
    top = sorted(
        m
        for m in deps
        if _matches(os.path.basename(m), patterns) and not _matches(os.path.basename(m), exclude)
    )

    order: list[str] = []
    visited: set[str] = set()

    def visit(mods: Iterable[str]) -> None:
        for m in sorted(mods):
            if m in visited:
                continue
            # Marked before its dependencies are walked, as supermin does, so a cycle in
            # a damaged modules.dep ends instead of recursing forever.
            visited.add(m)
            visit(deps.get(m, ()))
            order.append(m)

    visit(top)

    result: list[Module] = []
    seen: dict[str, str] = {}
    for m in order:
        path = os.path.join(modules_dir, m)
        if not os.path.isfile(path):
            raise BuildError(
                f"{os.path.join(modules_dir, 'modules.dep')} lists {m}, which does not exist",
                f"run: depmod {os.path.basename(os.path.normpath(modules_dir))}",
            )
        base = uncompressed_name(os.path.basename(m))
        if base in seen:
            raise BuildError(f"two modules are both called {base}: {seen[base]} and {m}")
        seen[base] = m
        result.append(Module(path, base))
    return result


def uncompressed_name(basename: str) -> str:
    """``ext4.ko.xz`` -> ``ext4.ko``: the name a module gets once decompressed."""
    for suffix in _COMPRESSED_SUFFIXES:
        if basename.endswith(suffix):
            return basename[: -len(suffix)]
    return basename


def module_bytes(path: str) -> bytes:
    """The module at ``path`` as an uncompressed ELF object, ready for ``init_module``.

    The kernel can take compressed modules only through ``finit_module`` with
    MODULE_INIT_COMPRESSED_FILE (5.17+, and only for the one format it was built with);
    decompressing here keeps the mini init simple and independent of that. zstd goes
    through the ``zstd`` tool: Python 3.11's standard library has no zstd.
    """
    try:
        if path.endswith(".xz"):
            data = lzma.decompress(_read(path))
        elif path.endswith(".gz"):
            data = gzip.decompress(_read(path))
        elif path.endswith(".zst"):
            try:
                data = runner.run(["zstd", "-d", "-c", "-q", "--", path]).stdout
            except runner.CommandError as e:
                raise tool_error(e, "cannot decompress module") from None
        else:
            data = _read(path)
    except (lzma.LZMAError, zlib.error, gzip.BadGzipFile, EOFError) as e:
        raise BuildError(f"cannot decompress module {path}: {e}") from None
    if not data.startswith(ELF_MAGIC):
        raise BuildError(f"module {path} is not an ELF object once decompressed")
    return data


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BuildError(f"cannot read module {path}: {e.strerror}") from None


#: Subtrees of the kernel's modules that the root image carries for loading on demand:
#: filesystems, device-mapper and md (LVM, RAID), the crypto and library code they use,
#: and loop/nbd. The guest kernel asks ``/sbin/modprobe`` (kmod) for them on first use
#: (``mount -t vfat``, opening /dev/mapper/control), so only the boot path is in the initrd.
ON_DEMAND_SUBTREES: tuple[str, ...] = (
    "kernel/fs",
    "kernel/drivers/md",
    "kernel/drivers/block",
    "kernel/crypto",
    "kernel/arch/x86/crypto",
    "kernel/lib",
)

#: Network and cluster filesystems, and test modules: nothing the appliance mounts from a
#: disk. Leaving them out saves ~20 MB of root image.
ON_DEMAND_EXCLUDES: frozenset[str] = frozenset(
    {
        "kernel/fs/nfs",
        "kernel/fs/nfsd",
        "kernel/fs/nfs_common",
        "kernel/fs/lockd",
        "kernel/fs/smb",
        "kernel/fs/ceph",
        "kernel/fs/ocfs2",
        "kernel/fs/gfs2",
        "kernel/fs/dlm",
        "kernel/fs/afs",
        "kernel/fs/9p",
        "kernel/fs/coda",
        "kernel/fs/orangefs",
        "kernel/fs/ubifs",
        "kernel/lib/test_bpf.ko",
    }
)

#: depmod's inputs that are not module files.
_MODULE_METADATA = ("modules.builtin", "modules.builtin.modinfo", "modules.order")


def stage_on_demand_modules(modules_dir: str, version: str, stage_root: str) -> int:
    """Copy :data:`ON_DEMAND_SUBTREES` into ``stage_root/lib/modules/VERSION`` and index them.

    Returns the number of module files staged. ``depmod -b`` writes the ``modules.dep`` and
    alias files for exactly this subset, so modprobe in the guest never looks for a module
    the image does not hold. Without depmod on the host the tree is left out (the guest then
    has only the initrd's modules) and 0 is returned.
    """
    depmod = next((p for p in ("/usr/sbin/depmod", "/sbin/depmod") if os.access(p, os.X_OK)), None)
    if depmod is None:
        return 0
    target = os.path.join(stage_root, "lib/modules", version)
    count = 0
    for sub in ON_DEMAND_SUBTREES:
        src_root = os.path.join(modules_dir, sub)
        for dirpath, dirs, files in os.walk(src_root):
            rel = os.path.relpath(dirpath, modules_dir)
            dirs[:] = [d for d in dirs if os.path.join(rel, d) not in ON_DEMAND_EXCLUDES]
            for name in files:
                if ".ko" not in name or os.path.join(rel, name) in ON_DEMAND_EXCLUDES:
                    continue
                os.makedirs(os.path.join(target, rel), exist_ok=True)
                _link_or_copy(os.path.join(dirpath, name), os.path.join(target, rel, name))
                count += 1
    for name in _MODULE_METADATA:
        src = os.path.join(modules_dir, name)
        if os.path.exists(src):
            os.makedirs(target, exist_ok=True)
            _link_or_copy(src, os.path.join(target, name))
    if count:
        try:
            runner.run([depmod, "-b", stage_root, version])
        except runner.CommandError as e:
            raise tool_error(e, "indexing the on-demand modules failed") from None
    return count


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or not ours to link: copy
        shutil.copy2(src, dst)
