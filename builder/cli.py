"""``guestfs-build-appliance``: build (or check) the cached appliance, optionally write it
out as a libguestfs fixed appliance.

Exit codes: 0 built or up to date; 1 a build step failed (the message says which and
why, with a hint); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="guestfs-build-appliance",
        description=(
            "Build the pyguestfs appliance -- a kernel (the host's, as an uncompressed "
            "vmlinux where it boots through PVH), a mini initrd (kernel modules and a "
            "frozen Python init) and a sparse ext2 root holding the frozen agent and the "
            "host tools it runs -- into the cache under $LIBGUESTFS_CACHEDIR, $TMPDIR or "
            "/var/tmp (.guestfs-UID/pyguestfs). An unchanged build is a no-op."
        ),
        epilog=(
            "environment: SUPERMIN_KERNEL, SUPERMIN_KERNEL_VERSION, SUPERMIN_MODULES choose "
            "the kernel as for supermin; LIBGUESTFS_CACHEDIR the cache. "
            "Real libguestfs boots the result with LIBGUESTFS_PATH=DIR after --output DIR."
        ),
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="also write a libguestfs fixed appliance (kernel initrd root README.fixed) to DIR",
    )
    p.add_argument(
        "--if-newer",
        action="store_true",
        help="with --output: leave DIR alone if it already holds this build",
    )
    p.add_argument("--kernel", metavar="FILE", help="kernel to use (default: newest host one)")
    p.add_argument("--modules", metavar="DIR", help="modules directory for that kernel")
    p.add_argument("--cachedir", metavar="DIR", help="cache base (default as libguestfs)")
    p.add_argument("--rebuild", action="store_true", help="build even if up to date")
    p.add_argument("-v", "--verbose", action="store_true", help="say what each step does")
    p.add_argument(
        "--debug",
        action="store_true",
        help="verbose, plus why a rebuild happened and tracebacks on errors",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a machine-readable summary (paths, sizes, cache key, "
        "seconds per step) on stdout",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.if_newer and not args.output:
        print("guestfs-build-appliance: --if-newer needs --output DIR", file=sys.stderr)
        return EXIT_USAGE
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)

    from .appliance import BuildOptions, build
    from .errors import BuildError

    progress = sys.stderr.isatty() and not args.json
    started = time.monotonic()

    def step(name: str, seconds: float | None) -> None:
        if progress or args.verbose or args.debug:
            if seconds is None:
                print(f"  {name} ...", file=sys.stderr, flush=True)
            else:
                print(f"  {name}: {seconds:.2f} s", file=sys.stderr, flush=True)

    options = BuildOptions(
        kernel=args.kernel,
        modules=args.modules,
        cachedir=args.cachedir,
        output=args.output,
        if_newer=args.if_newer,
        force=args.rebuild,
        on_step=step,
    )
    try:
        result = build(options)
    except BuildError as e:
        if args.debug:
            traceback.print_exc()
        print(f"guestfs-build-appliance: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  hint: {e.hint}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("guestfs-build-appliance: interrupted (the cache is unchanged)", file=sys.stderr)
        return EXIT_FAILED
    total = time.monotonic() - started
    if args.json:
        summary = result.summary()
        summary["seconds_total"] = round(total, 4)
        json.dump(summary, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        state = "built" if result.built else "up to date"
        print(f"appliance {state} in {total:.2f} s: {result.directory}")
        if args.output:
            print(f"fixed appliance: {os.path.abspath(args.output)}")
        if args.debug and result.why:
            print(f"why: {result.why}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
