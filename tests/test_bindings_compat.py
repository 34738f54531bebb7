"""Interoperability with Debian's real libguestfs 1.48, both ways, on one scripted session.

``bindings_scripts/disk_session.py`` is written for python3-guestfs. It runs three ways,
each on its own fresh scratch disk and the same upload file:

* the real library with its own (supermin) appliance: the reference;
* the real library booting *our* fixed appliance (``LIBGUESTFS_PATH``): our agent serves
  the real library, with its own qemu command line and its own launch-time calls;
* pyguestfs.host, the script unchanged except its ``import guestfs`` line;
* pyguestfs.host driving Debian's real guestfsd, in an appliance built around it
  (``guestfs-build-appliance --daemon guestfsd``).

All four must print the same lines. ``disk_session.fish`` does the same in guestfish,
against both appliances, and the outputs must match too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_qemu

from pyguestfs.builder.appliance import BuildOptions, build
from pyguestfs.builder.guestfsd import DAEMON_TARBALL, INSTALL_HINT

SCRIPTS = Path(__file__).resolve().parent / "bindings_scripts"
REAL_PYTHON = "/usr/bin/python3"
MiB = 1 << 20


def _has_python3_guestfs() -> bool:
    if not os.access(REAL_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([REAL_PYTHON, "-c", "import guestfs"], capture_output=True)
    return probe.returncode == 0


#: The sessions run the real library and guestfish, and boot.
needs_real_libguestfs = pytest.mark.skipif(
    not _has_python3_guestfs() or shutil.which("guestfish") is None,
    reason="Debian's python3-guestfs and libguestfs-tools are not installed "
    "(ci/setup.sh installs them)",
)


@pytest.fixture(scope="module")
def fixed(cachedir: str, appliance: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our appliance as a libguestfs fixed appliance directory."""
    out = tmp_path_factory.mktemp("fixed")
    build(BuildOptions(cachedir=cachedir, output=str(out)))
    return out


@pytest.fixture(scope="module")
def fixed_guestfsd(cachedir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The appliance built around Debian's guestfsd, as a fixed appliance directory."""
    if not DAEMON_TARBALL.is_file():
        pytest.skip(f"{DAEMON_TARBALL} is missing ({INSTALL_HINT})")
    out = tmp_path_factory.mktemp("fixed-guestfsd")
    build(BuildOptions(cachedir=cachedir, output=str(out), daemon="guestfsd"))
    assert (out / ".pyguestfs-daemon").read_text().strip() == "guestfsd"
    return out


@pytest.fixture(scope="module")
def upload_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "data.bin"
    # Deterministic, so every run's checksum lines can be compared byte for byte.
    path.write_bytes(bytes(range(256)) * (3 * MiB // 256) + b"tail")
    return path


def _workdir(tmp: Path, name: str) -> tuple[Path, Path]:
    work = tmp / name
    work.mkdir()
    disk = work / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(128 * MiB)
    return work, disk


def _real_env(tmp: Path, fixed_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    env.pop("LIBGUESTFS_PATH", None)
    if fixed_dir is not None:
        env["LIBGUESTFS_PATH"] = str(fixed_dir)
        env["TMPDIR"] = str(tmp)  # libguestfs's per-handle files for this run
    return env


def _run(argv: list[str], env: dict[str, str]) -> str:
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert r.returncode == 0, f"{argv[:3]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def _python_session(
    python: str, script: Path, tmp: Path, name: str, upload: Path, env: dict[str, str]
) -> str:
    work, disk = _workdir(tmp, name)
    return _run([python, str(script), str(disk), str(upload), str(work)], env)


@needs_qemu
@needs_real_libguestfs
@pytest.mark.timeout(2400)  # four launches under TCG, two of them real libguestfs
def test_python_script_runs_unchanged_on_all_four(
    cachedir: str, fixed: Path, fixed_guestfsd: Path, upload_file: Path, tmp_path: Path
) -> None:
    script = SCRIPTS / "disk_session.py"
    reference = _python_session(
        REAL_PYTHON, script, tmp_path, "real", upload_file, _real_env(tmp_path, None)
    )
    real_on_ours = _python_session(
        REAL_PYTHON, script, tmp_path, "real-on-ours", upload_file, _real_env(tmp_path, fixed)
    )
    # Only the import line changes for our library.
    text = script.read_text()
    assert text.count("\nimport guestfs\n") == 1
    ours_script = tmp_path / "disk_session_pyguestfs.py"
    ours_script.write_text(
        text.replace("\nimport guestfs\n", "\nimport pyguestfs.host as guestfs\n")
    )
    ours = _python_session(
        sys.executable,
        ours_script,
        tmp_path,
        "ours",
        upload_file,
        dict(os.environ, LIBGUESTFS_CACHEDIR=cachedir),
    )
    # Our host library, the real daemon: the same script against Debian's guestfsd.
    ours_on_guestfsd = _python_session(
        sys.executable,
        ours_script,
        tmp_path,
        "ours-on-guestfsd",
        upload_file,
        dict(os.environ, LIBGUESTFS_CACHEDIR=cachedir, LIBGUESTFS_PATH=str(fixed_guestfsd)),
    )
    assert "checksum " in reference and "downloaded bytes 3145732" in reference, reference
    assert real_on_ours == reference
    assert ours == reference
    assert ours_on_guestfsd == reference


def _fish_session(tmp: Path, name: str, upload: Path, env: dict[str, str]) -> str:
    work, disk = _workdir(tmp, name)
    script = (SCRIPTS / "disk_session.fish").read_text()
    script = script.replace("@UPLOAD@", str(upload)).replace("@WORKDIR@", str(work))
    session = work / "session.fish"
    session.write_text(script)
    return _run(["guestfish", "-a", str(disk), "-f", str(session)], env)


@needs_qemu
@needs_real_libguestfs
@pytest.mark.timeout(1800)
def test_guestfish_session_on_our_appliance(fixed: Path, upload_file: Path, tmp_path: Path) -> None:
    reference = _fish_session(tmp_path, "real", upload_file, _real_env(tmp_path, None))
    ours = _fish_session(tmp_path, "ours", upload_file, _real_env(tmp_path, fixed))
    assert "/dev/sda1" in reference and "hello from guestfish" in reference, reference
    assert ours == reference


def test_the_guestfsd_build_is_keyed_recorded_and_never_snapshotted(
    cachedir: str, fixed_guestfsd: Path
) -> None:
    from pyguestfs.host import GuestFS, GuestFSError

    cli = [sys.executable, "-m", "pyguestfs.builder.cli", "--cachedir", cachedir]
    key = subprocess.run(
        [*cli, "--daemon", "guestfsd", "--print-cache-key"], capture_output=True, text=True
    )
    default_key = subprocess.run([*cli, "--print-cache-key"], capture_output=True, text=True)
    assert key.returncode == 0 and default_key.returncode == 0, key.stderr + default_key.stderr
    assert key.stdout.strip() == (fixed_guestfsd / ".pyguestfs-key").read_text().strip()
    assert key.stdout != default_key.stdout
    # A restore asks our agent for fresh entropy: guestfsd cannot do that.
    r = subprocess.run([*cli, "--daemon", "guestfsd", "--snapshot"], capture_output=True, text=True)
    assert r.returncode == 2 and "--snapshot needs the pyguestfs agent" in r.stderr
    g = GuestFS()
    g.set_path(str(fixed_guestfsd))
    g.set_cachedir(cachedir)
    with pytest.raises(GuestFSError, match="the appliance runs guestfsd"):
        g.make_snapshot()
    g.close()
