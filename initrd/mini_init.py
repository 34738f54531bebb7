"""PID 1 of the mini initrd: load the disk drivers, find the appliance root, switch to it.

This is the Python counterpart of supermin's ``init/init.c``. The kernel runs it as ``/init``
from the initramfs; it

1. mounts ``/proc`` and reads the kernel command line (``quiet`` silences the log),
2. mounts ``/sys``,
3. loads the kernel modules named in ``/modules`` (one path per line, relative to ``/``,
   dependencies first; errors are printed and ignored, as supermin does, because a driver
   whose device is absent may refuse to load),
4. finds the root device: ``root=UUID=<uuid>`` (the ext superblock UUID at offset 0x468),
   ``root=/dev/NAME``, or else the last disk in ``/sys/block``, waiting with exponential
   backoff because SCSI scanning is asynchronous,
5. creates ``/dev/root`` and mounts it on ``/root`` (type ext4: Debian serves ext2 with it),
6. ``chroot("/root")`` and either execs the appliance's ``/init`` (supermin's way) or, when
   the same frozen program is also the appliance init, returns to let it carry on in this
   process (see :func:`main` and :func:`pyguestfs.initrd.appliance_init.boot`).

Any failure prints what was seen (``/sys/block``, loaded modules, ``ls /``) and exits
non-zero, so the kernel panics and, with ``panic=1`` and qemu's ``-no-reboot``, the VM ends.

Kernel command line: ``root=``, ``quiet``, and ``guestfs_root_timeout=SECONDS`` (how long to
wait for the root device, default 60).

Every module imported here costs time under TCG (the guest is emulated), so this file
imports only ``os``, ``sys``, ``time`` (already loaded or built in) and, for the system calls
``os`` lacks, ``ctypes``; annotations are never evaluated.
"""

from __future__ import annotations

import os
import sys
import time

# mypy takes any name TYPE_CHECKING as true; importing typing at run time would cost
# re, collections and more under emulation.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

VERSION = "pyguestfs mini-init 1"

#: ext2/3/4 superblock: it starts 1024 bytes in; magic 0xEF53 at 0x438, UUID at 0x468.
EXT_MAGIC_OFFSET = 0x438
EXT_UUID_OFFSET = 0x468
EXT_MAGIC = b"\x53\xef"

#: /sys/block entries that never hold the appliance root.
IGNORED_BLOCK_PREFIXES = ("loop", "ram", "sr", "zram", "nbd", "md", "dm-", "fd")

DEFAULT_ROOT_TIMEOUT = 60.0
#: first and largest single sleep of the root-device poll (supermin starts at 250 µs)
FIRST_DELAY = 0.001
MAX_DELAY = 0.25
#: after this long without the root device, say what we see, once
WARN_AFTER = 1.0
#: the "last disk" fallback only trusts a /sys/block listing unchanged for this long:
#: SCSI scanning is asynchronous, and the last disk may not have appeared yet.
LAST_DISK_SETTLE = 0.2

MS_NOATIME = 1024
RB_AUTOBOOT = 0x01234567
S_IFBLK = 0o060000
ENOSYS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
#: finit_module(2) syscall numbers; glibc 2.36 has no wrapper for it.
SYS_FINIT_MODULE = {"x86_64": 313, "aarch64": 273, "riscv64": 273, "ppc64le": 353, "s390x": 344}


class InitError(Exception):
    """A step failed; the message says what, in the words of the boot process."""


def say(message: str, prefix: str = "mini-init") -> None:
    """Write one line to the console, unbuffered, stamped with the guest's uptime."""
    # os.write, not print: nothing is left in a buffer when we exec or the kernel panics.
    line = f"[{time.monotonic():12.6f}] {prefix}: {message}\n"
    try:
        os.write(1, line.encode("utf-8", "replace"))
    except OSError:
        pass


# ---------------------------------------------------------------- pure logic


def parse_cmdline(cmdline: str) -> dict[str, str]:
    """Split a kernel command line into ``{key: value}``; bare words map to ``""``.

    Later occurrences win, as for the kernel's own parameters. Quotes are not interpreted:
    libguestfs never quotes (it joins the pieces with spaces).
    """
    params: dict[str, str] = {}
    for word in cmdline.split():
        key, _, value = word.partition("=")
        params[key] = value
    return params


