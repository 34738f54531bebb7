"""The appliance's ``/init``: set up the minimal userspace, start the agent, reboot after it.

The mini initrd's init (:mod:`pyguestfs.initrd.mini_init`) chroots into the appliance root
and execs ``/init``; this is what runs then, as PID 1. Or, better, one frozen program is
both: :func:`boot` runs the mini init's steps when started from the initramfs and carries on
here in the same process after the chroot, saving a second Python start-up. It does what
libguestfs's ``appliance/init`` shell script does, minus what the agent does itself or does
not need:

* mount proc, sysfs, devtmpfs (Debian's kernel has DEVTMPFS_MOUNT off), devpts, tmpfs on
  ``/dev/shm`` and ``/run``; make sure ``/tmp`` and ``/var/tmp`` exist;
* create the ``/dev/virtio-ports/<name>`` links udev would make (there is no udev);
* bring up the loopback interface;
* start the agent and wait for it; then ``sync`` and reboot, which with qemu's ``-no-reboot``
  ends the VM.

Kernel command line: ``quiet`` silences the log, ``guestfs_verbose=1`` adds detail (mounts,
devices, modules); ``guestfs_noreboot=1`` keeps the VM up after the agent exits;
``guestfs_channel=<path>`` is passed on to the agent.

The agent runs in a forked child so that PID 1 can reap orphans and reboot even if the
agent dies. Given a callable, the child runs it in the same, already initialised, Python
(no second interpreter start-up: about 1-2 s under TCG); given an argv, it is exec'd.

Like the mini init, this imports as little as it can: under TCG every module costs.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time

from . import mini_init
from .mini_init import Syscalls, parse_cmdline

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    #: What run() starts: an argv to exec, or a function run in the forked child.
    Agent = Sequence[str] | Callable[["Options"], int]

CHANNEL_NAME = "org.libguestfs.channel.0"
DEFAULT_CHANNEL = f"/dev/virtio-ports/{CHANNEL_NAME}"
#: virtio-serial ports are named by control messages from the host, processed in a kernel
#: work queue: the name can appear a little after the module has loaded.
PORT_TIMEOUT = 30.0

#: Written by ``guestfs-build-appliance --daemon guestfsd``: the path of a daemon to exec in
#: place of our agent (Debian's guestfsd). Absent in a default build.
DAEMON_MARKER = "/etc/pyguestfs/daemon"
#: udev's daemon, where the guestfsd build puts it (Debian's path).
UDEVD = "/lib/systemd/systemd-udevd"
#: What guestfsd's children (parted, mkfs, lvm ...) are found on; the kernel gives PID 1
#: no PATH.
DAEMON_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8


class Options:
    """The appliance parameters of the kernel command line."""

    def __init__(self, cmdline: str = "") -> None:
        params = parse_cmdline(cmdline)
        self.cmdline = cmdline
        self.params = params
        self.quiet = "quiet" in params
        self.verbose = params.get("guestfs_verbose") == "1"
        self.network = params.get("guestfs_network") == "1"
        self.noreboot = params.get("guestfs_noreboot") == "1"
        self.channel = params.get("guestfs_channel") or DEFAULT_CHANNEL

    def agent_args(self) -> list[str]:
        """The flags /init gives the daemon, as libguestfs's script gives them to guestfsd."""
        args = ["--channel", self.channel]
        if self.verbose:
            args.append("--verbose")
        return args


class Context:
    """Run state: the options, the privileged operations, and where the root is (``/``, or
    a scratch tree in tests)."""

    def __init__(self, options: Options, sc: Syscalls, root: str = "/") -> None:
        self.options = options
        self.sc = sc
        self.root = root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *(p.lstrip("/") for p in parts))

    def log(self, message: str) -> None:
        """One console line, unless quiet."""
        if not self.options.quiet:
            say(message)

    def debug(self, message: str) -> None:
        """One console line, only with guestfs_verbose=1."""
        if self.options.verbose:
            say(message)


def say(message: str) -> None:
    """Write one line to the console, unbuffered, stamped with the guest's uptime."""
    mini_init.say(message, prefix="init")


# ---------------------------------------------------------------- pure logic


