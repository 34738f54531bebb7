"""``guestfs-build-appliance``: placeholder until the builder lands."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="guestfs-build-appliance",
        description="Build the pyguestfs appliance (kernel, mini initrd, ext2 root).",
    )
    parser.parse_args(argv)
    parser.print_help()
    return 0
