"""guestfish's command-line syntax: splitting a line into a command and its words, the
escapes of double-quoted words, the quoted lists that list arguments are written as, and
the words that stand for booleans and (suffixed) integers.

Everything here is pure: the shell (:mod:`.shell`) decides what to do with the result.
The rules are those of guestfish 1.48 (``fish/fish.c``: ``parse_command_line``,
``parse_quoted_string``, ``parse_string_list``; gnulib's ``xstrtoll`` for numbers), so a
script that guestfish accepts splits into the same words here, and one it refuses is
refused with the same message.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from enum import Enum

#: How many words a command line may hold (guestfish's fixed argv array).
MAX_ARGS = 64

_BLANKS = " \t"
#: C's isspace() in the C locale.
_C_SPACE = " \t\n\v\f\r"


class ParseError(ValueError):
    """A line guestfish refuses: the message is guestfish's, without the program name."""


class LineKind(Enum):
    EMPTY = "empty"  # blank or a comment: nothing to run
    COMMAND = "command"  # a guestfish command (``cmd``/``argv``/``pipe``)
    SHELL = "shell"  # ``!cmd``: the rest of the line goes to /bin/sh
    INLINE = "inline"  # ``<!cmd``: run it and execute its output as guestfish commands


@dataclass
class ParsedLine:
    """One line of a script, split."""

    kind: LineKind
    #: The command (COMMAND) or the local shell command (SHELL, INLINE).
    cmd: str = ""
    argv: list[str] = field(default_factory=list)
    #: ``cmd ... | local command``: the local command that receives the output.
    pipe: str | None = None
    #: False when the line started with ``-``: an error does not end the script.
    exit_on_error: bool = True


def parse_line(line: str, exit_on_error: bool = True) -> ParsedLine:
    """Split one line as guestfish does. Raises :class:`ParseError`.

    ``exit_on_error`` is the script's setting; a leading ``-`` turns it off for this line
    (and only this line)."""
    p = 0
    n = len(line)
    while True:
        p = _span(line, p, _C_SPACE)
        if p == n or line[p] == "#":
            return ParsedLine(LineKind.EMPTY, exit_on_error=exit_on_error)
        if line[p] == "!":
            return ParsedLine(LineKind.SHELL, cmd=line[p + 1 :], exit_on_error=exit_on_error)
        if line.startswith("<!", p):
            return ParsedLine(LineKind.INLINE, cmd=line[p + 2 :], exit_on_error=exit_on_error)
        if line[p] != "-":
            break
        exit_on_error = False
        p += 1

    # The command itself: up to the first blank, never quoted.
    end = _span_not(line, p, _BLANKS)
    cmd = line[p:end]
    if end == n:
        return ParsedLine(LineKind.COMMAND, cmd=cmd, exit_on_error=exit_on_error)
    p = _span(line, end + 1, _BLANKS)

    argv: list[str] = []
    pipe: str | None = None
    while p < n and len(argv) < MAX_ARGS:
        c = line[p]
        if c == '"':
            word, close = _double_quoted(line, p + 1)
            _check_separated(line, close + 1)
            p = close + 2 if close + 1 < n else close + 1
        elif c == "'":
            close = line.find("'", p + 1)
            if close < 0:
                raise ParseError("unterminated single quote")
            _check_separated(line, close + 1)
            word = line[p + 1 : close]
            p = close + 2 if close + 1 < n else close + 1
        elif c == "|":
            # Everything after the bar is the local command; the words before stay.
            pipe = line[p + 1 :]
            break
        else:
            end = _span_not(line, p, _BLANKS)
            word = line[p:end]
            if word.startswith("~"):
                word = expand_tilde(word)
            p = end + 1 if end < n else end
        argv.append(word)
        if p < n:
            p = _span(line, p, _BLANKS)
    if len(argv) == MAX_ARGS:
        raise ParseError("too many arguments")
    return ParsedLine(LineKind.COMMAND, cmd=cmd, argv=argv, pipe=pipe, exit_on_error=exit_on_error)


def _span(s: str, p: int, chars: str) -> int:
    while p < len(s) and s[p] in chars:
        p += 1
    return p


def _span_not(s: str, p: int, chars: str) -> int:
    while p < len(s) and s[p] not in chars:
        p += 1
    return p


def _check_separated(line: str, after: int) -> None:
    if after < len(line) and line[after] not in _BLANKS:
        raise ParseError("command arguments not separated by whitespace")


_SIMPLE_ESCAPES = {
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "'": "'",
    "?": "?",
}


def _double_quoted(line: str, start: int) -> tuple[str, int]:
    """The word of a double-quoted argument opened before ``start``, and the index of its
    closing quote. Offsets in errors count from the word's start, as guestfish's do (in
    the already-unescaped text)."""
    out: list[str] = []
    p = start
    n = len(line)
    while p < n and line[p] != '"':
        c = line[p]
        if c != "\\":
            out.append(c)
            p += 1
            continue
        nxt = line[p + 1] if p + 1 < n else ""
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            p += 2
            continue
        digits = line[p + 2 : p + 4]
        value = -1
        if nxt in "01234567" and nxt and len(digits) == 2 and all(d in "01234567" for d in digits):
            value = int(nxt + digits, 8)
        elif nxt == "x" and len(digits) == 2 and all(d in "0123456789abcdefABCDEF" for d in digits):
            value = int(digits, 16)
        if not 1 <= value <= 255:
            raise ParseError(f"invalid escape sequence in string (starting at offset {len(out)})")
        # guestfish stores the byte; a byte above 127 is not text on its own, so it is
        # carried as the surrogate that os.fsencode turns back into that byte.
        out.append(chr(value) if value < 128 else os.fsdecode(bytes([value])))
        p += 4
    if p >= n:
        raise ParseError("unterminated double quote")
    return "".join(out), p


