"""``pyguestmount`` and ``pyguestunmount``: libguestfs 1.48's ``guestmount`` and
``guestunmount`` on pyguestfs (``mount_local`` on pyfuse3).

    pyguestmount -a disk.img -i --ro /mnt          # inspect, mount the guest's filesystems
    pyguestmount -a disk.img -m /dev/sda1 /mnt     # one filesystem, read-write
    pyguestmount -d GUEST -c test:///domain.xml --ro -m /dev/sda1 /mnt
    pyguestunmount /mnt

The options are guestmount's: ``-a`` (``--format`` before it), ``-c``/``-d`` (libvirt),
``-i``, ``-m dev[:mountpoint[:options[:fstype]]]``, ``--ro``/``--rw``, ``-o`` (a FUSE
option, repeatable), ``--dir-cache-timeout``, ``--no-fork``, ``--pid-file``, ``-n``,
``-v``, ``-x``. Without ``--no-fork`` the command returns once the filesystem is
mounted and a background process serves it (it forks *before* starting the appliance,
so the appliance's qemu, which is tied to the process that started it, lives in the
serving process). The serving process ends when the mount point is unmounted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .errors import GuestFSError
from .handle import GuestFS
from .library.mount_local import unmount

PROG = "pyguestmount"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Mount a guest filesystem on the host using FUSE and pyguestfs.",
    )
    p.add_argument(
        "-a",
        "--add",
        action="append",
        default=[],
        metavar="IMAGE",
        help="add a disk image (repeatable)",
    )
    p.add_argument("-c", "--connect", metavar="URI", help="libvirt URI for -d")
    p.add_argument(
        "-d",
        "--domain",
        action="append",
        default=[],
        metavar="GUEST",
        help="add the disks of a libvirt guest",
    )
    p.add_argument(
        "--format",
        metavar="FORMAT",
        help="the format of the -a images that follow (auto when absent)",
    )
    p.add_argument(
        "-i",
        "--inspector",
        action="store_true",
        help="inspect the guest and mount its filesystems as it would",
    )
    p.add_argument(
        "-m",
        "--mount",
        action="append",
        default=[],
        metavar="DEV[:MNT[:OPTS[:FSTYPE]]]",
        help="mount a filesystem",
    )
    p.add_argument("-r", "--ro", action="store_true", help="read-only")
    p.add_argument("-w", "--rw", action="store_true", help="read-write (the default)")
    p.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a FUSE mount option (repeatable)",
    )
    p.add_argument(
        "--dir-cache-timeout",
        type=int,
        metavar="SECONDS",
        help="how long directory entries stay cached (60)",
    )
    p.add_argument("--no-fork", action="store_true", help="stay in the foreground")
    p.add_argument("--pid-file", metavar="FILE", help="write the serving process's pid")
    p.add_argument("-n", "--no-sync", action="store_true", help="do not sync on exit")
    p.add_argument("-v", "--verbose", action="store_true", help="verbose messages")
    p.add_argument("-x", "--trace", action="store_true", help="trace every call")
    p.add_argument("mountpoint", help="an empty host directory")
    return p


def _error(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def _mount_filesystems(g: GuestFS[dict[str, str]], opts: argparse.Namespace) -> None:
    if opts.inspector:
        roots = g.inspect_os()
        if not roots:
            raise GuestFSError(
                "no operating system was found on this disk\n"
                "If using guestmount, try using the ‘-m’ option instead of ‘-i’."
            )
        if len(roots) > 1:
            raise GuestFSError("multi-boot operating systems are not supported by the -i option")
        mps = g.inspect_get_mountpoints(roots[0])
        for mp in sorted(mps, key=len):
            try:
                (g.mount_ro if opts.ro else g.mount)(mps[mp], mp)
            except GuestFSError as e:
                print(f"{PROG}: {mp} ({mps[mp]}): {e} (ignored)", file=sys.stderr)
    for spec in opts.mount:
        dev, _, rest = spec.partition(":")
        mnt, _, rest = rest.partition(":")
        mount_opts, _, fstype = rest.partition(":")
        mnt = mnt or "/"
        if opts.ro:
            mount_opts = ",".join(o for o in ("ro", mount_opts) if o)
        if fstype:
            g.mount_vfs(mount_opts, fstype, dev, mnt)
        else:
            g.mount_options(mount_opts, dev, mnt)


def _prepare(opts: argparse.Namespace) -> GuestFS[dict[str, str]]:
    g = GuestFS(python_return_dict=True)
    g.set_program(PROG)
    if opts.verbose:
        g.set_verbose(True)
    if opts.trace:
        g.set_trace(True)
    if opts.no_sync:
        g.set_autosync(False)
    for dom in opts.domain:
        g.add_domain(dom, libvirturi=opts.connect, readonly=opts.ro)
    for image in opts.add:
        g.add_drive(image, readonly=opts.ro, format=opts.format)
    g.launch()
    _mount_filesystems(g, opts)
    g.mount_local(
        opts.mountpoint,
        readonly=opts.ro,
        options=",".join(opts.option) or None,
        cachetimeout=opts.dir_cache_timeout,
        debugcalls=opts.verbose,
    )
    return g


def main(argv: Sequence[str] | None = None) -> int:
    """``pyguestmount``: the exit status is 0 once the filesystem is mounted (or, with
    --no-fork, once it has been unmounted again), 1 on an error, which is printed."""
    opts = _parser().parse_args(argv)
    if opts.ro and opts.rw:
        return _error("--ro and --rw cannot be used together")
    if not opts.add and not opts.domain:
        return _error("you must give at least one -a or -d option")
    if not opts.inspector and not opts.mount:
        return _error("you must give the -i option or at least one -m option")
    if not os.path.isdir(opts.mountpoint):
        return _error(f"{opts.mountpoint}: not a directory")
    ready_w = -1
    if not opts.no_fork:
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid:
            os.close(ready_w)
            with os.fdopen(ready_r, "rb") as ready:
                word = ready.read(1)
            if word == b"1":
                return 0
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status) or 1
        os.close(ready_r)
        os.setsid()
    try:
        g = _prepare(opts)
    except GuestFSError as e:
        return _error(str(e))
    if opts.pid_file:
        with open(opts.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    if ready_w >= 0:
        os.write(ready_w, b"1")
        os.close(ready_w)
        # As guestmount does: the background process lets go of the caller's terminal
        # or pipes (a caller reading our output to its end would otherwise wait for
        # the unmount). With -v its messages keep going to stderr, for debugging.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2) if not opts.verbose else (0, 1):
            os.dup2(devnull, fd)
        os.close(devnull)
    try:
        g.mount_local_run()
    except GuestFSError as e:
        return _error(str(e))
    finally:
        g.close()
    return 0


def unmount_main(argv: Sequence[str] | None = None) -> int:
    """``pyguestunmount MOUNTPOINT``: unmount a pyguestmount (or guestmount) mount,
    retrying while it is busy (``--retry=N`` times, 5 by default, ``--no-retry``)."""
    p = argparse.ArgumentParser(prog="pyguestunmount", description=unmount_main.__doc__)
    p.add_argument("--retry", type=int, default=5, metavar="N")
    p.add_argument("--no-retry", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("mountpoint")
    opts = p.parse_args(argv)
    try:
        unmount(opts.mountpoint, tries=1 if opts.no_retry else max(1, opts.retry))
    except GuestFSError as e:
        if not opts.quiet:
            print(f"pyguestunmount: {e}", file=sys.stderr)
        return 2 if "not mounted" in str(e) or "not found in" in str(e) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
