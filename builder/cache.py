"""The appliance cache: where it lives, who may use it, and how it changes atomically.

Location as libguestfs: ``$LIBGUESTFS_CACHEDIR``, else ``$TMPDIR``, else ``/var/tmp``,
then ``.guestfs-<uid>/`` — a real directory owned by the caller and writable by no one
else (otherwise another user could plant an appliance that we would boot). pyguestfs keeps
its entries in ``pyguestfs/`` inside it, beside libguestfs's own.

Writers take an exclusive ``flock`` on ``lock`` (parallel builders queue behind it), build
into a temporary directory next to the target and ``rename`` it into place, so a reader
never sees half an appliance; the old directory is renamed aside first and removed after.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.settings import read_environment
from .errors import BuildError


def cache_root(env: Mapping[str, str] | None = None, explicit: str | None = None) -> Path:
    """``<cachedir>/.guestfs-<uid>``, created 0755 and checked for ownership; the base is
    ``explicit``, else what the settings (of ``env``, default ``os.environ``) say."""
    base = explicit or read_environment(env).cache_base()
    root = Path(base) / f".guestfs-{os.geteuid()}"
    try:
        root.mkdir(mode=0o755, exist_ok=True)
    except OSError as e:
        raise BuildError(
            f"cannot create the cache directory {root}: {e.strerror}",
            "set LIBGUESTFS_CACHEDIR to a directory you can write",
        ) from None
    check_owned(root)
    return root


def check_owned(path: Path) -> None:
    """Refuse a cache directory that is a symlink, not ours, or writable by others."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise BuildError(
            f"security: cache {path} is not a directory (a symlink?)",
            f"remove {path} or set LIBGUESTFS_CACHEDIR elsewhere",
        )
    if st.st_uid != os.geteuid():
        raise BuildError(
            f"security: cache {path} is owned by uid {st.st_uid}, not by you (uid {os.geteuid()})",
            f"remove {path} or set LIBGUESTFS_CACHEDIR elsewhere",
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BuildError(
            f"security: cache {path} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o})",
            f"chmod go-w {path}",
        )


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock; other builders wait here until it is released."""
    fd = os.open(lock_file, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A fresh directory beside ``target`` (same filesystem, so rename is atomic);
    removed if the build inside fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish(built: Path, target: Path) -> None:
    """Put a finished directory in place of ``target`` atomically."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.rename(target, old / "x")
    os.rename(built, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
