"""Describe → resolve → build: the appliance in the cache, and where the host finds it.

Inputs (each part of the cache key, kept as a manifest so ``--debug`` can say *why* a
rebuild happened): the kernel's identity, the kernel modules chosen, the host packages
and their versions, the frozen program's key (its sources, PyInstaller and Python
versions), and the builder's format version.

Layout of one appliance (``<cache>/.guestfs-<uid>/pyguestfs/appliance.d``)::

    kernel       the host kernel: an uncompressed ELF vmlinux when it has a PVH entry
                 (about 3 s faster to boot under TCG than decompressing a bzImage)
    initrd       newc cpio: kernel modules, /modules, and the frozen program as /init
    root         sparse ext2 with the host tools, the same frozen program, /init
    manifest.json  every input, the cache key, the root filesystem's UUID, sizes
    README.fixed   what libguestfs expects of a fixed appliance

The frozen program (``initrd/appliance_main.py``) is the mini init, the appliance init and
the agent in one: the kernel starts it from the initrd, it finds and mounts the root,
chroots, and carries on in the same process — one Python start-up on the boot path. It
sits at the same path in both images so that modules it imports after the chroot are
found in the root.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..core import runner
from ..core.settings import Settings, read_environment
from ..vm.machine import configure
from ..vm.qemu import Drive, MachineConfig
from . import cache as cachemod
from . import guestfsd
from .cpio import CpioWriter
from .errors import BuildError, tool_error
from .freeze import (
    Bundle,
    FreezeOptions,
    elf_libraries,
    freeze,
    freeze_manifest,
    manifest_key,
    runtime_libraries,
)
from .kernel import KernelInfo, elf_complete, extract_vmlinux, find_kernel, has_pvh_note
from .modules import module_bytes, resolve_modules, stage_on_demand_modules
from .native import HOT_MODULES
from .packages import (
    EXCLUDES,
    OPTIONAL_PACKAGES,
    REQUIRED_PACKAGES,
    package_files,
    read_status,
    resolve,
)
from .rootfs import Staging, add_host_files, make_ext2

log = logging.getLogger(__name__)

#: Bump when the layout or the way parts are made changes: every cached appliance rebuilds.
BUILDER_FORMAT = 5  # 2: root carries a kernel module tree for loading on demand
# 4: glibc's gconv configuration, Latin-1 and UTF-16 modules kept (libhivex needs iconv)
# 5: gconv's IBM850 module kept (mtools, for syslinux)
#: Where the frozen program lives in both images.
APP_DIR = "usr/lib/pyguestfs/appliance"
APP_NAME = "appliance"
#: The modules the appliance needs (and their dependencies): the disks, the channel, the
#: root filesystem. crc32c_generic because ext4 asks for crc32c at mount time and TCG's
#: CPU lacks the instructions crc32c-intel needs. supermin's wider list (52 modules)
#: costs about 6 s more under TCG; builder.modules.DEFAULT_MODULE_PATTERNS has it.
APPLIANCE_MODULES = (
    "virtio_pci.ko*",
    "virtio_mmio.ko*",
    "virtio_blk.ko*",
    "virtio_scsi.ko*",
    "sd_mod.ko*",
    "virtio_console.ko*",
    "virtio_rng.ko*",
    "ext4.ko*",
    "crc32c_generic.ko*",
)

REPO = Path(__file__).resolve().parent.parent

README_FIXED = """\
This is a pyguestfs appliance, usable as a libguestfs "fixed appliance".

Point libguestfs at this directory to boot it:

    export LIBGUESTFS_PATH={path}

