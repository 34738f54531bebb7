"""pyguestfish against Debian's guestfish 1.48, script by script, byte for byte.

Every ``tests/fish_scripts/*.fish`` runs under both programs; standard output, standard
error and the exit status must be the same once times and random names are masked.

* ``# mode: standalone`` scripts need no appliance (parsing, errors, exit status, local
  commands, settings): each runs in its own process on both sides, optionally with the
  command-line arguments of its ``# args:`` line.
* All the others run as ONE session on each side (``-N fs:ext4:128M -N disk:64M -m
  /dev/sda1``, so each side launches once: the real guestfish its own appliance under
  TCG, pyguestfish ours), each script after an ``echo ==== NAME`` marker; the last one
  ends the run with an error, so the session's exit status is compared too. Scripts work
  in their own directory (/sNN) and on /dev/sdb in order.

Our program runs through a link named ``guestfish``, so both print the same program name.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import needs_qemu, report_figure

SCRIPTS = Path(__file__).resolve().parent / "fish_scripts"
REAL = shutil.which("guestfish")
OURS = Path(sys.executable).with_name("pyguestfish")
SESSION_ARGS = ["-N", "fs:ext4:128M", "-N", "disk:64M", "-m", "/dev/sda1"]

needs_guestfish = pytest.mark.skipif(
    REAL is None, reason="Debian's guestfish (libguestfs-tools) is not installed"
)


@dataclass(frozen=True)
class Script:
    name: str
    text: str
    standalone: bool
    args: tuple[str, ...]


def load_scripts() -> list[Script]:
    scripts = []
    for path in sorted(SCRIPTS.glob("*.fish")):
        text = path.read_text()
        header = [line for line in text.splitlines() if line.startswith("# ")]
        standalone = "# mode: standalone" in header
        args: tuple[str, ...] = ()
        for line in header:
            if line.startswith("# args:"):
                args = tuple(shlex.split(line[len("# args:") :]))
        scripts.append(Script(path.stem, text, standalone, args))
    return scripts


_MASKS = [
    # glibc's error() and getopt name the program by its path.
    (re.compile(rb"^\S*/guestfish: ", re.M), b"guestfish: "),
    (re.compile(rb"(time\w*: )(\d{4,})$", re.M), rb"\1<T>"),
    (re.compile(rb"elapsed time: \d+\.\d\d seconds"), b"elapsed time: <T> seconds"),
    (re.compile(rb"(/s26/(?:tmp|dir))\w{6}"), rb"\1XXXXXX"),
    (re.compile(rb"^(fsid: )\d+$", re.M), rb"\1<FSID>"),
    # The guest kernel's number of the device (our appliance disk comes first).
    (re.compile(rb"^((?:st_)?dev: )\d+$", re.M), rb"\1<DEV>"),
]


def mask(data: bytes) -> bytes:
    for pattern, repl in _MASKS:
        data = pattern.sub(repl, data)
    return data


@dataclass
class Outcome:
    stdout: bytes
    stderr: bytes
    status: int

    def masked(self) -> tuple[bytes, bytes, int]:
        return mask(self.stdout), mask(self.stderr), self.status


def _env(tmp: Path, cachedir: str, ours: bool) -> dict[str, str]:
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    for var in ("LIBGUESTFS_PATH", "LIBGUESTFS_DEBUG", "LIBGUESTFS_TRACE", "PAGER", "EDITOR"):
        env.pop(var, None)
    env["TMPDIR"] = str(tmp)
    env["HOME"] = str(tmp)
    env["LC_ALL"] = "C.UTF-8"
    if ours:
        env["LIBGUESTFS_CACHEDIR"] = cachedir
    return env


def _program(tmp: Path, ours: bool) -> str:
    if not ours:
        assert REAL is not None
        return REAL
    link_dir = tmp / "bin"
    link_dir.mkdir(exist_ok=True)
    link = link_dir / "guestfish"
    if not link.exists():
        link.symlink_to(OURS)
    return str(link)


def run_fish(
    tmp: Path, cachedir: str, ours: bool, args: list[str], stdin: bytes, timeout: float = 900
) -> Outcome:
    work = tmp / ("ours" if ours else "real")
    work.mkdir(exist_ok=True)
    r = subprocess.run(
        [_program(tmp, ours), *args],
        input=stdin,
        capture_output=True,
        cwd=work,
        env=_env(tmp, cachedir, ours),
        timeout=timeout,
        check=False,
    )
    return Outcome(r.stdout, r.stderr, r.returncode)


def _diff(label: str, real: bytes, ours: bytes) -> str:
    import difflib

    lines = difflib.unified_diff(
        real.decode(errors="replace").splitlines(),
        ours.decode(errors="replace").splitlines(),
        f"guestfish {label}",
        f"pyguestfish {label}",
        lineterm="",
    )
    return "\n".join(lines)


def compare(real: Outcome, ours: Outcome) -> str:
    """ "" when the two runs agree, else the differences."""
    r_out, r_err, r_st = real.masked()
    o_out, o_err, o_st = ours.masked()
    parts = []
    if r_st != o_st:
        parts.append(f"exit status: guestfish {r_st}, pyguestfish {o_st}")
    if r_out != o_out:
        parts.append(_diff("stdout", r_out, o_out))
    if r_err != o_err:
        parts.append(_diff("stderr", r_err, o_err))
    return "\n".join(parts)


ALL = load_scripts()
STANDALONE = [s for s in ALL if s.standalone]
SESSION = [s for s in ALL if not s.standalone]


def test_the_corpus_is_large_enough() -> None:
    """At least 40 scripts, and the session's last script is the failing one."""
    assert len(ALL) >= 40
    assert SESSION and SESSION[-1].name == "99-exit-status"


