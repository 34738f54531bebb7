"""Short directories for the tests' Unix sockets, on the product's own rule.

pytest's ``tmp_path`` lies under TMPDIR and the test's name, so with a long TMPDIR (a
user's, a packager's) a socket made there fails to bind with "AF_UNIX path too long".
The tests make their sockets where :mod:`pyguestfs.core.rundir` would: in TMPDIR when
that leaves room, else in a short private directory under /tmp.
"""

from __future__ import annotations

import os
import tempfile

from pyguestfs.core.rundir import FALLBACK_BASE, SUN_PATH_MAX, fits, private_dir

__all__ = ["SUN_PATH_MAX", "short_base", "short_tempdir"]

#: The longest socket name a test makes in one of these directories.
_LONGEST_NAME = "x" * 32


def short_base(prefix: str = "pyg-") -> str:
    """TMPDIR, or /tmp where a directory ``prefix``XXXXXXXX in TMPDIR would leave no room
    for a socket's name."""
    base = tempfile.gettempdir()
    return base if fits(os.path.join(base, prefix + "X" * 8, _LONGEST_NAME)) else FALLBACK_BASE


def short_tempdir(prefix: str = "pyg-") -> str:
    """A new private (0700) directory short enough for Unix sockets inside it. The caller
    removes it."""
    return private_dir(prefix, longest_name=_LONGEST_NAME, preferred=[tempfile.gettempdir()])
