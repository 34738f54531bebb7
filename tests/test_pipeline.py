"""The pipelined call API (``GuestFS.pipeline``), against a real agent process: results
equal to the same calls one by one, errors in place, nothing sent when a call is bad."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunningAgent

from pyguestfs.host import GuestFS, GuestFSError


def _calls(n: int) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    for i in range(n):
        calls.append(("mkdir_p", f"/d{i % 7}/e{i}"))
        calls.append(("exists", f"/d{i % 7}/e{i}"))
        calls.append(("is_file", f"/d{i % 7}"))
    return calls


def test_a_thousand_calls_give_what_one_by_one_gives(g: GuestFS, agent: RunningAgent) -> None:
    calls = _calls(334)[:1000]
    piped = g.pipeline(calls)
    assert len(piped) == 1000
    one_by_one = [getattr(g, str(name))(*args) for name, *args in calls]
    assert piped == one_by_one
    assert piped[:3] == [None, True, False]
    assert len(list((agent.sysroot / "d0").iterdir())) == 48  # i % 7 == 0, i < 334
    for window in (1, 2, 1000):
        assert g.pipeline(calls[:30], window=window) == one_by_one[:30]


def test_optional_arguments_and_structs_come_back_shaped(g: GuestFS, agent: RunningAgent) -> None:
    (agent.sysroot / "f").write_bytes(b"0123456789")
    size, st, head = g.pipeline([("filesize", "/f"), ("statns", "/f"), ("pread", "/f", 4, 2)])
    assert size == 10 and st["st_size"] == 10 and head == b"2345"
    g.pipeline([("mkdir", "/m"), ("chmod", 0o700, "/m"), ("touch", "/m/t")])
    assert (agent.sysroot / "m/t").exists()
    assert (agent.sysroot / "m").stat().st_mode & 0o777 == 0o700


def test_an_error_takes_its_place_and_the_others_still_run(g: GuestFS, agent: RunningAgent) -> None:
    calls = [("mkdir", "/a"), ("mkdir", "/no/such/parent"), ("mkdir", "/b"), ("ping_daemon",)]
    results = g.pipeline(calls, return_exceptions=True)
    assert results[0] is None and results[2] is None and results[3] is None
    err = results[1]
    assert isinstance(err, GuestFSError) and err.errno_name == "ENOENT"
    assert "mkdir: " in str(err) and "/no/such/parent" in str(err)
    assert (agent.sysroot / "b").is_dir()
    with pytest.raises(GuestFSError) as info:
        g.pipeline([("rmdir", "/a"), ("rmdir", "/a"), ("exists", "/b")])
    assert info.value.errno_name == "ENOENT"
    assert info.value.results[2] is True  # type: ignore[attr-defined]
    assert g.ping_daemon() is None  # the stream is in step


def test_a_bad_call_fails_the_batch_before_anything_is_sent(
    g: GuestFS, agent: RunningAgent
) -> None:
    with pytest.raises(TypeError, match="mkdir"):
        g.pipeline([("mkdir", "/sent-first"), ("mkdir", 42)])
    with pytest.raises(TypeError, match="missing required"):
        g.pipeline([("mkdir", "/sent-first"), ("mkdir",)])
    with pytest.raises(ValueError, match="cannot be pipelined"):
        g.pipeline([("mkdir", "/sent-first"), ("upload", "/etc/hostname", "/x")])
    with pytest.raises(ValueError, match="no_such_call is not a daemon procedure"):
        g.pipeline([("mkdir", "/sent-first"), ("no_such_call",)])
    with pytest.raises(TypeError, match="each call is"):
        g.pipeline([("mkdir", "/sent-first"), ()])
    with pytest.raises(ValueError, match="window"):
        g.pipeline([("mkdir", "/sent-first")], window=0)
    assert not (agent.sysroot / "sent-first").exists()
    assert g.pipeline([]) == []
    assert g.exists("/") is True


def test_pipeline_needs_a_launched_handle(tmp_path: Path) -> None:
    h = GuestFS()
    with pytest.raises(GuestFSError, match="call launch"):
        h.pipeline([("ping_daemon",)])
    h.close()