It contains the host kernel (kernel), a small initrd (initrd) and a sparse ext2 root
filesystem (root) holding pyguestfs's agent, which speaks the libguestfs 1.48 daemon
protocol. Built by guestfs-build-appliance {version}; cache key {key}.
"""

StepCallback = Callable[[str, float | None], None]


@dataclass
class BuildOptions:
    kernel: str | None = None
    modules: str | None = None
    cachedir: str | None = None
    output: str | None = None
    if_newer: bool = False
    force: bool = False
    #: The daemon in the root: our agent ("pyguestfs") or Debian's real one ("guestfsd",
    #: see builder.guestfsd). Each has its own cache entry.
    daemon: str = "pyguestfs"
    on_step: StepCallback | None = None
    #: Import the appliance from an image instead of building it, when one matches the
    #: cache key: a registry repository (REPO or REPO:TAG, see builder.image) ...
    cache_from: str | None = None
    #: ... or an OCI archive / docker save tarball.
    cache_from_archive: str | None = None
    docker_host: str | None = None


@dataclass
class Appliance:
    """A built appliance: what the host needs to boot it."""

    directory: str
    kernel: str
    initrd: str
    root: str
    root_uuid: str | None
    cache_dir: str | None
    manifest: dict[str, Any] = field(default_factory=dict)
    #: The daemon its root runs: "pyguestfs", "guestfsd", or "unknown" (a fixed appliance
    #: not written by this builder, e.g. libguestfs's own).
    daemon: str = "pyguestfs"


@dataclass
class BuildResult:
    directory: Path
    built: bool
    manifest: dict[str, Any]
    steps: dict[str, float]
    why: str = ""
    #: What the image cache did: "imported from …", or why it was not used.
    cache_note: str = ""
    imported: bool = False

    def summary(self) -> dict[str, Any]:
        d = self.directory
        sizes = {}
        for name in ("kernel", "initrd", "root"):
            st = (d / name).stat()
            sizes[name] = {"bytes": st.st_size, "allocated": st.st_blocks * 512}
        return {
            "directory": str(d),
            "built": self.built,
            "cache_key": self.manifest.get("key"),
            "kernel": str(d / "kernel"),
            "initrd": str(d / "initrd"),
            "root": str(d / "root"),
            "root_uuid": self.manifest.get("root_uuid"),
            "sizes": sizes,
            "seconds": {k: round(v, 4) for k, v in self.steps.items()},
            "why": self.why,
            "cache": self.cache_note,
            "imported": self.imported,
        }


class _Steps:
    def __init__(self, on_step: StepCallback | None) -> None:
        self.on_step = on_step
        self.times: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.on_step:
            self.on_step(name, None)
        t = time.monotonic()
        result = fn()
        self.times[name] = time.monotonic() - t
        log.debug("%s: %.2f s", name, self.times[name])
        if self.on_step:
            self.on_step(name, self.times[name])
        return result


def appliance_dir(cachedir: str | None = None) -> Path:
    return cachemod.cache_root(explicit=cachedir) / "pyguestfs"


#: The frozen program's entry script.
APP_ENTRY = REPO / "initrd" / "appliance_main.py"
#: How it is frozen: the defaults, with the agent's per-call path compiled to native code.
APP_OPTIONS = FreezeOptions(compiled=HOT_MODULES)


def _frozen_program(work: Path) -> Bundle:
    """The one frozen program: the inits, and our agent (with ``--daemon guestfsd`` the
    init execs guestfsd instead, but the program is the same)."""
    return freeze(
        APP_ENTRY,
        APP_NAME,
        work / "frozen",
        options=APP_OPTIONS,
        packages={"pyguestfs": _guest_sources(work)},
    )


def optional_packages(daemon: str) -> tuple[str, ...]:
    """The host packages the root gets when installed: ours, plus for guestfsd every
    package of libguestfs's own appliance (guestfsd runs their programs: find, sfdisk,
    mdadm, ...)."""
    if daemon == "guestfsd":
        return (*OPTIONAL_PACKAGES, *guestfsd.appliance_packages())
    return OPTIONAL_PACKAGES


def entry_name(daemon: str) -> str:
    """The cache entry's directory name: one entry per daemon, so both can be cached."""
    guestfsd.check_daemon(daemon)
    return "appliance.d" if daemon == "pyguestfs" else f"appliance-{daemon}.d"


def program_key(work: Path) -> str:
    """The key :func:`_frozen_program` gives its bundle, computed as freeze() does but
    without running PyInstaller: the appliance's cache key is known in milliseconds."""
    sources = _guest_sources(work)
    return manifest_key(
        freeze_manifest(APP_ENTRY.resolve(), APP_NAME, APP_OPTIONS, [sources], sys.executable)
    )


