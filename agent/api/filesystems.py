"""The ``filesystems`` family: whole filesystems (``daemon/statvfs.c``, ``du.c`` of 1.48)."""

from __future__ import annotations

import os

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import GuestPath
from ..runner import literal


@procedure("statvfs")
def statvfs(call: CallContext, path: GuestPath) -> dict[str, int]:
    try:
        r = os.statvfs(path.host())
    except OSError as e:
        raise AgentError.from_os(e, f"statvfs: {path}") from None
    fields = {
        "bsize": r.f_bsize,
        "frsize": r.f_frsize,
        "blocks": r.f_blocks,
        "bfree": r.f_bfree,
        "bavail": r.f_bavail,
        "files": r.f_files,
        "ffree": r.f_ffree,
        "favail": r.f_favail,
        "fsid": r.f_fsid,
        "flag": r.f_flag,
        "namemax": r.f_namemax,
    }
    # The struct's fields are int64; C copies the unsigned statvfs values across, so a
    # large fsid wraps to a negative number. Do the same rather than fail to encode.
    return {k: v - (1 << 64) if v >= 1 << 63 else v for k, v in fields.items()}


@procedure("du")
def du(call: CallContext, path: GuestPath) -> int:
    out = call.run(["du", "-s", path.host(follow=False)], error=literal(path) + ": {err}").out
    try:
        return int(out.split()[0])
    except (IndexError, ValueError):
        raise AgentError(f"{path}: could not read output: {out}") from None
