"""Entry script of the one frozen program the appliance boots: mini init, appliance /init
and agent in a single Python process (see :func:`pyguestfs.initrd.appliance_init.boot`).

PyInstaller freezes this file; it is never imported by the host.
"""

from __future__ import annotations

import sys

from pyguestfs.initrd.appliance_init import Options, boot


def load_agent():  # type: ignore[no-untyped-def]
    """Import the agent (while the kernel probes devices) and return the function the
    appliance init runs in its child process."""
    from pyguestfs.agent.__main__ import main as agent_main

    def agent(opts: Options) -> int:
        return agent_main(opts.agent_args())

    return agent


if __name__ == "__main__":
    sys.exit(boot(load_agent))
