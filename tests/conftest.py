"""Shared fixtures: a real agent process serving a scratch sysroot on a Unix socket, and
the appliance built once per test session for the boot tests (``launch_vm``); and the
test tiers (``unit``, ``artifact``, ``boot``), given to every test at collection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentproc import AgentProcess
from shortpaths import short_tempdir

from pyguestfs.builder.appliance import BuildOptions, build
from pyguestfs.builder.errors import BuildError
from pyguestfs.builder.kernel import KernelInfo, find_kernel
from pyguestfs.host import GuestFS

#: Figures measured by tests (fuzzing counts, fault timings, load checksums, cache hits),
#: shown again at the end of the run so that a plain CI log carries them.
FIGURES: list[str] = []


def report_figure(line: str) -> None:
    """Record a measured figure: printed at once (seen with ``pytest -s``) and listed in
    the "figures" section of the terminal summary."""
    FIGURES.append(line)
    print("\n" + line, file=sys.stderr)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


# -- test tiers ---------------------------------------------------------------------------
#
# Every test gets exactly one tier marker (registered in pyproject.toml):
#   unit      no qemu, no appliance build: the whole tier runs in seconds
#   artifact  builds real files (the appliance, a frozen bundle, images, Debian's guestfsd
#             unpacked and confined) or runs heavy work (loads, mypy, real guestfish)
#             without booting
#   boot      starts qemu (skipped where qemu-system-x86_64 is not installed)
# An explicit marker on the test, its class or module wins; otherwise the tier follows
# the fixtures the test uses (directly or through other fixtures), else it is unit.

TIERS = ("unit", "artifact", "boot")

#: Fixtures that start qemu: the session's VM (test_boot), the per-module VMs that tests
#: of one API family share (named ``vm``, or ``guest`` when built on ``vm``), the warm-launch
#: snapshot (made by booting) and a bare paused qemu.
BOOT_FIXTURES = frozenset({"booted", "vm", "guest", "snap", "paused_qemu"})

#: Fixtures that build real files: the session's appliance cache (every appliance build
#: and launch goes through it), fixed appliances, the frozen mini init, the Debian guest
#: image, the Docker engine and registry that images are pushed to and pulled from.
ARTIFACT_FIXTURES = frozenset(
    {"appliance", "cachedir", "fixed", "fixed_guestfsd", "bundle", "debian", "dockerd", "registry"}
)

#: Fixtures that unpack and start Debian's real guestfsd beside our agent (the differential
#: tests): no qemu, but seconds per start and real files, so not the quick loop.
REAL_DAEMON_FIXTURES = frozenset({"real_daemon_ready", "both"})

QEMU = shutil.which("qemu-system-x86_64")


def tier_of(item: pytest.Item) -> str:
    """The tier a test belongs to (see above)."""
    # Markers of the test, its class and its module: -m selects on all of them, so a
    # test cannot override its module's tier; it must carry one.
    explicit = [t for t in TIERS if item.get_closest_marker(t) is not None]
    if len(explicit) > 1:
        raise pytest.UsageError(f"{item.nodeid} is marked {' and '.join(explicit)}: pick one")
    if explicit:
        return explicit[0]
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & BOOT_FIXTURES:
        return "boot"
    if fixtures & (ARTIFACT_FIXTURES | REAL_DAEMON_FIXTURES):
        return "artifact"
    return "unit"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        heavy = set(getattr(item, "fixturenames", ())) & (
            BOOT_FIXTURES | ARTIFACT_FIXTURES | REAL_DAEMON_FIXTURES
        )
        if tier == "unit" and heavy:
            raise pytest.UsageError(
                f"{item.nodeid} is marked unit but uses {', '.join(sorted(heavy))}, "
                "which build the appliance, boot it or start the real guestfsd"
            )
        if item.get_closest_marker(tier) is None:
            item.add_marker(tier)
        if tier == "boot" and QEMU is None:
            item.add_marker(
                pytest.mark.skip(
                    reason="qemu-system-x86_64 is not installed (ci/setup.sh installs it)"
                )
            )


# -- short paths for Unix sockets -----------------------------------------------------------


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A private directory for the test's Unix sockets (see ``shortpaths``)."""
    path = short_tempdir()
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


