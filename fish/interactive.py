"""Interactive mode: the ``><fs>`` prompt on a terminal, line editing and history through
the standard library's readline, and tab completion as guestfish does it: the first word
completes to command names (case-insensitively), later words to the guest's devices
and to paths in the guest.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..core.errors import GuestFSError
from .local import LOCAL_COMMANDS
from .shell import PROMPT, FishExit, Shell

BANNER = """
Welcome to pyguestfish, the guest filesystem shell for
editing virtual machine filesystems and disk images.

Type: ‘help’ for help on commands
      ‘man’ to read the manual
      ‘quit’ to quit the shell

"""


def command_names(shell: Shell) -> list[str]:
    """Every name completion offers for the first word, as guestfish lists them."""
    names = ["help", "exit", "quit", "q"]
    for cmd in shell.api.values():
        names += [cmd.dashed, *cmd.aliases]
    for lc in LOCAL_COMMANDS:
        names += [lc.name.replace("_", "-"), *lc.aliases]
    return sorted(set(names))


class Completer:
    """readline's completer: commands, devices and guest paths (an error of the guest,
    such as nothing mounted yet, just means no candidates)."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.commands = command_names(shell)
        self.matches: list[str] = []

    def candidates(self, text: str, first_word: bool) -> list[str]:
        if first_word:
            low = text.lower()
            return [n + " " for n in self.commands if n.lower().startswith(low)]
        return self.guest_candidates(text)

    def guest_candidates(self, text: str) -> list[str]:
        """Devices (``/dev/...``) and paths in the mounted guest that start with text;
        nothing when the appliance is not running."""
        g = self.shell.g
        try:
            if not g.is_ready():
                return []
            out: list[str] = []
            if text.startswith("/dev"):
                names = [*g.list_devices(), *g.list_partitions()]
                try:
                    names += g.lvs()
                except GuestFSError:
                    pass
                out += [n + " " for n in names if n.startswith(text)]
            if text.startswith("/"):
                directory, _, stem = text.rpartition("/")
                directory = directory or "/"
                if g.is_dir(directory):
                    prefix = directory.rstrip("/") + "/"
                    for name in g.ls(directory):
                        if name.startswith(stem):
                            path = prefix + name
                            out.append(path + ("/" if g.is_dir(path) else " "))
            return sorted(set(out))
        except GuestFSError:
            return []

    def complete(self, text: str, state: int) -> str | None:
        if state == 0:
            import readline

            line = readline.get_line_buffer()
            begin = readline.get_begidx()
            first_word = not line[:begin].strip()
            self.matches = self.candidates(text, first_word)
        return self.matches[state] if state < len(self.matches) else None


def interact(shell: Shell, inspector: bool = False) -> None:
    """Read commands from the terminal until ``quit`` or end of input."""
    import readline

    completer = Completer(shell)
    readline.set_completer(completer.complete)
    # Paths are completed whole: "/" must not split words.
    readline.set_completer_delims(" \t\n")
    readline.parse_and_bind("tab: complete")
    readline.parse_and_bind("set completion-ignore-case on")
    history = os.path.join(os.environ["HOME"], ".guestfish") if "HOME" in os.environ else None
    if history:
        try:
            readline.read_history_file(history)
        except OSError:
            pass
    prompt = os.environ.get("GUESTFISH_PS1", PROMPT)
    sys.stdout.write(BANNER)
    if inspector:
        _print_inspect_prompt(shell.g)
    try:
        while not shell.quit:
            try:
                line = input(prompt)
            except EOFError:
                break
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            shell.lineno += 1
            try:
                shell.run_line(line, exit_on_error=False)
            except FishExit:
                pass
            except KeyboardInterrupt:
                shell.err("interrupted")
        sys.stdout.write("\n")
    finally:
        if history:
            try:
                readline.write_history_file(history)
            except OSError:
                pass


def _print_inspect_prompt(g: Any) -> None:
    """After -i: which operating system was found and what is mounted where."""
    try:
        roots = g.inspect_get_roots()
        if not roots:
            return
        name = g.inspect_get_product_name(roots[0])
        if name != "unknown":
            sys.stdout.write(f"Operating system: {name}\n")
        mounts = g.inspect_get_mountpoints(roots[0])
        items = list(mounts.items()) if isinstance(mounts, dict) else list(mounts)
        for mountpoint, device in sorted(items, key=lambda kv: len(kv[0])):
            sys.stdout.write(f"{device} mounted on {mountpoint}\n")
        sys.stdout.write("\n")
    except GuestFSError:
        pass