def parse_uuid(text: str) -> bytes:
    """``5a28411a-60dc-4ec3-b24c-f6ef803a17e6`` -> its 16 bytes (dashes are ignored).

    Raises ValueError unless it is 32 hex digits.
    """
    digits = text.replace("-", "")
    if len(digits) != 32:
        raise ValueError(f"UUID {text!r} does not have 32 hex digits")
    return bytes.fromhex(digits)


def format_uuid(raw: bytes) -> str:
    """16 bytes -> the usual 8-4-4-4-12 text form."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def disk_sort_key(name: str) -> tuple[int, str]:
    """Order disks as the kernel names them: sdz before sdaa, vda before vdb."""
    return (len(name), name)


def list_disks(sys_block: str) -> list[str]:
    """The candidate disks under ``/sys/block`` (or a fake tree), in kernel naming order.

    Loop, ram, CD-ROM and similar devices are left out: they never hold the appliance.
    """
    try:
        names = os.listdir(sys_block)
    except OSError:
        return []
    return sorted((n for n in names if not n.startswith(IGNORED_BLOCK_PREFIXES)), key=disk_sort_key)


def read_devnum(sys_block: str, name: str) -> tuple[int, int] | None:
    """``/sys/block/NAME/dev`` ("8:16") as (8, 16); None if it is not there (yet)."""
    try:
        with open(os.path.join(sys_block, name, "dev")) as f:
            major, _, minor = f.read().strip().partition(":")
        return int(major), int(minor)
    except (OSError, ValueError):
        return None


def read_module_list(path: str) -> list[str]:
    """The ``/modules`` file: one module path per line (relative to ``/``), in load order.

    Blank lines and ``#`` comments are skipped. A missing file means no modules (a kernel
    with the drivers built in needs none).
    """
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def superblock_uuid(block: bytes) -> bytes | None:
    """The ext UUID from bytes read at EXT_MAGIC_OFFSET, or None if there is no ext magic."""
    if block[:2] != EXT_MAGIC:
        return None
    at = EXT_UUID_OFFSET - EXT_MAGIC_OFFSET
    return block[at : at + 16]


# ---------------------------------------------------------------- privileged operations


class Syscalls:
    """Every privileged operation of both inits, in one place so tests can fake them.

    The system calls ``os`` lacks go through libc with ctypes, imported only here.
    """

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        # CDLL(None) is the global namespace: libc is already loaded, nothing to search.
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = (
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        )
        self.libc.syscall.restype = ctypes.c_long

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            errno = self._ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def mount(self, source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
        """mount(2)."""
        rc = self.libc.mount(
            source.encode(), target.encode(), fstype.encode(), flags, data.encode()
        )
        self._check(rc, f"mount -t {fstype} {source} {target}")

    def umount(self, target: str) -> None:
        """umount(2)."""
        self._check(self.libc.umount(target.encode()), f"umount {target}")

    def mknod_block(self, path: str, dev: tuple[int, int], mode: int = 0o600) -> None:
        """A block special file for major:minor ``dev`` (replacing any file there)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.mknod(path, S_IFBLK | mode, os.makedev(*dev))

    def block_uuid(self, node: str, dev: tuple[int, int]) -> bytes | None:
        """The ext UUID of block device ``dev``, read through a temporary node at ``node``.

        None if there is no ext superblock or the device cannot be read (e.g. no medium).
        """
        self.mknod_block(node, dev)
        try:
            fd = os.open(node, os.O_RDONLY)
            try:
                block = os.pread(fd, EXT_UUID_OFFSET + 16 - EXT_MAGIC_OFFSET, EXT_MAGIC_OFFSET)
            finally:
                os.close(fd)
        except OSError:
            return None
        finally:
            os.unlink(node)
        return superblock_uuid(block)

    def load_module(self, path: str) -> None:
        """Load one .ko: finit_module(2) lets the kernel read the file itself.

        Falls back to init_module(2) with the file in memory where the syscall number is
        unknown or the kernel lacks finit_module (ENOSYS).
        """
        nr = SYS_FINIT_MODULE.get(os.uname().machine)
        with open(path, "rb") as f:
            if nr is not None:
                rc = self.libc.syscall(nr, f.fileno(), b"", 0)
                if rc == 0:
                    return
                if self._ctypes.get_errno() != ENOSYS:
                    self._check(rc, path)
            image = f.read()
        self._check(self.libc.init_module(image, len(image), b""), path)

    def chroot(self, path: str) -> None:
        """chroot(2) and chdir("/"), which must go together."""
        os.chroot(path)
        os.chdir("/")

    def execv(self, path: str, argv: list[str]) -> None:
        """Replace this process (returns only in tests)."""
        os.execv(path, argv)

    def interface_up(self, name: str) -> None:
        """Set IFF_UP on a network interface (SIOCGIFFLAGS, then SIOCSIFFLAGS)."""
        import _socket  # not socket.py: that imports enum and selectors
        import fcntl
        import struct

        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            req = struct.pack("16sH14x", name.encode(), 0)
            flags = struct.unpack_from("16sH", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
            up = struct.pack("16sH14x", name.encode(), flags | IFF_UP)
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, up)
        finally:
            s.close()

    def reboot(self) -> None:
        """reboot(2) with RB_AUTOBOOT: restart now (qemu with -no-reboot then exits)."""
        self._check(self.libc.reboot(RB_AUTOBOOT), "reboot")


