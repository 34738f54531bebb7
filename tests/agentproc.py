"""``python -m pyguestfs.agent ARGS`` as a separate process, started in milliseconds.

A new interpreter that imports the agent costs 0.3-0.6 s, and about 130 tests each start
their own agent. Here a multiprocessing fork server, a clean interpreter started once per
session that has only imported the agent, forks each agent instead: a new process (its
own pid, exit status and file descriptors, killable) that runs the agent's ``__main__``
as ``python -m`` does, with the caller's environment, working directory and umask of the
moment, stdin and stdout on /dev/null and stderr into a log file.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.util
import os
import runpy
import subprocess
import sys
import tempfile

from shortpaths import SUN_PATH_MAX, short_base

_CONTEXT: multiprocessing.context.ForkServerContext | None = None


def _context() -> multiprocessing.context.ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        # The fork server listens on a Unix socket in multiprocessing's temporary
        # directory, which it makes in TMPDIR once per process (Python 3.11 does not
        # check the length): have it made where the socket's path fits.
        saved, tempfile.tempdir = tempfile.tempdir, short_base("pymp-")
        try:
            made = multiprocessing.util.get_temp_dir()
        finally:
            tempfile.tempdir = saved
        if len(made) + len("/listener-12345678") > SUN_PATH_MAX:
            raise RuntimeError(f"multiprocessing's temporary directory is too long: {made}")
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["pyguestfs.agent.__main__"])
    return _CONTEXT


def _agent_main(argv: list[str], log: str, environ: dict[str, str], cwd: str, umask: int) -> None:
    """In the forked child: become ``python -m pyguestfs.agent *argv``."""
    os.umask(umask)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, os.devnull, os.O_WRONLY),
        (2, log, os.O_WRONLY | os.O_APPEND),
    ):
        new = os.open(path, flags)
        os.dup2(new, fd)
        os.close(new)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.argv = ["pyguestfs.agent", *argv]
    # Preloaded for its imports; run afresh as __main__ (runpy warns if it is still there).
    sys.modules.pop("pyguestfs.agent.__main__", None)
    runpy.run_module("pyguestfs.agent", run_name="__main__", alter_sys=True)


class AgentProcess:
    """The subset of :class:`subprocess.Popen` the tests use, for a forked agent."""

    def __init__(self, argv: list[str], log: str) -> None:
        umask = os.umask(0o022)
        os.umask(umask)
        self._process = _context().Process(
            target=_agent_main,
            args=(argv, log, dict(os.environ), os.getcwd(), umask),
            daemon=True,
        )
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid
        self.args = ["python", "-m", "pyguestfs.agent", *argv]

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()
