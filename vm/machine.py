"""The qemu process behind a launched handle: start, console, stop.

A strict lifecycle (style guide #9). :class:`Machine` is a context manager: making one
makes a private socket directory (short enough for Unix socket paths, see
:mod:`pyguestfs.core.rundir`) and the command line, and starts nothing; :meth:`Machine.start`
listens on the channel socket (and the QMP one) before qemu starts -- qemu connects to
them as a client -- and returns the agent's stream once the launch flag has come;
:meth:`Machine.stop` (also on leaving the ``with`` block) is SIGTERM, then SIGKILL, and
always removes the directory. The console is read by a thread that keeps its tail for
error messages and streams it when verbose. A launch failure carries the qemu argv, its
exit status and the console tail. qemu never outlives this Python process: it is started
with PR_SET_PDEATHSIG from a thread that lives as long as the process (the signal follows
the *thread* that forked).
"""

from __future__ import annotations

import collections
import ctypes
import os
import queue
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..core import rundir, runner
from ..core.errors import GuestFSError
from ..core.settings import Settings, read_environment
from ..protocol.constants import LAUNCH_FLAG, WAKE_FLAG
from ..protocol.stream import ByteStream
from .accel import choose_accel
from .qemu import COLD_BOOT, Drive, LaunchPlan, MachineConfig, qemu_argv, qemu_has_sandbox
from .qmp import QMP

CONSOLE_TAIL_BYTES = 16 * 1024
#: How long a launch failure waits for qemu to exit once the appliance has closed the
#: channel (qemu closes it as it exits; a panicking guest ends qemu within a second).
EXIT_WAIT = 10.0
#: The socket names in a machine's private directory (the longer one must fit).
CHANNEL_SOCKET = "guestfsd.sock"
QMP_SOCKET = "qmp.sock"


class LaunchError(GuestFSError):
    """qemu did not bring the agent up; carries argv, exit status and console tail."""

    def __init__(self, why: str, argv: list[str], status: int | None, console: str) -> None:
        tail = "\n".join(console.splitlines()[-30:])
        status_text = "still running" if status is None else runner.describe_status(status)
        super().__init__(
            f"launch failed: {why}\n"
            f"qemu ({status_text}): {shlex.join(argv)}\n"
            f"--- console (last lines) ---\n{tail}"
        )
        self.argv = argv
        self.status = status
        self.console = console


def configure(
    settings: Settings,
    *,
    kernel: str,
    initrd: str,
    root: str,
    root_uuid: str | None,
    cache_dir: str | None,
    drives: Sequence[Drive] = (),
    log: Callable[[str], None] = lambda _m: None,
) -> MachineConfig:
    """The :class:`MachineConfig` a launch with ``settings`` uses for this appliance:
    the accelerator chosen (the KVM probe's verdict is cached in ``cache_dir``), the
    sandbox if this qemu has one, and the settings that shape the VM."""
    qemu = settings.hv
    accel, why = choose_accel(qemu, kernel, settings.backend_settings, cache_dir)
    log(f"accelerator: {accel} ({why})")
    return MachineConfig(
        qemu=qemu,
        kernel=kernel,
        initrd=initrd,
        root=root,
        root_uuid=root_uuid,
        drives=tuple(drives),
        accel=accel,
        memsize=settings.memsize,
        smp=settings.smp,
        verbose=settings.verbose,
        append=settings.append,
        network=settings.network,
        sandbox=qemu_has_sandbox(qemu, cache_dir),
    )


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
    """One qemu process serving one handle (see the module's docstring for its lifecycle).

    ``config`` is what the user asked for, ``plan`` what this launch needs (a cold boot
    unless told otherwise); ``tmpdir`` is where the socket directory should go (default
    ``$XDG_RUNTIME_DIR``; ``/tmp`` when that would make a socket path too long).
    """

    _MARKERS = ("Linux version", "Starting /init script", "pyguestfs-agent")

    def __init__(
        self,
        config: MachineConfig,
        plan: LaunchPlan = COLD_BOOT,
        *,
        on_console: Callable[[str], None] | None = None,
        tmpdir: str | None = None,
        pgroup: bool = False,
    ) -> None:
        self.config = config
        self.plan = plan
        #: qemu in a process group of its own (libguestfs's set_pgroup): a ^C at the
        #: terminal then reaches only the program, which decides what to cancel.
        self.pgroup = pgroup
        self.on_console = on_console
        self._tail: collections.deque[str] = collections.deque()
        self._tail_size = 0
        self._milestones: dict[str, float] = {}
        preferred = tmpdir if tmpdir is not None else read_environment().runtime_dir
        self.sockdir = rundir.private_dir(
            "pyguestfs-", longest_name=CHANNEL_SOCKET, preferred=[preferred]
        )
        self.socket_path = os.path.join(self.sockdir, CHANNEL_SOCKET)
        self.qmp_path = os.path.join(self.sockdir, QMP_SOCKET) if plan.monitor else None
        self.argv: list[str] = qemu_argv(config, plan, self.socket_path, self.qmp_path)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self._reader: threading.Thread | None = None
        self._qmp_listener: socket.socket | None = None
        self._qmp: QMP | None = None
        self._stopped = False
        #: Seconds from start to each stage of a launch (warm launch fills it).
        self.timings: dict[str, float] = {}

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- console -------------------------------------------------------------------------
    def console_text(self) -> str:
        """The console's last lines (up to 16 KiB)."""
        return "".join(self._tail)

    def milestone(self, marker: str) -> float | None:
        """Seconds after qemu started at which ``marker`` first appeared on the console."""
        return self._milestones.get(marker)

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
        once qemu is running (a restore starts the incoming migration there). On any
        failure qemu is stopped and a :class:`LaunchError` says why.
        """
        if self.proc is not None or self._stopped:
            raise GuestFSError("Machine.start: a machine is started once")
        listener = _listen(self.socket_path)
        if self.qmp_path is not None:
            self._qmp_listener = _listen(self.qmp_path)
        read_end, write_end = os.pipe()
        env = runner.child_environment({"LC_ALL": "C", "QEMU_AUDIO_DRV": "none"})
        self.started_at = time.monotonic()
        try:
            self.proc = spawn_tied_to_process(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                env=env,
                process_group=0 if self.pgroup else None,
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
        if first != LAUNCH_FLAG:
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
        """qemu's QMP monitor (``plan.monitor``), connected on first use and kept until
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
                # qemu closes the channel as it exits: wait for that exit, so that the
                # error carries qemu's real status, not "still running".
                self._wait_exit(min(EXIT_WAIT, max(0.0, self._remaining(timeout))))
                self._finish_reader()
                self._fail("the appliance closed the channel before the agent was ready")

    def _wait_exit(self, seconds: float) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass  # still running: the error says so, and stop() ends it

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
        """True while qemu runs."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """qemu's process id, once started."""
        return self.proc.pid if self.proc else None

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; remove the socket directory.
        Returns qemu's exit status (None if it never started). Safe to call again."""
        self._stopped = True
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
        rundir.remove(self.sockdir)
        return status


def _listen(path: str) -> socket.socket:
    """A Unix socket listening at ``path``, for qemu to connect to."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    return listener