# ---------------------------------------------------------------- the steps


class Context:
    """The run state handed from step to step."""

    def __init__(
        self,
        sc: Syscalls,
        root: str = "/",
        timeout: float = DEFAULT_ROOT_TIMEOUT,
        then: Callable[[], int] | None = None,
        preload: Callable[[], object] | None = None,
    ) -> None:
        self.sc = sc
        #: the initramfs root; a test points it at a scratch tree
        self.root = root
        self.timeout = timeout
        #: what runs after the chroot instead of exec'ing /init (see step_switch_root)
        self.then = then
        #: work for the gap between loading the drivers and finding the root device
        self.preload = preload
        self.cmdline = ""
        self.params: dict[str, str] = {}
        self.quiet = False
        #: (name, major, minor) of the device picked as root
        self.root_device: tuple[str, int, int] | None = None

    def path(self, *parts: str) -> str:
        """A path inside the initramfs root."""
        return os.path.join(self.root, *(p.lstrip("/") for p in parts))

    def log(self, message: str) -> None:
        """One console line, unless ``quiet``."""
        if not self.quiet:
            say(message)


def step_mount_proc(ctx: Context) -> None:
    """Mount /proc (unless already there) and read the kernel command line."""
    proc = ctx.path("/proc")
    if not os.path.exists(os.path.join(proc, "cmdline")):
        os.makedirs(proc, exist_ok=True)
        ctx.sc.mount("proc", proc, "proc")
    with open(os.path.join(proc, "cmdline")) as f:
        ctx.cmdline = f.read().strip()
    ctx.params = parse_cmdline(ctx.cmdline)
    ctx.quiet = "quiet" in ctx.params
    if "guestfs_root_timeout" in ctx.params:
        ctx.timeout = float(ctx.params["guestfs_root_timeout"])
    ctx.log(f"{VERSION} starting up")
    ctx.log(f"cmdline: {ctx.cmdline}")


def step_mount_sys(ctx: Context) -> None:
    """Mount sysfs: /sys/block is where the disks show up."""
    ctx.log("mounting /sys")
    for d in ("/dev", "/root", "/sys"):
        os.makedirs(ctx.path(d), exist_ok=True)
    ctx.sc.mount("sysfs", ctx.path("/sys"), "sysfs")


def step_load_modules(ctx: Context) -> None:
    """Load every module of /modules, in order; report and skip failures like supermin."""
    for name in read_module_list(ctx.path("/modules")):
        path = ctx.path(name)
        if not os.path.exists(path):
            ctx.log(f"{name}: missing, skipped")
            continue
        ctx.log(f"internal insmod {name}")
        try:
            ctx.sc.load_module(path)
        except OSError as e:
            # EEXIST: built in or loaded already; others: e.g. the device is absent.
            say(f"insmod {name}: {e.strerror} (ignored)")


def step_preload(ctx: Context) -> None:
    """Run the ``preload`` hook (e.g. import the agent) while the drivers probe their devices.

    SCSI scanning and the virtio-serial port handshake finish asynchronously after the
    modules load; doing the program's own start-up work now overlaps with them, instead of
    waiting for them first and then working.
    """
    if ctx.preload is not None:
        start = time.monotonic()
        ctx.preload()
        ctx.log(f"preloaded the appliance program in {time.monotonic() - start:.3f} s")