def expected_manifest(options: BuildOptions) -> dict[str, Any]:
    """The manifest (and so the cache key) this machine would build, without building
    or freezing anything."""
    import tempfile

    kernel = find_kernel(options.kernel, options.modules)
    modules = resolve_modules(kernel.modules_dir, patterns=APPLIANCE_MODULES)
    pkgs, _ = resolve(REQUIRED_PACKAGES, optional_packages(options.daemon))
    with tempfile.TemporaryDirectory(prefix="pyguestfs-key.") as t:
        key = program_key(Path(t))
    return _manifest(
        kernel,
        [m.basename for m in modules],
        {p.name: p.version for p in pkgs},
        key,
        options.daemon,
    )


#: The parts of pyguestfs that run in the guest; host/ and builder/ never do.
GUEST_PARTS = ("protocol", "agent", "initrd")


def _guest_sources(work: Path) -> Path:
    """A copy of just the guest-side sources, as the package PyInstaller analyses. The
    freeze key hashes what it is given, so editing the host library or the builder does
    not cost a 20-35 s refreeze. Files are rewritten only when their content changed."""
    root = work / "guest-src" / "pyguestfs"
    wanted: dict[Path, bytes] = {root / "__init__.py": (REPO / "__init__.py").read_bytes()}
    for part in GUEST_PARTS:
        for src in sorted((REPO / part).rglob("*.py")):  # subpackages too (protocol/table)
            wanted[root / part / src.relative_to(REPO / part)] = src.read_bytes()
    for path, data in wanted.items():
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
    for path in root.rglob("*.py"):
        if path not in wanted:
            path.unlink()  # a source removed from the repository
    return root


def _manifest(
    kernel: KernelInfo, modules: list[str], packages: dict[str, str], program_key: str, daemon: str
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "format": BUILDER_FORMAT,
        "builder": __version__,
        "kernel": kernel.identity,
        "modules": modules,
        "packages": packages,
        "program": program_key,
        "daemon": daemon,
        "python": sys.version.split()[0],
    }
    if daemon == "guestfsd":
        m["guestfsd"] = guestfsd.identity()
    m["key"] = hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()
    return m


