"""Shared fixtures: a real agent process serving a scratch sysroot on a Unix socket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyguestfs.builder.errors import BuildError
from pyguestfs.builder.kernel import KernelInfo, find_kernel
from pyguestfs.host import GuestFS


class RunningAgent:
    """``python -m pyguestfs.agent --listen`` started for one test."""

    def __init__(self, tmp: Path, verbose: bool = True) -> None:
        self.sysroot = tmp / "sysroot"
        self.sysroot.mkdir()
        # Unix socket paths are limited to ~108 bytes: keep it short.
        self.socket = f"/tmp/pyguestfs-test-{os.getpid()}-{time.monotonic_ns()}.sock"
        self.log = tmp / "agent.log"
        argv = [
            sys.executable,
            "-m",
            "pyguestfs.agent",
            "--listen",
            self.socket,
            "--sysroot",
            str(self.sysroot),
        ]
        if verbose:
            argv.append("--verbose")
        self._log_file = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=self._log_file)

    def stop(self) -> int:
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log_file.close()
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
