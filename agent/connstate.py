"""State an API family keeps for one connection: an open hive, an Augeas handle, the
last inspection's results, inotify watches, an open journal.

It hangs off the :class:`~pyguestfs.agent.server.Agent` serving the connection (its
``family_state``), so it goes when the agent goes. A ``weakref.WeakKeyDictionary`` keyed
by the agent would do the same in plain Python, but the appliance's agent class is
compiled with mypyc (builder/native.py), and mypyc's native classes cannot be weakly
referenced: every such lookup raised TypeError in the appliance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from .server import Agent

T = TypeVar("T")


class PerConnection(Generic[T]):
    """One family's slot in each agent's ``family_state``, used like a dict keyed by
    the agent (``get``, ``pop``, ``setdefault``, ``state[agent] = value``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, agent: Agent, default: Any = None) -> Any:
        return agent.family_state.get(self.name, default)

    def pop(self, agent: Agent, default: Any = None) -> Any:
        return agent.family_state.pop(self.name, default)

    def setdefault(self, agent: Agent, value: T) -> T:
        return cast("T", agent.family_state.setdefault(self.name, value))

    def __setitem__(self, agent: Agent, value: T) -> None:
        agent.family_state[self.name] = value
