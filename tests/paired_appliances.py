"""Our agent beside Debian's real guestfsd 1.48, call for call, on two appliances.

The harness of the differential boot modules (``test_storage.py``,
``test_later_families.py``): a module lists its calls as :class:`Case` s, in order (each
may leave the disks as the next expects), and :func:`run_both` boots two appliances
under TCG on their own copies of the same disks -- one running our agent, one the real
guestfsd (``guestfs-build-appliance --daemon guestfsd``) -- runs every case through both
and keeps each :class:`Outcome`. :class:`Results` compares them: values, errno names and
whole error messages, after the module's own scrubbing of what changes from run to run
(UUIDs, times, temporary names).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import launch_vm

from pyguestfs.builder.guestfsd import DAEMON_TARBALL
from pyguestfs.host import GuestFS, GuestFSError

#: Text → the same text without what changes from run to run.
Scrub = Callable[[str], str]

#: A UUID, which every module's scrubbing replaces (mkfs, mkswap, cryptsetup make new ones).
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Case:
    """One call: ``g.<api>(*args, **kwargs)``, named ``id`` in reports."""

    id: str
    api: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def case(case_id: str, api: str, *args: Any, **kwargs: Any) -> Case:
    return Case(case_id, api, args, kwargs)


class LocalOut:
    """A FileOut argument: a fresh local file, whose size and first bytes are recorded."""


class LocalIn:
    """A FileIn argument: the file the previous LocalOut case downloaded."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "error" or "exception"
    value: Any = None
    errno: str = ""
    message: str = ""

    def show(self) -> str:
        if self.kind == "ok":
            return f"ok {self.value!r}"[:600]
        return f"{self.kind} {self.errno or '-'} {self.message!r}"


class Runner:
    """One daemon's handle, and what its FileOut cases downloaded.

    An argument may be a :class:`LocalOut`, a :class:`LocalIn`, or a callable given the
    handle (for what only the running appliance knows, an inode number say). ``internal``
    names the procedures the library has no public method for, with their argument
    names; ``head`` is how many first bytes of a download the outcome keeps."""

    def __init__(
        self,
        g: GuestFS,
        local: Path,
        scrub: Scrub,
        *,
        internal: dict[str, tuple[str, ...]] | None = None,
        head: int = 24,
    ) -> None:
        self.g = g
        self.local = local
        self.scrub = scrub
        self.internal = internal or {}
        self.head = head
        #: What each FileOut case downloaded, by case id.
        self.files: dict[str, Path] = {}
        #: How long each call took (for the report: what makes the module slow).
        self.seconds: dict[str, float] = {}
        self._last_out: Path | None = None

    def run(self, case: Case) -> Outcome:
        started = time.monotonic()
        outcome = self._run(case)
        self.seconds[case.id] = time.monotonic() - started
        return outcome

    def _run(self, case: Case) -> Outcome:
        args: list[Any] = []
        out: Path | None = None
        try:
            for i, a in enumerate(case.args):
                if isinstance(a, LocalOut):
                    out = self.local / f"{case.id}-{i}"
                    out.unlink(missing_ok=True)
                    args.append(str(out))
                elif isinstance(a, LocalIn):
                    assert self._last_out is not None, "a LocalIn case needs a LocalOut before"
                    args.append(str(self._last_out))
                elif callable(a):
                    args.append(a(self.g))
                else:
                    args.append(a)
            if case.api in self.internal:
                named = dict(zip(self.internal[case.api], args, strict=True))
                value = self.g._call(case.api, named, case.kwargs)
            else:
                value = getattr(self.g, case.api)(*args, **case.kwargs)
        except GuestFSError as e:
            return Outcome("error", errno=e.errno_name or "", message=self.scrub(str(e)))
        except Exception as e:
            return Outcome("exception", message=f"{type(e).__name__}: {e}")
        if out is not None:
            self.files[case.id] = self._last_out = out
            data = out.read_bytes() if out.exists() else b""
            value = {"size": len(data), "head": data[: self.head]}
        return Outcome("ok", value=value)


def normalise(value: Any, scrub: Scrub) -> str:
    """A value as compared: a hashtable's pairs in order (their order is the tool's, not
    part of the API), then scrubbed."""
    if isinstance(value, dict):
        value = sorted(value.items())
    return scrub(repr(value))


