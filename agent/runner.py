"""The one way the agent runs an external program.

Always an argv list, never a shell string, so guest-controlled names are never
interpreted; guestfsd's environment (``LC_ALL=C``: stable messages and formats);
stdin from /dev/null unless the caller feeds it. Failures are worded once:

* not found:  ``<prog>: command not found in the appliance`` (ENOENT)
* a signal:   ``external command <prog> killed by signal N`` (quotes as guestfsd's)
* exit N:     the program's own stderr, or ``<prog> exited with status N`` when silent

A guest's program (``chroot``: ``command``, ``sh``) runs chrooted into the sysroot; one
missing there is ``<prog>: <strerror>``, as guestfsd's child reports its failed exec.

``fold`` merges stdout into the error text (guestfsd's
``COMMAND_FLAG_FOLD_STDOUT_ON_STDERR``, for tools that report errors on stdout);
``rewrite`` is applied to both outputs (the guest kernel's disk names become the
user's, our host path of the sysroot becomes ``/sysroot``).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from .errors import AgentError

#: guestfsd's environment for the programs it runs.
ENV = {
    "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
    "SHELL": "/bin/sh",
    "LC_ALL": "C",
    "TERM": "dumb",
}

Stdin = bytes | int | IO[bytes] | None

#: For a stream whose data nobody needs (as ``subprocess.DEVNULL``).
DEVNULL = subprocess.DEVNULL


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished program: exit status (≥ 0), stdout, stderr (trailing newlines cut)."""

    status: int
    out: str
    err: str


def environ_for_agent() -> None:
    """Give the agent process guestfsd's environment and umask."""
    os.environ.update(ENV)
    os.umask(0o022)


def literal(text: str) -> str:
    """``text`` for an ``error`` template, where it must stand for itself: a user's path or
    device name may hold braces, which ``str.format`` would read as fields."""
    return text.replace("{", "{{").replace("}", "}}")


def not_found(program: str) -> AgentError:
    return AgentError(f"{program}: command not found in the appliance", "ENOENT")


def killed(program: str, signal: int) -> AgentError:
    return AgentError(f"external command ‘{program}’ killed by signal {signal}")  # noqa: RUF001


def run(
    argv: Sequence[str],
    *,
    stdin: Stdin = None,
    fold: bool = False,
    check: bool = True,
    error: str = "{err}",
    rewrite: Callable[[str], str] | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    chroot: str | None = None,
) -> Completed:
    """Run ``argv`` to completion.

    With ``check`` (guestfsd's ``command``) a non-zero exit raises AgentError whose
    message is ``error`` with the program's error text in place of ``{err}``; without
    it (``commandr``) the status is returned for the caller to judge. A signal always
    raises. With ``chroot`` the program is looked up and run inside that directory, in
    its ``/``."""
    feed: bytes | None = None
    source: int | IO[bytes] | None = None
    if isinstance(stdin, bytes):
        feed = stdin
    else:
        source = subprocess.DEVNULL if stdin is None else stdin
    enter = None
    if chroot is not None:
        root = chroot

        def enter() -> None:
            os.chroot(root)
            os.chdir("/")

    try:
        proc = subprocess.run(
            list(argv),
            input=feed,
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if fold else subprocess.PIPE,
            env=env or ENV,
            cwd=cwd,
            preexec_fn=enter,
            check=False,
        )
    except subprocess.SubprocessError:
        # The chroot itself failed (standalone and not root); Python does not pass the
        # child's errno on. guestfsd's child says perror("chroot in sysroot").
        reason = os.strerror(errno.EPERM) if os.geteuid() != 0 else "failed"
        raise AgentError(f"chroot in sysroot: {reason}") from None
    except FileNotFoundError as e:
        if chroot is not None:
            raise AgentError(f"{argv[0]}: {e.strerror}") from None
        raise not_found(argv[0]) from None
    except OSError as e:
        if chroot is None:
            raise
        raise AgentError(f"{argv[0]}: {e.strerror}") from None
    if proc.returncode < 0:
        raise killed(argv[0], -proc.returncode)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    err = out if fold else (proc.stderr or b"").decode("utf-8", "surrogateescape")
    if fold:
        out = ""
    err = err.rstrip("\n")
    if rewrite is not None:
        out, err = rewrite(out), rewrite(err)
    if check and proc.returncode != 0:
        text = err.strip() or f"{argv[0]} exited with status {proc.returncode}"
        raise AgentError(error.format(err=text))
    return Completed(proc.returncode, out, err)


def start(
    argv: Sequence[str],
    *,
    feed: bool,
    stdin: int | IO[bytes] | None = None,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a program the caller streams to (its stdin, when ``feed``: tar_in) or from
    (its stdout: tar_out). stderr goes to a pipe unless ``stderr`` names a file to
    collect it in: a program that writes much to stderr while the caller streams would
    block on a full pipe. ``stdin`` replaces /dev/null when not feeding; ``stdout``
    (a file the program writes: base64_in) replaces /dev/null when feeding."""
    out = (stdout if stdout is not None else subprocess.DEVNULL) if feed else subprocess.PIPE
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if feed else (stdin if stdin is not None else subprocess.DEVNULL),
            stdout=out,
            stderr=stderr if stderr is not None else subprocess.PIPE,
            env=ENV,
            cwd=cwd,
        )
    except FileNotFoundError:
        raise not_found(argv[0]) from None


def pipe(first: Sequence[str], second: Sequence[str], *, cwd: str | None = None) -> Completed:
    """``first | second`` without a shell: the status and outputs are ``second``'s (as a
    shell pipeline reports them); ``first``'s stderr is dropped. Both run in ``cwd``."""
    try:
        producer = subprocess.Popen(
            list(first),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
            cwd=cwd,
        )
    except FileNotFoundError:
        raise not_found(first[0]) from None
    assert producer.stdout is not None
    try:
        consumer = subprocess.Popen(
            list(second),
            stdin=producer.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            cwd=cwd,
        )
    except FileNotFoundError:
        producer.kill()
        producer.wait()
        raise not_found(second[0]) from None
    finally:
        producer.stdout.close()
    out, err = consumer.communicate()
    producer.wait()
    if consumer.returncode < 0:
        raise killed(second[0], -consumer.returncode)
    return Completed(
        consumer.returncode,
        out.decode("utf-8", "surrogateescape"),
        err.decode("utf-8", "surrogateescape").rstrip("\n"),
    )