def _why(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "no appliance in the cache yet"
    changed = [k for k in sorted(new) if k != "key" and old.get(k) != new.get(k)]
    if not changed:
        return "forced"
    parts = []
    for k in changed:
        if k == "packages":
            o, n = old.get(k) or {}, new[k]
            diffs = [
                f"{p} {o.get(p)}→{n.get(p)}"
                for p in sorted(set(o) | set(n))
                if o.get(p) != n.get(p)
            ]
            parts.append(f"packages changed: {', '.join(diffs[:8])}")
        else:
            parts.append(f"{k} changed")
    return "; ".join(parts)


#: The files of a cache entry whose size the manifest records (``files``).
ENTRY_FILES = ("kernel", "initrd", "root")
#: Where each file's identifying bytes lie, and the magic numbers accepted there.
#: The kernel is checked by :func:`_looks_like_kernel`; the initrd is a newc cpio, plain or
#: compressed; the root an ext2 superblock (0xEF53, little-endian).
_HEADS: dict[str, tuple[int, int]] = {"kernel": (0, 0x206), "initrd": (0, 6), "root": (0x438, 2)}
_MAGICS = {
    "initrd": (b"070701", b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ"),
    "root": (b"\x53\xef",),
}


def _looks_like_kernel(head: bytes) -> bool:
    """An ELF vmlinux, or a bzImage ("HdrS" in its setup header at 0x202)."""
    return head.startswith(b"\x7fELF") or head[0x202:0x206] == b"HdrS"


def entry_damage(d: Path, manifest: dict[str, Any] | None) -> str:
    """Why the cache entry in ``d`` cannot be booted, or "" when it looks whole.

    Cheap enough for every launch (a few stat() calls and short reads): a missing file,
    a size other than the one recorded at build time (a truncated or half-copied file),
    a file that does not start as its kind must, or a root whose UUID is not the one the
    kernel command line will ask for. Content hashes would take a second per launch."""
    if manifest is None:
        return "manifest.json is missing or unreadable"
    sizes: dict[str, int] = manifest.get("files") or {}
    for name in ENTRY_FILES:
        path = d / name
        offset, length = _HEADS[name]
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                f.seek(offset)
                head = f.read(length)
        except OSError as e:
            return f"{name}: {e.strerror}"
        if name in sizes and size != sizes[name]:
            return f"{name} is {size} bytes, {sizes[name]} when built"
        if name == "kernel":
            if not _looks_like_kernel(head):
                return "kernel is neither a vmlinux nor a bzImage"
        elif not head.startswith(_MAGICS[name]):
            return f"{name} does not start as {'an ext2 image' if name == 'root' else 'a ' + name}"
    uuid = manifest.get("root_uuid")
    if uuid and read_ext_uuid(d / "root") != uuid:
        return f"root's filesystem UUID is not {uuid}"
    return ""


def build(options: BuildOptions) -> BuildResult:
    """Build the appliance unless the cached one is up to date; optionally write it out
    as a fixed appliance."""
    steps = _Steps(options.on_step)
    base = appliance_dir(options.cachedir)
    base.mkdir(exist_ok=True)
    target = base / entry_name(options.daemon)
    fast = fast_key(options)
    if not options.force and not options.output:
        hit = _fast_hit(target, fast)
        if hit is not None:
            return BuildResult(target, False, hit, steps.times, "")
    with cachemod.locked(base / "lock"):
        kernel = steps.run("find kernel", lambda: find_kernel(options.kernel, options.modules))
        modules = steps.run(
            "resolve modules",
            lambda: resolve_modules(kernel.modules_dir, patterns=APPLIANCE_MODULES),
        )
        pkgs, skipped = steps.run(
            "resolve packages",
            lambda: resolve(REQUIRED_PACKAGES, optional_packages(options.daemon)),
        )
        if skipped:
            log.info(
                "optional packages not installed (their features are off): %s", ", ".join(skipped)
            )
        # The frozen program's key, not the program: an up-to-date cache or an imported
        # image needs no freeze (20-40 s on a fresh machine).
        pkey = steps.run("program key", lambda: program_key(base))
        manifest = _manifest(
            kernel,
            [m.basename for m in modules],
            {p.name: p.version for p in pkgs},
            pkey,
            options.daemon,
        )
        old = cachemod.read_json(target / "manifest.json")
        damage = entry_damage(target, old)
        same_key = old is not None and old.get("key") == manifest["key"]
        up_to_date = not options.force and same_key and not damage
        why = ""
        note = ""
        if (
            not up_to_date
            and not options.force
            and (options.cache_from or options.cache_from_archive)
        ):
            from .image import import_into_cache

            imported, note = steps.run(
                "import image", lambda: import_into_cache(target, manifest, options, fast)
            )
            if imported is not None:
                result = BuildResult(target, False, imported, steps.times, "", note, True)
                if options.output:
                    steps.run(
                        "output",
                        lambda: write_fixed(
                            target, Path(options.output or ""), imported, options.if_newer
                        ),
                    )
                return result
            log.warning("%s; building", note)
        if not up_to_date:
            why = (
                f"the cached appliance is damaged ({damage})"
                if same_key and damage
                else _why(old, manifest)
            )
            log.info("building the appliance: %s", why)
            program = steps.run("freeze agent", lambda: _frozen_program(base))
            if program.key != pkey:  # program_key() drifted from freeze(): trust freeze()
                log.warning("the frozen program's key differs from the computed one")
                manifest = _manifest(
                    kernel,
                    [m.basename for m in modules],
                    {p.name: p.version for p in pkgs},
                    program.key,
                    options.daemon,
                )
            with cachemod.staging_dir(target) as tmp:
                steps.run("kernel", lambda: _make_kernel(kernel, tmp / "kernel", base))
                steps.run("initrd", lambda: _make_initrd(modules, program, tmp / "initrd"))
                uuid = steps.run(
                    "root", lambda: _make_root(pkgs, program, kernel, tmp, options.daemon)
                )
                manifest["root_uuid"] = uuid
                manifest["files"] = {n: (tmp / n).stat().st_size for n in ENTRY_FILES}
                cachemod.write_json_atomic(tmp / "manifest.json", manifest)
                (tmp / "fast-key").write_text(fast)
                cachemod.publish(tmp, target)
        else:
            manifest = old or manifest
            # Inputs were touched but are the same: remember that, so the next check is
            # a few stat() calls again.
            (target / ".fast-key.tmp").write_text(fast)
            os.replace(target / ".fast-key.tmp", target / "fast-key")
        result = BuildResult(target, not up_to_date, manifest, steps.times, why, note)
        if options.output:
            steps.run(
                "output",
                lambda: write_fixed(target, Path(options.output or ""), manifest, options.if_newer),
            )
    return result


def fast_key(options: BuildOptions) -> str:
    """A key from the metadata of every input, no content read: the kernel and modules,
    dpkg's database, our sources, the Python environment. Equal to the key stored with
    the appliance, it means nothing changed since the last full check (as supermin's
    ``--if-newer`` trusts mtimes); different, the full manifest decides."""
    parts: list[str] = [str(BUILDER_FORMAT), __version__, options.daemon]
    try:
        kernel = find_kernel(options.kernel, options.modules)
        parts.append(json.dumps(kernel.identity, sort_keys=True))
        parts.append(_stat_sig(Path(kernel.modules_dir) / "modules.dep"))
    except BuildError as e:
        parts.append(f"kernel-error:{e.message}")
    parts.append(_stat_sig(Path("/var/lib/dpkg/status")))
    parts.append(_stat_sig(Path(sys.executable).resolve()))
    import sysconfig

    parts.append(_stat_sig(Path(sysconfig.get_paths()["purelib"])))
    for sub in (*GUEST_PARTS, "builder"):
        # Subpackages too (agent/api, protocol/table): an edit there must rebuild.
        for path in sorted((REPO / sub).rglob("*.py")):
            st = path.stat()
            rel = path.relative_to(REPO).as_posix()
            parts.append(f"{rel}:{st.st_size}:{st.st_mtime_ns}")
    parts.append(_stat_sig(REPO / "__init__.py"))
    if options.daemon != "pyguestfs":
        parts.append(guestfsd.stat_signature())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stat_sig(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _fast_hit(target: Path, fast: str) -> dict[str, Any] | None:
    """The entry's manifest when nothing changed since it was checked and it is whole."""
    try:
        if (target / "fast-key").read_text() != fast:
            return None
    except OSError:
        return None
    manifest = cachemod.read_json(target / "manifest.json")
    return manifest if manifest is not None and not entry_damage(target, manifest) else None


def _make_kernel(kernel: KernelInfo, out: Path, base: Path) -> None:
    """The vmlinux if it boots through PVH (cached per kernel: extraction takes seconds),
    else a copy of the bzImage."""
    ident = hashlib.sha256(json.dumps(kernel.identity, sort_keys=True).encode()).hexdigest()
    cached = base / f"vmlinux-{ident[:16]}"
    # Entries hard-link this file: damage to one entry's kernel is damage here too, so it
    # is checked (a few ms, builds only) rather than trusted for existing.
    if not _kernel_file_whole(cached):
        try:
            data = Path(kernel.path).read_bytes()
        except OSError as e:
            raise BuildError(
                f"cannot read the kernel {kernel.path}: {e.strerror}",
                "set SUPERMIN_KERNEL to a readable kernel",
            ) from None
        elf = extract_vmlinux(data)
        payload = elf if elf is not None and has_pvh_note(elf) else data
        tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, cached)
    _link_or_copy(cached, out)


def _kernel_file_whole(path: Path) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data.startswith(b"\x7fELF"):
        return elf_complete(data) and has_pvh_note(data)
    return _looks_like_kernel(data)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _add_tree(cpio: CpioWriter, src: Path, dest: str) -> None:
    for root, dirs, files in os.walk(src):
        dirs.sort()
        rel = os.path.relpath(root, src)
        here = dest if rel == "." else f"{dest}/{rel}"
        cpio.add_dir(here)
        for name in sorted(files) + sorted(
            d for d in dirs if os.path.islink(os.path.join(root, d))
        ):
            p = os.path.join(root, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                cpio.add_symlink(f"{here}/{name}", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                cpio.add_file(f"{here}/{name}", Path(p), mode=stat.S_IMODE(st.st_mode))


def _make_initrd(modules: list[Any], program: Bundle, out: Path) -> None:
    with open(out, "wb") as f, CpioWriter(f) as cpio:
        for d in ("dev", "proc", "sys", "root", "tmp"):
            cpio.add_dir(d)
        _add_tree(cpio, program.folder, APP_DIR)
        cpio.add_symlink("init", f"/{APP_DIR}/{APP_NAME}")
        for lib in runtime_libraries(program.folder):
            cpio.add_file(str(lib).lstrip("/"), lib, mode=0o755)
        names = []
        for m in modules:
            cpio.add_file(m.basename, module_bytes(m.path), mode=0o644)
            names.append(m.basename)
        cpio.add_file("modules", ("\n".join(names) + "\n").encode(), mode=0o644)


def _make_root(
    pkgs: list[Any], program: Bundle, kernel: KernelInfo, work: Path, daemon: str
) -> str:
    stage = work / "stage"
    staging = Staging(stage)
    add_host_files(staging, [f for p in pkgs for f in package_files(p)])
    n = stage_on_demand_modules(kernel.modules_dir, kernel.version, str(stage))
    log.debug("root: %d kernel modules for loading on demand", n)
    staging.add_tree(program.folder, APP_DIR)
    staging.add_symlink("init", f"/{APP_DIR}/{APP_NAME}")
    for lib in runtime_libraries(program.folder):
        staging.add_host_path(str(lib))
    if daemon == "guestfsd":
        _add_guestfsd(staging, work)
    staging.add_file("etc/mtab", b"")
    (stage / "etc/mtab").unlink()
    os.symlink("/proc/mounts", stage / "etc/mtab")
    uuid = make_ext2(stage, work / "root")
    shutil.rmtree(stage)
    return uuid


def _add_guestfsd(staging: Staging, work: Path) -> None:
    """Debian's guestfsd, the host libraries it links against, and the marker that makes
    the appliance init exec it instead of starting our agent."""
    binary = guestfsd.extract(work)
    for path in guestfsd.library_paths(elf_libraries(binary, hint=guestfsd.INSTALL_HINT)):
        staging.add_host_path(path)
    udev = read_status().get(guestfsd.UDEV_PACKAGE)
    if udev is not None:
        # Its daemon lives under /lib/systemd, which our package lists leave out.
        excludes = [e for e in EXCLUDES if e not in ("/lib/systemd/*", "/usr/lib/systemd/*")]
        add_host_files(staging, package_files(udev, excludes=excludes))
        udevadm = Path(os.path.realpath(guestfsd.UDEVD))
        for path in guestfsd.library_paths(elf_libraries(udevadm, hint=guestfsd.INSTALL_HINT)):
            staging.add_host_path(path)
        guestfsd.udev_rules(staging.root)
    else:
        log.warning("udev is not installed: guestfsd will lack disk labels")
    staging.add_file(guestfsd.GUESTFSD_PATH, binary.read_bytes(), 0o755)
    binary.unlink()
    staging.add_file(guestfsd.MARKER, f"/{guestfsd.GUESTFSD_PATH}\n".encode())


#: In a fixed appliance directory: the daemon its root runs (see :func:`fixed_daemon`).
FIXED_DAEMON_FILE = ".pyguestfs-daemon"


def write_fixed(src: Path, out: Path, manifest: dict[str, Any], if_newer: bool) -> None:
    """Write a libguestfs fixed appliance: kernel, initrd, root, README.fixed."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / ".pyguestfs-key"
    if if_newer and stamp.exists() and stamp.read_text().strip() == manifest.get("key"):
        log.info("%s is up to date", out)
        return
    for name in ("kernel", "initrd", "root"):
        tmp = out / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(src / name, tmp)
        except OSError:
            # Another filesystem: copy, keeping the root sparse.
            try:
                runner.run(["cp", "--sparse=always", src / name, tmp])
            except runner.CommandError as e:
                raise tool_error(e, f"writing the fixed appliance to {out}") from None
        os.replace(tmp, out / name)
        # rename() between two links of one inode does nothing (POSIX): the output was
        # already this file, and the spare link is ours to remove.
        tmp.unlink(missing_ok=True)
    (out / "README.fixed").write_text(
        README_FIXED.format(path=out.resolve(), version=__version__, key=manifest.get("key"))
    )
    (out / FIXED_DAEMON_FILE).write_text(str(manifest.get("daemon", "pyguestfs")) + "\n")
    stamp.write_text(str(manifest.get("key")) + "\n")


def locate_appliance(
    path: str | None = None,
    cachedir: str | None = None,
    log: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> Appliance:
    """The appliance to boot: a fixed appliance in ``path`` (LIBGUESTFS_PATH) if it holds
    kernel, initrd and root; otherwise the cached one, built or refreshed first around the
    daemon ``settings.appliance_daemon`` names (pyguestfs, the default, or guestfsd) and
    imported from ``settings.cache_from`` / ``cache_from_archive`` when they hold it.
    ``settings`` defaults to what the environment says."""
    if path:
        for d in path.split(":"):
            p = Path(d)
            if all((p / n).is_file() for n in ("kernel", "initrd", "root")):
                return Appliance(
                    str(p),
                    str(p / "kernel"),
                    str(p / "initrd"),
                    str(p / "root"),
                    read_ext_uuid(p / "root"),
                    str(appliance_dir(cachedir)),
                    daemon=fixed_daemon(p),
                )
    s = settings if settings is not None else read_environment()
    # CI can point launch() at an image cache too (see docs/appliance-images.md), and the
    # whole test suite can run against Debian's guestfsd (PYGUESTFS_APPLIANCE_DAEMON).
    result = build(
        BuildOptions(
            cachedir=cachedir,
            cache_from=s.cache_from,
            cache_from_archive=s.cache_from_archive,
            daemon=s.appliance_daemon,
        )
    )
    if log:
        log(
            "appliance "
            + ("built" if result.built else "is up to date")
            + f" in {result.directory}"
        )
    built_dir = result.directory
    return Appliance(
        str(built_dir),
        str(built_dir / "kernel"),
        str(built_dir / "initrd"),
        str(built_dir / "root"),
        result.manifest.get("root_uuid"),
        str(built_dir.parent),
        result.manifest,
        daemon=str(result.manifest.get("daemon", "pyguestfs")),
    )


def launch_config(
    settings: Settings,
    drives: Sequence[Drive] = (),
    log: Callable[[str], None] = lambda _m: None,
) -> tuple[MachineConfig, Appliance]:
    """What a launch with ``settings`` boots: the appliance (``settings.path``, else the
    cache, built or refreshed first) and the qemu configuration for it and ``drives``.
    The host's ``launch()`` and ``guestfs-build-appliance --snapshot`` both use it, so the
    snapshot made by the builder is the one a launch with the same settings restores."""
    appliance = locate_appliance(settings.path, settings.cache_base(), log, settings)
    config = configure(
        settings,
        kernel=appliance.kernel,
        initrd=appliance.initrd,
        root=appliance.root,
        root_uuid=appliance.root_uuid,
        cache_dir=appliance.cache_dir,
        drives=drives,
        log=log,
    )
    return config, appliance


def fixed_daemon(directory: Path) -> str:
    """The daemon of a fixed appliance, as :func:`write_fixed` recorded it."""
    try:
        return (directory / FIXED_DAEMON_FILE).read_text().strip() or "unknown"
    except OSError:
        # Written before the record existed (then it is ours), or by someone else.
        return "pyguestfs" if (directory / ".pyguestfs-key").is_file() else "unknown"


def read_ext_uuid(image: Path) -> str | None:
    """The UUID in an ext2/3/4 superblock (16 bytes at 0x468), as libguestfs reads it."""
    try:
        with open(image, "rb") as f:
            f.seek(0x438)
            magic = f.read(2)
            f.seek(0x468)
            raw = f.read(16)
    except OSError:
        return None
    if magic != b"\x53\xef" or len(raw) != 16:
        return None
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