def find_root_once(ctx: Context, wanted: str, seen: dict[str, str]) -> tuple[str, int, int] | None:
    """One scan of /sys/block for the device described by ``root=`` (``wanted``).

    ``seen`` is filled with what each disk looked like, for the diagnostics.
    """
    sys_block = ctx.path("/sys/block")
    if wanted.startswith("/dev/"):
        name = wanted[len("/dev/") :]
        dev = read_devnum(sys_block, name)
        if dev:
            return (name, *dev)
        for n in list_disks(sys_block):
            seen[n] = "present"
        return None
    if wanted.startswith("UUID="):
        uuid = parse_uuid(wanted[len("UUID=") :])
        for name in list_disks(sys_block):
            dev = read_devnum(sys_block, name)
            if dev is None:
                seen[name] = "no dev file yet"
                continue
            found = ctx.sc.block_uuid(ctx.path("/dev/.probe"), dev)
            seen[name] = f"{dev[0]}:{dev[1]} uuid={format_uuid(found) if found else 'none'}"
            if found == uuid:
                return (name, *dev)
        return None
    raise InitError(f"root={wanted}: not understood (use root=UUID=<uuid> or root=/dev/NAME)")


def last_disk(
    ctx: Context, history: list[tuple[float, list[str]]], now: float
) -> tuple[str, int, int] | None:
    """The fallback with no ``root=``: the last disk, once the list of disks has settled.

    ``history`` holds (when first seen, listing); the listing must stay the same for
    LAST_DISK_SETTLE seconds before its last disk is trusted.
    """
    disks = list_disks(ctx.path("/sys/block"))
    if not history or history[-1][1] != disks:
        history.append((now, disks))
        return None
    if not disks or now - history[-1][0] < LAST_DISK_SETTLE:
        return None
    dev = read_devnum(ctx.path("/sys/block"), disks[-1])
    return (disks[-1], *dev) if dev else None


def step_find_root(ctx: Context) -> None:
    """Wait, with exponential backoff, for the root device to appear; remember it."""
    wanted = ctx.params.get("root", "")
    seen: dict[str, str] = {}
    history: list[tuple[float, list[str]]] = []
    start = time.monotonic()
    delay = FIRST_DELAY
    warned = False
    while True:
        seen.clear()
        now = time.monotonic()
        found = find_root_once(ctx, wanted, seen) if wanted else last_disk(ctx, history, now)
        if found:
            break
        waited = time.monotonic() - start
        if waited >= ctx.timeout:
            what = f"root={wanted}" if wanted else "(the last disk)"
            raise InitError(
                f"root device {what} did not appear within {ctx.timeout:g} s; "
                f"seen: {describe_seen(ctx, seen)}"
            )
        if waited > WARN_AFTER and not warned:
            warned = True
            say(
                f"waiting for the root device since {waited:.1f} s; seen: "
                f"{describe_seen(ctx, seen)} (is a virtio or SCSI driver missing?)"
            )
        time.sleep(min(delay, ctx.timeout - waited))
        delay = min(delay * 2, MAX_DELAY)
    ctx.root_device = found
    ctx.log(f"picked /sys/block/{found[0]}/dev as root device")


def describe_seen(ctx: Context, seen: dict[str, str]) -> str:
    """What the root search saw, or at least what /sys/block holds."""
    if seen:
        return ", ".join(f"{k} ({v})" for k, v in seen.items())
    names = list_disks(ctx.path("/sys/block"))
    return " ".join(names) if names else "no disks in /sys/block"


def step_mount_root(ctx: Context) -> None:
    """Create /dev/root and mount it on /root."""
    if ctx.root_device is None:
        raise InitError("no root device was picked")
    _, major, minor = ctx.root_device
    try:
        ctx.sc.umount(ctx.path("/sys"))
    except OSError:
        pass  # nothing after the switch needs it; the appliance mounts its own
    ctx.log(f"creating /dev/root as block special {major}:{minor}")
    ctx.sc.mknod_block(ctx.path("/dev/root"), (major, minor), 0o700)  # like supermin
    ctx.log("mounting new root on /root")
    # "ext4" because Debian's kernel has no ext2 driver: ext4 serves ext2 (EXT4_USE_FOR_EXT2).
    ctx.sc.mount(ctx.path("/dev/root"), ctx.path("/root"), "ext4", MS_NOATIME)


