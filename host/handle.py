"""``GuestFS``: the handle users import, a stand-in for python3-guestfs's.

Every API of the procedure table becomes a method with libguestfs's name, argument names
and optional keyword arguments (``g.is_file(path, followsymlinks=True)``). The actions
that run in the C library rather than the daemon (``ls``, ``cat``, ``copy_in``,
``add_drive``, settings ...) are the mixins of :mod:`pyguestfs.host.library`; this module
holds the handle's lifecycle and its call path.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

from ..core.settings import DEFAULTS, Settings, read_environment
from ..protocol import constants as C
from ..protocol.procedures import BY_NAME, LIBRARY_ACTIONS, Procedure
from ..protocol.types import RetType
from ..vm import snapshot
from ..vm.machine import Machine
from ..vm.qemu import Drive, MachineConfig
from .calls import _H, Calls, StrPath
from .connection import Connection
from .errors import ClosedHandle, GuestFSError
from .events import (
    EVENT_APPLIANCE,
    EVENT_CLOSE,
    EVENT_ENTER,
    EVENT_LAUNCH_DONE,
    EVENT_LIBRARY,
    EVENT_PROGRESS,
    EVENT_SUBPROCESS_QUIT,
    EVENT_TRACE,
    EVENT_WARNING,
    EventRegistry,
)
from .inspect_apps import InspectApps  # library-side inspect_list_applications*
from .library import (
    Control,
    Disks,
    Drives,
    Files,
    Inspection,
    LibvirtDomains,
    Mountables,
    MountLocal,
    Properties,
)
from .library.base import STATE_CONFIG as _STATE_CONFIG
from .library.base import STATE_LAUNCHING as _STATE_LAUNCHING
from .library.base import STATE_READY as _STATE_READY
from .library.control import LIBGUESTFS_VERSION

__all__ = ["LIBGUESTFS_VERSION", "GuestFS"]


class GuestFS(
    InspectApps[_H],
    Properties[_H],
    Drives[_H],
    Disks[_H],
    Files[_H],
    Mountables[_H],
    Inspection[_H],
    LibvirtDomains[_H],
    MountLocal[_H],
    Control[_H],
):
    """A libguestfs handle.

    Every API of libguestfs 1.48 is a typed method (:class:`~pyguestfs.host.calls.Calls`,
    generated from the procedure table); one this library or the appliance's daemon
    does not serve raises :class:`GuestFSError` with errno ``ENOTSUP``. The actions
    libguestfs runs in its library are the mixins of :mod:`pyguestfs.host.library`; this
    class holds the lifecycle (launch, shutdown, close) and the call path.

    ``python_return_dict=True`` makes hashtable results dicts (all new code should set it,
    as with python3-guestfs); otherwise they are lists of ``(key, value)`` pairs. Type
    checkers follow the choice: ``GuestFS(python_return_dict=True)`` is a
    ``GuestFS[dict[str, str]]``.
    ``environment`` reads the settings' environment variables (``LIBGUESTFS_DEBUG``,
    ``LIBGUESTFS_MEMSIZE`` ... see :mod:`pyguestfs.core.settings`) once, now, as libguestfs
    does; ``environment=False`` starts from the defaults.
    """

    @overload
    def __init__(
        self: GuestFS[dict[str, str]],
        python_return_dict: Literal[True],
        environment: bool = True,
        close_on_exit: bool = True,
    ) -> None: ...

    @overload
    def __init__(
        self: GuestFS[list[tuple[str, str]]],
        python_return_dict: Literal[False] = False,
        environment: bool = True,
        close_on_exit: bool = True,
    ) -> None: ...

    def __init__(
        self, python_return_dict: bool = False, environment: bool = True, close_on_exit: bool = True
    ) -> None:
        self._python_return_dict = python_return_dict
        self._lock = threading.RLock()
        self._events = EventRegistry()
        self._conn: Connection | None = None
        self._state = _STATE_CONFIG
        self._closed = False
        self._features: dict[str, int] = {}
        #: Every setting of this handle (frozen; the set_ methods replace it).
        self._settings: Settings = read_environment() if environment else DEFAULTS
        self._drives: list[Drive] = []
        self._drive_strings: list[str] = []
        self._scratch: list[str] = []
        self._machine: Machine | None = None
        self._library: dict[str, Any] = {}
        self._libvirt_creds: list[str] = []
        self._libvirt_requested: list[list[Any]] | None = None
        self._init_mount_local()
        #: Which daemon the launched appliance runs (set at launch; see builder --daemon).
        self._appliance_daemon = "pyguestfs"
        del close_on_exit  # handles are closed by __del__ or close(), as in python3-guestfs

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> GuestFS[_H]:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    def _check_not_closed(self) -> None:
        if self._closed:
            raise ClosedHandle("GuestFS: method called on closed handle")

    def attach(self, socket_path: str, timeout: float = 30.0) -> None:
        """Connect to an agent that is already running and listening on a Unix socket
        (``python -m pyguestfs.agent --listen SOCKET``, or ``guestfsd -l``), wait for its
        launch flag, and make the handle ready, as ``launch()`` would."""
        self._check_not_closed()
        with self._lock:
            if self._state != _STATE_CONFIG:
                raise GuestFSError("attach: the handle is already launched")
            self._state = _STATE_LAUNCHING
            try:
                conn = Connection.connect_unix(socket_path, timeout)
                conn.on_progress = self._on_progress
                conn.wait_for_launch_flag(timeout)
            except BaseException:
                self._state = _STATE_CONFIG
                raise
            self._conn = conn
            self._use_big_chunks()
            self._state = _STATE_READY
            self._log("appliance is up")
            self._events.fire(EVENT_LAUNCH_DONE)

    def shutdown(self) -> None:
        """Sync and unmount the disks (``internal_autosync``), then drop the connection.
        A handle that was never launched shuts down as a no-op."""
        self._check_not_closed()
        with self._lock:
            if (
                self._state == _STATE_READY
                and self._settings.autosync
                and self._conn is not None
                and not self._conn.broken
            ):
                try:
                    self._call("internal_autosync", {}, {})
                except GuestFSError as e:
                    self._log(f"internal_autosync failed: {e}")
            self._disconnect()

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._machine is not None:
            machine, self._machine = self._machine, None
            status = machine.stop()
            self._events.fire(EVENT_SUBPROCESS_QUIT)
            if status not in (None, 0, -15):
                self._log(f"qemu exited with status {status}")
        self._features.clear()
        self._state = _STATE_CONFIG

    def close(self) -> None:
        """Shut down (if launched) and close the handle; later calls raise ClosedHandle."""
        self._check_not_closed()
        try:
            self.shutdown()
        finally:
            self._closed = True
            for path in self._scratch:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            self._events.fire(EVENT_CLOSE)

    # -- launch ---------------------------------------------------------------------------
    def launch(self) -> None:
        """Start the appliance (building it if needed) and wait for the agent."""
        self._check_not_closed()
        with self._lock:
            if self._state != _STATE_CONFIG:
                raise GuestFSError("launch: the libguestfs handle has already been launched")
            if self._settings.backend != "direct":
                raise self._enotsup(
                    "launch",
                    f"backend {self._settings.backend!r}: pyguestfs runs qemu itself "
                    "(the direct backend); it has no libvirt backend",
                )
            self._state = _STATE_LAUNCHING
            try:
                config, cache_dir = self._machine_config()
                self._conn = self._start_machine(config, cache_dir)
                self._use_big_chunks()
            except BaseException:
                self._disconnect()
                raise
            self._state = _STATE_READY
            self._log("appliance is up")
            self._events.fire(EVENT_LAUNCH_DONE)

    def _machine_config(self) -> tuple[MachineConfig, str | None]:
        """The qemu configuration this handle's settings call for (building the appliance
        if needed), and the appliance cache directory."""
        from ..builder.appliance import launch_config  # the builder is optional

        config, appliance = launch_config(self._settings, self._drives, log=self._log)
        self._appliance_daemon = appliance.daemon
        return config, appliance.cache_dir

    def make_snapshot(self) -> bool:
        """Make (now, in the foreground) the warm-launch snapshot that ``launch()`` with
        this handle's settings would restore; False if another process is making it.
        pyguestfs extension (``guestfs-build-appliance --snapshot`` makes the one of the
        default settings)."""
        config, cache_dir = self._machine_config()
        if not cache_dir:
            raise GuestFSError("make_snapshot: no appliance cache directory")
        why_not = self._daemon_cannot_restore()
        if why_not:
            raise GuestFSError(f"make_snapshot: {why_not}")
        timeout = self._settings.launch_timeout
        return snapshot.create(config, cache_dir, timeout=timeout, log=self._log) is not None

    def _start_machine(self, config: MachineConfig, cache_dir: str | None) -> Connection:
        """Restore the appliance from its warm-launch snapshot when there is a valid one;
        else boot it cold (and have the snapshot made in the background for next time)."""
        timeout = self._settings.launch_timeout
        key = None
        if self._settings.warm_launch and cache_dir:
            why_not = self._daemon_cannot_restore() or snapshot.ineligible(config)
            if why_not:
                self._log(f"warm launch: not possible ({why_not})")
            else:
                key, _ = snapshot.snapshot_key(config)
                snap = snapshot.find(cache_dir, key)
                if snap is None:
                    self._log("warm launch: no snapshot yet; booting cold")
                else:
                    started = time.monotonic()
                    try:
                        restored = snapshot.restore(
                            snap, config, timeout, self._console, self._on_progress
                        )
                    except GuestFSError as e:
                        self._log(f"warm launch: snapshot {key} refused ({e}); booting cold")
                        snapshot.discard(snap)
                    else:
                        self._machine = restored.machine
                        self._log(f"warm launch: restored in {time.monotonic() - started:.2f} s")
                        return Connection(
                            restored.stream, self._on_progress, serial=restored.next_serial
                        )
        machine = Machine(config, on_console=self._console, pgroup=self._settings.pgroup)
        self._machine = machine
        stream = machine.start(timeout)
        if key is not None and cache_dir:
            snapshot.spawn_background_creation(config, cache_dir)
        return Connection(stream, self._on_progress)

    def _use_big_chunks(self) -> None:
        """Move files in big chunks when the daemon is our agent: asked for before the
        first transfer (the chunk_size setting, PYGUESTFS_CHUNK_SIZE; 0 keeps libguestfs's
        8 KiB)."""
        assert self._conn is not None
        wanted = self._settings.chunk_size
        self._conn.wanted_chunk_size = C.BIG_CHUNK_MAX if wanted is None else wanted

    def _daemon_cannot_restore(self) -> str | None:
        """Why the appliance's daemon rules out snapshots: a restore asks our agent (a
        pyguestfs procedure) for fresh entropy and the host's clock."""
        if self._appliance_daemon == "pyguestfs":
            return None
        return f"the appliance runs {self._appliance_daemon}, not the pyguestfs agent"

    def _console(self, line: str) -> None:
        if self._events.wants(EVENT_APPLIANCE):
            self._events.fire(EVENT_APPLIANCE, line.encode())
        elif self._settings.verbose:
            sys.stderr.write(line)

    # -- events ------------------------------------------------------------------------------
    def _on_progress(self, proc: int, serial: int, position: int, total: int) -> None:
        self._events.fire(EVENT_PROGRESS, b"", (proc, serial, position, total))

    def _log(self, message: str) -> None:
        if self._events.wants(EVENT_LIBRARY):
            self._events.fire(EVENT_LIBRARY, message.encode())
        elif self._settings.verbose:
            print(f"libguestfs: {message}", file=sys.stderr)

    def _warning(self, message: str) -> None:
        """1.48's warning(): EVENT_WARNING callbacks, else stderr."""
        if self._events.wants(EVENT_WARNING):
            self._events.fire(EVENT_WARNING, message.encode())
        else:
            print(f"libguestfs: warning: {message}", file=sys.stderr)

    def _enter(self, name: str) -> None:
        """EVENT_ENTER, fired as each API call starts (buf: its name), as in 1.48."""
        if self._events.wants(EVENT_ENTER):
            self._events.fire(EVENT_ENTER, name.encode())

    def _trace_call(self, name: str, args: dict[str, Any], optargs: dict[str, Any]) -> None:
        shown: list[str] = [repr(v) for v in args.values()]
        shown += [f"{k}:{v!r}" for k, v in optargs.items()]
        self._trace_line(" ".join([name, *shown]))

    def _trace_line(self, line: str) -> None:
        if self._settings.identifier:
            line = f"{self._settings.identifier}: {line}"
        if self._events.wants(EVENT_TRACE):
            self._events.fire(EVENT_TRACE, line.encode())
        else:
            print(f"libguestfs: trace: {line}", file=sys.stderr)

    # -- the call path -----------------------------------------------------------------------
    def _call(
        self,
        name: str,
        args: dict[str, Any],
        optargs: dict[str, Any],
        *,
        file_in: StrPath | None = None,
        file_out: StrPath | None = None,
    ) -> Any:
        self._check_not_closed()
        proc = BY_NAME[name]
        self._enter(name)
        with self._lock:
            if self._state != _STATE_READY or self._conn is None:
                raise GuestFSError(
                    f"{name}: call launch before using this function\n"
                    "(in guestfish, don't forget to use the 'run' command)"
                )
            if self._settings.trace:
                self._trace_call(name, args, optargs)
            result = self._conn.call(
                proc,
                args,
                optargs,
                file_in=None if file_in is None else os.fspath(file_in),
                file_out=None if file_out is None else os.fspath(file_out),
            )
            if self._settings.trace:
                self._trace_line(f"{name} = {result!r}")
            return result

    def pipeline(
        self,
        calls: Iterable[tuple[Any, ...]],
        *,
        window: int = 64,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Make many calls without waiting for each reply (pyguestfs extension).

        Each item is ``(name, *args)`` or ``(name, *args, {optional args})``, as the
        method ``name`` takes them: ``g.pipeline([("exists", "/a"), ("mkdir_p", "/b/c"),
        ("mkfs", "ext4", "/dev/sda1", {"blocksize": 4096})])``. Requests are written up to
        ``window`` ahead of their replies, so the calls run back to back in the appliance
        without a round trip each; they still run one after another, in order. Returns
        the results in order, as the methods would.

        A call that fails does not stop the others (each is independent, as one by one).
        With ``return_exceptions`` its :class:`GuestFSError` takes its place in the list;
        otherwise the first such error is raised after every call has been answered, with
        ``results`` (the whole list) attached. Calls that upload or download a file
        cannot be pipelined (ValueError), nor can the library-side helpers (ls, cat ...).
        """
        if window < 1:
            raise ValueError("pipeline: window must be at least 1")
        prepared: list[tuple[Procedure, dict[str, Any], dict[str, Any]]] = []
        for item in calls:
            if not item or not isinstance(item[0], str):
                raise TypeError(f"pipeline: each call is (name, *args), not {item!r}")
            name, rest = item[0], list(item[1:])
            kwargs = rest.pop() if rest and isinstance(rest[-1], dict) else {}
            proc = BY_NAME.get(name)
            if proc is None or proc.internal:
                raise ValueError(f"pipeline: {name} is not a daemon procedure")
            _, args, optargs = _bind(proc, rest, kwargs)
            prepared.append((proc, args, optargs))
        self._check_not_closed()
        with self._lock:
            if self._state != _STATE_READY or self._conn is None:
                raise GuestFSError("pipeline: call launch before using this function")
            if self._settings.trace:
                for proc, args, optargs in prepared:
                    self._trace_call(proc.name, args, optargs)
            raw = self._conn.call_pipelined(prepared, window)
        results = [
            r if isinstance(r, GuestFSError) else self._shape(proc, r)
            for (proc, _, _), r in zip(prepared, raw, strict=True)
        ]
        if not return_exceptions:
            first = next((r for r in results if isinstance(r, GuestFSError)), None)
            if first is not None:
                first.results = results  # type: ignore[attr-defined]
                raise first
        return results

    def _shape(self, proc: Procedure, value: Any) -> Any:
        """Turn a decoded value into what python3-guestfs returns."""
        if proc.ret is RetType.HASHTABLE:
            return self._hashtable(value)
        return value

    def _hashtable(self, pairs: list[tuple[str, str]]) -> _H:
        """A hashtable result as python3-guestfs returns it: a dict with
        ``python_return_dict=True``, else the list of pairs."""
        return dict(pairs) if self._python_return_dict else pairs  # type: ignore[return-value]


# -- methods derived from the table ------------------------------------------------------------


def _bind(
    proc: Procedure, posargs: Sequence[Any], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A call's arguments as Python binds them to the method's signature: (every value by
    name, the wire arguments, the optional arguments given)."""
    required = [a.name for a in proc.args]
    optional = [o.name for o in proc.optargs]
    if len(posargs) > len(required) + len(optional):
        raise TypeError(
            f"{proc.name}() takes {len(required)} positional arguments "
            f"but {len(posargs)} were given"
        )
    values = dict(zip(required + optional, posargs, strict=False))
    for k, v in kwargs.items():
        if k not in required and k not in optional:
            raise TypeError(f"{proc.name}() got an unexpected keyword argument {k!r}")
        if k in values:
            raise TypeError(f"{proc.name}() got multiple values for argument {k!r}")
        values[k] = v
    missing = [n for n in required if n not in values]
    if missing:
        raise TypeError(f"{proc.name}() missing required argument(s): {', '.join(missing)}")
    args = {a.name: values[a.name] for a in proc.wire_args}
    optargs = {n: values[n] for n in optional if values.get(n) is not None}
    return values, args, optargs


def _fire_enter(cls: type) -> None:
    """Make each library action ``cls`` serves fire EVENT_ENTER as it starts, as every
    API call of 1.48 does (daemon calls fire it in ``_call``)."""
    for action in LIBRARY_ACTIONS:
        if action.internal:
            continue
        method = getattr(cls, action.name)
        if method is getattr(Calls, action.name):
            continue

        def wrapper(self: Any, *a: Any, _m: Any = method, _n: str = action.name, **kw: Any) -> Any:
            self._enter(_n)
            return _m(self, *a, **kw)

        setattr(cls, action.name, functools.wraps(method)(wrapper))
        for alias in action.aliases:
            setattr(cls, alias, getattr(cls, action.name))


_fire_enter(GuestFS)
