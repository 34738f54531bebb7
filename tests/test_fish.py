"""pyguestfish without an appliance: the line parser, list arguments, numbers and
booleans, result formats, the command set (against the real guestfish's list), and the
shell driving a real agent process over a socket (the ``g`` fixture)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyguestfs.fish.apicall import run_api
from pyguestfs.fish.cli import drive_name, getopt_long, parse_mount
from pyguestfs.fish.commands import API_COMMANDS, api_lookup
from pyguestfs.fish.local import list_commands
from pyguestfs.fish.output import format_result
from pyguestfs.fish.parse import (
    IntError,
    LineKind,
    ParseError,
    is_true,
    parse_line,
    parse_string_list,
    xstrtoll,
)
from pyguestfs.fish.prep import parse_prep
from pyguestfs.fish.shell import FishExit, Shell
from pyguestfs.protocol.types import FishOutput, RetType

REAL = shutil.which("guestfish")


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "cmd", "argv", "pipe"),
    [
        ("echo a  b\tc", "echo", ["a", "b", "c"], None),
        ('write /f "a\\tb\\n"', "write", ["/f", "a\tb\n"], None),
        ("echo 'x \"y\"' z", "echo", ['x "y"', "z"], None),
        ('echo a"b"c', "echo", ['a"b"c'], None),
        ("cat /f | tr a b", "cat", ["/f"], " tr a b"),
        ('echo "\\x41\\101"', "echo", ["AA"], None),
        ("echo", "echo", [], None),
        ("  mkdir-p /a  ", "mkdir-p", ["/a"], None),
        ('echo ""', "echo", [""], None),
    ],
)
def test_parse_line_splits_as_guestfish(
    line: str, cmd: str, argv: list[str], pipe: str | None
) -> None:
    p = parse_line(line)
    assert (p.kind, p.cmd, p.argv, p.pipe, p.exit_on_error) == (
        LineKind.COMMAND,
        cmd,
        argv,
        pipe,
        True,
    )


def test_parse_line_special_lines() -> None:
    assert parse_line("   # comment").kind is LineKind.EMPTY
    assert parse_line("").kind is LineKind.EMPTY
    shell = parse_line("!ls -l | wc")
    assert (shell.kind, shell.cmd) == (LineKind.SHELL, "ls -l | wc")
    inline = parse_line("<! echo echo hi")
    assert (inline.kind, inline.cmd) == (LineKind.INLINE, " echo echo hi")
    minus = parse_line(" - mkdir /x")
    assert (minus.kind, minus.cmd, minus.exit_on_error) == (LineKind.COMMAND, "mkdir", False)
    assert parse_line("-!false").kind is LineKind.SHELL


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('echo "abc', "unterminated double quote"),
        ("echo 'abc", "unterminated single quote"),
        ('echo "a"b', "command arguments not separated by whitespace"),
        ('echo "\\q"', "invalid escape sequence in string (starting at offset 0)"),
        ('echo "ab\\400"', "invalid escape sequence in string (starting at offset 2)"),
        ('echo "\\x00"', "invalid escape sequence in string (starting at offset 0)"),
        ("echo " + " ".join(["w"] * 64), "too many arguments"),
    ],
)
def test_parse_line_refuses_as_guestfish(line: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_line(line)
    assert str(e.value) == message


def test_tilde_expands_home_and_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/fish")
    assert parse_line("echo ~ ~/x '~'").argv == ["/home/fish", "/home/fish/x", "~"]
    assert parse_line("echo ~root/y").argv == ["/root/y"]
    assert parse_line("echo ~no-such-user-xyz").argv == ["~no-such-user-xyz"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a b  c", ["a", "b", "c"]),
        ("'a b' c", ["a b", "c"]),
        ("x' 'y", ["x y"]),
        ("it\\'s", ["it's"]),
        ("", []),
        ("  ", []),
    ],
)
def test_string_lists(text: str, words: list[str]) -> None:
    assert parse_string_list(text) == words


def test_runaway_quote_in_list() -> None:
    with pytest.raises(ParseError, match='Runaway quote in string "a \'b"'):
        parse_string_list("a 'b")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0x10", 16),
        ("010", 8),
        ("-5", -5),
        ("1k", 1024),
        ("1K", 1024),
        ("2M", 2 << 20),
        ("1G", 1 << 30),
        ("2KB", 2000),
        ("1KiB", 1024),
        ("k", 1024),
        (" 7", 7),
    ],
)
def test_xstrtoll_accepts(text: str, value: int) -> None:
    assert xstrtoll(text) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [("", 4), ("abc", 4), ("12x", 2), ("08", 2), ("1g", 2), ("99999999999999999999", 1)],
)
def test_xstrtoll_refuses_with_gnulib_codes(text: str, code: int) -> None:
    with pytest.raises(IntError) as e:
        xstrtoll(text)
    assert e.value.code == code


def test_boolean_words() -> None:
    assert [is_true(w) for w in ("1", "TRUE", "t", "Yes", "y", "on")] == [True] * 6
    assert [is_true(w) for w in ("0", "false", "F", "no", "N", "OFF")] == [False] * 6
    assert is_true("maybe") is None and is_true("2") is None


# -- output ------------------------------------------------------------------------------------


def test_result_formats() -> None:
    assert format_result(RetType.BOOL, True) == b"true\n"
    assert format_result(RetType.BOOL, False) == b"false\n"
    assert format_result(RetType.INT, -3) == b"-3\n"
    assert format_result(RetType.INT, 0o22, fish_output=FishOutput.OCTAL) == b"022\n"
    assert format_result(RetType.INT, 0, fish_output=FishOutput.OCTAL) == b"0\n"
    assert format_result(RetType.INT64, 255, fish_output=FishOutput.HEXADECIMAL) == b"0xff\n"
    assert format_result(RetType.STRINGLIST, ["a", "b"]) == b"a\nb\n"
    assert format_result(RetType.HASHTABLE, [("/dev/sda1", "/")]) == b"/dev/sda1: /\n"
    assert format_result(RetType.BUFFER, b"\x00raw") == b"\x00raw"
    assert format_result(RetType.CONST_OPT_STRING, None) == b"(null)\n"
    assert format_result(RetType.ERR, None) == b""


def test_struct_formats_fields_in_order() -> None:
    entry = {"ino": 2, "ftyp": "d", "name": ".."}
    assert format_result(RetType.STRUCT, entry, struct="dirent") == b"ino: 2\nftyp: d\nname: ..\n"
    assert format_result(RetType.STRUCTLIST, [entry], struct="dirent") == (
        b"[0] = {\n  ino: 2\n  ftyp: d\n  name: ..\n}\n"
    )
    xattr = {"attrname": "user.x", "attrval": b"a\x01b"}
    assert format_result(RetType.STRUCTLIST, [xattr], struct="xattr") == (
        b"[0] = {\n  attrname: user.x\n  attrval: a\\x01b\n}\n"
    )


# -- the command set ---------------------------------------------------------------------------


def test_command_set_comes_from_the_table() -> None:
    table = api_lookup()
    # Keys are lower-cased: the shell looks names up case-insensitively.
    assert table["mkdir-p"].name == table["mkdir_p"].name == "mkdir_p"
    assert table["run"].name == "launch" and table["add"].name == "add_drive"
    assert table["add-drive-opts"].name == "add_drive"
    assert "copy_in" not in {c.name for c in API_COMMANDS}  # guestfish's own command
    assert "is_ready" not in table and "internal_write" not in table
    assert table["is-file"].synopsis == "is-file path [followsymlinks:true|false]"


@pytest.mark.skipif(REAL is None, reason="Debian's guestfish is not installed")
def test_command_names_are_guestfish_s() -> None:
    """``-h`` lists the same names and aliases, in the same order, as guestfish 1.48."""
    assert REAL is not None
    real = subprocess.run([REAL, "-h"], capture_output=True, text=True, check=True).stdout
    ours = list_commands()

    def first_words(text: str) -> list[str]:
        return [line.split()[0] for line in text.splitlines()[1:] if line.strip()]

    assert first_words(ours) == first_words(real)
    aliases = [line for line in real.splitlines() if "alias for" in line]
    assert aliases == [line for line in ours.splitlines() if "alias for" in line]


# -- options -----------------------------------------------------------------------------------


def test_getopt_permutes_and_abbreviates() -> None:
    opts, operands = getopt_long(["-a", "d.img", "echo", "--ro", "-mx:/y", "--form=raw", "z"])
    assert opts == [("a", "d.img"), ("r", None), ("m", "x:/y"), ("format", "raw")]
    assert operands == ["echo", "z"]
    assert getopt_long(["--", "-x"]) == ([], ["-x"])
    assert getopt_long(["-vx"])[0] == [("v", None), ("x", None)]


def test_mount_and_prep_specs() -> None:
    m = parse_mount("/dev/sda2:/boot:ro:ext4")
    assert (m.device, m.mountpoint, m.options, m.fstype) == ("/dev/sda2", "/boot", "ro", "ext4")
    assert parse_mount("/dev/sda1").mountpoint == "/"
    p = parse_prep("fs:ext4:64M", 1)
    assert (p.filename, p.type.name, p.values) == (
        "test1.img",
        "fs",
        {"filesystem": "ext4", "size": "64M", "partition": "mbr"},
    )
    assert parse_prep("x.img=lv", 3).values["name"] == "/dev/VG/LV"
    assert [drive_name(i) for i in (0, 25, 26)] == ["sda", "sdz", "sdaa"]


# -- the shell on a real agent -----------------------------------------------------------------


class _Captured:
    def __init__(self, capfdbinary: Any) -> None:
        self.cap = capfdbinary

    def read(self) -> tuple[bytes, bytes]:
        out, err = self.cap.readouterr()
        return out, err


def _shell(g: Any, script: str) -> Shell:
    return Shell(g, prog="guestfish", stdin=io.BytesIO(script.encode()))


def test_shell_runs_a_script_on_a_real_agent(g: Any, capfdbinary: Any, tmp_path: Path) -> None:
    local = tmp_path / "up.txt"
    local.write_bytes(b"uploaded\n")
    script = f"""mkdir /d
