"""``python -m pyguestfs.agent``: the guestfsd work-alike.

In the appliance it opens the virtio-serial port and serves the sysroot ``/sysroot``;
on a host, ``--listen SOCKET --sysroot DIR`` serves one client on a Unix socket with DIR
standing in for the guest's ``/`` (like ``guestfsd -r -l``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ..protocol.constants import DEFAULT_CHANNEL
from .channel import ChannelError, listen_once, open_channel
from .devices import DeviceMap
from .runner import environ_for_agent
from .server import Agent
from .sysroot import Sysroot


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pyguestfs.agent",
        description="Serve the libguestfs 1.48 daemon protocol (a guestfsd work-alike). "
        "It sends the launch flag, then answers requests until the peer closes.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--listen",
        metavar="SOCKET",
        help="bind this Unix socket, accept one client and serve it "
        "(standalone on a host, like guestfsd -l)",
    )
    where.add_argument(
        "-c",
        "--channel",
        metavar="PATH",
        default=None,
        help=f"device or fd:N to serve (default in the guest: {DEFAULT_CHANNEL})",
    )
    p.add_argument(
        "--sysroot",
        metavar="DIR",
        default=None,
        help="directory standing for the guest's / (default /sysroot in the "
        "appliance; required with --listen)",
    )
    p.add_argument(
        "-r",
        "--standalone",
        action="store_true",
        help="do not require a filesystem mounted on the sysroot, and do not "
        "unmount at autosync (implied by --listen)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log one line per request: name, number, size, duration, outcome",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    standalone = args.standalone or args.listen is not None
    if args.listen and not args.sysroot:
        print(
            "pyguestfs-agent: --listen needs --sysroot DIR (the directory to serve as /)",
            file=sys.stderr,
        )
        return 2
    environ_for_agent()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        stream = (
            listen_once(args.listen)
            if args.listen
            else open_channel(args.channel or DEFAULT_CHANNEL)
        )
    except ChannelError as e:
        print(f"pyguestfs-agent: {e}", file=sys.stderr)
        return 1
    sysroot_dir = args.sysroot or "/sysroot"
    os.makedirs(sysroot_dir, exist_ok=True)
    sysroot = Sysroot(sysroot_dir, mount_required=not standalone)
    # Standalone on a host, the host's disks are none of the client's business.
    devices = None if standalone else DeviceMap()
    agent = Agent(
        stream, sysroot, verbose=args.verbose, autosync_umount=not standalone, devices=devices
    )
    try:
        return agent.serve()
    finally:
        stream.close()


if __name__ == "__main__":
    sys.exit(main())
