"""The qemu process behind a launched handle: command line, start, console, stop.

A strict lifecycle (style guide #9): the channel socket listens before qemu starts (qemu
connects to it as a client); the console is read by a thread that keeps its tail for
error messages and streams it when verbose; a launch failure carries the qemu argv, its
exit status and the console tail; stopping is SIGTERM, then SIGKILL, and always cleans
up. qemu never outlives this Python process: it is started with PR_SET_PDEATHSIG from a
thread that lives as long as the process (the signal follows the *thread* that forked).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import json
import os
import queue
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol.constants import WAKE_FLAG
from ..protocol.stream import ByteStream
from .errors import GuestFSError
from .qmp import QMP

#: Kernel parameters every launch uses (libguestfs's, plus boot-time savers measured in
#: libguestfs's own commits: cryptomgr.notests, tsc=reliable, 8250.nr_uarts=1, edd=off).
BASE_APPEND = (
    "panic=1 console=ttyS0 edd=off udev.event-timeout=6000 no_timer_check printk.time=1 "
    "cgroup_disable=memory usbcore.nousb cryptomgr.notests tsc=reliable 8250.nr_uarts=1 "
    "selinux=0 mitigations=off random.trust_cpu=on"
)
CHANNEL_NAME = "org.libguestfs.channel.0"
DEFAULT_MEMSIZE = 1280
CONSOLE_TAIL_BYTES = 16 * 1024


class LaunchError(GuestFSError):
    """qemu did not bring the agent up; carries argv, exit status and console tail."""

    def __init__(self, why: str, argv: list[str], status: int | None, console: str) -> None:
        tail = "\n".join(console.splitlines()[-30:])
        status_text = "still running" if status is None else _describe_status(status)
        super().__init__(
            f"launch failed: {why}\n"
            f"qemu ({status_text}): {shlex.join(argv)}\n"
            f"--- console (last lines) ---\n{tail}"
        )
        self.argv = argv
        self.status = status
        self.console = console


def _describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"killed by signal {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


@dataclass
class Drive:
    """One disk as ``add_drive_opts`` describes it."""

    filename: str
    format: str | None = None
    readonly: bool = False
    iface: str | None = None
    label: str | None = None
    cachemode: str | None = None
    discard: str | None = None
    copyonread: bool = False
    blocksize: int | None = None

    def drive_opts(self, index: int) -> str:
        """The ``-drive`` value (also what ``drive_add`` takes when hot-plugging)."""
        opts = [f"file={_qemu_escape(self.filename)}"]
        if self.readonly:
            # As libguestfs: the guest may write, into a throwaway overlay; the image
            # itself is never modified.
            opts.append("snapshot=on")
        opts.append(f"cache={'unsafe' if self.cachemode == 'unsafe' else 'writeback'}")
        if self.format:
            opts.append(f"format={self.format}")
        if self.copyonread:
            opts.append("copy-on-read=on")
        if self.discard in ("enable", "besteffort"):
            opts.append("discard=unmap")
        opts += [f"id=hd{index}", "if=none"]
        return ",".join(opts)

    def device_props(self, index: int, scsi_id: int | None = None) -> dict[str, str | int]:
        """The guest-visible device, as ``-device``/``device_add`` properties."""
        props: dict[str, str | int]
        if self.iface == "virtio":
            props = {"driver": "virtio-blk-pci", "drive": f"hd{index}"}
        else:
            props = {
                "driver": "scsi-hd",
                "drive": f"hd{index}",
                "bus": "scsi.0",
                "channel": 0,
                "scsi-id": index if scsi_id is None else scsi_id,
                "lun": 0,
            }
        if self.label:
            props["serial"] = self.label
        if self.blocksize:
            props["physical_block_size"] = self.blocksize
            props["logical_block_size"] = self.blocksize
        return props

    def qemu_args(self, index: int) -> list[str]:
        props = self.device_props(index)
        dev = ",".join([str(props.pop("driver"))] + [f"{k}={v}" for k, v in props.items()])
        return ["-drive", self.drive_opts(index), "-device", dev]


def _qemu_escape(value: str) -> str:
    """qemu's option syntax doubles commas inside a value."""
    return value.replace(",", ",,")


#: The memory backend object of a warm-launch VM (its name is part of the saved state).
_RAM_ID = "pyguestfs-ram"


