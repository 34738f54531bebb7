"""The older face of :mod:`.runner` for the modules not yet moved into
:mod:`pyguestfs.agent.api`: ``run`` returns a program's stdout or raises. New code calls
:func:`pyguestfs.agent.runner.run` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import IO

from . import runner
from .runner import ENV, start

__all__ = ["ENV", "environ_for_agent", "run", "start"]


def run(
    argv: Sequence[str],
    *,
    error_prefix: str = "",
    stdin: IO[bytes] | None = None,
    hide: Callable[[str], str] | None = None,
) -> str:
    """Run a program that must succeed; return its stdout. On failure the AgentError
    carries ``error_prefix`` and the program's own error text, as guestfsd's
    ``command()`` does. ``hide`` rewrites both outputs."""
    return runner.run(argv, stdin=stdin, error=error_prefix + "{err}", rewrite=hide).out


def environ_for_agent() -> None:
    """Give the agent process guestfsd's environment and umask."""
    os.environ.update(ENV)
    os.umask(0o022)
