"""Debian's real guestfsd (libguestfs 1.48), run on the host and confined, next to our agent.

Differential tests send the same requests to both daemons and compare the replies. This
module starts them:

* :func:`real_guestfsd` runs the ``guestfsd`` binary shipped in
  ``/usr/lib/x86_64-linux-gnu/guestfs/supermin.d/daemon.tar.gz`` inside a private mount
  namespace (``unshare --mount``), chrooted into a throwaway root built on a tmpfs:

  ========================  ================================================================
  path inside               what it is
  ========================  ================================================================
  ``/``                     a private tmpfs, remounted read-only before guestfsd starts
  ``/usr`` ``/etc`` ...     read-only bind mounts of the host's (guestfsd and the programs it
                            runs -- cp, tar, du, ls, cksum -- need them); ``/bin``, ``/lib``,
                            ``/lib64``, ``/sbin`` are the same symlinks as on the host when
                            the host has merged /usr
  ``/dev``                  a directory of that read-only tmpfs with only null, zero, full,
                            random, urandom and tty bound in, and the empty
                            ``/dev/disk/by-path`` guestfsd needs at start-up; no block
                            device of the host is reachable
  ``/proc``                 a read-only proc; there is no ``/sys`` (so autosync finds no
                            block device to fsync)
  ``/tmp``                  a private, writable tmpfs (guestfsd's own scratch space)
  ``/sysroot``              the caller's scratch directory, bind-mounted writable: the one
                            place a request can change anything that survives
  ``/sock``                 a host directory holding the listening socket
  ========================  ================================================================

  The namespace dies with guestfsd, and every mount with it; nothing is mounted in the
  host's namespace. By default guestfsd runs as in the appliance (no ``-r``): its sysroot
  is ``/sysroot``, so guest path ``/a`` is ``SCRATCH/a``, and a NEED_ROOT API works because
  ``/sysroot`` is a mount point. ``standalone=True`` adds ``-r`` (sysroot = the confined
  ``/``), as libguestfs's own tests run it; note that in that mode every API guestfsd 1.48
  implements in OCaml (here: ``is_file``, ``is_dir``, ``is_symlink``, ``readlink``,
  ``realpath``, ``statvfs``) fails with "chdir: : No such file or directory", because the
  OCaml side chroots into the empty sysroot string. The setup script refuses to start
  guestfsd unless ``/``, ``/usr``, ``/etc``, ``/dev`` and ``/proc`` are read-only there
  (checked with ``access(W_OK)``, without writing anything).

* :func:`our_agent` runs ``python -m pyguestfs.agent --listen SOCKET --sysroot SCRATCH``,
  the same layout: guest path ``/a`` is ``SCRATCH/a``.

Both yield a :class:`Daemon`; :meth:`Daemon.handle` attaches a ``GuestFS`` handle to it.
If the real daemon cannot run here (not root, no ``unshare``, no libguestfs0 package),
:class:`RealDaemonUnavailable` says why; tests turn that into a skip, or into a failure
when ``PYGUESTFS_REQUIRE_REAL_DAEMON=1``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from shortpaths import short_tempdir

from pyguestfs.builder import guestfsd as guestfsd_build
from pyguestfs.host import GuestFS

#: Where Debian's libguestfs0 ships the daemon half of the appliance, and that package
#: (CI installs it through libguestfs-tools): the builder's --daemon guestfsd uses it too.
DAEMON_TARBALL = guestfsd_build.DAEMON_TARBALL
DAEMON_PACKAGE = guestfsd_build.DAEMON_PACKAGE
#: Name of the socket inside the socket directory (and at /sock/ in the confined root).
SOCKET_NAME = "guestfsd.sock"

# Runs inside the new mount namespace (unshare defaults to private propagation, so no
# mount below leaks to the host). Positional parameters: $1 new root (an empty mount point),
# $2 socket directory, $3 scratch directory, $4 the guestfsd binary; the rest are
# guestfsd's options.
_SETUP = r"""
set -eu
R=$1 SOCKDIR=$2 SCRATCH=$3 BIN=$4
shift 4
mount -t tmpfs -o mode=0755,size=16m confined-root "$R"
for d in usr etc bin sbin lib lib64; do
  if [ -L "/$d" ]; then
    ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then
    mkdir "$R/$d"
    mount --bind "/$d" "$R/$d"
    mount -o remount,bind,ro "$R/$d"
  fi