@needs_guestfish
@pytest.mark.artifact  # the real guestfish and ours per script: seconds each
@pytest.mark.parametrize("script", STANDALONE, ids=[s.name for s in STANDALONE])
def test_standalone_script(script: Script, tmp_path: Path) -> None:
    """Scripts that need no appliance: same output, errors and exit status."""
    stdin = b"" if script.args else script.text.encode()
    real = run_fish(tmp_path, "", False, list(script.args), stdin, timeout=120)
    ours = run_fish(tmp_path, "", True, list(script.args), stdin, timeout=120)
    assert compare(real, ours) == ""


def session_text() -> bytes:
    return "".join(f"echo ==== {s.name}\n{s.text}" for s in SESSION).encode()


@needs_qemu
@needs_guestfish
@pytest.mark.timeout(1800)
def test_session_scripts(cachedir: str, tmp_path: Path) -> None:
    """The launched session: every script's output the same on both sides."""
    import time

    text = session_text()
    t0 = time.monotonic()
    real = run_fish(tmp_path, cachedir, False, SESSION_ARGS, text)
    t1 = time.monotonic()
    ours = run_fish(tmp_path, cachedir, True, SESSION_ARGS, text)
    t2 = time.monotonic()
    report_figure(
        f"fish session ({len(SESSION)} scripts): guestfish {t1 - t0:.1f} s, "
        f"pyguestfish {t2 - t1:.1f} s"
    )
    assert real.status == 1, real.stderr.decode(errors="replace")[-3000:]
    differences = compare(real, ours)
    if differences:
        # Name the scripts whose sections differ, then the whole diff.
        r_sections = _sections(mask(real.stdout))
        o_sections = _sections(mask(ours.stdout))
        bad = [n for n in r_sections if r_sections.get(n) != o_sections.get(n)]
        pytest.fail(f"scripts differing on stdout: {bad}\n{differences}")


def _sections(stdout: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    name = ""
    for line in stdout.splitlines(keepends=True):
        if line.startswith(b"==== "):
            name = line[5:].strip().decode()
            out[name] = b""
        else:
            out[name] = out.get(name, b"") + line
    return out
