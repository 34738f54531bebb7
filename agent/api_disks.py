"""Tests on paths for device nodes (``is_blockdev`` ...), not yet moved into
:mod:`pyguestfs.agent.api`."""

from __future__ import annotations

import os
import stat

from .context import CallContext
from .errors import AgentError
from .registry import implements

# -- tests on paths for device nodes ---------------------------------------------------------


def _is_kind(ctx: CallContext, path: str, follow: bool, kind: int) -> bool:
    host = ctx.sysroot.resolve(path, follow=follow)
    try:
        st = os.stat(host) if follow else os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False  # guestfsd: a missing path is simply not one
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {path}") from None
    return stat.S_IFMT(st.st_mode) == kind


@implements("is_blockdev")
def is_blockdev(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFBLK)


@implements("is_chardev")
def is_chardev(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFCHR)


@implements("is_fifo")
def is_fifo(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFIFO)


@implements("is_socket")
def is_socket(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFSOCK)