@dataclass
class Results:
    ours: dict[str, Outcome]
    real: dict[str, Outcome] | None
    #: Values → comparable text (:func:`normalise` with the module's scrubbing).
    normalise: Callable[[Any], str]
    why_no_real: str = ""

    def differs(self, case_id: str) -> bool:
        assert self.real is not None
        a, b = self.ours[case_id], self.real[case_id]
        return (a.kind, self.normalise(a.value), a.errno, a.message) != (
            b.kind,
            self.normalise(b.value),
            b.errno,
            b.message,
        )

    def ok(self, case_id: str) -> Any:
        """Our value for the case, which must have succeeded."""
        outcome = self.ours[case_id]
        assert outcome.kind == "ok", f"{case_id}: {outcome.show()}"
        return outcome.value

    def error(self, case_id: str) -> str:
        """Our (scrubbed) message for the case, which must have failed."""
        outcome = self.ours[case_id]
        assert outcome.kind == "error", f"{case_id}: {outcome.show()}"
        return outcome.message

    def assert_same(self, cases: Iterable[Case], known: dict[str, str]) -> None:
        """Every case replied alike in both, except those ``known`` to differ (with the
        reason), which must still differ: a fixed difference is taken off the list."""
        cases = list(cases)
        assert self.real is not None
        diffs = [c for c in cases if self.differs(c.id) and c.id not in known]
        stale = [c.id for c in cases if c.id in known and not self.differs(c.id)]
        report = "\n".join(
            f"{c.id} ({c.api}):\n  ours: {self.ours[c.id].show()}\n  real: {self.real[c.id].show()}"
            for c in diffs
        )
        assert not diffs, f"{len(diffs)} of {len(cases)} cases differ:\n{report}"
        assert not stale, f"listed as known differences but now the same: {stale}"


def boot(
    cachedir: str, drives: tuple[str, ...], daemon: str, memsize: int | None = None
) -> GuestFS:
    """An appliance running ``daemon`` ("pyguestfs" or "guestfsd") on ``drives``, with
    ``memsize`` MiB of memory (None: the default)."""
    # launch() reads the daemon choice from the environment (core/settings.py), and the
    # handle its memory size when it is made.
    settings = {"PYGUESTFS_APPLIANCE_DAEMON": daemon}
    if memsize is not None:
        settings["LIBGUESTFS_MEMSIZE"] = str(memsize)
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        return launch_vm(cachedir, drives=drives)
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


@dataclass
class PairedRun:
    """Both daemons' outcomes, and our appliance, still running, for later checks."""

    results: Results
    ours: GuestFS
    runner: Runner


def _boot_and_run(
    cachedir: str, where: Path, daemon: str, cases: list[Case], **options: Any
) -> tuple[GuestFS, Runner, dict[str, Outcome]]:
    """One appliance booted on ``options["disks"](where)`` and every case run through it;
    the handle is closed if a case's run fails outside the calls."""
    started = time.monotonic()
    g = boot(cachedir, options["disks"](where), daemon, options["memsize"])
    print(f"{daemon}'s appliance booted in {time.monotonic() - started:.1f} s")
    try:
        out = where.with_name(where.name + "-out")
        out.mkdir()
        runner = Runner(g, out, options["scrub"], **options["runner_options"])
        return g, runner, {c.id: runner.run(c) for c in cases}
    except BaseException:
        g.close()
        raise


def run_both(
    cachedir: str,
    tmp: Path,
    disks: Callable[[Path], tuple[str, ...]],
    cases: list[Case],
    scrub: Scrub,
    *,
    memsize: int | None = None,
    normalise_value: Callable[[Any], str] | None = None,
    **runner_options: Any,
) -> PairedRun:
    """Boot our appliance on ``disks(tmp / "ours")`` and run ``cases``; then guestfsd's on
    ``disks(tmp / "real")`` (unless Debian's libguestfs is missing: ``real`` is None and
    ``why_no_real`` says so) and run them again. The caller closes ``ours``. Prints each
    case's two replies and our time, which pytest shows beside a failing test."""
    options = {"disks": disks, "memsize": memsize, "scrub": scrub}
    options["runner_options"] = runner_options
    ours, runner, mine = _boot_and_run(cachedir, tmp / "ours", "pyguestfs", cases, **options)
    real: dict[str, Outcome] | None = None
    why = ""
    try:
        if not DAEMON_TARBALL.is_file():
            why = f"{DAEMON_TARBALL} is missing (apt-get install libguestfs-tools)"
        else:
            g, _, real = _boot_and_run(cachedir, tmp / "real", "guestfsd", cases, **options)
            g.close()
    except BaseException:
        ours.close()
        raise
    lines = []
    for c in cases:
        lines.append(f"{c.id} ({c.api}) {runner.seconds[c.id]:.2f} s\n  ours: {mine[c.id].show()}")
        if real is not None:
            lines.append(f"  real: {real[c.id].show()}")
    print("\n".join(lines))
    compare = normalise_value or (lambda v: normalise(v, scrub))
    return PairedRun(Results(mine, real, compare, why), ours, runner)
