"""The shell: reading a script (or the command line, or a terminal), and issuing each
command as guestfish does (``fish/fish.c``: ``script``, ``issue_command``,
``run_action``, ``execute_and_inline``).

Exit status follows guestfish: in a script or on the command line, the first failing
command (or line that does not parse) ends the run with status 1, unless the line starts
with ``-``; interactively, errors are reported and the shell goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import IO, Any

from ..core.errors import GuestFSError
from .apicall import run_api
from .commands import ApiCommand, api_lookup
from .local import LOCAL_COMMANDS, LocalCommand, display_help
from .parse import LineKind, ParseError, parse_line

PROMPT = "><fs> "


def _pairs(table: Any) -> list[tuple[str, str]]:
    """A hashtable result as (key, value) pairs, whichever form the handle returns."""
    return list(table.items()) if isinstance(table, dict) else list(table)


class FishExit(Exception):
    """Ends the program with ``status`` (guestfish's ``exit (EXIT_FAILURE)`` paths)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Shell:
    """One guestfish session on a handle.

    ``input_file`` names the script in error messages (``*stdin*`` for standard input);
    ``interactive`` selects the terminal's behaviour (prompt, errors without a file name,
    no exit on error)."""

    def __init__(
        self,
        g: Any,
        *,
        prog: str = "guestfish",
        interactive: bool = False,
        input_file: str = "*stdin*",
        stdin: IO[bytes] | None = None,
        keys_from_stdin: bool = False,
        echo_keys: bool = False,
        make_handle: Callable[[], Any] | None = None,
        invoked: str | None = None,
    ) -> None:
        self.g = g
        self.prog = prog
        #: The program as invoked (its path): glibc's error() prints this one.
        self.invoked = invoked or prog
        self.interactive = interactive
        self.input_file = input_file
        self.stdin: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
        self.keys_from_stdin = keys_from_stdin
        self.echo_keys = echo_keys
        #: Makes a fresh handle for ``reopen``.
        self.make_handle = make_handle
        self.lineno = 0
        self.command_num = 0
        self.quit = False
        #: ``event`` handlers, in the order they were registered.
        self.event_handlers: list[Any] = []
        self.api: dict[str, ApiCommand] = api_lookup()
        self.local: dict[str, LocalCommand] = {}
        for lc in LOCAL_COMMANDS:
            for name in (lc.name, lc.name.replace("_", "-"), *lc.aliases):
                self.local[name.lower()] = lc

    # -- output --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)

    def flush(self) -> None:
        sys.stdout.flush()

    def err(self, message: str) -> None:
        """One line on stderr (after what stdout already holds)."""
        sys.stdout.flush()
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def lib_error(self, message: str) -> None:
        """A library error, as guestfish's error handler prints it."""
        if self.interactive:
            self.err(f"libguestfs: error: {message}")
        else:
            self.err(f"{self.input_file}:{self.lineno}: libguestfs: error: {message}")

    # -- input ---------------------------------------------------------------------------
    def read_raw_line(self) -> bytes | None:
        """The next line of the script's input, with its newline; None at the end."""
        line = self.stdin.readline()
        return line if line else None

    def read_key(self, name: str) -> str | None:
        """A key or passphrase: from /dev/tty (not echoed), else (or with
        --keys-from-stdin) the next line of standard input."""
        tty = None
        if not self.keys_from_stdin:
            try:
                tty = open("/dev/tty", "r+b", buffering=0)  # noqa: SIM115 - closed below
            except OSError:
                tty = None
        infp: IO[bytes] = tty if tty is not None else self.stdin
        try:
            if infp.isatty():
                import termios

                out = tty if tty is not None else sys.stdout.buffer
                out.write(f'Enter key or passphrase ("{name}"): '.encode())
                out.flush()
                old = termios.tcgetattr(infp.fileno())
                if not self.echo_keys:
                    new = termios.tcgetattr(infp.fileno())
                    new[3] &= ~termios.ECHO
                    termios.tcsetattr(infp.fileno(), termios.TCSAFLUSH, new)
                try:
                    line = infp.readline()
                finally:
                    if not self.echo_keys:
                        self.write(b"\n")
                        termios.tcsetattr(infp.fileno(), termios.TCSAFLUSH, old)
            else:
                line = infp.readline()
        finally:
            if tty is not None:
                tty.close()
        if self.keys_from_stdin:
            self.lineno += 1
        if not line:
            self.err("getline: Success")
            return None
        return os.fsdecode(line[:-1] if line.endswith(b"\n") else line)

    def tmpdir(self) -> str:
        """Where local temporary files go: the library's tmpdir, as guestfish's."""
        try:
            return str(self.g.get_tmpdir())
        except GuestFSError:
            return os.environ.get("TMPDIR") or "/tmp"

    def win_prefix(self, path: str) -> str | None:
        """A ``win:`` path as a guest path (guestfish's ``win_prefix``): a drive letter
        is looked up in the inspected guest's drive mappings and mountpoints,
        backslashes become slashes, and the case is resolved in the guest. Other paths
        are unchanged."""
        if path[:4].lower() != "win:":
            return path
        rest = path[4:]
        try:
            if len(rest) >= 2 and rest[0].isalpha() and rest[1] == ":":
                found = self._drive_letter(rest[0].lower(), rest[2:])
                if found is None:
                    return None
                rest = found
            elif not rest:
                rest = "/"
            return str(self.g.case_sensitive_path(rest.replace("\\", "/")))
        except GuestFSError as e:
            self.lib_error(str(e))
            return None

    def _drive_letter(self, letter: str, path: str) -> str | None:
        g = self.g
        roots = g.inspect_get_roots()
        if not roots:
            self.err(
                f"{self.prog}: to use Windows drive letters, you must inspect the guest "
                '("-i" option or run "inspect-os" command)'
            )
            return None
        mappings = _pairs(g.inspect_get_drive_mappings(roots[0]))
        if not mappings:
            self.err(f"{self.prog}: to use Windows drive letters, this must be a Windows guest")
            return None
        device = next((d for k, d in mappings if k.lower() == letter), None)
        if device is None:
            self.err(
                f"{self.prog}: drive '{letter}:' not found.  To list available drives do:\n"
                f"  inspect-get-drive-mappings {roots[0]}"
            )
            return None
        mountpoint = next((m for d, m in _pairs(g.mountpoints()) if d == device), None)
        if mountpoint is None:
            self.err(
                f"{self.prog}: to access '{letter}:', mount {device} first.  One way to do "
                f"this is:\n  umount-all\n  mount {device} /"
            )
            return None
        return mountpoint + ("/" if mountpoint != "/" else "") + path

    # -- running -------------------------------------------------------------------------
    def run_script(self) -> None:
        """Run the script on standard input (or -f FILE) to its end or to ``quit``."""
        while not self.quit:
            raw = self.read_raw_line()
            if raw is None:
                break
            self.lineno += 1
            line = os.fsdecode(raw[:-1] if raw.endswith(b"\n") else raw)
            self.run_line(line, exit_on_error=not self.interactive)

    def run_line(self, line: str, exit_on_error: bool) -> None:
        """Parse and run one line; raises :class:`FishExit` when it fails and errors end
        the run."""
        try:
            parsed = parse_line(line, exit_on_error)
        except ParseError as e:
            self.err(f"{self.prog}: {e}")
            if exit_on_error and not line.lstrip(" \t\n\v\f\r").startswith("-"):
                raise FishExit(1) from None
            return
        if parsed.kind is LineKind.EMPTY:
            return
        if parsed.kind is LineKind.SHELL:
            self.flush()
            status = subprocess.call(parsed.cmd, shell=True)
            if status != 0 and parsed.exit_on_error:
                raise FishExit(1)
            return
        if parsed.kind is LineKind.INLINE:
            status = self.execute_and_inline(parsed.cmd, parsed.exit_on_error)
            if status != 0 and parsed.exit_on_error:
                raise FishExit(1)
            return
        r = self.issue_command(parsed.cmd, parsed.argv, parsed.pipe)
        if r != 0 and parsed.exit_on_error:
            raise FishExit(1)

    def execute_and_inline(self, command: str, exit_on_error: bool) -> int:
        """``<! command``: run it locally, and each line of its output as a command."""
        self.flush()
        proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = os.fsdecode(raw[:-1] if raw.endswith(b"\n") else raw)
                self.run_line(line, exit_on_error)
        finally:
            proc.stdout.close()
            status = proc.wait()
        if status != 0:
            self.err("pclose: Success")
            return -1
        return 0

    def run_words(self, words: list[str]) -> None:
        """Commands given on the command line: ``cmd args : cmd args ...``; any failing
        command (unless written ``-cmd``) ends the run."""
        while words:
            cmd, words = words[0], words[1:]
            if cmd == ":":
                self.err(f"{self.invoked}: empty command on command line")
                raise FishExit(1)
            exit_on_error = True
            if cmd.startswith("-"):
                exit_on_error, cmd = False, cmd[1:]
            end = words.index(":") if ":" in words else len(words)
            params, words = words[:end], words[end + 1 :]
            if self.issue_command(cmd, params, None) != 0 and exit_on_error:
                raise FishExit(1)
            if self.quit:
                break

    def issue_command(self, cmd: str, argv: list[str], pipe: str | None) -> int:
        """Run one command, its output going to ``pipe`` when given: 0 or -1."""
        self.command_num += 1
        if pipe is None:
            return self._dispatch(cmd, argv)
        self.flush()
        read_end, write_end = os.pipe()
        child = subprocess.Popen(pipe, shell=True, stdin=read_end)
        os.close(read_end)
        saved = os.dup(1)
        os.dup2(write_end, 1)
        os.close(write_end)
        try:
            r = self._dispatch(cmd, argv)
            try:
                self.flush()
            except BrokenPipeError:
                r = 0  # guestfish ignores a pipe closed early (without --pipe-error)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            child.wait()
        return r

    def _dispatch(self, cmd: str, argv: list[str]) -> int:
        low = cmd.lower()
        try:
            if low == "help":
                r = display_help(self, argv)
            elif low in ("quit", "exit", "q"):
                self.quit = True
                r = 0
            else:
                r = self.run_action(cmd, argv)
            self.flush()
        except BrokenPipeError:
            return -1
        return r

    def run_action(self, cmd: str, argv: list[str]) -> int:
        """A command by name: a local one, an API, or "unknown command"."""
        low = cmd.lower()
        local = self.local.get(low)
        if local is not None:
            return local.run(self, cmd, argv)
        api = self.api.get(low)
        if api is not None:
            return run_api(self, cmd, api, argv)
        self.err(f"{cmd}: unknown command")
        if self.command_num == 1:
            self.err(
                "Did you mean to open a disk image?  guestfish -a disk.img\n"
                "For a list of commands:             guestfish -h\n"
                "For complete documentation:         man guestfish"
            )
        return -1
