"""Running the few external programs the agent needs (cp, mv, tar, du, ls, cksum).

Always an argv list, never a shell string: guest-controlled names cannot be interpreted.
The environment is guestfsd's (``LC_ALL=C`` so messages and formats are stable).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from typing import IO

from .errors import AgentError

ENV = {
    "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
    "SHELL": "/bin/sh",
    "LC_ALL": "C",
    "TERM": "dumb",
}


def run(
    argv: Sequence[str],
    *,
    error_prefix: str = "",
    stdin: IO[bytes] | None = None,
    hide: Callable[[str], str] | None = None,
) -> str:
    """Run a program to completion; return its stdout. A failure becomes an AgentError
    carrying the program's own error text, as guestfsd's ``command()`` does. ``hide``
    rewrites both outputs (our host path of the sysroot becomes ``/sysroot``)."""
    try:
        proc = subprocess.run(
            list(argv),
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=ENV,
            check=False,
        )
    except FileNotFoundError:
        raise AgentError(
            f"{error_prefix}{argv[0]}: command not found in the appliance", "ENOENT"
        ) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode < 0:
            err = f"{argv[0]} killed by signal {-proc.returncode}" + (f": {err}" if err else "")
        message = f"{error_prefix}{err or f'{argv[0]} exited with status {proc.returncode}'}"
        raise AgentError(hide(message) if hide else message)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    return hide(out) if hide else out


def start(
    argv: Sequence[str],
    *,
    feed: bool,
    stdin: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a program the caller streams to: its stdin when ``feed`` (tar_in), else from
    its stdout (tar_out). stderr is captured in a pipe unless ``stderr`` names a file to
    collect it in (a program that writes much to stderr while the caller streams would
    otherwise block on a full pipe); ``stdin`` replaces /dev/null when not feeding."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if feed else (stdin if stdin is not None else subprocess.DEVNULL),
        stdout=subprocess.DEVNULL if feed else subprocess.PIPE,
        stderr=stderr if stderr is not None else subprocess.PIPE,
        env=ENV,
        cwd=cwd,
    )


def environ_for_agent() -> None:
    """Give the agent process guestfsd's environment and umask."""
    os.environ.update(ENV)
    os.umask(0o022)
