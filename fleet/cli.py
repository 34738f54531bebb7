"""``guestfs-fleet``: inspect (or run a job on) many disk images on a Dask pool or cluster.

    guestfs-fleet inspect [--local N | --scheduler ADDRESS] [--output FILE] [--timeout S]
                          [--retries N] [--resume] [--from FILE] IMAGE...
    guestfs-fleet checksum --path PATH [--path PATH ...] [--csumtype sha256] ... IMAGE...
    guestfs-fleet run MODULE:FUNCTION [--write] [--param KEY=VALUE ...] ... IMAGE...

Exit status: 0 when every image succeeded, 1 when some failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .jobs import BUILTIN
from .output import ResultWriter, read_done
from .progress import Progress, Tally, summary
from .worker import WorkerOptions, load_job


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        type=int,
        metavar="N",
        help="a local pool of N workers (default: free memory / 650 MB, at most one per core)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="the Dask scheduler of a cluster (tcp://HOST:PORT)"
    )
    common.add_argument(
        "--output", "-o", metavar="FILE", help="JSON Lines results, one per image (default: stdout)"
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds one image may take, launch included (default 600)",
    )
    common.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="attempts more for an image whose failure comes from outside it: a lost worker, "
        "an appliance that did not launch (default 1)",
    )
    common.add_argument(
        "--resume", action="store_true", help="skip the images that already have a line in --output"
    )
    common.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="read image paths from FILE, one a line ('-': standard input)",
    )
    common.add_argument(
        "--format",
        default="auto",
        help="the images' format (default auto: as qemu-img info finds it)",
    )
    common.add_argument("--cachedir", metavar="DIR", help="the appliance cache's base directory")
    common.add_argument(
        "--cache-from",
        metavar="REPO[:TAG]",
        help="workers import the appliance from this image instead of building it",
    )
    common.add_argument(
        "--cache-from-archive",
        metavar="FILE",
        help="workers import the appliance from this OCI archive instead of building it",
    )
    common.add_argument("--memsize", type=int, metavar="MIB", help="memory of each appliance")
    common.add_argument(
        "--quiet", "-q", action="store_true", help="no progress line and no summary table"
    )

    parser = argparse.ArgumentParser(
        prog="guestfs-fleet",
        description="Inspect or process many disk images, each in its own warm-launched "
        "pyguestfs appliance, on a local Dask pool or a Dask cluster; results as JSON Lines.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="what virt-inspector reports, for each image",
        description="For each image: its operating systems as virt-inspector reports them "
        "(type, distro, product, versions, arch, hostname, packaging, mount points, "
        "filesystems, installed applications).",
    )
    cs = sub.add_parser("checksum", parents=[common], help="checksums of guest files")
    cs.add_argument("--path", action="append", required=True, help="a guest path (repeat for more)")
    cs.add_argument("--csumtype", default="sha256", help="crc, md5, sha1 ... sha512")
    run = sub.add_parser(
        "run",
        parents=[common],
        help="a job of your own, MODULE:FUNCTION",
        description="Call FUNCTION(g, image, **params) for each image, with g a launched "
        "handle holding the image as /dev/sda (read-only unless --write); its dict "
        "goes into the image's line. MODULE must be importable on every worker.",
    )
    run.add_argument("job", metavar="MODULE:FUNCTION")
    run.add_argument(
        "--write", action="store_true", help="add the images writable: the job may change them"
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a keyword argument of the job (VALUE parsed as JSON when it is JSON)",
    )
    for p in (inspect, cs, run):
        # After run's MODULE:FUNCTION (a parent's positionals would come before it).
        p.add_argument("images", nargs="*", metavar="IMAGE")
    return parser


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.isidentifier():
            raise UsageError(f"--param {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def image_list(args: argparse.Namespace) -> list[str]:
    """The images of the command line and of --from, as absolute paths (workers on other
    machines see the same paths on shared storage), each once, in order."""
    paths = list(args.images)
    if args.from_file:
        if args.from_file == "-":
            text = sys.stdin.read()
        else:
            with open(args.from_file, encoding="utf-8") as f:
                text = f.read()
        paths += [line.strip() for line in text.splitlines() if line.strip()]
    if not paths:
        raise UsageError("no images given (IMAGE... or --from FILE)")
    return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def main(argv: Sequence[str] | None = None) -> int:
    """The console script."""
    parser = _parser()
    # IMAGE... may come after options (run MODULE:FUNCTION --local 2 a.img b.img); argparse
    # has already taken run's positionals by then, so what is left over is images.
    args, extra = parser.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-") and a != "-"]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.images = [*args.images, *extra]
    try:
        return _main(args)
    except UsageError as e:
        print(f"guestfs-fleet: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("guestfs-fleet: interrupted; finished results are in the output", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    from .cluster import RunSpec, connect, run  # Dask is imported only to run

    if args.local is not None and args.local < 1:
        raise UsageError("--local N: N must be at least 1")
    if args.retries < 0 or args.timeout <= 0:
        raise UsageError("--retries must be >= 0 and --timeout > 0")
    if args.resume and (not args.output or args.output == "-"):
        raise UsageError("--resume needs --output FILE")
    params: dict[str, Any] = {}
    write = False
    if args.command == "run":
        job = args.job
        params = _params(args.param)
        write = args.write
        # As `python -m` would: a job module in the current directory can be found (the
        # local pool's worker processes inherit this search path).
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            load_job(job)
        except (ImportError, AttributeError, ValueError) as e:
            raise UsageError(f"job {job}: {e}") from None
    else:
        job = BUILTIN[args.command]
        if args.command == "checksum":
            params = {"paths": list(args.path), "csumtype": args.csumtype}
    images = image_list(args)
    done = read_done(args.output) if args.resume else set()
    todo = [i for i in images if i not in done]
    spec = RunSpec(
        job=job,
        params=params,
        write=write,
        timeout=args.timeout,
        retries=args.retries,
        format=args.format,
        options=WorkerOptions(
            cachedir=args.cachedir,
            cache_from=args.cache_from,
            cache_from_archive=args.cache_from_archive,
            memsize=args.memsize,
        ),
    )
    tally = Tally(total=len(todo), skipped=len(images) - len(todo))
    progress = Progress(tally, sys.stderr, enabled=sys.stderr.isatty() and not args.quiet)
    writer = ResultWriter(args.output, append=args.resume)
    try:
        if todo:

            def on_result(line: dict[str, Any]) -> None:
                writer.write(line)
                tally.add(line)
                progress.update()

            with connect(local=args.local, scheduler=args.scheduler) as client:
                progress.update(force=True)
                run(client, todo, spec, on_result)
    finally:
        writer.close()
        progress.finish()
    if not args.quiet:
        print(summary(tally), file=sys.stderr)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
