"""The older device translation, for the modules not yet moved into
:mod:`pyguestfs.agent.api` (which get resolved arguments instead)."""

from __future__ import annotations

import errno

from .context import CallContext
from .errors import AgentError


def device_node(ctx: CallContext, name: str) -> str:
    devices = ctx.agent.devices
    if devices is None:
        raise AgentError.from_errno(errno.ENOENT, name)  # standalone: no block devices
    return devices.translate(name)
