"""Debian's real guestfsd (libguestfs 1.48) as the appliance's daemon, in place of our agent.

``guestfs-build-appliance --daemon guestfsd`` builds the same kernel, initrd and root as
usual, and adds to the root the ``guestfsd`` binary that Debian's libguestfs0 ships for
supermin (``supermin.d/daemon.tar.gz``) with the host libraries it links against. A marker
file tells the appliance's init to exec guestfsd where it would start our agent, so
pyguestfs's host library (or the real one) can drive the real daemon in the same appliance
and the same tests can run against both daemons.

The appliance init does for guestfsd what libguestfs's own ``/init`` script does before
starting it and our agent does not need: a throwaway LVM configuration directory
(``LVM_SYSTEM_DIR``) with the devices file turned off.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

from .errors import BuildError

#: The daemons an appliance can be built around.
DAEMONS = ("pyguestfs", "guestfsd")
#: Where Debian's libguestfs0 ships the daemon half of its supermin appliance.
DAEMON_TARBALL = Path("/usr/lib/x86_64-linux-gnu/guestfs/supermin.d/daemon.tar.gz")
DAEMON_PACKAGE = "libguestfs0"
MEMBER = "usr/sbin/guestfsd"
#: Where guestfsd goes in the root, and the marker naming it (read by the appliance init).
GUESTFSD_PATH = "usr/sbin/guestfsd"
MARKER = "etc/pyguestfs/daemon"
INSTALL_HINT = f"install Debian's {DAEMON_PACKAGE} (apt-get install libguestfs-tools)"


def check_daemon(daemon: str) -> None:
    if daemon not in DAEMONS:
        raise BuildError(f"unknown daemon {daemon!r}", f"choose one of: {', '.join(DAEMONS)}")


def tarball() -> Path:
    """The daemon tarball, or a BuildError saying what to install."""
    if not DAEMON_TARBALL.is_file():
        raise BuildError(f"{DAEMON_TARBALL} is missing: cannot use guestfsd", INSTALL_HINT)
    return DAEMON_TARBALL


def identity() -> str:
    """What decides the guestfsd a build puts in the root: the tarball's sha256 (1.9 MB,
    a few ms), part of the appliance's cache key."""
    h = hashlib.sha256()
    try:
        with open(tarball(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as e:
        raise BuildError(f"cannot read {DAEMON_TARBALL}: {e.strerror}", INSTALL_HINT) from e
    return h.hexdigest()


def stat_signature() -> str:
    """The tarball's metadata, for the builder's no-op check (no content read)."""
    try:
        st = DAEMON_TARBALL.stat()
    except OSError:
        return "guestfsd:absent"
    return f"guestfsd:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def extract(dest: Path) -> Path:
    """Extract guestfsd from the tarball to ``dest/guestfsd`` (mode 0755)."""
    out = dest / "guestfsd"
    try:
        with tarfile.open(tarball()) as tf:
            member = tf.getmember(MEMBER)
            src = tf.extractfile(member)
            if src is None:
                raise BuildError(f"{DAEMON_TARBALL}: {MEMBER} is not a regular file")
            with src, open(out, "wb") as f:
                while block := src.read(1 << 20):
                    f.write(block)
    except KeyError:
        raise BuildError(f"{DAEMON_TARBALL} has no {MEMBER}", INSTALL_HINT) from None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BuildError(f"cannot extract {MEMBER} from {DAEMON_TARBALL}: {e}") from e
    out.chmod(0o755)
    return out


def appliance_packages() -> tuple[str, ...]:
    """The packages of libguestfs's own appliance (supermin.d/packages beside the
    tarball), or () when the file is missing."""
    try:
        text = (DAEMON_TARBALL.parent / "packages").read_text()
    except OSError:
        return ()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


#: udev, which libguestfs's appliance runs and guestfsd relies on (/dev/disk/by-path, the
#: /dev/disk/guestfs label links, partition links after partitioning). Our own appliance
#: does without it, so the package list skips it; a guestfsd build adds it back.
UDEV_PACKAGE = "udev"
UDEVD = "/lib/systemd/systemd-udevd"


def udev_rules(dest_root: Path) -> None:
    """Unpack libguestfs's udev rules (the /dev/disk/guestfs label links) into the root."""
    path = DAEMON_TARBALL.parent / "udev-rules.tar.gz"
    try:
        with tarfile.open(path) as tf:
            for member in tf.getmembers():
                if not member.isfile() or not member.name.startswith("etc/udev/rules.d/"):
                    continue
                src = tf.extractfile(member)
                if src is None:
                    continue
                out = dest_root / member.name
                out.parent.mkdir(parents=True, exist_ok=True)
                with src:
                    out.write_bytes(src.read())
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BuildError(f"cannot unpack {path}: {e}", INSTALL_HINT) from e


def library_paths(libs: list[Path]) -> list[str]:
    """The host paths to copy for libraries ``ldd`` named: each path as named (often a
    symlink such as ``libacl.so.1``) and the file it resolves to."""
    paths: set[str] = set()
    for lib in libs:
        paths.add(os.fspath(lib))
        paths.add(os.path.realpath(lib))
    return sorted(paths)
