"""``guestfs-build-appliance``: build (or check) the cached appliance, optionally write it
out as a libguestfs fixed appliance.

Image cache (builder/image.py, docs/appliance-images.md): ``--print-cache-key`` prints
the key without building; ``--cache-from REPO`` / ``--cache-from-archive FILE`` import a
matching image instead of building (a miss says why and builds); ``--image REPO[:TAG]``
(``--push``) and ``--oci-archive FILE`` export the appliance after the build.

Exit codes: 0 built, imported or up to date; 1 a build or export step failed (the message
says which and why, with a hint); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from ..core import settings

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
    # Flags that set a setting: flag, metavar, choices and help come from the table.
    settings.add_argument(p, "kernel")
    settings.add_argument(p, "modules")
    settings.add_argument(p, "cachedir")
    p.add_argument("--rebuild", action="store_true", help="build even if up to date")
    settings.add_argument(p, "appliance_daemon")
    p.add_argument(
        "-v", "--verbose", dest="steps", action="store_true", help="say what each step does"
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="verbose, plus why a rebuild happened and tracebacks on errors",
    )
    images = p.add_argument_group(
        "image cache",
        "store the appliance as a container image keyed by its cache key, "
        "and import it instead of building",
    )
    images.add_argument(
        "--print-cache-key",
        action="store_true",
        help="print the cache key this machine would build (with --json: every input) "
        "and exit, without building or freezing",
    )
    settings.add_argument(images, "cache_from")
    settings.add_argument(images, "cache_from_archive")
    images.add_argument(
        "--image",
        metavar="REPO[:TAG]",
        help="after building, store the appliance in the Docker engine as REPO:TAG "
        "(default tag latest) and REPO:<cache key>, labelled with the key (needs the docker "
        "SDK and an engine: DOCKER_HOST or /var/run/docker.sock)",
    )
    images.add_argument("--push", action="store_true", help="with --image: push both tags")
    images.add_argument(
        "--oci-archive",
        metavar="FILE",
        help="after building, write the appliance image as an OCI image layout tarball "
        "(no engine needed; docker load accepts it too)",
    )
    p.add_argument(
        "--snapshot",
        action="store_true",
        help="also make the warm-launch snapshot (a booted, parked appliance saved with "
        "qemu's migration) that launch() with default settings restores instead of booting; "
        "--snapshot-tcg makes it for TCG even where KVM works",
    )
    p.add_argument("--snapshot-tcg", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--json",
        action="store_true",
        help="print a machine-readable summary (paths, sizes, cache key, "
        "seconds per step) on stdout",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The flags' settings are explicit here: the library-only variables of the same
    # settings (PYGUESTFS_APPLIANCE_DAEMON, PYGUESTFS_CACHE_FROM...) do not apply.
    daemon = args.appliance_daemon or settings.DEFAULTS.appliance_daemon
    if args.if_newer and not args.output:
        print("guestfs-build-appliance: --if-newer needs --output DIR", file=sys.stderr)
        return EXIT_USAGE
    if (args.snapshot or args.snapshot_tcg) and daemon != "pyguestfs":
        print(
            "guestfs-build-appliance: --snapshot needs the pyguestfs agent "
            "(a restore asks the agent to refresh its entropy and clock)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.push and not args.image:
        print("guestfs-build-appliance: --push needs --image REPO[:TAG]", file=sys.stderr)
        return EXIT_USAGE
    level = logging.DEBUG if args.debug else logging.INFO if args.steps else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)

    from .appliance import BuildOptions, build, expected_manifest
    from .errors import BuildError

    progress = sys.stderr.isatty() and not args.json
    started = time.monotonic()

    def step(name: str, seconds: float | None) -> None:
        if progress or args.steps or args.debug:
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
        daemon=daemon,
        on_step=step,
        cache_from=args.cache_from,
        cache_from_archive=args.cache_from_archive,
    )
    exported = None
    try:
        if args.print_cache_key:
            manifest = expected_manifest(options)
            if args.json:
                json.dump(manifest, sys.stdout, indent=1, sort_keys=True)
                print()
            else:
                print(manifest["key"])
            return EXIT_OK
        result = build(options)
        if result.imported and not args.json:  # (a miss was logged as a warning)
            print(f"guestfs-build-appliance: {result.cache_note}", file=sys.stderr)
        if args.image or args.oci_archive:
            from .image import export

            exported = export(
                result.directory,
                archive=Path(args.oci_archive) if args.oci_archive else None,
                image=args.image,
                push=args.push,
            )
        if args.snapshot or args.snapshot_tcg:
            _make_snapshot(args.cachedir, args.snapshot_tcg)
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
        if exported is not None:
            summary["image_refs"] = exported.refs
            summary["pushed"] = exported.pushed
            summary["oci_archive"] = str(exported.archive) if exported.archive else None
        json.dump(summary, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        state = "built" if result.built else "imported" if result.imported else "up to date"
        print(f"appliance {state} in {total:.2f} s: {result.directory}")
        if exported is not None:
            for ref in exported.refs:
                print(f"image: {ref}" + (" (pushed)" if ref in exported.pushed else ""))
            if exported.archive:
                print(f"OCI archive: {exported.archive}")
        if args.output:
            print(f"fixed appliance: {os.path.abspath(args.output)}")
        if args.debug and result.why:
            print(f"why: {result.why}", file=sys.stderr)
    return EXIT_OK


def _make_snapshot(cachedir: str | None, force_tcg: bool) -> None:
    """The snapshot launch() with the default settings restores (and the environment's:
    the handle reads it too), made the way launch() configures its VM."""
    from ..core.errors import GuestFSError
    from ..vm import snapshot
    from .appliance import launch_config
    from .errors import BuildError

    s = settings.read_environment()
    if cachedir:
        s = s.replace(cachedir=cachedir)
    if force_tcg:
        s = s.replace(backend_settings=["force_tcg"])
    started = time.monotonic()
    try:
        config, appliance = launch_config(s)
        if appliance.daemon != "pyguestfs":
            raise GuestFSError(f"the appliance runs {appliance.daemon}, not the pyguestfs agent")
        if not appliance.cache_dir:
            raise GuestFSError("no appliance cache directory")
        made = snapshot.create(config, appliance.cache_dir, timeout=s.launch_timeout)
    except GuestFSError as e:
        raise BuildError(f"making the warm-launch snapshot failed: {e}") from None
    if made:
        print(f"warm-launch snapshot ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    else:
        print("warm-launch snapshot: another process is making it", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