@dataclass
class MachineConfig:
    qemu: str
    kernel: str
    initrd: str
    root: str
    root_uuid: str | None
    drives: list[Drive] = field(default_factory=list)
    accel: str = "tcg"
    memsize: int = DEFAULT_MEMSIZE
    smp: int = 1
    verbose: bool = False
    append: str | None = None
    network: bool = False
    #: qemu's seccomp filter (``-sandbox``), when this qemu was built with it.
    sandbox: bool = False
    #: Warm launch (host/snapshot.py): the appliance disk is this qcow2 overlay of the
    #: root, written through while a snapshot is made, behind a throwaway overlay of its
    #: own (``snapshot=on``) when a snapshot is restored.
    appliance_overlay: str | None = None
    overlay_throwaway: bool = False
    #: A QMP monitor (hot-plugging disks, saving the VM): qemu connects to this socket,
    #: on which the host listens (Machine.monitor).
    qmp_path: str | None = None
    #: Wait for a migration stream (``migrate-incoming`` through QMP) instead of booting.
    incoming: bool = False
    #: Warm launch: the guest's RAM is this file instead of anonymous memory -- written
    #: through (``ram_shared``) while a snapshot is made, mapped copy-on-write when one is
    #: restored -- and migration leaves it out of the stream (host/snapshot.py).
    ram_file: str | None = None
    ram_shared: bool = False

    def argv(self, socket_path: str) -> list[str]:
        # q35 without the legacy devices: fewer devices to probe under emulation.
        machine = f"q35,accel={self.accel}"
        if self.ram_file is not None:
            machine += f",memory-backend={_RAM_ID}"
        argv = [
            self.qemu,
            "-no-user-config",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            machine,
            "-cpu",
            "max",
            "-m",
            str(self.memsize),
            "-no-reboot",
            "-rtc",
            "driftfix=slew",
            "-global",
            "kvm-pit.lost_tick_policy=discard",
            "-object",
            "rng-random,filename=/dev/urandom,id=rng0",
            "-device",
            "virtio-rng-pci,rng=rng0",
            "-device",
            "virtio-scsi-pci,id=scsi",
        ]
        if self.sandbox:
            # The set libvirt enables: qemu may not run obsolete syscalls, gain privileges,
            # fork/exec or change scheduling -- a compromised qemu is contained further.
            argv += [
                "-sandbox",
                "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            ]
        if self.smp > 1:
            argv += ["-smp", str(self.smp)]
        for i, d in enumerate(self.drives):
            argv += d.qemu_args(i)
        # The appliance disk comes last; the guest writes to a throwaway overlay.
        n = len(self.drives)
        if self.appliance_overlay is None:
            disk = f"file={_qemu_escape(self.root)},snapshot=on,format=raw"
        else:
            disk = f"file={_qemu_escape(self.appliance_overlay)},format=qcow2"
            if self.overlay_throwaway:
                disk += ",snapshot=on"
        argv += [
            "-drive",
            f"{disk},id=appliance,cache=unsafe,if=none",
            "-device",
            f"scsi-hd,drive=appliance,bus=scsi.0,channel=0,scsi-id={n},lun=0",
            "-device",
            "virtio-serial-pci",
            "-chardev",
            f"socket,path={_qemu_escape(socket_path)},id=channel0",
            "-device",
            f"virtserialport,chardev=channel0,name={CHANNEL_NAME}",
            "-serial",
            "stdio",
        ]
        if self.qmp_path is not None:
            # qemu connects to the host's listener (Machine.monitor), like the channel.
            argv += [
                "-chardev",
                f"socket,path={_qemu_escape(self.qmp_path)},id=qmp,server=off",
                "-mon",
                "chardev=qmp,mode=control",
            ]
        if self.ram_file is not None:
            share = "on" if self.ram_shared else "off"
            argv += [
                "-object",
                f"memory-backend-file,id={_RAM_ID},size={self.memsize}M,"
                f"mem-path={_qemu_escape(self.ram_file)},share={share}",
            ]
        if self.incoming:
            argv += ["-incoming", "defer"]
        if self.network:
            argv += [
                "-netdev",
                "user,id=usernet,net=169.254.0.0/16",
                "-device",
                "virtio-net-pci,netdev=usernet",
            ]
        append = [BASE_APPEND]
        if self.root_uuid:
            append.append(f"root=UUID={self.root_uuid}")
        append.append("guestfs_verbose=1" if self.verbose else "quiet")
        if self.network:
            append.append("guestfs_network=1")
        if self.append:
            append.append(self.append)
        if self.incoming:
            # The kernel is already in the saved RAM: loading the files again would only
            # cost time (qemu reads and copies them whole before the restore can start).
            return argv
        return [*argv, "-kernel", self.kernel, "-initrd", self.initrd, "-append", " ".join(append)]


@functools.lru_cache(maxsize=8)
def qemu_has_sandbox(qemu: str, cache_dir: str | None = None) -> bool:
    """True if ``qemu -help`` lists ``-sandbox`` (qemu built with libseccomp).

    Asking costs a qemu start (up to a second on a loaded machine, a good part of a warm
    launch), so the answer is kept in ``cache_dir`` per qemu binary (path, size, mtime).
    """
    path = os.path.join(cache_dir, "qemu-sandbox.json") if cache_dir else None
    binary = shutil.which(qemu) or qemu
    try:
        st = os.stat(binary)
        identity = [os.path.realpath(binary), st.st_size, st.st_mtime_ns]
    except OSError:
        identity = None
    if path and identity:
        try:
            with open(path) as f:
                cached = json.load(f)
            if cached.get("qemu") == identity:
                return bool(cached["sandbox"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    try:
        out = subprocess.run(
            [qemu, "-help"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False  # not cached: a qemu that could not be asked may work next time
    has = b"\n-sandbox " in out
    if path and identity:
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump({"qemu": identity, "sandbox": has}, f)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return has


# -- spawning qemu so that it dies with this process ---------------------------------------

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_spawn_requests: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], queue.Queue[object]]]
_spawn_requests = queue.Queue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _spawner_loop() -> None:
    while True:
        start, reply = _spawn_requests.get()
        try:
            reply.put(start())
        except BaseException as e:
            reply.put(e)


def spawn_tied_to_process(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen from a thread that never exits, with PR_SET_PDEATHSIG=SIGKILL."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawner_loop, name="pyguestfs-spawner", daemon=True)
            _spawner.start()
    reply: queue.Queue[object] = queue.Queue()
    _spawn_requests.put(
        (
            lambda: subprocess.Popen(
                argv,
                preexec_fn=_die_with_parent,
                **kwargs,
            ),
            reply,
        )
    )
    result = reply.get()
    if isinstance(result, BaseException):
        raise result
    return result  # type: ignore[return-value]


class Machine:
    """One qemu process serving one handle."""

    def __init__(
        self,
        config: MachineConfig,
        on_console: Callable[[str], None] | None = None,
        tmpdir: str | None = None,
    ) -> None:
        self.config = config
        self.on_console = on_console
        self._tail: collections.deque[str] = collections.deque()
        self._tail_size = 0
        self._milestones: dict[str, float] = {}
        self.sockdir = tempfile.mkdtemp(prefix="pyguestfs-", dir=tmpdir or _sockdir_base())
        os.chmod(self.sockdir, 0o700)
        self.socket_path = os.path.join(self.sockdir, "guestfsd.sock")
        self.proc: subprocess.Popen[bytes] | None = None
        self.argv: list[str] = []
        self.started_at = 0.0
        self._reader: threading.Thread | None = None
        self._qmp_listener: socket.socket | None = None
        self._qmp: QMP | None = None
        #: Seconds from start to each stage of a launch (warm launch fills it).
        self.timings: dict[str, float] = {}

    # -- console -------------------------------------------------------------------------
    def console_text(self) -> str:
        return "".join(self._tail)

    def milestone(self, marker: str) -> float | None:
        """Seconds after qemu started at which ``marker`` first appeared on the console."""
        return self._milestones.get(marker)

    _MARKERS = ("Linux version", "Starting /init script", "pyguestfs-agent")

    def _read_console(self, pipe: int) -> None:
        buf = b""
        while True:
            try:
                data = os.read(pipe, 65536)
            except OSError:
                break
            if not data:
                break
            buf += data
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                self._console_line(raw.decode("utf-8", "replace") + "\n")
        if buf:
            self._console_line(buf.decode("utf-8", "replace"))
        os.close(pipe)

    def _console_line(self, line: str) -> None:
        now = time.monotonic() - self.started_at
        for marker in self._MARKERS:
            if marker not in self._milestones and marker in line:
                self._milestones[marker] = now
        self._tail.append(line)
        self._tail_size += len(line)
        while self._tail_size > CONSOLE_TAIL_BYTES and len(self._tail) > 1:
            self._tail_size -= len(self._tail.popleft())
        if self.on_console is not None:
            self.on_console(line)

    # -- lifecycle -----------------------------------------------------------------------
    def start(
        self,
        timeout: float,
        wake: bool = False,
        on_spawned: Callable[[], None] | None = None,
    ) -> ByteStream:
        """Start qemu and return the agent's stream once the launch flag has arrived.

        ``wake``: the VM is restored from a snapshot whose agent is parked; it answers the
        wake word with the launch flag (agent/server.py ``park``). ``on_spawned`` runs
        once qemu is running (a restore starts the incoming migration there).
        """
        listener = _listen(self.socket_path)
        if self.config.qmp_path is not None:
            self._qmp_listener = _listen(self.config.qmp_path)
        self.argv = self.config.argv(self.socket_path)
        read_end, write_end = os.pipe()
        env = dict(os.environ, LC_ALL="C", QEMU_AUDIO_DRV="none")
        self.started_at = time.monotonic()
        try:
            self.proc = spawn_tied_to_process(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                env=env,
            )
        except OSError as e:
            listener.close()
            self._close_qmp_listener()
            os.close(read_end)
            raise LaunchError(
                f"cannot run {self.config.qemu}: {e.strerror}", self.argv, None, ""
            ) from None
        finally:
            os.close(write_end)
        self._reader = threading.Thread(
            target=self._read_console, args=(read_end,), name="pyguestfs-console", daemon=True
        )
        self._reader.start()
        try:
            if on_spawned is not None:
                try:
                    on_spawned()
                except GuestFSError:
                    self._check_alive(timeout, "")  # qemu died: its console says why
                    raise
            conn = self._accept(listener, timeout, "qemu never connected to the channel socket")
        finally:
            listener.close()
        stream = ByteStream(conn.detach())
        try:
            if wake:
                stream.write(struct.pack(">I", WAKE_FLAG))
            first = self._wait_launch_flag(stream, timeout)
        except BaseException:
            stream.close()
            raise
        if first != 0xF5F55FF5:
            stream.close()
            self._fail(f"the agent sent 0x{first:08x} instead of the launch flag")
        return stream

    def _remaining(self, timeout: float) -> float:
        return timeout - (time.monotonic() - self.started_at)

    def _accept(self, listener: socket.socket, timeout: float, why: str) -> socket.socket:
        while True:
            listener.settimeout(0.1)
            try:
                conn, _ = listener.accept()
                conn.settimeout(None)
                return conn
            except TimeoutError:
                pass
            self._check_alive(timeout, why)

    def monitor(self, timeout: float = 30.0) -> QMP:
        """qemu's QMP monitor (``config.qmp_path``), connected on first use and kept until
        :meth:`stop`. qemu connects as it starts; its greeting waits for its main loop."""
        if self._qmp is None:
            if self._qmp_listener is None:
                raise GuestFSError("this qemu was started without a QMP monitor")
            try:
                conn = self._accept(
                    self._qmp_listener, timeout, "qemu never connected to its monitor socket"
                )
            finally:
                self._close_qmp_listener()  # one connection only; stop() may have closed it
            self._qmp = QMP(conn, timeout)
        return self._qmp

    def _close_qmp_listener(self) -> None:
        if self._qmp_listener is not None:
            self._qmp_listener.close()
            self._qmp_listener = None

    def _wait_launch_flag(self, stream: ByteStream, timeout: float) -> int:
        while True:
            try:
                return stream.read_word(timeout=0.1)
            except TimeoutError:
                self._check_alive(timeout, "the agent did not send the launch flag")
            except EOFError:
                self._finish_reader()
                self._fail("the appliance closed the channel before the agent was ready")

    def _check_alive(self, timeout: float, why: str) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            self._finish_reader()
            self._fail(
                "qemu exited during launch (a kernel panic with panic=1 "
                "ends the VM: see the console below)"
            )
        if self._remaining(timeout) <= 0:
            self._fail(f"{why} within {timeout:.0f} s")

    def _finish_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)

    def _fail(self, why: str) -> None:
        status = self.proc.poll() if self.proc else None
        console = self.console_text()
        self.stop()
        raise LaunchError(why, self.argv, status, console)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; remove the socket directory."""
        status = None
        if self._qmp is not None:
            self._qmp.close()
        self._close_qmp_listener()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            status = self.proc.returncode
        self._finish_reader()
        for name in os.listdir(self.sockdir) if os.path.isdir(self.sockdir) else []:
            try:
                os.unlink(os.path.join(self.sockdir, name))
            except OSError:
                pass
        try:
            os.rmdir(self.sockdir)
        except OSError:
            pass
        return status


def _listen(path: str) -> socket.socket:
    """A Unix socket listening at ``path``, for qemu to connect to."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    return listener


def _sockdir_base() -> str:
    """Short paths: a Unix socket path must fit in 108 bytes."""
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run) and os.access(run, os.W_OK):
        return run
    return "/tmp"
