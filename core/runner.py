"""The one way the builder and the host library run a program to completion.

Every such program -- a decompressor, ``depmod``, ``ldd``, PyInstaller, ``mke2fs``,
``qemu-img``, the KVM probe, ``qemu -help`` -- goes through :func:`run`:

* an argv list, never a shell string; the command line is logged as ``+ CMD`` (the
  ``pyguestfs.core.runner`` logger, at DEBUG: ``guestfs-build-appliance --debug`` shows it);
* stdin is ``/dev/null`` unless data (``input``) or a file (``stdin``) is given, so a
  program that unexpectedly reads it cannot hang the caller;
* stdout and stderr are captured;
* one wording for what went wrong, in :class:`CommandError`'s subclasses:
  ``PROG: command not found (needed to run: CMD)``, ``CMD: exit status N``,
  ``CMD: killed by signal N (SIGNAME)``, ``CMD: timed out after N s``, each followed by
  the tail of the program's error output.

Programs that keep running beside the caller (qemu itself, the background snapshot
maker) are started elsewhere, with :func:`child_environment` for their environment.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO

log = logging.getLogger(__name__)

Argv = Sequence["str | os.PathLike[str]"]

#: Lines of a failed program's error output kept in the error message.
TAIL_LINES = 20


class CommandError(Exception):
    """A program could not be run, or did not complete successfully.

    ``message`` is the one-wording text; ``argv`` the command; ``status`` its exit status
    (negative: the signal that killed it; None when it never ran or timed out);
    ``stdout``/``stderr`` what it wrote, as bytes.
    """

    def __init__(
        self,
        message: str,
        argv: list[str],
        status: int | None = None,
        stdout: bytes = b"",
        stderr: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.argv = argv
        self.status = status
        self.stdout = stdout
        self.stderr = stderr

    @property
    def program(self) -> str:
        """The program's name as given (``argv[0]``)."""
        return self.argv[0] if self.argv else ""


class CommandNotFound(CommandError):
    """The program does not exist (or is not on ``PATH``)."""


class CommandFailed(CommandError):
    """The program exited with a non-zero status, or was killed by a signal."""


class CommandTimedOut(CommandError):
    """The program ran longer than its timeout and was killed."""


def describe_status(status: int) -> str:
    """``exit status N``, or ``killed by signal N (SIGNAME)`` for a negative status (as
    :class:`subprocess.Popen` reports a death by signal)."""
    if status >= 0:
        return f"exit status {status}"
    try:
        name = f" ({signal.Signals(-status).name})"
    except ValueError:
        name = ""
    return f"killed by signal {-status}{name}"


def failure(proc: subprocess.CompletedProcess[bytes]) -> CommandFailed:
    """The error for a completed process whose status is not 0 (for callers that ran it
    with ``check=False`` and judge the result themselves)."""
    args = proc.args if isinstance(proc.args, list | tuple) else [proc.args]
    return status_error(args, proc.returncode, proc.stderr or b"", proc.stdout or b"")


def status_error(
    argv: Argv, status: int, stderr: bytes = b"", stdout: bytes = b""
) -> CommandFailed:
    """The error for ``argv`` ending with ``status``: the command, its status in the one
    wording, and the tail of its error output (of its output when it wrote no errors).
    Programs driven through pipes (a streaming compressor) report their end with it too."""
    args = [os.fspath(a) for a in argv]
    text = f"{shlex.join(args)}: {describe_status(status)}{_tail(stderr or stdout)}"
    return CommandFailed(text, args, status, stdout, stderr)


def not_found_error(argv: Argv) -> CommandNotFound:
    """The error for a program that does not exist."""
    args = [os.fspath(a) for a in argv]
    text = f"{args[0]}: command not found (needed to run: {shlex.join(args)})"
    return CommandNotFound(text, args)


def _tail(output: bytes) -> str:
    lines = output.decode("utf-8", "replace").strip().splitlines()[-TAIL_LINES:]
    if not lines:
        return ""
    if len(lines) == 1:
        return f": {lines[0]}"
    return ":\n" + "\n".join(lines)


def child_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``overrides`` applied: what a child program gets.
    (Settings are read in :mod:`pyguestfs.core.settings`; this only passes the environment on.)"""
    env = dict(os.environ)
    if overrides:
        env.update(overrides)
    return env


def run(
    argv: Argv,
    *,
    input: bytes | memoryview | None = None,
    stdin: int | IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to completion and return it with its output captured (bytes).

    ``input`` is written to its stdin, or ``stdin`` (a file or descriptor) is its stdin;
    with neither, stdin is ``/dev/null``. ``env`` holds variables added to (or replacing
    ones of) this process's environment.

    Raises :class:`CommandNotFound` when the program is missing, :class:`CommandTimedOut`
    after ``timeout`` seconds, and :class:`CommandFailed` when a signal killed it -- or,
    with ``check`` (the default), when it exits with a non-zero status. ``check=False``
    returns a non-zero exit for callers that can judge a result from its output (see
    :func:`failure` for the message).
    """
    args = [os.fspath(a) for a in argv]
    cmd = shlex.join(args)
    log.debug("+ %s", cmd)
    if input is not None and stdin is not None:
        raise ValueError("run: give input or stdin, not both")
    try:
        proc = subprocess.run(
            args,
            input=bytes(input) if isinstance(input, memoryview) else input,
            stdin=stdin if stdin is not None else None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            env=child_environment(env) if env else None,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise CommandError(
                f"{cmd}: cannot run in {os.fspath(cwd)}: no such directory", args
            ) from None
        raise not_found_error(args) from None
    except subprocess.TimeoutExpired as e:
        raise CommandTimedOut(
            f"{cmd}: timed out after {timeout:g} s" + _tail(_bytes(e.stderr)),
            args,
            None,
            _bytes(e.stdout),
            _bytes(e.stderr),
        ) from None
    except OSError as e:
        raise CommandError(f"{cmd}: cannot run {args[0]}: {e.strerror or e}", args) from None
    if proc.returncode < 0 or (check and proc.returncode != 0):
        raise failure(proc)
    return proc


def output(
    argv: Argv, *, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> str:
    """:func:`run` with ``check``, returning its standard output as text."""
    return run(argv, env=env, timeout=timeout).stdout.decode("utf-8", "replace")


def _bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else data


def c_compiler() -> str:
    """The C compiler a build would run, as setuptools picks it: the program of ``$CC``
    (its first word: CC may carry options, ``gcc -pthread``), else ``cc``. A toolchain
    variable, passed through like ``PATH``, not a pyguestfs setting."""
    words = os.environ.get("CC", "").split(maxsplit=1)
    return words[0] if words else "cc"
