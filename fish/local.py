"""The commands guestfish implements itself rather than the library (1.48's
``generator/fish_commands.ml`` and ``fish/*.c``): help, echo, glob, lcd, alloc/sparse,
display, edit/vi/emacs, more/less, hexedit, copy-in/copy-out, time, reopen, supported,
setenv/unsetenv, man, and the event commands.

Each takes the shell, the command word as typed and its arguments, and returns 0 or -1
after printing what went wrong in guestfish's words.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import GuestFSError
from .commands import API_COMMANDS
from .events import run_delete_event, run_event, run_list_events
from .parse import IntError, parse_size

if TYPE_CHECKING:
    from .shell import Shell

Runner = Callable[["Shell", str, list[str]], int]


@dataclass(frozen=True)
class LocalCommand:
    name: str
    shortdesc: str
    run: Runner
    aliases: tuple[str, ...] = field(default=())
    #: The usage line ``help NAME`` shows.
    usage: str = ""


# -- help --------------------------------------------------------------------------------------


def display_help(shell: Shell, argv: list[str]) -> int:
    """``help``, ``help --list`` and ``help CMD``."""
    if not argv:
        if shell.g.is_config():
            shell.write(
                "Add disk images to examine using the ‘-a’ or ‘-d’ options, or the ‘add’\n"
                "command.\n"
                "Or create a new disk image using ‘-N’, or the ‘alloc’ or ‘sparse’ commands.\n"
                "Once you have done this, use the ‘run’ command.\n".encode()
            )
        else:
            shell.write(
                "Find out what filesystems are available using ‘list-filesystems’ and then\n"
                "mount them to examine or modify the contents using ‘mount-ro’ or\n"
                "‘mount’.\n".encode()
            )
        shell.write(
            "\nFor more information about a command, use ‘help cmd’.\n\n"
            "To read the manual, type ‘man’.\n\n".encode()
        )
        return 0
    if len(argv) == 1:
        if argv[0] in ("--list", "-l"):
            shell.write(list_commands().encode())
            return 0
        return display_command(shell, argv[0])
    shell.err("use 'help', 'help <cmd>' or 'help -l|--list' to list all commands")
    return -1


def list_commands() -> str:
    """``help --list`` / ``guestfish -h``: every command and alias with its summary."""
    rows: list[tuple[str, str]] = []
    for cmd in API_COMMANDS:
        rows.append((cmd.name, cmd.action.doc))
        rows += [(a, f"alias for '{cmd.dashed}'") for a in cmd.aliases if not a.endswith("-opts")]
    for lc in LOCAL_COMMANDS:
        rows.append((lc.name, lc.shortdesc))
        rows += [(a, f"alias for '{lc.name.replace('_', '-')}'") for a in lc.aliases]
    rows.sort(key=lambda r: r[0])
    lines = [f"    {'Command':<16}     Description"]
    lines.append(f"{'help':<20} display a list of commands or help on a command")
    lines.append(f"{'quit':<20} quit guestfish")
    lines += [f"{name.replace('_', '-'):<20} {desc}" for name, desc in rows]
    lines.append("    Use -h <cmd> / help <cmd> to show detailed help for a command.")
    return "\n".join(lines) + "\n"


def display_command(shell: Shell, word: str) -> int:
    """``help CMD``: the command's name, synopsis and summary."""
    low = word.lower()
    api = shell.api.get(low)
    local = shell.local.get(low)
    if local is not None:
        text = f"NAME\n    {local.name.replace('_', '-')} - {local.shortdesc}\n\n"
        if local.usage:
            text += f"SYNOPSIS\n     {local.usage}\n\n"
    elif api is not None:
        action = api.action
        text = (
            f"NAME\n    {api.dashed} - {action.doc}\n\n"
            f"SYNOPSIS\n     {api.synopsis}\n\n"
            f"DESCRIPTION\n    {action.doc[:1].upper() + action.doc[1:]}.\n"
        )
        if action.deprecated:
            repl = action.deprecated_by
            text += "\n    This function is deprecated." + (
                f" Use '{repl.replace('_', '-')}' instead.\n" if repl else "\n"
            )
        if api.aliases:
            names = " or ".join(f"'{a}'" for a in api.aliases)
            text += f"\n    You can use {names} as an alias for this command.\n"
    elif low == "help":
        text = "help - display a list of commands or help on a command\n"
        text += "     help --list\n     help cmd\n     help\n"
    elif low in ("quit", "exit", "q"):
        text = "quit - quit guestfish\n     quit\n"
    else:
        hint = (
            "use 'help --list' to list all commands"
            if shell.interactive
            else ("use -h to list all commands")
        )
        shell.err(f"{word}: command not known: {hint}")
        return -1
    shell.write(text.encode())
    return 0