write /d/f "hello\\n"
cat /d/f
is-file /d/f
ls /d
upload {local} /d/up
cat /d/up
upload -<<END /d/here
doc line
END
cat /d/here
-mkdir /no/such/dir
is-dir /d/f
echo end
"""
    shell = _shell(g, script)
    shell.run_script()
    sys.stdout.flush()
    out, err = capfdbinary.readouterr()
    assert out == (b"hello\n\ntrue\nf\nuploaded\n\ndoc line\n\nfalse\nend\n")
    # Line 10: a here-document's lines are not counted, as in guestfish.
    assert err == b"*stdin*:10: libguestfs: error: mkdir: /no/such/dir: No such file or directory\n"


def test_shell_exits_on_the_first_error(g: Any, capfdbinary: Any) -> None:
    shell = _shell(g, "echo one\ncat /missing\necho two\n")
    with pytest.raises(FishExit) as e:
        shell.run_script()
    assert e.value.status == 1
    out, err = capfdbinary.readouterr()
    assert out == b"one\n"
    assert err.startswith(b"*stdin*:2: libguestfs: error: ")


def test_wrong_arguments_are_refused_before_the_call(g: Any, capfdbinary: Any) -> None:
    shell = _shell(g, "")
    assert run_api(shell, "Mkdir", api_lookup()["mkdir"], []) == -1
    assert run_api(shell, "is-file", api_lookup()["is_file"], ["/", "bad:1"]) == -1
    assert run_api(shell, "chmod", api_lookup()["chmod"], ["9x", "/"]) == -1
    _, err = capfdbinary.readouterr()
    assert err.decode() == (
        "error: incorrect number of arguments\n"
        "usage: mkdir path\n"
        "type 'help Mkdir' for more help on Mkdir\n"
        'is-file: unknown optional argument "bad:1"\n'
        "chmod: mode: invalid integer parameter (xstrtoll returned 2)\n"
    )


def test_pyguestfish_console_script_runs(tmp_path: Path) -> None:
    """The installed entry point: commands on the command line, exit status."""
    prog = Path(sys.executable).with_name("pyguestfish")
    r = subprocess.run(
        # "--": getopt permutes, so "-nosuch" before it would be options (as in guestfish).
        [str(prog), "--", "echo", "a", ":", "-nosuch", ":", "echo", "b"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert (r.returncode, r.stdout, r.stderr) == (
        0,
        "a\nb\n",
        "nosuch: unknown command\n",
    )


# -- interactive mode --------------------------------------------------------------------------


def test_completion_of_commands_devices_and_paths(g: Any) -> None:
    from pyguestfs.fish.interactive import Completer

    g.mkdir_p("/dir/sub")
    g.touch("/dir/file")
    completer = Completer(_shell(g, ""))
    assert completer.candidates("mkdir-", True) == ["mkdir-mode ", "mkdir-p "]
    assert "list-filesystems " in completer.candidates("LIST-F", True)
    assert completer.candidates("/dir/", False) == ["/dir/file ", "/dir/sub/"]
    assert completer.candidates("/dir/s", False) == ["/dir/sub/"]


def test_interactive_session_on_a_terminal(tmp_path: Path) -> None:
    """A real pty: banner, prompt, a command completed with TAB, errors that do not end
    the session, quit."""
    import pty
    import select

    prog = Path(sys.executable).with_name("pyguestfish")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell on the pty's slave
        os.environ["HOME"] = str(tmp_path)
        os.execv(str(prog), [str(prog)])
    out = b""

    def read_until(marker: bytes) -> None:
        nonlocal out
        while marker not in out:
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, f"no {marker!r} in {out!r}"
            out += os.read(fd, 4096)

    read_until(b"><fs> ")
    os.write(fd, b"ech\t hello\n")
    read_until(b"hello\r\n")
    os.write(fd, b"nosuch\n")
    read_until(b"unknown command")
    os.write(fd, b"echo still here\n")
    read_until(b"still here\r\n")
    os.write(fd, b"quit\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Welcome to pyguestfish" in out
    assert (tmp_path / ".guestfish").exists()  # readline history, as guestfish keeps it


def test_disk_uris_as_guestfish_reads_them() -> None:
    from pyguestfs.fish.cli import is_uri, parse_uri

    assert is_uri("nbd://host") and not is_uri("./a://b") and not is_uri("Nbd://x")
    assert parse_uri("nbd://example.com:10809/exp") == {
        "protocol": "nbd",
        "path": "exp",
        "server": ["tcp:example.com:10809"],
    }
    assert parse_uri("nbd:///exp?socket=/run/s.sock")["server"] == ["unix:/run/s.sock"]
    ssh = parse_uri("ssh://user:pw@host/disk.img")
    assert (ssh["path"], ssh["username"], ssh["secret"]) == ("/disk.img", "user", "pw")
    with pytest.raises(ValueError, match="cannot have both"):
        parse_uri("nbd://h/e?socket=/s")