def virtio_port_links(sys_class: str) -> dict[str, str]:
    """``{port name: device}`` from ``/sys/class/virtio-ports/*/name`` (or a fake tree).

    Ports whose name is still empty (the host has not named them yet) are left out.
    """
    links: dict[str, str] = {}
    try:
        devices = sorted(os.listdir(sys_class))
    except OSError:
        return links
    for dev in devices:
        try:
            with open(os.path.join(sys_class, dev, "name")) as f:
                name = f.read().strip()
        except OSError:
            continue
        # A name is used as a file name below /dev/virtio-ports: refuse path tricks.
        if name and "/" not in name and name not in (".", ".."):
            links[name] = dev
    return links


# ---------------------------------------------------------------- the steps


def step_banner(ctx: Context) -> None:
    """The line libguestfs's script prints first; some tools look for it."""
    ctx.log("Starting /init script ...")


def _mount(ctx: Context, fstype: str, target: str, flags: int = 0, data: str = "") -> None:
    path = ctx.path(target)
    os.makedirs(path, exist_ok=True)
    if os.path.ismount(path):
        return  # already mounted (e.g. the mini init left it), mounting again would stack
    ctx.debug(f"mount -t {fstype} {target}")
    ctx.sc.mount(fstype, path, fstype, flags, data)