class RunningAgent:
    """``python -m pyguestfs.agent --listen`` started for one test (forked from a clean
    interpreter that has imported the agent: see ``agentproc``)."""

    def __init__(self, tmp: Path, verbose: bool = True) -> None:
        self.sysroot = tmp / "sysroot"
        self.sysroot.mkdir()
        # Unix socket paths are limited to ~108 bytes: keep it short.
        self.socket = f"/tmp/pyguestfs-test-{os.getpid()}-{time.monotonic_ns()}.sock"
        self.log = tmp / "agent.log"
        argv = ["--listen", self.socket, "--sysroot", str(self.sysroot)]
        if verbose:
            argv.append("--verbose")
        self.log.touch()
        self.proc = AgentProcess(argv, str(self.log))

    def stop(self) -> int:
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        return rc


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RunningAgent]:
    a = RunningAgent(tmp_path)
    yield a
    if a.proc.poll() is None:
        a.proc.kill()
    a.stop()


@pytest.fixture
def g(agent: RunningAgent) -> Iterator[GuestFS]:
    """A handle attached to a fresh agent; the test's sysroot is ``agent.sysroot``."""
    handle = GuestFS(python_return_dict=True)
    handle.attach(agent.socket)
    yield handle
    try:
        handle.close()
    except Exception:
        pass


@pytest.fixture(scope="module")
def host_kernel() -> KernelInfo:
    """This machine's newest kernel, as the builder finds it."""
    try:
        return find_kernel(env={})
    except BuildError as e:
        pytest.skip(f"no usable host kernel on this machine: {e}")


#: A test that starts qemu: the ``boot`` tier, skipped (saying so) where qemu is missing.
needs_qemu = pytest.mark.boot


@pytest.fixture(scope="session")
def cachedir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The appliance cache of this test session.

    PYGUESTFS_TEST_CACHEDIR reuses a developer's cache (a build takes minutes under load);
    otherwise a fresh one is made for the run, as CI does.
    """
    base = os.environ.get("PYGUESTFS_TEST_CACHEDIR") or str(tmp_path_factory.mktemp("cache"))
    os.makedirs(base, exist_ok=True)
    return base


@pytest.fixture(scope="session")
def appliance(cachedir: str) -> Path:
    """The appliance built from this checkout, once per session."""
    return build(BuildOptions(cachedir=cachedir)).directory


def launch_vm(
    cachedir: str,
    *,
    scratch: tuple[int, ...] = (),
    drives: tuple[str, ...] = (),
    readonly: tuple[str, ...] = (),
    verbose: bool = False,
    console: list[str] | None = None,
) -> GuestFS:
    """Boot the session's appliance under TCG with the given disks, in this order:
    scratch disks of the given sizes, raw image files, then read-only raw image files.

    A module that changes its disks boots its own VM with this (scope="module"), so tests
    of one API family never see another family's partitions or volume groups.
    """
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    if verbose or console is not None:
        g.set_verbose(True)
    if console is not None:
        from pyguestfs.host import EVENT_APPLIANCE

        g.set_event_callback(lambda ev, eh, buf, arr: console.append(buf.decode()), EVENT_APPLIANCE)
    for size in scratch:
        g.add_drive_scratch(size)
    for path in drives:
        g.add_drive_opts(path, format="raw")
    for path in readonly:
        g.add_drive_opts(path, format="raw", readonly=True)
    g.launch()
    return g


@pytest.fixture(scope="session", autouse=True)
def record_called_procedures() -> Iterator[None]:
    """With PYGUESTFS_RECORD_CALLS=FILE, write the names of every procedure the tests of
    this session sent (through our host library, to any daemon) to FILE as JSON.

    ``ci/api_table.py`` reads it to mark procedures as tested in the README's API table.
    """
    path = os.environ.get("PYGUESTFS_RECORD_CALLS")
    if not path:
        yield
        return
    from pyguestfs.host.connection import Connection

    called: set[str] = set()
    original = Connection.call

    def recording_call(self: Connection, proc: Any, *args: Any, **kwargs: Any) -> Any:
        called.add(proc.name)
        return original(self, proc, *args, **kwargs)

    Connection.call = recording_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        Connection.call = original  # type: ignore[method-assign]
        old: set[str] = set()
        if os.path.exists(path):
            with open(path) as f:
                old = set(json.load(f))
        with open(path, "w") as f:
            json.dump(sorted(called | old), f, indent=0)
