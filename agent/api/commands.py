"""The ``commands`` family: running the guest's own programs (command, command_lines,
sh, sh_lines).

As guestfsd 1.48 does (``daemon/sh.c``, ``command.c``): the program runs chrooted into the
sysroot, in ``/``, with stdin from /dev/null and the daemon's environment. For the time it
runs, the appliance's /dev, /dev/pts, /proc, /sys (and /sys/fs/selinux, on the guest's
/selinux and /sys/fs/selinux) are bind-mounted into the sysroot, each only if its mount
point exists, and unmounted afterwards so later mount and umount calls are not disturbed.
With the network enabled the appliance's /etc/resolv.conf stands in for the guest's.

A failure (exit status not 0, or killed by a signal) is an error whose message is the
program's stderr, final newlines removed; success returns stdout untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
from collections.abc import Iterator

from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..guest import mounts_under, split_lines
from ..registry import procedure


@procedure("command")
def command(call: CallContext, arguments: list[str]) -> str:
    return _run_in_guest(call, arguments)


@procedure("command_lines")
def command_lines(call: CallContext, arguments: list[str]) -> list[str]:
    return split_lines(_run_in_guest(call, arguments))


@procedure("sh")
def sh(call: CallContext, command: str) -> str:
    return _run_in_guest(call, ["/bin/sh", "-c", command])


@procedure("sh_lines")
def sh_lines(call: CallContext, command: str) -> list[str]:
    return split_lines(_run_in_guest(call, ["/bin/sh", "-c", command]))


def _run_in_guest(call: CallContext, argv: list[str]) -> str:
    """guestfsd's do_command: run ``argv`` in the guest, return its stdout."""
    root = call.sysroot.root
    if call.sysroot.mount_required and not mounts_under(root):
        raise AgentError("do_command: you must call 'mount' first to mount the root filesystem")
    if not argv:
        raise AgentError("passed an empty list")
    with contextlib.ExitStack() as stack:
        # Standalone on a host (--sysroot DIR) the host's /dev, /proc and /sys are not
        # ours to bind into a directory: only the appliance does the bind mounts.
        if call.sysroot.mount_required:
            stack.enter_context(_appliance_mounts(call))
            if _network_enabled():
                stack.enter_context(_resolv_conf(call))
        # The guest's output is not ours to rewrite: no device names are translated.
        done = runner.run(argv, chroot=root, check=False)
    if done.status != 0:
        raise AgentError(_c_string(done.err))
    return _c_string(done.out)


def _c_string(text: str) -> str:
    """What survives of a program's output in guestfsd, which keeps it as a C string:
    everything before the first NUL byte."""
    return text.split("\0", 1)[0]


#: (what the appliance has, where in the guest it goes), mounted in this order and
#: unmounted in the reverse one. The guest expects SELinux's filesystem at /selinux too.
_BIND_MOUNTS = (
    ("/dev", "/dev"),
    ("/dev/pts", "/dev/pts"),
    ("/proc", "/proc"),
    ("/sys/fs/selinux", "/selinux"),
    ("/sys", "/sys"),
    ("/sys/fs/selinux", "/sys/fs/selinux"),
)

_RANDOM_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


#: mount(2) flag for a bind mount (<sys/mount.h>).
_MS_BIND = 4096


class _Libc:
    """mount(2) and umount(2), which ``os`` lacks. System calls, not the mount program:
    under TCG each program start costs a second, and a command needs up to twelve."""

    _lib: ctypes.CDLL | None = None

    @classmethod
    def lib(cls) -> ctypes.CDLL:
        if cls._lib is None:
            cls._lib = ctypes.CDLL(None, use_errno=True)
        return cls._lib

    @classmethod
    def bind(cls, source: str, target: str) -> bool:
        """Bind ``source`` on ``target``; false if that failed (guestfsd ignores it)."""
        rc = cls.lib().mount(os.fsencode(source), os.fsencode(target), None, _MS_BIND, None)
        return rc == 0

    @classmethod
    def umount(cls, target: str) -> None:
        cls.lib().umount(os.fsencode(target))  # a failure is ignored, as in guestfsd


@contextlib.contextmanager
def _appliance_mounts(call: CallContext) -> Iterator[None]:
    """Bind the appliance's /dev, /proc, /sys ... into the sysroot while a command runs.

    The mount point is resolved inside the sysroot (symlinks followed as the chroot will
    follow them), so a guest's /dev -> /somewhere cannot send the bind anywhere else;
    a bind onto a mount point that does not exist fails and is skipped."""
    done: list[str] = []
    try:
        for source, guest in _BIND_MOUNTS:
            target = call.sysroot.resolve(guest)
            if os.path.isdir(target) and _Libc.bind(source, target):
                done.append(target)
        yield
    finally:
        for target in reversed(done):
            _Libc.umount(target)


def _network_enabled() -> bool:
    try:
        with open("/proc/cmdline", encoding="utf-8", errors="replace") as f:
            return "guestfs_network=1" in f.read().split()
    except OSError:
        return False


@contextlib.contextmanager
def _resolv_conf(call: CallContext) -> Iterator[None]:
    """The appliance's /etc/resolv.conf in the guest while the command runs (a copy, not a
    bind mount: on some guests the file is a dangling symlink), the guest's put back
    afterwards. Only with the network enabled, as in guestfsd."""
    etc = call.sysroot.resolve("/etc")
    ours = os.path.join(etc, "resolv.conf")
    saved = None
    if os.path.lexists(ours):
        saved = os.path.join(etc, "".join(random.choices(_RANDOM_CHARS, k=8)))
        try:
            os.rename(ours, saved)
        except OSError as e:
            raise AgentError.from_os(
                e,
                f"rename: {call.sysroot.display('/etc/resolv.conf')} to "
                f"{call.sysroot.display('/etc/' + os.path.basename(saved))}",
            ) from None
    with contextlib.suppress(OSError):
        shutil.copyfile("/etc/resolv.conf", ours)  # guestfsd's cp, failure ignored
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(ours)
        if saved is not None:
            with contextlib.suppress(OSError):
                os.rename(saved, ours)


def _enter_guest(root: str) -> None:
    """In the child, before exec: the guest's root becomes / and the cwd."""
    os.chroot(root)
    os.chdir("/")
