"""Private runtime directories whose Unix socket paths fit the kernel's limit.

A Unix socket's path must fit in ``sockaddr_un.sun_path``: 108 bytes on Linux, the
terminating NUL included as qemu counts it, so 107 usable. A directory under a long
``$XDG_RUNTIME_DIR``, a long ``$TMPDIR`` or a caller's deep temporary directory can leave
no room for the socket's name. :func:`private_dir` then falls back to a short private
directory under ``/tmp``, as libguestfs puts its sockets in ``/tmp/libguestfsXXXXXX``.
Every directory made here is mode 0700 and owned by the caller.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

#: The longest Unix socket path qemu and the kernel accept, in bytes.
SUN_PATH_MAX = 107
#: Where a private directory goes when no preferred place leaves room for the sockets.
FALLBACK_BASE = "/tmp"
#: What :func:`tempfile.mkdtemp` appends to the prefix.
_RANDOM_CHARS = 8


def fits(path: str) -> bool:
    """True if ``path`` is short enough to bind or connect a Unix socket to."""
    return len(os.fsencode(path)) <= SUN_PATH_MAX


def private_dir(
    prefix: str = "pyguestfs-",
    *,
    longest_name: str = "guestfsd.sock",
    preferred: Sequence[str | None] = (),
) -> str:
    """Make a private (0700) directory in which a socket called ``longest_name`` fits.

    It goes in the first of ``preferred`` (a caller's temporary directory, then
    ``$XDG_RUNTIME_DIR`` ...; empty entries are skipped) that is a writable directory
    and leaves room, else in ``/tmp`` under the shortest name. The caller removes it
    (:func:`remove`)."""
    for base in preferred:
        if not base or not os.path.isdir(base) or not os.access(base, os.W_OK | os.X_OK):
            continue
        if fits(os.path.join(base, prefix + "X" * _RANDOM_CHARS, longest_name)):
            return _mkdtemp(prefix, base)
    return _mkdtemp("pyg-", FALLBACK_BASE)


def _mkdtemp(prefix: str, base: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix, dir=base)  # 0700 already, unless umask says more
    os.chmod(path, stat.S_IRWXU)
    return path


def remove(path: str) -> None:
    """Remove a directory made by :func:`private_dir` and whatever is in it."""
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def private(
    prefix: str = "pyguestfs-",
    *,
    longest_name: str = "guestfsd.sock",
    preferred: Sequence[str | None] = (),
) -> Iterator[str]:
    """:func:`private_dir` as a context manager that removes the directory on exit."""
    path = private_dir(prefix, longest_name=longest_name, preferred=preferred)
    try:
        yield path
    finally:
        remove(path)