def expand_tilde(word: str) -> str:
    """``~`` and ``~user`` at the start of an unquoted word, as guestfish's
    ``try_tilde_expansion``: ``~`` is $HOME (else the user's home), ``~user`` that user's
    home; a user who does not exist leaves the word as it is."""
    name, slash, rest = word[1:].partition("/")
    if not name:
        home = os.environ.get("HOME")
        if home is None:
            try:
                home = pwd.getpwuid(os.getuid()).pw_dir
            except KeyError:
                return word
    else:
        try:
            home = pwd.getpwnam(name).pw_dir
        except KeyError:
            return word
    return home + slash + rest


def parse_string_list(text: str) -> list[str]:
    """A list argument: words split at blanks, where single quotes group (also inside a
    word, ``a' 'b`` is one word) and ``\\'`` is a literal quote (``parse_string_list``)."""
    words: list[str] = []
    p = 0
    n = len(text)
    while p < n:
        p = _span(text, p, _BLANKS)
        in_quote = False
        token: list[str] | None = None
        while p < n and (text[p] not in _BLANKS or in_quote):
            end = p
            if text[p] == "'":
                in_quote = not in_quote
                p += 1
                end += 1
            end = _span_not(text, end, "'") if in_quote else _span_not(text, end, " \t'")
            if token is None:
                token = []
            if end < n and text[end] == "'" and end != p and text[end - 1] == "\\":
                token.append(text[p : end - 1] + "'")
                p = end + 1
            else:
                token.append(text[p:end])
                p = end
        if in_quote:
            raise ParseError(f'Runaway quote in string "{text}"')
        if token is not None:
            words.append("".join(token))
    return words


_TRUE = ("true", "t", "yes", "y", "on")
_FALSE = ("false", "f", "no", "n", "off")


def is_true(word: str) -> bool | None:
    """guestfish's boolean words (``1``, ``true``, ``yes``, ``on`` ...; any case), or
    None when the word is neither."""
    if word == "1" or word.lower() in _TRUE:
        return True
    if word == "0" or word.lower() in _FALSE:
        return False
    return None


# -- integers: gnulib xstrtoll with guestfish's suffixes "0kKMGTPEZY" --------------------------

#: gnulib's strtol_error values, which guestfish prints in its message.
LONGINT_OK = 0
LONGINT_OVERFLOW = 1
LONGINT_INVALID_SUFFIX_CHAR = 2
LONGINT_INVALID = 4

INT_SUFFIXES = "0kKMGTPEZY"
_POWERS = {"k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6, "Z": 7, "Y": 8}
_LLONG_MIN, _LLONG_MAX = -(1 << 63), (1 << 63) - 1


class IntError(ValueError):
    """A number xstrtoll refuses; ``code`` is its strtol_error."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _strtoll(s: str) -> tuple[int | None, int, bool]:
    """C's strtoll(s, &end, 0): (value or None when no digits, end index, overflowed)."""
    p = _span(s, 0, _C_SPACE)
    neg = False
    if p < len(s) and s[p] in "+-":
        neg = s[p] == "-"
        p += 1
    base = 10
    if s.startswith(("0x", "0X"), p) and p + 2 < len(s) and s[p + 2] in "0123456789abcdefABCDEF":
        base, p = 16, p + 2
    elif s.startswith("0", p):
        base = 8
    digits = "0123456789abcdef"[:base]
    start = p
    while p < len(s) and s[p].lower() in digits:
        p += 1
    if p == start:
        return None, 0, False
    value = int(s[start:p], base) * (-1 if neg else 1)
    if value > _LLONG_MAX:
        return _LLONG_MAX, p, True
    if value < _LLONG_MIN:
        return _LLONG_MIN, p, True
    return value, p, False


def xstrtoll(s: str, suffixes: str = INT_SUFFIXES) -> int:
    """An integer as guestfish reads one: C syntax (``0x1f``, ``017``), optionally
    followed by a size suffix (``4k`` = 4096; with ``0`` among the suffixes also ``4KiB``
    = 4096 and ``4KB`` = 4000). Raises :class:`IntError` with gnulib's code."""
    value, p, overflow = _strtoll(s)
    err = LONGINT_OVERFLOW if overflow else LONGINT_OK
    if value is None:
        # A bare suffix counts as 1 of it ("k" is 1024), as in gnulib.
        if suffixes and s and s[0] in suffixes:
            value, p = 1, 0
        else:
            raise IntError(LONGINT_INVALID)
    if p == len(s):
        if err:
            raise IntError(err)
        return value
    c = s[p]
    if c not in suffixes:
        raise IntError(err | LONGINT_INVALID_SUFFIX_CHAR)
    if c not in _POWERS:
        raise IntError(err | LONGINT_INVALID_SUFFIX_CHAR)
    base = 1024
    used = 1
    if "0" in suffixes:
        rest = s[p + 1 : p + 3]
        if rest == "iB":
            used = 3
        elif rest[:1] in ("B", "D"):
            base, used = 1000, 2
    value *= base ** _POWERS[c]
    if value > _LLONG_MAX:
        value, err = _LLONG_MAX, err | LONGINT_OVERFLOW
    elif value < _LLONG_MIN:
        value, err = _LLONG_MIN, err | LONGINT_OVERFLOW
    if p + used != len(s):
        err |= LONGINT_INVALID_SUFFIX_CHAR
    if err:
        raise IntError(err)
    return value


def parse_size(s: str) -> int:
    """A size as ``alloc``, ``sparse`` and ``-N`` read it (xstrtoull: no negatives)."""
    stripped = s.lstrip(_C_SPACE)
    if stripped.startswith("-"):
        raise IntError(LONGINT_INVALID)
    return xstrtoll(s)