def step_mount_kernel_filesystems(ctx: Context) -> None:
    """proc, sysfs, devtmpfs, devpts, /dev/shm, /run: what the agent and the tools use."""
    _mount(ctx, "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(ctx, "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(ctx, "devtmpfs", "/dev", MS_NOSUID, "mode=0755")
    _mount(ctx, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=000")
    _mount(ctx, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777")
    _mount(ctx, "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755,size=20%")


def step_device_links(ctx: Context) -> None:
    """The /dev links udev or systemd would make: /dev/fd, stdin/stdout/stderr."""
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        try:
            os.symlink(target, ctx.path("/dev", name))
        except FileExistsError:
            pass


def step_tmp_dirs(ctx: Context) -> None:
    """/tmp, /var/tmp (1777), /run/lock; /etc/mtab -> /proc/mounts (the agent reads it)."""
    for d in ("/tmp", "/var/tmp"):
        path = ctx.path(d)
        if not os.path.isdir(path) or os.path.islink(path):
            if os.path.lexists(path):
                os.unlink(path)
            os.makedirs(path)
        os.chmod(path, 0o1777)
    os.makedirs(ctx.path("/run/lock"), exist_ok=True)
    if not os.path.lexists(ctx.path("/etc/mtab")):
        os.symlink("/proc/mounts", ctx.path("/etc/mtab"))


def step_static_nodes(ctx: Context) -> None:
    """The device nodes whose first open loads their module (``/dev/loop-control`` for
    ``mount -o loop``, ``/dev/fuse``, ``/dev/btrfs-control`` ...), as libguestfs's /init
    makes them with ``kmod static-nodes``: devtmpfs shows them only once the module is in."""
    path = ctx.path("/lib/modules", os.uname().release, "modules.devname")
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        fields = line.split()  # "loop loop-control c10:237"
        if line.startswith("#") or len(fields) != 3 or fields[2][:1] not in ("b", "c"):
            continue
        major, _, minor = fields[2][1:].partition(":")
        node = ctx.path("/dev", fields[1])
        if os.path.lexists(node) or not (major.isdigit() and minor.isdigit()):
            continue
        kind = stat.S_IFBLK if fields[2][0] == "b" else stat.S_IFCHR
        os.makedirs(os.path.dirname(node), exist_ok=True)
        os.mknod(node, 0o600 | kind, os.makedev(int(major), int(minor)))
        ctx.debug(f"/dev/{fields[1]}: static node {fields[2]}")


def step_loopback(ctx: Context) -> None:
    """Bring up lo; the kernel gives it 127.0.0.1/8 and ::1 by itself when it goes up."""
    ctx.sc.interface_up("lo")
    ctx.debug("lo is up")


def step_virtio_ports(ctx: Context) -> None:
    """/dev/virtio-ports/<name> links, and wait (bounded) for the agent's channel port."""
    wanted = ctx.options.channel
    wait = wanted.startswith("/dev/virtio-ports/")
    start = time.monotonic()
    delay = 0.001
    while True:
        make_port_links(ctx)
        # lexists: the link is the proof that the host has named the port (devtmpfs made
        # the node when the port was added, before the name arrived).
        if not wait or os.path.lexists(ctx.path(wanted)):
            break
        waited = time.monotonic() - start
        if waited > PORT_TIMEOUT:
            say(f"warning: {wanted} did not appear within {PORT_TIMEOUT:g} s")
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    ctx.log(f"virtio-serial port {wanted} ready after {time.monotonic() - start:.3f} s")


def make_port_links(ctx: Context) -> None:
    """Create the links for every named port present now."""
    links = virtio_port_links(ctx.path("/sys/class/virtio-ports"))
    if not links:
        return
    os.makedirs(ctx.path("/dev/virtio-ports"), exist_ok=True)
    for name, dev in links.items():
        link = ctx.path("/dev/virtio-ports", name)
        if not os.path.lexists(link):
            os.symlink(f"../{dev}", link)
            ctx.debug(f"/dev/virtio-ports/{name} -> ../{dev}")


def step_network(ctx: Context) -> None:
    """guestfs_network=1 needs DHCP on the one NIC; not provided by this appliance yet."""
    if ctx.options.network:
        say("warning: guestfs_network=1: networking is not supported by this appliance yet")


def step_verbose_report(ctx: Context) -> None:
    """With guestfs_verbose=1: what the appliance looks like, for the host's debug log."""
    if not ctx.options.verbose:
        return
    u = os.uname()
    say(f"uname: {u.sysname} {u.release} {u.version} {u.machine}")
    say(f"cmdline: {ctx.options.cmdline}")
    for label, path in (("mounts", "/proc/mounts"), ("modules", "/proc/modules")):
        try:
            with open(ctx.path(path)) as f:
                lines = f.read().splitlines()
        except OSError as e:
            say(f"{label}: {e.strerror}")
            continue
        say(f"{label}: " + "; ".join(" ".join(line.split()[:3]) for line in lines))
    say("/dev: " + " ".join(sorted(os.listdir(ctx.path("/dev")))))


#: The appliance set-up, in order: (what, step, essential). A failing essential step stops
#: the boot (the agent would be useless); the others are reported and skipped.
STEPS: tuple[tuple[str, Callable[[Context], None], bool], ...] = (
    ("banner", step_banner, False),
    ("mount kernel filesystems", step_mount_kernel_filesystems, True),
    ("device links", step_device_links, False),
    ("static device nodes", step_static_nodes, False),
    ("temporary directories", step_tmp_dirs, False),
    ("loopback", step_loopback, False),
    ("virtio-serial ports", step_virtio_ports, False),
    ("network", step_network, False),
    ("verbose report", step_verbose_report, False),
)


#: The LVM configuration guestfsd gets: libguestfs's (all defaults, no devices file), plus
#: what an appliance without udev needs (libdevmapper makes the nodes itself).
GUESTFSD_LVM_CONF = """\
devices {
    use_devicesfile = 0
    obtain_device_list_from_udev = 0
    external_device_info_source = "none"
}
activation {
    udev_sync = 0
    udev_rules = 0
    verify_udev_operations = 0
    monitoring = 0
}
global {
    use_lvmpolld = 0
}
"""


def run_quietly(ctx: Context, argv: list[str]) -> int:
    """Run a program (found on DAEMON_PATH unless given as a path), its output on the
    console only when verbose; its exit status (127 when it cannot be run)."""
    dirs = [""] if argv[0].startswith("/") else DAEMON_PATH.split(":")
    for d in dirs:
        program = ctx.path(d, argv[0])
        if os.access(program, os.X_OK):
            break
    else:
        return 127
    pid = os.fork()
    if pid == 0:
        try:
            if not ctx.options.verbose:
                null = os.open("/dev/null", os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
            os.execve(program, argv, {**os.environ, "PATH": DAEMON_PATH})
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$")
_SCSI_ADDRESS = re.compile(r"^\d+:\d+:\d+:\d+$")


def by_path_name(sysfs_device: str) -> str | None:
    """The ``/dev/disk/by-path`` name udev's path_id gives a disk, from its resolved
    sysfs path: ``pci-<slot>`` for virtio-blk, ``pci-<slot>-scsi-<h:c:t:l>`` for SCSI.
    None for a disk on no PCI device."""
    pci = scsi = None
    for part in sysfs_device.split("/"):
        if _PCI_ADDRESS.match(part):
            pci = part
        elif _SCSI_ADDRESS.match(part):
            scsi = part
    if pci is None:
        return None
    return f"pci-{pci}" + (f"-scsi-{scsi}" if scsi else "")


def make_by_path_links(ctx: Context) -> None:
    """/dev/disk/by-path links for every whole disk, as udev makes them: guestfsd orders
    the disks by these names (``ls -1v``) at start-up and refuses to start without them."""
    sys_block = ctx.path("/sys/block")
    by_path = ctx.path("/dev/disk/by-path")
    os.makedirs(by_path, exist_ok=True)
    for disk in sorted(os.listdir(sys_block)):
        if not disk.startswith(("sd", "vd")):
            continue
        name = by_path_name(os.path.realpath(os.path.join(sys_block, disk)))
        link = os.path.join(by_path, name or "")
        if name and not os.path.lexists(link):
            os.symlink(f"../../{disk}", link)
            ctx.debug(f"/dev/disk/by-path/{name} -> ../../{disk}")


def external_daemon(ctx: Context) -> list[str] | None:
    """The argv of the daemon named by the build's marker file, set up as libguestfs's
    /init sets it up (an LVM configuration of its own with the devices file off); None
    in a default build, where our agent runs."""
    try:
        with open(ctx.path(DAEMON_MARKER)) as f:
            program = f.read().strip()
    except FileNotFoundError:
        return None
    lvm_dir = ctx.path("/tmp/lvm")
    os.makedirs(lvm_dir, exist_ok=True)
    with open(os.path.join(lvm_dir, "lvm.conf"), "w") as f:
        f.write(GUESTFSD_LVM_CONF)
    os.environ["LVM_SYSTEM_DIR"] = "/tmp/lvm"
    os.environ.setdefault("PATH", DAEMON_PATH)
    # As libguestfs's /init: udev (the by-path links guestfsd orders disks by, label and
    # partition links), else the by-path links made here; device-mapper loaded (guestfsd
    # lists /dev/mapper); the volume groups already on the disks activated.
    if os.access(ctx.path(UDEVD), os.X_OK):
        commands = [[UDEVD, "--daemon"], ["udevadm", "trigger"], ["udevadm", "settle"]]
    else:
        make_by_path_links(ctx)
        commands = []
    commands += [["modprobe", "dm_mod"], ["lvm", "vgchange", "-aay", "--sysinit"]]
    for argv in commands:
        status = run_quietly(ctx, argv)
        if status != 0:
            say(f"warning: {' '.join(argv)} exited with status {status}")
    argv = [program, "-c", ctx.options.channel]
    if ctx.options.verbose:
        argv.append("-v")
    ctx.log(f"starting {' '.join(argv)} (the build's daemon) instead of the agent")
    return argv


def setup(ctx: Context) -> bool:
    """Run the set-up steps; False if an essential one failed."""
    for what, func, essential in STEPS:
        try:
            func(ctx)
        except (OSError, ValueError) as e:
            say(f"error: {what}: {e}")
            if essential:
                return False
    return True


# ---------------------------------------------------------------- the agent and the end


def start_agent(ctx: Context, agent: Agent) -> int:
    """Fork; the child becomes the agent (exec'd, or run in-process); return its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    # The child. Anything escaping here must not unwind into PID 1's code.
    rc = 127
    try:
        # _signal, not signal.py, which imports enum; typeshed has no stub for it.
        import _signal  # type: ignore[import-not-found]

        # Python ignores SIGPIPE; a program we exec should get the default, as from a shell.
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        if callable(agent):
            rc = agent(ctx.options)
        else:
            argv = list(agent)
            os.execv(argv[0], argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:
        say(f"agent failed: {type(e).__name__}: {e}")
        rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)
    raise AssertionError("unreachable")


def wait_for(pid: int) -> int:
    """Reap every child (PID 1 inherits orphans) until ``pid`` exits; its exit status."""
    while True:
        try:
            child, status = os.wait()
        except ChildProcessError:
            return 1
        except (InterruptedError, KeyboardInterrupt):
            # ^C on the serial console must not kill PID 1 (that would be a kernel panic)
            continue
        if child == pid:
            return os.waitstatus_to_exitcode(status)


def finish(ctx: Context, status: int) -> None:
    """sync, then reboot (qemu -no-reboot exits), unless guestfs_noreboot=1."""
    ctx.log(f"agent exited with status {status}; syncing")
    os.sync()
    if ctx.options.noreboot:
        say("guestfs_noreboot=1: not rebooting")
        while True:
            try:
                os.wait()
            except ChildProcessError:
                time.sleep(3600)
    ctx.log("rebooting")
    try:
        ctx.sc.reboot()
    except OSError as e:
        say(f"reboot failed ({e}); exiting, which makes the kernel panic")


def run(
    agent: Agent, cmdline: str | None = None, sc: Syscalls | None = None, root: str = "/"
) -> int:
    """The whole of /init: set up, run the agent, reboot. Returns only if reboot fails.

    ``agent`` is an argv to exec or a function called (in a forked child) with the
    :class:`Options`; its return value is the agent's exit status. ``cmdline`` defaults to
    the kernel's; ``sc`` and ``root`` let tests fake the privileged parts.
    """
    sc = sc or Syscalls()
    if cmdline is None:
        cmdline = read_cmdline(sc)
    ctx = Context(Options(cmdline), sc, root)
    if setup(ctx):
        try:
            status = wait_for(start_agent(ctx, external_daemon(ctx) or agent))
        except OSError as e:  # the marker is unreadable: never serve another daemon
            say(f"error: preparing the build's daemon: {e}")
            status = 1
    else:
        say("appliance set-up failed; not starting the agent")
        status = 1
    finish(ctx, status)
    return 1


def boot(load_agent: Callable[[], Agent]) -> int:
    """Entry point for the one frozen program that is both inits (run as PID 1).

    Started by the kernel from the initramfs, it first does the mini init's work (modules,
    root device, mount, chroot) and then, in the same process, the appliance's; started as
    the appliance's /init (exec'd by a separate mini init), only the latter. Either way there
    is one Python start-up after the kernel, the largest item of the boot under TCG.

    ``load_agent`` returns the agent (see :func:`run`); it should do the agent's imports. In
    the initramfs it is called right after the drivers are loaded, so the imports overlap
    with the devices' asynchronous probing, and the modules come from the initramfs.

    Layout this relies on: the bundle (executable + ``_internal``) sits at the same path in
    the initramfs and in the appliance root, e.g. ``/usr/lib/pyguestfs/appliance/``, with
    ``/init`` a symlink to its executable in both. Imports made after the chroot (lazy
    ones) then find the root's copy of the very same files.
    """
    if os.getpid() != 1:
        say("not PID 1: refusing to mount anything (this is the appliance's /init)")
        return 2
    sc = Syscalls()
    loaded: list[Agent] = []
    if mini_init.in_initramfs():
        return mini_init.main(
            then=lambda: run(loaded[0], sc=sc),
            sc=sc,
            preload=lambda: loaded.append(load_agent()),
        )
    return run(load_agent(), sc=sc)


def check(load_agent: Callable[[], Agent]) -> int:
    """``--check`` for the one-program boot, safe on a host: do what happens before the
    chroot (ctypes, the agent's imports) and print the modules then loaded -- for artifact
    tests, and for pyguestfs.builder.freeze.module_files() to pick the initramfs's subset."""
    Syscalls()
    load_agent()
    print(" ".join(sorted(sys.modules)))
    return 0


def read_cmdline(sc: Syscalls) -> str:
    """The kernel command line; /proc may not be mounted yet, so mount it if needed."""
    if not os.path.exists("/proc/cmdline"):
        os.makedirs("/proc", exist_ok=True)
        sc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    with open("/proc/cmdline") as f:
        return f.read().strip()


def main(argv: list[str] | None = None) -> int:
    """``appliance-init AGENT [ARGS...]``: run /init with an external agent program."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        say("usage: appliance-init AGENT [ARGS...]")
        return 2
    if os.getpid() != 1:
        say("not PID 1: refusing to mount anything (this is the appliance's /init)")
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
