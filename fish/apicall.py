"""Running one API command: the words of the line turned into the API's arguments by
their kinds (as guestfish's generated ``run_<name>`` functions do), the call on the
handle, and the result printed in guestfish's format.

Every refusal is worded as guestfish words it, and each returns -1 without calling: the
caller decides whether the script goes on.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from ..core.errors import GuestFSError
from ..protocol.types import ArgType, OptType
from .commands import ApiCommand
from .output import format_result
from .parse import IntError, ParseError, is_true, parse_string_list, xstrtoll

if TYPE_CHECKING:
    from .shell import Shell

#: The range of the generator's Int (a signed 31-bit integer in guestfish's check).
INT_MIN, INT_MAX = -(2 << 30), (2 << 30) - 1


class ArgError(Exception):
    """An argument guestfish refuses; its message has already been printed."""


def run_api(shell: Shell, word: str, command: ApiCommand, argv: list[str]) -> int:
    """Run ``command`` typed as ``word`` with the words ``argv``: 0, or -1 on any error."""
    action = command.action
    low = command.user_args
    high = low + len(action.optargs)
    if not low <= len(argv) <= high:
        shell.err("error: incorrect number of arguments")
        shell.err(f"usage: {command.synopsis}")
        shell.err(f"type 'help {word}' for more help on {word}")
        return -1
    cleanup: list[str] = []
    try:
        args, optargs = _convert(shell, word, command, argv, cleanup)
    except ArgError:
        _remove(cleanup)
        return -1
    try:
        method = getattr(shell.g, action.name)
        if any(a.type is ArgType.FILEOUT for a in action.args):
            shell.flush()  # a download to "-" writes to fd 1 directly
        result = method(*args, **optargs)
    except GuestFSError as e:
        shell.lib_error(str(e))
        return -1
    except (OSError, ValueError) as e:
        # A local file that cannot be read or written, a closed handle: the command
        # fails, the shell goes on (guestfish reports these through the library too).
        shell.lib_error(f"{action.name}: {e}")
        return -1
    finally:
        _remove(cleanup)
    try:
        shell.write(
            format_result(
                action.ret, result, struct=action.ret_struct, fish_output=action.fish_output
            )
        )
    except OSError as e:
        shell.err(f"write: {e.strerror}")
        return -1
    return 0


def _remove(paths: list[str]) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except OSError as e:
            print(f"{p}: {e.strerror}", file=sys.stderr)


def _int(shell: Shell, word: str, name: str, text: str, bounded: bool) -> int:
    try:
        value = xstrtoll(text)
    except IntError as e:
        shell.err(f"{word}: {name}: invalid integer parameter (xstrtoll returned {e.code})")
        raise ArgError from None
    if bounded and not INT_MIN <= value <= INT_MAX:
        shell.err(f"{word}: {name}: integer out of range")
        raise ArgError
    return value


def _bool(shell: Shell, text: str) -> bool:
    value = is_true(text)
    if value is None:
        shell.err(f"{shell.prog}: '{text}': invalid boolean value, use 'true' or 'false'")
        raise ArgError
    return value


def _list(shell: Shell, text: str) -> list[str]:
    try:
        return parse_string_list(text)
    except ParseError as e:
        shell.err(str(e))
        raise ArgError from None


def _convert(
    shell: Shell, word: str, command: ApiCommand, argv: list[str], cleanup: list[str]
) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    words = iter(argv)
    for arg in command.action.args:
        t = arg.type
        if t is ArgType.KEY:
            key = shell.read_key(arg.name)
            if key is None:
                raise ArgError
            args.append(key)
            continue
        text = next(words)
        if t in (ArgType.PATHNAME, ArgType.DEV_OR_PATH, ArgType.MOUNTABLE_OR_PATH):
            path = shell.win_prefix(text)
            if path is None:
                raise ArgError
            args.append(path)
        elif t is ArgType.OPTSTRING:
            args.append(text or None)
        elif t is ArgType.BUFFER:
            args.append(os.fsencode(text))
        elif t is ArgType.FILEIN:
            args.append(_file_in(shell, text, cleanup))
        elif t is ArgType.FILEOUT:
            args.append("/dev/stdout" if text == "-" else text)
        elif t in (ArgType.STRINGLIST, ArgType.DEVICELIST, ArgType.FILENAMELIST):
            args.append(_list(shell, text))
        elif t is ArgType.BOOL:
            args.append(_bool(shell, text))
        elif t is ArgType.INT:
            args.append(_int(shell, word, arg.name, text, True))
        elif t is ArgType.INT64:
            args.append(_int(shell, word, arg.name, text, False))
        else:
            args.append(text)
    optargs: dict[str, Any] = {}
    for text in words:
        for opt in command.action.optargs:
            if text.startswith(opt.name + ":"):
                break
        else:
            shell.err(f'{word}: unknown optional argument "{text}"')
            raise ArgError
        value = text[len(opt.name) + 1 :]
        converted: Any
        if opt.type is OptType.BOOL:
            converted = _bool(shell, value)
        elif opt.type is OptType.INT:
            converted = _int(shell, word, f"optargs_s.{opt.name}", value, True)
        elif opt.type is OptType.INT64:
            converted = _int(shell, word, f"optargs_s.{opt.name}", value, False)
        elif opt.type is OptType.STRINGLIST:
            converted = _list(shell, value)
        else:
            converted = value
        if opt.name in optargs:
            shell.err(f'{word}: optional argument "{opt.name}" given more than once')
            raise ArgError
        optargs[opt.name] = converted
    return args, optargs


def _file_in(shell: Shell, text: str, cleanup: list[str]) -> str:
    """A FileIn argument: ``-`` is standard input, ``-<<END`` a here-document read from
    the script up to the line ``END``, anything else a local file."""
    if text == "-":
        return "/dev/stdin"
    if not text.startswith("-<<"):
        return text
    marker = text[3:]
    if not marker:
        shell.err(f"{shell.prog}: missing end marker in -<< expression")
        raise ArgError
    fd, path = tempfile.mkstemp(prefix="guestfish", dir=shell.tmpdir())
    cleanup.append(path)
    with os.fdopen(fd, "wb") as f:
        end = marker.encode()
        while True:
            line = shell.read_raw_line()
            if line is None:
                shell.err(f"{shell.prog}: end of input reached without finding '{marker}'")
                raise ArgError
            if line in (end, end + b"\n"):
                return path
            f.write(line)