def step_switch_root(ctx: Context) -> None:
    """chroot into /root; then exec its /init, or return to carry on in this process.

    chroot, not switch_root/pivot_root: pivot_root does not work on an initramfs rootfs, and
    the old rootfs costs nothing if it stays underneath.
    """
    ctx.log("chroot")
    ctx.sc.chroot(ctx.path("/root"))
    ctx.root = "/"
    if ctx.then is not None:
        # The same frozen program continues as the appliance /init (one Python start-up
        # instead of two). Directory listings cached by the import system describe the
        # initramfs: drop them, so later imports look at the appliance's copy of the bundle.
        sys.path_importer_cache.clear()
        ctx.log("continuing as the appliance /init in this process")
        return
    # argv[0] is an absolute path: without /proc (not mounted in the new root) the
    # PyInstaller bootloader finds its own files from argv[0], through realpath.
    ctx.sc.execv("/init", ["/init"])


#: The boot process of the mini initrd, in order. Each step logs itself.
STEPS: tuple[tuple[str, Callable[[Context], None]], ...] = (
    ("mount /proc", step_mount_proc),
    ("mount /sys", step_mount_sys),
    ("load modules", step_load_modules),
    ("preload", step_preload),
    ("find root device", step_find_root),
    ("mount root", step_mount_root),
    ("switch root", step_switch_root),
)


def diagnostics(ctx: Context) -> Iterator[str]:
    """What a human needs to see when the boot fails: disks, modules, the trees."""
    sys_block = ctx.path("/sys/block")
    if os.path.isdir(sys_block) and os.listdir(sys_block):
        for name in sorted(os.listdir(sys_block)):
            dev = read_devnum(sys_block, name)
            yield f"/sys/block/{name}: dev {dev[0]}:{dev[1]}" if dev else f"/sys/block/{name}"
    else:
        yield "/sys/block: empty or not mounted"
    try:
        with open(ctx.path("/proc/modules")) as f:
            yield "modules loaded: " + " ".join(line.split()[0] for line in f)
    except OSError:
        pass
    for d in ("/", "/root"):
        try:
            yield f"ls {d}: {' '.join(sorted(os.listdir(ctx.path(d))))}"
        except OSError as e:
            yield f"ls {d}: {e.strerror}"


def ensure_console() -> None:
    """Make fds 0-2 the console if they are closed (the kernel opens them only when the
    initramfs has /dev/console)."""
    try:
        os.fstat(1)
        return
    except OSError:
        pass
    try:
        fd = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return
    for target in (0, 1, 2):
        if fd != target:
            os.dup2(fd, target)


def in_initramfs() -> bool:
    """True when / is the initramfs (no backing block device), not the appliance disk."""
    return os.major(os.stat("/").st_dev) == 0


def main(
    root: str = "/",
    timeout: float = DEFAULT_ROOT_TIMEOUT,
    then: Callable[[], int] | None = None,
    sc: Syscalls | None = None,
    preload: Callable[[], object] | None = None,
) -> int:
    """Run the steps; on failure print what was seen and return 1 (so the kernel panics).

    Without ``then``, the last step execs the appliance's /init, and this does not return
    when all goes well. With ``then``, it is called after the chroot and its result
    returned: the frozen program that is the mini init carries on as the appliance /init.
    ``preload`` runs after the modules are loaded, before the root device is looked for.
    """
    ensure_console()
    step = "start"
    ctx: Context | None = None
    try:
        ctx = Context(sc or Syscalls(), root, timeout, then, preload)
        for what, func in STEPS:
            step = what  # named in the error message if this step fails
            func(ctx)
    except (InitError, OSError, ValueError, ImportError) as e:
        say(f"error: {step}: {e}")
        if ctx is not None:
            for line in diagnostics(ctx):
                say(line)
        return 1
    return then() if then is not None else 0


def cli(argv: list[str]) -> int:
    """The frozen program's entry: ``main()`` as PID 1; ``--check`` for tests on a host."""
    if argv[:1] == ["--check"]:
        # What a boot loads before its first step, without touching the system: the
        # artifact test uses this to see that the frozen program starts and stays lean.
        Syscalls()
        print(" ".join(sorted(sys.modules)))
        return 0
    if os.getpid() != 1:
        say("not PID 1: refusing to mount anything (this is the initramfs's /init)")
        return 2
    return main()


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
