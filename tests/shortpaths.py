"""Short directories for Unix sockets.

A Unix socket path must fit in sun_path: 108 bytes with the terminating NUL. pytest's
``tmp_path`` lies under TMPDIR and the test's name, so with a long TMPDIR (a user's, a
packager's) or a long test name, a socket made there fails to bind with "AF_UNIX path
too long". Sockets of the tests go in a private directory made here instead: in TMPDIR
when that leaves room, else in /tmp, as libguestfs falls back.
"""

from __future__ import annotations

import tempfile

#: The longest Unix socket path: sun_path's 108 bytes less the terminating NUL.
SUN_PATH_MAX = 107
#: What a short directory leaves for the names of the sockets made in it.
SOCKET_NAME_ROOM = 32


def short_base(prefix: str = "pyg-") -> str:
    """TMPDIR, or /tmp where a directory ``prefix``XXXXXXXX in TMPDIR would leave less
    than SOCKET_NAME_ROOM characters for a socket's name."""
    base = tempfile.gettempdir()
    if len(base) + 1 + len(prefix) + 8 + 1 + SOCKET_NAME_ROOM > SUN_PATH_MAX:
        return "/tmp"
    return base


def short_tempdir(prefix: str = "pyg-") -> str:
    """A new private (0700) directory short enough for Unix sockets inside it (see
    :func:`short_base`). The caller removes it."""
    return tempfile.mkdtemp(prefix=prefix, dir=short_base(prefix))