# -- simple commands ---------------------------------------------------------------------------


def run_echo(shell: Shell, cmd: str, argv: list[str]) -> int:
    shell.write(os.fsencode(" ".join(argv)) + b"\n")
    return 0


def run_lcd(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 1:
        shell.err("use 'lcd directory' to change local directory")
        return -1
    try:
        os.chdir(argv[0])
    except OSError as e:
        shell.err(f"{argv[0]}: {e.strerror}")
        return -1
    return 0


def run_setenv(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 2:
        shell.err(f"use '{cmd} VAR value' to set an environment variable")
        return -1
    os.environ[argv[0]] = argv[1]
    return 0


def run_unsetenv(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 1:
        shell.err(f"use '{cmd} VAR' to unset an environment variable")
        return -1
    os.environ.pop(argv[0], None)
    return 0


def run_time(shell: Shell, cmd: str, argv: list[str]) -> int:
    if not argv:
        shell.err("use 'time command [args...]'")
        return -1
    start = time.monotonic()
    if shell.issue_command(argv[0], argv[1:], None) != 0:
        return -1
    us = int((time.monotonic() - start) * 1_000_000)
    shell.write(b"elapsed time: %d.%02d seconds\n" % (us // 1_000_000, (us // 10_000) % 100))
    return 0


def run_man(shell: Shell, cmd: str, argv: list[str]) -> int:
    shell.flush()
    status = subprocess.call(["man", "1", "guestfish"])
    return 0 if status == 0 else -1


# -- disks -------------------------------------------------------------------------------------


def alloc_disk(shell: Shell, filename: str, size_text: str, add: bool, sparse: bool) -> int:
    """Create a raw disk image of the given size (sparse, or fully allocated) through
    the library's ``disk_create`` and, with ``add``, add it to the handle (guestfish's
    ``alloc_disk``)."""
    try:
        size = parse_size(size_text)
    except IntError as e:
        shell.err(f"parse_size: invalid integer parameter (xstrtoull returned {e.code})")
        return -1
    try:
        shell.g.disk_create(filename, "raw", size, preallocation="sparse" if sparse else "full")
    except GuestFSError as e:
        shell.lib_error(str(e))
        return -1
    if add:
        try:
            shell.g.add_drive_opts(filename, format="raw")
        except GuestFSError as e:
            shell.lib_error(str(e))
            os.unlink(filename)
            return -1
    return 0


def run_alloc(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 2:
        shell.err("use 'alloc file size' to create an image")
        return -1
    return alloc_disk(shell, argv[0], argv[1], add=True, sparse=False)


def run_sparse(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) != 2:
        shell.err("use 'sparse file size' to create a sparse image")
        return -1
    return alloc_disk(shell, argv[0], argv[1], add=True, sparse=True)


def run_reopen(shell: Shell, cmd: str, argv: list[str]) -> int:
    """Close the handle and open a new one with the same verbose, trace, autosync and
    path settings (drives are not kept, as in guestfish)."""
    if argv:
        shell.err("‘reopen’ command takes no parameters")
        return -1
    old = shell.g
    try:
        old.shutdown()
    except GuestFSError as e:
        shell.lib_error(str(e))
        return -1
    if shell.make_handle is None:
        shell.err("reopen: cannot create a new handle")
        return -1
    new = shell.make_handle()
    new.set_verbose(old.get_verbose())
    new.set_trace(old.get_trace())
    new.set_autosync(old.get_autosync())
    try:
        new.set_path(old.get_path())
    except GuestFSError:
        pass
    old.close()
    shell.g = new
    shell.event_handlers.clear()  # not carried over, as in guestfish
    return 0


def run_supported(shell: Shell, cmd: str, argv: list[str]) -> int:
    """Each optional group with ``yes`` or ``no``, names right-aligned."""
    try:
        groups = shell.g.available_all_groups()
    except GuestFSError as e:
        shell.lib_error(str(e))
        return -1
    width = max((len(gr) for gr in groups), default=0)
    for group in groups:
        try:
            shell.g.available([group])
            answer = "yes"
        except GuestFSError:
            answer = "no"
        shell.write(f"{group:>{width}} {answer}\n".encode())
    return 0


# -- files through a local temporary -----------------------------------------------------------


@contextmanager
def _local_copy(shell: Shell) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="guestfish", dir=shell.tmpdir())
    os.close(fd)
    try:
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _system(shell: Shell, command: str) -> int:
    shell.flush()
    status = subprocess.call(command, shell=True)
    if status != 0:
        shell.err(f"{command}: Success")
        return -1
    return 0


def _view(shell: Shell, cmd: str, argv: list[str], viewer: str, usage: str) -> int:
    if len(argv) != 1:
        shell.err(usage)
        return -1
    remote = shell.win_prefix(argv[0])
    if remote is None:
        return -1
    with _local_copy(shell) as path:
        try:
            shell.g.download(remote, path)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
        return _system(shell, f"{viewer} {path}")


def run_more(shell: Shell, cmd: str, argv: list[str]) -> int:
    pager = "less" if cmd.lower() == "less" else os.environ.get("PAGER", "more")
    return _view(shell, cmd, argv, pager, f"use '{cmd} filename' to page a file")


def run_display(shell: Shell, cmd: str, argv: list[str]) -> int:
    viewer = os.environ.get("GUESTFISH_DISPLAY_IMAGE", "display")
    return _view(shell, cmd, argv, viewer, "display filename")


def run_edit(shell: Shell, cmd: str, argv: list[str]) -> int:
    """Download the file, run the editor on it, upload it back if it changed."""
    if len(argv) != 1:
        shell.err(f"use '{cmd} filename' to edit a file")
        return -1
    low = cmd.lower()
    if low == "vi":
        editor = "vi"
    elif low == "emacs":
        editor = "emacs -nw"
    else:
        editor = os.environ.get("EDITOR", "vi")
    remote = shell.win_prefix(argv[0])
    if remote is None:
        return -1
    with _local_copy(shell) as path:
        try:
            shell.g.download(remote, path)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
        # Back-date the copy so an edit within the same second still shows as a change.
        st = os.stat(path)
        os.utime(path, (st.st_atime - 5, st.st_mtime - 5))
        before = os.stat(path)
        if _system(shell, f"{editor} {path}") != 0:
            return -1
        after = os.stat(path)
        if (before.st_ctime, before.st_size) == (after.st_ctime, after.st_size):
            return 0
        try:
            shell.g.upload(path, remote)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
    return 0


#: The largest file ``hexedit FILE`` downloads without a range.
MAX_HEXEDIT = 1024 * 1024


def run_hexedit(shell: Shell, cmd: str, argv: list[str]) -> int:
    """Edit a range of a guest file or device with $HEXEDITOR; write back what changed."""
    if not 1 <= len(argv) <= 3:
        shell.err("hexedit (device|filename) [max | start max]")
        return -1
    target = argv[0]
    try:
        if target.startswith("/dev/"):
            size = shell.g.blockdev_getsize64(target)
        else:
            size = shell.g.filesize(target)
    except GuestFSError as e:
        shell.lib_error(str(e))
        return -1
    if size == 0:
        shell.err(f"hexedit: {target} is a zero length file or device")
        return -1
    try:
        if len(argv) == 1:
            if size > MAX_HEXEDIT:
                shell.err(
                    f"hexedit: {target} is larger than 1M. You must supply a limit using\n"
                    f"  'hexedit {target} <max>' (eg. 'hexedit {target} 1M') or a range using\n"
                    f"  'hexedit {target} <start> <max>'."
                )
                return -1
            start, length = 0, size
        elif len(argv) == 3:
            start, length = parse_size(argv[1]), parse_size(argv[2])
        else:
            start, length = 0, parse_size(argv[1])
    except IntError as e:
        shell.err(f"parse_size: invalid integer parameter (xstrtoull returned {e.code})")
        return -1
    length = min(length, size - start)
    if length <= 0:
        shell.err("hexedit: invalid range")
        return -1
    editor = os.environ.get("HEXEDITOR", "hexedit")
    with _local_copy(shell) as path:
        try:
            shell.g.download_offset(target, path, start, length)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
        before = os.stat(path)
        if _system(shell, f"{editor} {path}") != 0:
            return -1
        after = os.stat(path)
        if (before.st_ctime, before.st_size) == (after.st_ctime, after.st_size):
            return 0
        try:
            shell.g.upload_offset(path, target, start)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
    return 0


# -- copy-in, copy-out, glob -------------------------------------------------------------------


def run_copy_in(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) < 2:
        shell.err("use 'copy-in <local> [<local>...] <remotedir>' to copy files into the image")
        return -1
    remote = shell.win_prefix(argv[-1])
    if remote is None:
        return -1
    for local in argv[:-1]:
        try:
            shell.g.copy_in(local, remote)
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
    return 0


def run_copy_out(shell: Shell, cmd: str, argv: list[str]) -> int:
    if len(argv) < 2:
        shell.err("use 'copy-out <remote> [<remote>...] <localdir>' to copy files out of the image")
        return -1
    for word in argv[:-1]:
        remote = shell.win_prefix(word)
        if remote is None:
            return -1
        try:
            shell.g.copy_out(remote, argv[-1])
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
    return 0


def _expand_device(shell: Shell, pattern: str) -> list[str]:
    g = shell.g
    names: list[str] = [*g.list_devices(), *g.list_partitions()]
    try:
        names += g.list_md_devices()
    except GuestFSError as e:
        if e.errno_name != "ENOTSUP":
            raise
    if g.feature_available(["lvm2"]):
        names += g.lvs()
    matches = [n for n in names if _fnmatch_pathname(n, pattern)]
    return matches or [pattern]


def _fnmatch_pathname(name: str, pattern: str) -> bool:
    """fnmatch with FNM_PATHNAME: wildcards do not match ``/``."""
    names, patterns = name.split("/"), pattern.split("/")
    return len(names) == len(patterns) and all(
        fnmatch.fnmatchcase(n, p) for n, p in zip(names, patterns, strict=True)
    )


def run_glob(shell: Shell, cmd: str, argv: list[str]) -> int:
    """Run a command once for every combination of its expanded arguments."""
    if not argv:
        shell.err("use 'glob command [args...]'")
        return -1
    expanded: list[list[str]] = []
    for word in argv[1:]:
        try:
            if word.startswith("/dev/"):
                expanded.append(_expand_device(shell, word))
            elif word.startswith("/"):
                try:
                    found = shell.g.glob_expand(word)
                except GuestFSError as e:
                    shell.lib_error(str(e))
                    shell.err(f"glob: guestfs_glob_expand call failed: {word}")
                    return -1
                expanded.append(list(found) or [word])
            else:
                expanded.append([word])
        except GuestFSError as e:
            shell.lib_error(str(e))
            return -1
    r = 0
    for combo in _product(expanded):
        if shell.issue_command(argv[0], combo, None) != 0:
            r = -1
    return r


def _product(lists: list[list[str]]) -> Iterator[list[str]]:
    """Combinations with the last argument varying fastest, as guestfish issues them."""
    if not lists:
        yield []
        return
    for head in lists[0]:
        for tail in _product(lists[1:]):
            yield [head, *tail]


LOCAL_COMMANDS: tuple[LocalCommand, ...] = (
    LocalCommand(
        "alloc", "allocate and add a disk file", run_alloc, ("allocate",), "alloc filename size"
    ),
    LocalCommand(
        "copy_in",
        "copy local files or directories into an image",
        run_copy_in,
        usage="copy-in local [local ...] /remotedir",
    ),
    LocalCommand(
        "copy_out",
        "copy remote files or directories out of an image",
        run_copy_out,
        usage="copy-out remote [remote ...] localdir",
    ),
    LocalCommand(
        "delete_event",
        "delete a previously registered event handler",
        run_delete_event,
        usage="delete-event name",
    ),
    LocalCommand("display", "display an image", run_display, usage="display filename"),
    LocalCommand("echo", "display a line of text", run_echo, usage="echo [params ...]"),
    LocalCommand("edit", "edit a file", run_edit, ("vi", "emacs"), "edit filename"),
    LocalCommand(
        "event",
        "register a handler for an event or events",
        run_event,
        usage='event name eventset "shell script ..."',
    ),
    LocalCommand("glob", "expand wildcards in command", run_glob, usage="glob command args..."),
    LocalCommand(
        "hexedit",
        "edit with a hex editor",
        run_hexedit,
        usage="hexedit <filename|device> [<max> | <start> <max>]",
    ),
    LocalCommand("lcd", "change working directory", run_lcd, usage="lcd directory"),
    LocalCommand("list_events", "list event handlers", run_list_events, usage="list-events"),
    LocalCommand("man", "open the manual", run_man, ("manual",), "man"),
    LocalCommand("more", "view a file", run_more, ("less",), "more filename"),
    LocalCommand("reopen", "close and reopen libguestfs handle", run_reopen, usage="reopen"),
    LocalCommand("setenv", "set an environment variable", run_setenv, usage="setenv VAR value"),
    LocalCommand(
        "sparse", "create a sparse disk image and add", run_sparse, usage="sparse filename size"
    ),
    LocalCommand(
        "supported", "list supported groups of commands", run_supported, usage="supported"
    ),
    LocalCommand(
        "time",
        "print elapsed time taken to run a command",
        run_time,
        usage="time command [args...]",
    ),
    LocalCommand("unsetenv", "unset an environment variable", run_unsetenv, usage="unsetenv VAR"),
)

__all__ = ["LOCAL_COMMANDS", "LocalCommand", "display_help", "list_commands"]
