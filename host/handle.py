"""``GuestFS``: the handle users import, a stand-in for python3-guestfs's.

Every API of the procedure table becomes a method with libguestfs's name, argument names
and optional keyword arguments (``g.is_file(path, followsymlinks=True)``). The conveniences
that run in the C library rather than the daemon (``ls``, ``cat``, ``write``, ``find``,
``stat`` ...) are written here on top of their daemon calls, as libguestfs writes them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, overload

from ..core.settings import DEFAULTS, SETTINGS, Settings, read_environment
from ..protocol import constants as C
from ..protocol.procedures import BY_NAME, Procedure
from ..protocol.types import RetType
from ..vm import snapshot
from ..vm.machine import Machine
from ..vm.qemu import Drive, MachineConfig
from .calls import _H, Calls, Stat, Statns, StrPath, Version, Xattr
from .connection import Connection
from .errors import ClosedHandle, GuestFSError
from .events import (
    EVENT_APPLIANCE,
    EVENT_CLOSE,
    EVENT_LAUNCH_DONE,
    EVENT_LIBRARY,
    EVENT_PROGRESS,
    EVENT_SUBPROCESS_QUIT,
    EVENT_TRACE,
    EventCallback,
    EventRegistry,
)

#: The libguestfs release whose API and protocol this package reproduces.
LIBGUESTFS_VERSION = Version(major=1, minor=48, release=6, extra="pyguestfs")

_STATE_CONFIG, _STATE_LAUNCHING, _STATE_READY = "CONFIG", "LAUNCHING", "READY"


class GuestFS(Calls[_H]):
    """A libguestfs handle.

    Every API of libguestfs 1.48 is a typed method (:class:`~pyguestfs.host.calls.Calls`,
    generated from the procedure table); one this library or the appliance's daemon
    does not serve raises :class:`GuestFSError` with errno ``ENOTSUP``.

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
        self._scratch: list[str] = []
        self._machine: Machine | None = None
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

    # -- drives and launch ---------------------------------------------------------------------
    def add_drive(
        self,
        filename: str,
        readonly: bool | None = None,
        format: str | None = None,
        iface: str | None = None,
        name: str | None = None,
        label: str | None = None,
        protocol: str | None = None,
        server: Sequence[str] | None = None,
        username: str | None = None,
        secret: str | None = None,
        cachemode: str | None = None,
        discard: str | None = None,
        copyonread: bool | None = None,
        blocksize: int | None = None,
    ) -> None:
        """Add a disk image; the guest sees drives as /dev/sda, /dev/sdb ... in order.

        ``readonly=True`` lets the guest write only to a throwaway overlay, as libguestfs.
        Network protocols (``protocol``, ``server``...) are not supported."""
        self._check_not_closed()
        if self._state != _STATE_CONFIG:
            raise GuestFSError("add_drive: drives can only be added before launch")
        if protocol not in (None, "file") or server or username or secret:
            raise GuestFSError(f"add_drive: protocol {protocol!r} is not supported by pyguestfs")
        if format is not None and not format.replace("-", "").isalnum():
            raise GuestFSError(f"add_drive: bad format {format!r}")
        if filename != "/dev/null" and not os.path.exists(filename):
            raise GuestFSError(f"add_drive: {filename}: No such file or directory", "ENOENT")
        if filename != "/dev/null" and not os.access(
            filename, os.R_OK if readonly else os.R_OK | os.W_OK
        ):
            raise GuestFSError(f"add_drive: {filename}: Permission denied", "EACCES")
        if len(self._drives) >= 255:
            raise GuestFSError("add_drive: too many drives (255 at most)")
        if cachemode not in (None, "writeback", "unsafe"):
            raise GuestFSError(f"add_drive: bad cachemode {cachemode!r}")
        del name  # libguestfs's "name" only hints the guest device name; ours are fixed
        if filename == "/dev/null":
            # libguestfs accepts /dev/null as a placeholder: give qemu an empty raw disk.
            filename = self._scratch_disk(0)
            format = "raw"
        self._drives.append(
            Drive(
                filename=os.path.abspath(filename),
                format=format,
                readonly=bool(readonly),
                iface=iface,
                label=label,
                cachemode=cachemode,
                discard=discard,
                copyonread=bool(copyonread),
                blocksize=blocksize,
            )
        )

    add_drive_opts = add_drive

    def add_drive_ro(self, filename: str) -> None:
        """Add a disk read-only (writes go to a throwaway overlay)."""
        self.add_drive(filename, readonly=True)

    def add_drive_scratch(
        self,
        size: int,
        name: str | None = None,
        label: str | None = None,
        blocksize: int | None = None,
    ) -> None:
        """Add a temporary sparse disk of ``size`` bytes, deleted when the handle closes."""
        if size < 0:
            raise GuestFSError("add_drive_scratch: size must be >= 0")
        path = self._scratch_disk(size)
        self.add_drive(
            path, format="raw", name=name, label=label, blocksize=blocksize, cachemode="unsafe"
        )

    def _scratch_disk(self, size: int) -> str:
        fd, path = tempfile.mkstemp(
            prefix="pyguestfs-scratch-", suffix=".img", dir=self._settings.temp_base()
        )
        os.ftruncate(fd, size)
        os.close(fd)
        self._scratch.append(path)
        return path

    def launch(self) -> None:
        """Start the appliance (building it if needed) and wait for the agent."""
        self._check_not_closed()
        with self._lock:
            if self._state != _STATE_CONFIG:
                raise GuestFSError("launch: the libguestfs handle has already been launched")
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
        machine = Machine(config, on_console=self._console)
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

    def get_pid(self) -> int:
        """The qemu process id (launched handles only)."""
        if self._machine is None or self._machine.pid is None:
            raise GuestFSError("get_pid: no qemu subprocess (call launch first)")
        return self._machine.pid

    # -- settings (core/settings.py declares each; the docstrings come from there) -----------
    def _set(self, name: str, value: object) -> None:
        try:
            self._settings = self._settings.replace(**{name: value})
        except (TypeError, ValueError) as e:
            raise GuestFSError(f"set_{name}: {e}") from None

    def set_verbose(self, verbose: bool) -> None:
        self._set("verbose", verbose)

    def get_verbose(self) -> bool:
        return self._settings.verbose

    def set_trace(self, trace: bool) -> None:
        self._set("trace", trace)

    def get_trace(self) -> bool:
        return self._settings.trace

    def set_autosync(self, autosync: bool) -> None:
        self._set("autosync", autosync)

    def get_autosync(self) -> bool:
        return self._settings.autosync

    def set_backend_settings(self, settings: Sequence[str]) -> None:
        self._set("backend_settings", settings)

    def get_backend_settings(self) -> list[str]:
        return list(self._settings.backend_settings)

    def set_memsize(self, memsize: int) -> None:
        self._set("memsize", memsize)

    def get_memsize(self) -> int:
        return self._settings.memsize

    def set_smp(self, smp: int) -> None:
        self._set("smp", smp)

    def get_smp(self) -> int:
        return self._settings.smp

    def set_append(self, append: str | None) -> None:
        self._set("append", append)

    def get_append(self) -> str | None:
        return self._settings.append

    def set_network(self, network: bool) -> None:
        self._set("network", network)

    def get_network(self) -> bool:
        return self._settings.network

    def set_hv(self, hv: str) -> None:
        self._set("hv", hv)

    def get_hv(self) -> str:
        return self._settings.hv

    def set_path(self, searchpath: str | None) -> None:
        self._set("path", searchpath)

    def get_path(self) -> str:
        """The fixed-appliance search path set by set_path or LIBGUESTFS_PATH; an empty
        string when none is set (pyguestfs then builds and caches its own appliance)."""
        return self._settings.path or ""

    def set_cachedir(self, cachedir: str | None) -> None:
        self._set("cachedir", cachedir)

    def get_cachedir(self) -> str:
        return self._settings.cache_base()

    def set_launch_timeout(self, seconds: float) -> None:
        self._set("launch_timeout", seconds)

    def get_launch_timeout(self) -> float:
        return self._settings.launch_timeout

    def set_warm_launch(self, enabled: bool) -> None:
        self._set("warm_launch", enabled)

    def get_warm_launch(self) -> bool:
        return self._settings.warm_launch

    def get_state(self) -> int:
        return {_STATE_CONFIG: 0, _STATE_LAUNCHING: 1, _STATE_READY: 2}[self._state]

    def is_ready(self) -> bool:
        return self._state == _STATE_READY

    def is_config(self) -> bool:
        return self._state == _STATE_CONFIG

    def version(self) -> Version:
        """The libguestfs version this library is compatible with."""
        return Version(**LIBGUESTFS_VERSION)

    # -- events ------------------------------------------------------------------------------
    def set_event_callback(self, cb: EventCallback, event_bitmask: int) -> int:
        """Register ``cb(event, event_handle, buf, array)`` for the events in the bitmask;
        returns a handle for :meth:`delete_event_callback`."""
        self._check_not_closed()
        return self._events.add(cb, event_bitmask)

    def delete_event_callback(self, event_handle: int) -> None:
        self._check_not_closed()
        self._events.remove(event_handle)

    def _on_progress(self, proc: int, serial: int, position: int, total: int) -> None:
        self._events.fire(EVENT_PROGRESS, b"", (proc, serial, position, total))

    def _log(self, message: str) -> None:
        if self._events.wants(EVENT_LIBRARY):
            self._events.fire(EVENT_LIBRARY, message.encode())
        elif self._settings.verbose:
            print(f"libguestfs: {message}", file=sys.stderr)

    def _trace_call(self, name: str, args: dict[str, Any], optargs: dict[str, Any]) -> None:
        shown: list[str] = [repr(v) for v in args.values()]
        shown += [f"{k}:{v!r}" for k, v in optargs.items()]
        self._trace_line(" ".join([name, *shown]))

    def _trace_line(self, line: str) -> None:
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

    # -- conveniences that run in the C library ------------------------------------------------
    def _download_bytes(self, proc_name: str, path: str) -> bytes:
        with _scratch_file() as tmp:
            self._call(proc_name, {_first_arg(proc_name): path}, {}, file_out=tmp)
            with open(tmp, "rb") as f:
                return f.read()

    def _names(self, proc_name: str, directory: str) -> list[str]:
        data = self._download_bytes(proc_name, directory)
        return sorted(os.fsdecode(n) for n in data.split(b"\0") if n)

    def ls(self, directory: str) -> list[str]:
        """The names in a directory, sorted, without ``.`` and ``..`` (via ls0)."""
        return self._names("ls0", directory)

    def find(self, directory: str) -> list[str]:
        """Every name below a directory, sorted (via find0): relative to it when it ends
        in "/" (or is "/"), else each with a leading "/", as libguestfs 1.48 gives them."""
        return self._names("find0", directory)

    def journal_get(self) -> list[Xattr]:
        """The fields of the current journal entry, as ``attrname`` / ``attrval`` pairs
        (via internal_journal_get: each field an 8-byte big-endian length, then
        ``NAME=value``), with 1.48's errors for a reply that does not parse."""
        with _scratch_file() as tmp:
            self._call("internal_journal_get", {}, {}, file_out=tmp)
            with open(tmp, "rb") as f:
                data = f.read()
        fields: list[Xattr] = []
        i, size = 0, len(data)
        bad = "invalid data from guestfs_internal_journal_get: "
        while i < size:
            if i + 8 > size:
                raise GuestFSError(f"journal_get: {bad}truncated: size={size}, i={i}")
            length = int.from_bytes(data[i : i + 8], "big")
            i += 8
            if i + length > size:
                raise GuestFSError(
                    f"journal_get: {bad}length field is too large: size={size}, i={i}, len={length}"
                )
            field = data[i : i + length]
            name, eq, value = field.partition(b"=")
            if not eq:
                raise GuestFSError(
                    f"journal_get: {bad}no '=' found separating field name and data: "
                    f"size={size}, i={i}"
                )
            fields.append({"attrname": name.decode("utf-8", "surrogateescape"), "attrval": value})
            i += length
        return fields

    def read_file(self, path: str) -> bytes:
        """A whole file as bytes (via download)."""
        return self._download_bytes("download", path)

    def cat(self, path: str) -> str:
        """A whole file as text (via download)."""
        return self.read_file(path).decode("utf-8", "surrogateescape")

    def read_lines(self, path: str) -> list[str]:
        """A file as lines, without their LF or CRLF endings."""
        text = self.cat(path)
        if not text:
            return []
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    def write(self, path: str, content: bytes | str) -> None:
        """Create or replace a file: internal_write up to 2 MiB, upload above."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        if len(data) <= C.WRITE_INLINE_MAX:
            self._call("internal_write", {"path": path, "content": data}, {})
            return
        with _scratch_file(data) as tmp:
            self._call("upload", {"remotefilename": path}, {}, file_in=tmp)

    def write_append(self, path: str, content: bytes | str) -> None:
        """Append to a file: internal_write_append up to 2 MiB, filesize + upload_offset
        above."""
        data = content.encode() if isinstance(content, str) else bytes(content)
        if len(data) <= C.WRITE_INLINE_MAX:
            self._call("internal_write_append", {"path": path, "content": data}, {})
            return
        size = self._call("filesize", {"file": path}, {})
        with _scratch_file(data) as tmp:
            self._call("upload_offset", {"remotefilename": path, "offset": size}, {}, file_in=tmp)

    def stat(self, path: str) -> Stat:
        """Deprecated libguestfs ``stat``: statns without nanoseconds."""
        return _old_stat(self.statns(path))

    def lstat(self, path: str) -> Stat:
        """Deprecated libguestfs ``lstat``: lstatns without nanoseconds."""
        return _old_stat(self.lstatns(path))

    def feature_available(self, groups: Sequence[str]) -> bool:
        """True if every optional feature group named is available in the appliance;
        an unknown group raises, as in libguestfs (lib/available.c)."""
        for g in groups:
            r = self._feature(g)
            if r == 2:
                raise GuestFSError(f"{g}: unknown group")
            if r == 1:
                return False
        return True

    def available(self, groups: Sequence[str]) -> None:
        """Raise if any named group is unavailable or unknown, as libguestfs does. The
        messages are the library's own, without the API name in front."""
        for g in groups:
            r = self._feature(g)
            if r == 2:
                raise GuestFSError(f"{g}: unknown group")
            if r == 1:
                raise GuestFSError(f"{g}: group not available")

    def _feature(self, group: str) -> int:
        if group not in self._features:
            self._features[group] = self._call("internal_feature_available", {"group": group}, {})
        return self._features[group]


def _first_arg(proc_name: str) -> str:
    return BY_NAME[proc_name].wire_args[0].name


def _old_stat(ns: Statns) -> Stat:
    return Stat(
        dev=ns["st_dev"],
        ino=ns["st_ino"],
        mode=ns["st_mode"],
        nlink=ns["st_nlink"],
        uid=ns["st_uid"],
        gid=ns["st_gid"],
        rdev=ns["st_rdev"],
        size=ns["st_size"],
        blksize=ns["st_blksize"],
        blocks=ns["st_blocks"],
        atime=ns["st_atime_sec"],
        mtime=ns["st_mtime_sec"],
        ctime=ns["st_ctime_sec"],
    )


@contextmanager
def _scratch_file(data: bytes | None = None) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="pyguestfs-")
    try:
        if data is not None:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            os.close(fd)
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


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


def _document_settings() -> None:
    """Give each settings method the doc of its row in the settings table."""
    for setting in SETTINGS:
        if not setting.handle:
            continue
        for verb in ("set", "get"):
            method = getattr(GuestFS, f"{verb}_{setting.name}")
            if not method.__doc__:
                method.__doc__ = f"{verb.capitalize()} the {setting.name} setting: {setting.doc}"


_document_settings()
