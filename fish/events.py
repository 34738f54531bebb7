"""``event``, ``list-events`` and ``delete-event``: shell commands run on the handle's
events (guestfish 1.48's ``fish/events.c``).

A handler runs ``$SHELL -c SCRIPT`` (``/bin/sh`` by default) with ``$EVENT`` set to the
event's name, ``$1`` the event's text (log line, trace line ...) and the numbers of its
array (progress: procedure, serial, position, total) as the next arguments. Several
handlers may share a name; ``delete-event NAME`` removes them all.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import GuestFSError
from ..host.events import EVENT_ALL, event_to_string

if TYPE_CHECKING:
    from .shell import Shell


#: Each event's bit and name, in libguestfs's order.
_NAMES = {1 << i: event_to_string(1 << i) for i in range(EVENT_ALL.bit_length())}


@dataclass
class Handler:
    name: str
    mask: int
    command: str
    handle: int


def event_mask(text: str) -> int | None:
    """A comma-separated set of event names (``*`` is all); None for an unknown name,
    compared as guestfish compares (``strncmp`` over the given part's length)."""
    if text == "*":
        return EVENT_ALL
    mask = 0
    rest = text
    while rest:
        part, comma, after = rest.partition(",")
        for bit, name in _NAMES.items():
            if name[: len(part)] == part:
                mask |= bit
                break
        else:
            return None
        rest = after if comma else ""
    return mask


def events_text(mask: int) -> str:
    """The names of the events in a bitmask, sorted alphabetically as libguestfs's
    ``guestfs_event_to_string`` sorts them."""
    return ",".join(sorted(name for bit, name in _NAMES.items() if mask & bit))


def _run_handler(command: str, event: int, buf: bytes, array: list[int]) -> None:
    env = dict(os.environ, EVENT=events_text(event))
    shell = os.environ.get("SHELL", "/bin/sh")
    argv = [shell, "-c", command, ""]
    if buf:
        argv.append(os.fsdecode(buf.split(b"\0", 1)[0]))
    argv += [str(n) for n in array]
    try:
        subprocess.run(argv, env=env, check=False)
    except OSError as e:
        print(f"{shell}: {e.strerror}", flush=True)


def run_event(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 3:
        shell.err("use 'event <name> <eventset> <script>' to register an event handler")
        return -1
    name, eventset, command = argv
    mask = event_mask(eventset)
    if mask is None:
        shell.err(f"unknown event name: {eventset}")
        return -1

    def callback(event: int, handle: int, buf: bytes, array: list[int]) -> None:
        shell.flush()
        _run_handler(command, event, buf, array)

    try:
        handle = shell.g.set_event_callback(callback, mask)
    except (GuestFSError, ValueError) as e:
        shell.lib_error(str(e))
        return -1
    shell.event_handlers.append(Handler(name, mask, command, handle))
    return 0


def run_list_events(shell: Shell, cmd: str, argv: list[str]) -> int:
    if argv:
        shell.err("use ‘list-events’ to list event handlers")
        return -1
    for h in shell.event_handlers:
        events = "*" if h.mask == EVENT_ALL else events_text(h.mask)
        shell.write(f'"{h.name}" ({h.handle}): {events}: {h.command}\n'.encode())
    return 0


def run_delete_event(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 1:
        shell.err("use 'delete-event <name>' to delete an event handler")
        return -1
    found: list[Any] = [h for h in shell.event_handlers if h.name == argv[0]]
    if not found:
        shell.err(f"delete-event: {argv[0]}: no such event handler")
        return -1
    for h in found:
        shell.g.delete_event_callback(h.handle)
        shell.event_handlers.remove(h)
    return 0
