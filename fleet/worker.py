"""What runs in a worker process: one image at a time, each in its own appliance.

A worker prepares once (:func:`prepare`): it gets the appliance -- imported from the CI
image cache (``cache_from`` / ``cache_from_archive``, as ``guestfs-build-appliance
--cache-from``) or built -- and makes the warm-launch snapshot in the foreground. From
then on every image is a *restore* of that snapshot: a fresh qemu mapping the saved RAM
copy-on-write, with the image hot-plugged. Nothing of one image's session can reach the
next one: each gets a new VM from the same pristine saved state, and the VM is gone when
the image is done.

:func:`run_task` never raises for a bad image: it returns the output line, ``ok: false``
with the reason. An image that overruns its time has its qemu killed (SIGKILL), which
ends whatever call was waiting on it.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from ..builder.appliance import BuildOptions, build
from ..host import GuestFS, GuestFSError
from . import images
from .jobs import RESERVED, JobError


@dataclass(frozen=True)
class WorkerOptions:
    """How workers get and run the appliance (the same for every image of a run)."""

    #: Base of the appliance cache (None: the handle's default, LIBGUESTFS_CACHEDIR ...).
    cachedir: str | None = None
    #: Import the appliance from this image (REPO[:TAG]) instead of building it.
    cache_from: str | None = None
    #: ... or from this OCI archive.
    cache_from_archive: str | None = None
    #: Appliance memory in MiB (None: the default, 1280).
    memsize: int | None = None
    #: libguestfs backend settings (force_tcg ...); None: the environment's.
    backend_settings: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Task:
    """One image to process."""

    image: str
    #: "module:function" of the job.
    job: str
    params: dict[str, Any] = field(default_factory=dict)
    #: Add the image writable (the job may change it).
    write: bool = False
    #: Seconds one attempt may take, launch included.
    timeout: float = 600.0
    #: "auto" (qemu-img info says) or a format name.
    format: str = "auto"
    options: WorkerOptions = field(default_factory=WorkerOptions)


class _Prepared:
    """The preparation of this process (one per worker process, made once)."""

    lock = threading.Lock()
    done: WorkerOptions | None = None


def new_handle(options: WorkerOptions) -> GuestFS[dict[str, str]]:
    """A handle configured as every launch of this run (the snapshot's key depends on
    these settings, so the one made by :func:`prepare` is the one each launch restores)."""
    g = GuestFS(python_return_dict=True)
    if options.cachedir:
        g.set_cachedir(options.cachedir)
    if options.memsize:
        g.set_memsize(options.memsize)
    if options.backend_settings is not None:
        g.set_backend_settings(list(options.backend_settings))
    return g


def prepare(options: WorkerOptions, log: Callable[[str], None] = lambda _m: None) -> bool:
    """Get the appliance and its snapshot ready in this process; True if this call did
    the work, False if it was already done. Safe to call from many threads."""
    with _Prepared.lock:
        if _Prepared.done == options:
            return False
        started = time.monotonic()
        result = build(
            BuildOptions(
                cachedir=options.cachedir,
                cache_from=options.cache_from,
                cache_from_archive=options.cache_from_archive,
            )
        )
        if result.imported:
            log(f"appliance {result.cache_note}")  # "imported from <archive or image>"
        else:
            log(f"appliance {'built' if result.built else 'up to date'} ({result.cache_note})")
        g = new_handle(options)
        deadline = time.monotonic() + g.get_launch_timeout()
        try:
            # False: another worker of this machine is making it right now. Wait for it
            # (the next call finds it made): until it is there, launches would boot cold.
            while not g.make_snapshot() and time.monotonic() < deadline:
                time.sleep(1.0)
        finally:
            g.close()
        log(f"worker ready in {time.monotonic() - started:.1f} s")
        _Prepared.done = options
        return True


def worker_name() -> str:
    """The Dask worker's name (its address when unnamed), else host:pid."""
    try:
        from distributed import get_worker

        w = get_worker()
        return str(w.name if w.name is not None else w.address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def load_job(ref: str) -> Callable[..., dict[str, Any]]:
    """The function a "module:function" reference names."""
    module_name, colon, attr = ref.partition(":")
    if not colon or not module_name or not attr:
        raise ValueError(f"job {ref!r}: expected MODULE:FUNCTION")
    job: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        job = getattr(job, part)
    if not callable(job):
        raise ValueError(f"job {ref!r} is not callable")
    return cast("Callable[..., dict[str, Any]]", job)


class _Watchdog:
    """Kills the image's qemu when the attempt overruns its deadline."""

    def __init__(self, timeout: float) -> None:
        self.fired = False
        self._g: GuestFS[dict[str, str]] | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def watch(self, g: GuestFS[dict[str, str]]) -> None:
        with self._lock:
            self._g = g
            if self.fired:
                self._kill()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._kill()

    def _kill(self) -> None:
        if self._g is None:
            return
        try:
            os.kill(self._g.get_pid(), signal.SIGKILL)
        except (GuestFSError, ProcessLookupError):
            pass  # not launched yet (launch_timeout bounds that), or already gone

    def cancel(self) -> None:
        self._timer.cancel()


def run_task(task: Task) -> dict[str, Any]:
    """Process one image; return its output line, plus ``retry``: whether the failure may
    come from outside the image (the worker, the appliance), so that another attempt
    may succeed."""
    started = time.monotonic()
    result: dict[str, Any] = {}
    error: str | None = None
    retry = False
    try:
        prepare(task.options)
    except Exception as e:
        error, retry = f"the worker could not get the appliance ready: {e}", True
    else:
        try:
            result = _process(task, started)
        except _Failure as e:
            error, retry = str(e), e.retry
        except Exception as e:  # a user's job may raise anything: the worker goes on
            error = f"{type(e).__name__}: {e}" if not isinstance(e, JobError) else str(e)
    line: dict[str, Any] = {"image": task.image, "ok": error is None, "error": error}
    line.update(result)
    line["seconds"] = round(time.monotonic() - started, 3)
    line["worker"] = worker_name()
    line["retry"] = retry
    return line


class _Failure(Exception):
    """An attempt failed for a reason the output line states."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def _process(task: Task, started: float) -> dict[str, Any]:
    job = load_job(task.job)
    try:
        info = images.probe(task.image, task.format, min(images.PROBE_TIMEOUT, task.timeout))
    except images.ImageError as e:
        raise _Failure(str(e)) from None
    result = _attempt(task, job, info, started)
    if not isinstance(result, dict):
        raise JobError(f"the job returned {type(result).__name__}, not a dict")
    clash = RESERVED & result.keys()
    if clash:
        raise JobError(f"the job's result uses reserved keys: {', '.join(sorted(clash))}")
    try:
        json.dumps(result)  # what cannot be written fails here, in the worker
    except (TypeError, ValueError) as e:
        raise JobError(f"the job's result cannot be written as JSON: {e}") from None
    return result


def _attempt(task: Task, job: Callable[..., Any], info: images.ImageInfo, started: float) -> Any:
    """Launch an appliance on the image and run the job in it, within the deadline."""
    remaining = task.timeout - (time.monotonic() - started)
    timed_out = f"timed out after {task.timeout:g} s"
    if remaining <= 0:
        raise _Failure(timed_out)
    dog = _Watchdog(remaining)
    g = new_handle(task.options)
    g.set_launch_timeout(remaining)
    try:
        g.add_drive_opts(task.image, format=info.format, readonly=not task.write)
        dog.start()
        dog.watch(g)
        try:
            g.launch()
        except GuestFSError as e:
            if dog.fired:
                raise _Failure(f"{timed_out} (in launch)") from None
            raise _Failure(f"launch failed: {str(e).splitlines()[0]}", retry=True) from None
        dog.watch(g)  # qemu's pid is known now
        try:
            result = job(g, task.image, **task.params)
            if task.write:
                g.shutdown()  # synced and unmounted before the image counts as done
        except Exception:
            if dog.fired:  # the call failed because the watchdog killed its qemu
                raise _Failure(timed_out) from None
            raise
        if dog.fired:
            raise _Failure(timed_out)
        return result
    finally:
        dog.cancel()
        try:
            g.close()
        except Exception as e:
            print(f"guestfs-fleet: closing the handle of {task.image}: {e}", file=sys.stderr)
