"""Running btrfs-progs the way guestfsd 1.48 runs it, for the ``btrfs`` family
(``agent/api/btrfs.py``): its two error wordings (the C daemon's ``command()`` and the
OCaml half's), mounting a btrfs ``Mountable`` for one command, and the paths and lines
the tools are given and print.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from .context import CallContext
from .errors import AgentError
from .registry import has_program
from .resolve import GuestPath, Mountable


def btrfs_available() -> bool:
    """guestfsd's test: the btrfs tool, and a kernel that knows the filesystem (built in,
    or a module modprobe can load)."""
    if not has_program("btrfs")():
        return False
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1:] == ["btrfs"] for line in f):
                return True
    except OSError:
        return False
    release = os.uname().release
    return any(
        os.path.exists(f"/lib/modules/{release}/kernel/fs/btrfs/btrfs.ko{ext}")
        for ext in ("", ".xz", ".zst", ".gz")
    )


def c_command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


def run_tool(call: CallContext, argv: list[str], what: str) -> str:
    """Run a btrfs-progs command; a failure reads "<what>: <its stderr>"."""
    return c_command(call, argv, f"{what}: ")


def ocaml_command(call: CallContext, argv: list[str]) -> str:
    """A program run as the OCaml half of guestfsd runs it: a failure reads
    "<prog> exited with status N: <stderr>"."""
    done = call.run(argv, check=False)
    if done.status != 0:
        raise AgentError(f"{argv[0]} exited with status {done.status}: {done.err}")
    return done.out


@contextlib.contextmanager
def mounted_c(call: CallContext, fs: Mountable) -> Iterator[str]:
    """btrfs.c's ``mount``/``umount`` pair: a path is used in the sysroot; a device or a
    subvolume is mounted on a temporary directory for the duration."""
    if fs.path is not None:
        yield host_path(fs.path)
        return
    assert fs.device is not None
    tmp = tempfile.mkdtemp(prefix="btrfs.", dir="/tmp")
    options = f"subvol={fs.volume}" if fs.volume is not None else ""
    done = call.run(["mount", "-o", options, fs.device.node, tmp], check=False)
    if done.status != 0:
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        raise AgentError(f"{fs.device} on <internal> (options: ''): {done.err}")
    try:
        yield tmp
    finally:
        c_command(call, ["umount", tmp], "umount: ")
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(tmp)


@contextlib.contextmanager
def mounted_ocaml(call: CallContext, fs: Mountable) -> Iterator[str]:
    """btrfs.ml's ``with_mounted``: the same, with the OCaml daemon's wording."""
    if fs.path is not None:
        yield host_path(fs.path)
        return
    assert fs.device is not None
    tmp = tempfile.mkdtemp(prefix="btrfs", dir="/tmp")
    try:
        opts = ["-o", f"subvol={fs.volume}"] if fs.volume is not None else []
        ocaml_command(call, ["mount", *opts, fs.device.node, tmp])
        yield tmp
    finally:
        call.run(["umount", tmp], check=False)
        with contextlib.suppress(OSError):
            os.rmdir(tmp)


def host_path(path: GuestPath) -> str:
    """The path handed to btrfs-progs. guestfsd prefixes ``/sysroot`` to the path as given,
    so a trailing slash stays (``/`` is ``/sysroot/``) and shows in the tools' messages."""
    host = path.host()
    return host + "/" if path.endswith("/") and not host.endswith("/") else host


def analyze_line(line: str, delimiter: str = ":") -> tuple[str | None, str | None]:
    """btrfs.c's ``analyze_line``: ``key: value`` with leading blanks dropped; a line
    without the delimiter is a key alone, a line starting with it a value alone."""
    p = line.lstrip(" \t\n\v\f\r")
    key: str | None = None if p.startswith(delimiter) else p
    at = p.find(delimiter)
    if at < 0:
        return key, None
    if key is not None:
        key = p[:at]
    return key, p[at + 1 :].lstrip(" \t\n\v\f\r")