done
mkdir -p "$R/proc" "$R/dev/disk/by-path" "$R/tmp" "$R/sysroot" "$R/sock" "$R/run" \
         "$R/.guestfsd"
for n in null zero full random urandom tty; do
  [ -e "/dev/$n" ] || continue
  : > "$R/dev/$n"
  mount --bind "/dev/$n" "$R/dev/$n"
done
cp "$BIN" "$R/.guestfsd/guestfsd"
mount -t proc -o ro,nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o mode=1777,size=64m confined-tmp "$R/tmp"
mount --bind "$SCRATCH" "$R/sysroot"
mount --bind "$SOCKDIR" "$R/sock"
mount -o remount,ro "$R"
for d in / /usr /etc /dev /proc /.guestfsd; do
  if [ -w "$R$d" ]; then
    echo "realdaemon: confinement failed: $d is writable" >&2
    exit 97
  fi
done
exec chroot "$R" /.guestfsd/guestfsd "$@"
"""


class RealDaemonUnavailable(Exception):
    """The real guestfsd cannot be run on this machine; the message says why."""


@dataclass
class Daemon:
    """A daemon listening on ``socket``; guest path ``/x`` is ``scratch/x``."""

    name: str
    socket: str
    scratch: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    #: Where the scratch directory is in the daemon's own view ("" when "/" is the scratch).
    guest_prefix: str = ""
    handles: list[GuestFS] = field(default_factory=list)

    def handle(self, timeout: float = 20.0) -> GuestFS:
        """A ``GuestFS`` handle attached to this daemon (it serves one connection)."""
        g = GuestFS(python_return_dict=True, environment=False)
        try:
            g.attach(self.socket, timeout=timeout)
        except Exception as e:
            g.close()
            raise RuntimeError(f"{self.name}: cannot attach: {e}\n--- log ---\n{self.log()}") from e
        self.handles.append(g)
        return g

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def require_real_daemon() -> bool:
    """True if a missing real daemon must fail the tests rather than skip them."""
    return os.environ.get("PYGUESTFS_REQUIRE_REAL_DAEMON") == "1"


def daemon_tarball(install: bool = True) -> Path:
    """The daemon tarball, installing libguestfs0 with apt-get if it is missing (as root)."""
    if DAEMON_TARBALL.is_file():
        return DAEMON_TARBALL
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", DAEMON_PACKAGE]
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(cmd, env=env, capture_output=True, check=False)
        if DAEMON_TARBALL.is_file():
            return DAEMON_TARBALL
    raise RealDaemonUnavailable(
        f"{DAEMON_TARBALL} is missing (install the Debian package {DAEMON_PACKAGE})"
    )


def check_can_confine() -> None:
    """Raise :class:`RealDaemonUnavailable` unless a confined guestfsd can be started."""
    if sys.platform != "linux":
        raise RealDaemonUnavailable("the real guestfsd runs on Linux only")
    if os.geteuid() != 0:
        raise RealDaemonUnavailable(
            "confining the real guestfsd needs root (mount namespace, bind mounts, chroot)"
        )
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise RealDaemonUnavailable(f"{tool} is not installed")
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--fork", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        raise RealDaemonUnavailable(
            "cannot create a mount namespace: " + probe.stderr.decode(errors="replace").strip()
        )


def extract_guestfsd(dest: Path) -> Path:
    """Extract ``usr/sbin/guestfsd`` from the daemon tarball into ``dest``."""
    tarball = daemon_tarball()
    cached = _EXTRACTED.get(tarball)
    if cached is not None and cached.is_file():
        out = dest / "guestfsd"
        shutil.copyfile(cached, out)
        out.chmod(0o755)
        return out
    with tarfile.open(tarball) as tf:
        try:
            member = tf.getmember("usr/sbin/guestfsd")
        except KeyError:
            raise RealDaemonUnavailable(f"{tarball} has no usr/sbin/guestfsd") from None
        src = tf.extractfile(member)
        if src is None:
            raise RealDaemonUnavailable(f"{tarball}: usr/sbin/guestfsd is not a file")
        out = dest / "guestfsd"
        with src, open(out, "wb") as f:
            shutil.copyfileobj(src, f)
    out.chmod(0o755)
    cache_dir = Path(tempfile.mkdtemp(prefix="realgfsd-bin-"))
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    _EXTRACTED[tarball] = cache_dir / "guestfsd"
    shutil.copyfile(out, _EXTRACTED[tarball])
    return out


#: guestfsd extracted once per process (tarball -> a private copy), for quick restarts.
_EXTRACTED: dict[Path, Path] = {}


def _wait_for_socket(daemon: Daemon, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(daemon.socket):
        if daemon.process.poll() is not None:
            raise RuntimeError(
                f"{daemon.name} exited with status {daemon.process.returncode} "
                f"before listening\n--- log ---\n{daemon.log()}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{daemon.name} did not listen within {timeout} s\n--- log ---\n{daemon.log()}"
            )
        time.sleep(0.01)


def _stop(daemon: Daemon) -> None:
    """Close the handles (the daemon exits at EOF), then make sure the process group is
    gone: only the group started here is signalled."""
    for g in daemon.handles:
        with suppress(Exception):
            g.close()
    try:
        daemon.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(daemon.process.pid, signal.SIGKILL)
        daemon.process.wait(timeout=5)


@contextmanager
def real_guestfsd(
    scratch: Path, *, standalone: bool = False, verbose: bool = False, timeout: float = 20.0
) -> Iterator[Daemon]:
    """Run Debian's guestfsd confined, serving ``scratch`` as the guest's ``/`` (or, with
    ``standalone=True``, with ``-r`` and the confined root as its ``/``, the scratch
    directory being ``/sysroot`` there)."""
    check_can_confine()
    scratch = Path(scratch).resolve()
    work = Path(short_tempdir("realgfsd-"))  # the socket's path must fit in 108 bytes
    try:
        binary = extract_guestfsd(work)
        (work / "root").mkdir()
        (work / "sock").mkdir()
        log_path = work / "guestfsd.log"
        opts = ["-l", "-c", f"/sock/{SOCKET_NAME}"]
        if standalone:
            opts.insert(0, "-r")
        if verbose:
            opts.append("-v")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--fork",
                    "--kill-child",
                    "sh",
                    "-c",
                    _SETUP,
                    "realdaemon-setup",
                    str(work / "root"),
                    str(work / "sock"),
                    str(scratch),
                    str(binary),
                    *opts,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        daemon = Daemon(
            "guestfsd",
            str(work / "sock" / SOCKET_NAME),
            scratch,
            proc,
            log_path,
            guest_prefix="/sysroot" if standalone else "",
        )
        try:
            _wait_for_socket(daemon, timeout)
            yield daemon
        finally:
            _stop(daemon)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def our_agent(scratch: Path, *, verbose: bool = False, timeout: float = 20.0) -> Iterator[Daemon]:
    """Run our agent on a Unix socket, serving ``scratch`` as the guest's ``/``."""
    scratch = Path(scratch).resolve()
    work = Path(short_tempdir("ouragent-"))  # the socket's path must fit in 108 bytes
    try:
        log_path = work / "agent.log"
        sock = work / "agent.sock"
        argv = [
            sys.executable,
            "-m",
            "pyguestfs.agent",
            "--listen",
            str(sock),
            "--sysroot",
            str(scratch),
        ]
        if verbose:
            argv.append("--verbose")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        daemon = Daemon("pyguestfs agent", str(sock), scratch, proc, log_path)
        try:
            _wait_for_socket(daemon, timeout)
            yield daemon
        finally:
            _stop(daemon)
    finally:
        shutil.rmtree(work, ignore_errors=True)
