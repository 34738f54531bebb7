"""Which Python function serves which procedure of the table.

An API module decorates each implementation with ``@implements("name")``; the name must be
in the procedure table, so a typo fails at import time, not at the first call.
Implementations take the call context first, then the procedure's arguments by their
libguestfs names, then the optional arguments that the caller set (as keywords).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..protocol.procedures import BY_NAME

Impl = Callable[..., Any]
F = TypeVar("F", bound=Impl)

IMPLEMENTATIONS: dict[str, Impl] = {}


def implements(name: str) -> Callable[[F], F]:
    if name not in BY_NAME:
        raise KeyError(f"{name} is not in the procedure table")

    def register(fn: F) -> F:
        if name in IMPLEMENTATIONS:
            raise KeyError(f"{name} is implemented twice")
        IMPLEMENTATIONS[name] = fn
        return fn

    return register
