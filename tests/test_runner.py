"""The host side's one runner (pyguestfs.core.runner): argv only, stdin from /dev/null,
one wording for a missing program, an exit status, a signal and a timeout."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from pyguestfs.builder.errors import BuildError, tool_error
from pyguestfs.core import runner

PY = sys.executable


def test_output_is_captured_and_stdin_is_dev_null() -> None:
    proc = runner.run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"])
    assert proc.stdout == b"''\n"  # /dev/null: reads nothing, never blocks
    proc = runner.run([PY, "-c", "import sys; sys.stdout.write(sys.stdin.read())"], input=b"in")
    assert proc.stdout == b"in"


def test_stdin_can_be_a_file(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.write_bytes(b"from a file")
    with open(src, "rb") as f:
        proc = runner.run([PY, "-c", "import sys; sys.stdout.write(sys.stdin.read())"], stdin=f)
    assert proc.stdout == b"from a file"


def test_environment_additions_reach_the_child() -> None:
    out = runner.output([PY, "-c", "import os; print(os.environ['PYG_X'], 'PATH' in os.environ)"],
                        env={"PYG_X": "42"})  # fmt: skip
    assert out == "42 True\n"


def test_missing_program(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-tool")
    with pytest.raises(runner.CommandNotFound) as info:
        runner.run([missing, "-x", "a b"])
    assert info.value.message == (
        f"{missing}: command not found (needed to run: {missing} -x 'a b')"
    )
    assert info.value.program == missing


def test_exit_status_and_the_tail_of_stderr() -> None:
    script = "import sys; print('first', file=sys.stderr); print('why', file=sys.stderr); exit(3)"
    with pytest.raises(runner.CommandFailed) as info:
        runner.run([PY, "-c", script])
    assert info.value.status == 3
    assert info.value.message.startswith(f"{PY} -c ")
    assert ": exit status 3:\nfirst\nwhy" in info.value.message
    one_line = runner.status_error(["tool", "arg"], 1, b"only this\n")
    assert one_line.message == "tool arg: exit status 1: only this"


def test_check_false_returns_an_exit_but_never_a_signal() -> None:
    proc = runner.run([PY, "-c", "exit(2)"], check=False)
    assert proc.returncode == 2
    assert runner.failure(proc).message.endswith(": exit status 2")
    with pytest.raises(runner.CommandFailed) as info:
        runner.run([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                   check=False)  # fmt: skip
    assert info.value.status == -9
    assert info.value.message.endswith(": killed by signal 9 (SIGKILL)")


def test_timeout() -> None:
    with pytest.raises(runner.CommandTimedOut) as info:
        runner.run([PY, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert info.value.message.endswith(": timed out after 0.5 s")


def test_the_command_line_is_logged_under_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pyguestfs.core.runner"):
        runner.run([PY, "-c", "pass", "two words"])
    assert f"+ {PY} -c pass 'two words'" in caplog.messages


def test_describe_status() -> None:
    assert runner.describe_status(0) == "exit status 0"
    assert runner.describe_status(1) == "exit status 1"
    assert runner.describe_status(-15) == "killed by signal 15 (SIGTERM)"
    assert runner.describe_status(-99) == "killed by signal 99"


def test_builder_errors_keep_the_wording_and_add_a_hint(tmp_path: Path) -> None:
    err = tool_error(runner.not_found_error(["mke2fs", "-q"]), "making the root image /x")
    assert isinstance(err, BuildError)
    assert err.message == (
        "making the root image /x: mke2fs: command not found (needed to run: mke2fs -q)"
    )
    assert err.hint == "apt-get install e2fsprogs"
    failed = tool_error(runner.status_error(["zstd", "-d"], 1, b"bad"), hint="look")
    assert (failed.message, failed.hint) == ("zstd -d: exit status 1: bad", "look")
