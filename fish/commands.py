"""The command set of the shell, generated from the procedure table: every API that
guestfish 1.48 has a command for, under every name guestfish accepts for it, with its
synopsis and the kind of each argument.

guestfish's rule (``generator/actions.ml``, ``is_fish``): every public or debug action,
daemon procedure or library action, except internal ones, the state tests
(``is_ready``...), those marked "no fish" (``copy_in``/``copy_out``, which guestfish
implements itself) and those taking a pointer. A command answers to its name, the name
with dashes for underscores, its guestfish aliases and its other binding names with
dashes (``add-drive-opts``), in any letter case.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.procedures import LIBRARY_ACTIONS, PROCEDURES, LibraryAction, Procedure
from ..protocol.types import ArgType, OptType

Action = Procedure | LibraryAction


@dataclass(frozen=True)
class ApiCommand:
    """One guestfish command that calls an API."""

    action: Action

    @property
    def name(self) -> str:
        return self.action.name

    @property
    def dashed(self) -> str:
        return self.action.name.replace("_", "-")

    @property
    def aliases(self) -> tuple[str, ...]:
        """guestfish's aliases (``get_aliases``): its own ones, then the other binding
        names with dashes."""
        return self.action.fish_aliases + tuple(a.replace("_", "-") for a in self.action.aliases)

    @property
    def user_args(self) -> int:
        """How many words the required arguments take (keys are prompted for)."""
        return sum(1 for a in self.action.args if a.type is not ArgType.KEY)

    @property
    def synopsis(self) -> str:
        words = [self.dashed]
        words += [a.name for a in self.action.args if a.type is not ArgType.KEY]
        words += [f"[{o.name}:{_OPT_DOC[o.type]}]" for o in self.action.optargs]
        return " ".join(words)


_OPT_DOC = {
    OptType.BOOL: "true|false",
    OptType.INT: "N",
    OptType.INT64: "N",
    OptType.STRING: "..",
    OptType.STRINGLIST: "..",
}


def in_guestfish(action: Action) -> bool:
    """Whether guestfish 1.48 has a command for the action."""
    if action.internal:
        return False
    if isinstance(action, LibraryAction) and (action.state_test or not action.in_fish):
        return False
    return not any(a.type is ArgType.POINTER for a in action.args)


_ACTIONS: tuple[Action, ...] = (*PROCEDURES, *LIBRARY_ACTIONS)

#: Every API command, sorted by name as guestfish lists them.
API_COMMANDS: tuple[ApiCommand, ...] = tuple(
    sorted((ApiCommand(a) for a in _ACTIONS if in_guestfish(a)), key=lambda c: c.name)
)


def api_lookup() -> dict[str, ApiCommand]:
    """Every name an API command answers to, lower-cased (lookups ignore case)."""
    table: dict[str, ApiCommand] = {}
    for cmd in API_COMMANDS:
        for name in (cmd.name, cmd.dashed, *cmd.aliases):
            table.setdefault(name.lower(), cmd)
    return table
