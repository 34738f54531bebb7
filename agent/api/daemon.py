"""The ``daemon`` family: procedures about the daemon itself (liveness, feature groups,
sync at close, exit) and its process state (the umask).

Also procedures about the appliance itself (its kernel, caches,
modules) and the debugging entry points, as guestfsd 1.48's ``daemon/debug.c``,
``dropcaches.c``, ``dmesg.c``, ``modprobe.c``, ``available.c`` and ``utsname.c`` serve
them.

Paths here are the appliance's own (``debug_upload``, ``debug ls``): like guestfsd, these
calls do not go through the sysroot.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import signal
import time
from collections.abc import Callable

from ..context import CallContext
from ..errors import AgentError
from ..guest import umount_all
from ..registry import (
    FEATURE_GROUPS,
    group_test,
    has_program,
    procedure,
    provides_group,
    require_group,
)
from ..runner import ENV, run

provides_group("realpath", lambda: True)
provides_group("xz", has_program("xz"))


@procedure("ping_daemon")
def ping_daemon(call: CallContext) -> None:
    return None


@procedure("internal_feature_available")
def internal_feature_available(call: CallContext, group: str) -> int:
    test = group_test(group)
    if test is None:
        return 2  # unknown group
    return 0 if test() else 1


@procedure("available_all_groups")
def available_all_groups(call: CallContext) -> list[str]:
    return list(FEATURE_GROUPS)


@procedure("internal_autosync")
def internal_autosync(call: CallContext) -> None:
    # In the appliance the agent also unmounts everything first; standalone (like
    # guestfsd -r) it only syncs. An unmount failure is not fatal: the sync still runs.
    try:
        if call.agent.autosync_umount:
            umount_all(call.sysroot.root)
    finally:
        os.sync()


@procedure("internal_exit")
def internal_exit(call: CallContext) -> None:
    # The reply goes out first (the loop sends it when this returns), then the loop ends.
    call.agent.exit_requested = True


@procedure("sync")
def sync(call: CallContext) -> None:
    os.sync()


@procedure("umask")
def umask(call: CallContext, mask: int) -> int:
    if mask < 0 or mask > 0o777:
        raise AgentError(f"0{mask & 0xFFFFFFFF:o}: mask negative or out of range")
    return os.umask(mask)


@procedure("get_umask")
def get_umask(call: CallContext) -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_DROP_CACHES = "/proc/sys/vm/drop_caches"


def _appliance_only(call: CallContext, what: str) -> None:
    """Refuse what acts on the appliance itself (its kernel, its files outside the
    sysroot, a shell) when the agent runs standalone on a host (``--sysroot DIR``, no
    disks): there "the appliance" would be the host. guestfsd -r has no such guard."""
    if call.agent.devices is None:
        raise AgentError(
            f"{what}: refused: the agent runs standalone on a host, not in an appliance",
            "EPERM",
        )


def _linuxmodules() -> bool:
    # guestfsd: no /proc/modules means a kernel without module support.
    if not os.path.exists("/proc/modules"):
        return False
    return shutil.which("modprobe", path=ENV["PATH"]) is not None


provides_group("linuxmodules", _linuxmodules)


@procedure("echo_daemon")
def echo_daemon(call: CallContext, words: list[str]) -> str:
    return " ".join(words)


@procedure("sleep")
def sleep(call: CallContext, secs: int) -> None:
    # C's sleep() takes an unsigned count: a negative one would sleep for ~136 years.
    time.sleep(max(0, secs))


@procedure("dmesg")
def dmesg(call: CallContext) -> str:
    _appliance_only(call, "dmesg")
    return call.run(["dmesg"]).out


@procedure("drop_caches")
def drop_caches(call: CallContext, whattodrop: int) -> None:
    """Sync, then write ``whattodrop`` (1: page cache, 2: dentries and inodes, 3: both)
    to the kernel's drop_caches."""
    _appliance_only(call, "drop_caches")
    os.sync()
    try:
        with open(_DROP_CACHES, "w") as f:
            f.write(str(whattodrop))
    except OSError as e:
        raise AgentError.from_os(e, _DROP_CACHES) from None


@procedure("modprobe")
def modprobe(call: CallContext, modulename: str) -> None:
    require_group("linuxmodules")
    _appliance_only(call, "modprobe")
    call.run(["modprobe", modulename])


@procedure("utsname")
def utsname(call: CallContext) -> dict[str, str]:
    """The appliance kernel's uname(2)."""
    u = os.uname()
    return {
        "uts_sysname": u.sysname,
        "uts_release": u.release,
        "uts_version": u.version,
        "uts_machine": u.machine,
    }


def _in_proc_filesystems(name: str) -> bool:
    """guestfsd greps ``^[[:space:]]*NAME$`` in /proc/filesystems: filesystems marked
    ``nodev`` (tmpfs, proc ...) do not match, only those that need a block device."""
    try:
        with open("/proc/filesystems", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        raise AgentError(
            "error testing for filesystem availability; "
            "enable verbose mode and look at preceding output"
        ) from None
    return any(re.fullmatch(r"\s*" + re.escape(name), line) for line in lines)


@procedure("filesystem_available")
def filesystem_available(call: CallContext, filesystem: str) -> bool:
    """Whether the appliance kernel can mount ``filesystem``, loading its module first
    if it is not there yet."""
    if not re.fullmatch(r"[A-Za-z0-9_]*", filesystem):
        raise AgentError("filesystem name contains non-alphanumeric characters")
    if _in_proc_filesystems(filesystem):
        return True
    if _linuxmodules() and call.agent.devices is not None:  # standalone: not the host's
        run(["modprobe", filesystem], check=False)  # its failure only means "no"
        return _in_proc_filesystems(filesystem)
    return False


def _upload_into_appliance(call: CallContext, tmpname: str, mode: int) -> None:
    """debug_upload and internal_upload: a FileIn written to an appliance path (not under
    the sysroot; the library uploads its helper scripts to /tmp this way)."""
    _appliance_only(call, "upload into the appliance")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(tmpname, flags, mode)
    except OSError as e:
        raise AgentError.from_os(e, tmpname) from None
    try:

        def sink(data: memoryview) -> None:
            view = memoryview(data)
            try:
                while view:
                    # Apart from the slice: mypyc would evaluate the call twice.
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError as e:
                raise AgentError(
                    f"write error: {tmpname}", errno.errorcode.get(e.errno or 0, "")
                ) from None

        call.receive_file(sink)
    finally:
        try:
            os.close(fd)
        except OSError as e:
            raise AgentError.from_os(e, f"close: {tmpname}") from None


@procedure("debug_upload")
def debug_upload(call: CallContext, tmpname: str, mode: int) -> None:
    _upload_into_appliance(call, tmpname, mode)


@procedure("internal_upload")
def internal_upload(call: CallContext, tmpname: str, mode: int) -> None:
    _upload_into_appliance(call, tmpname, mode)


@procedure("internal_rhbz914931")
def internal_rhbz914931(call: CallContext, count: int) -> None:
    """A test of the library's side of RHBZ#914931: receive a file slowly (a second per
    chunk) and crash the daemon on the ``count``-th chunk, in the middle of the upload."""
    if count <= 0 or count > 1000:
        raise AgentError("count out of range")
    left = count

    def sink(data: memoryview) -> None:
        nonlocal left
        left -= 1
        time.sleep(1)
        if left == 0:
            os.kill(os.getpid(), signal.SIGSEGV)

    call.receive_file(sink, per_chunk=True)


# -- debug ---------------------------------------------------------------------------------

#: The environment ``debug env`` shows and ``debug sh`` runs with; ``debug setenv``
#: changes it for the rest of the agent's life, as guestfsd's setenv(3) does.
_DEBUG_ENV = dict(ENV)


def _log(call: CallContext, text: str) -> None:
    print(text, file=call.agent.log, flush=True)


def _debug_help(call: CallContext, args: list[str]) -> str:
    return "Commands supported: " + " ".join(_DEBUG)


def _debug_env(call: CallContext, args: list[str]) -> str:
    return run(["printenv"], env=_DEBUG_ENV, error="printenv: {err}").out


def _debug_setenv(call: CallContext, args: list[str]) -> str:
    if len(args) != 2:
        raise AgentError("setenv: two arguments expected")
    _DEBUG_ENV[args[0]] = args[1]
    return "ok"


def _c_unsigned(text: str, bits: int = 32) -> int | None:
    """What sscanf's ``%u`` reads: an optionally signed decimal prefix, wrapped."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) % (1 << bits) if m else None


def _debug_error(call: CallContext, args: list[str]) -> str:
    usage = "debug error: expecting one arg: length of error message"
    if len(args) != 1:
        raise AgentError(usage)
    length = _c_unsigned(args[0])
    if length is None:
        raise AgentError(usage)
    if length > 1_000_000:
        raise AgentError("debug error: length argument too large")
    # EROFS: an errno no other path of this call can give, so a test can tell them apart.
    raise AgentError("a" * length, "EROFS")


def _debug_fds(call: CallContext, args: list[str]) -> str:
    lines = []
    fd_dir = "/proc/self/fd"
    for name in os.listdir(fd_dir):
        path = f"{fd_dir}/{name}"
        try:
            target = os.readlink(path)
        except FileNotFoundError:
            continue  # the descriptor listdir itself used, closed since
        except OSError as e:
            raise AgentError.from_os(e, f"readlink: {path}") from None
        lines.append(f"{name:>2} {target}\n")
    return "".join(lines)


def _debug_ldd(call: CallContext, args: list[str]) -> str:
    if len(args) != 1:
        raise AgentError("ldd: no file argument")
    done = run(["ldd", "-r", args[0]], check=False)
    if done.status != 0:
        raise AgentError(f"ldd: {args[0]}: {done.err}")
    return done.out + done.err


def _debug_ls(call: CallContext, args: list[str]) -> str:
    return run(["ls", "-a", *args], error="ls: {err}").out


def _debug_ll(call: CallContext, args: list[str]) -> str:
    return run(["ls", "-la", *args], error="ll: {err}").out


def _debug_print(call: CallContext, args: list[str]) -> str:
    _log(call, " ".join(args))
    return "ok"


def _debug_spew(call: CallContext, args: list[str]) -> str:
    if len(args) != 1:
        raise AgentError("spew: expecting number of lines <n>")
    n = _c_unsigned(args[0], 64)
    if n is None:
        raise AgentError(f"spew: could not parse number of lines '{args[0]}'")
    line = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890123456789"
    for _ in range(n):
        _log(call, line)
    return "ok"


def _debug_progress(call: CallContext, args: list[str]) -> str:
    usage = "progress: expecting one or more args: time in seconds [, rate in microseconds]"
    if not args:
        raise AgentError(usage)
    secs = _c_unsigned(args[0], 64)
    if secs is None:
        raise AgentError(usage)
    if secs == 0 or secs > 1_000_000:  # RHBZ#816839
        raise AgentError("progress: argument is 0, less than 0, or too large")
    rate = 0
    if len(args) >= 2:
        parsed = _c_unsigned(args[1], 64)
        if parsed is None:
            raise AgentError(usage)
        if parsed == 0 or parsed > 1_000_000:
            raise AgentError("progress: rate is 0 or too large")
        rate = parsed
    if rate == 0:
        tenths = secs * 10
        for i in range(1, tenths + 1):
            time.sleep(0.1)
            call.progress(i, tenths)
    else:
        usecs = secs * 1_000_000
        for i in range(rate, usecs + 1, rate):
            time.sleep(rate / 1_000_000)
            call.progress(i, usecs)
    call.progress_done(secs)
    return "ok"


def _debug_sh(call: CallContext, args: list[str]) -> str:
    """Run the words, joined by spaces, with ``/bin/sh -c``; ``$root`` is the sysroot and
    ``$sd`` the appliance's disk prefix. Output and errors come back together."""
    if not args:
        raise AgentError("sh: expecting a command to run")
    env = dict(_DEBUG_ENV, root=call.sysroot.root)
    for prefix in ("sd", "hd", "ubd", "vd"):
        if os.path.exists(f"/sys/block/{prefix}a"):
            env["sd"] = prefix
            break
    return run(["/bin/sh", "-c", " ".join(args)], fold=True, env=env).err


def _debug_core_pattern(call: CallContext, args: list[str]) -> str:
    if not args:
        raise AgentError("core_pattern: expecting a core pattern")
    path = "/proc/sys/kernel/core_pattern"
    try:
        with open(path, "w") as f:
            f.write(args[0])
    except OSError as e:
        raise AgentError.from_os(e, f"open: {path}") from None
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except OSError as e:
        raise AgentError.from_os(e, "setrlimit (RLIMIT_CORE)") from None
    return "ok"


#: The subcommands served, in 1.48's order (``debug help`` lists them). Left out: segv
#: (crash the daemon), qtrace, device_speed, bmap*, binaries -- tools for libguestfs's
#: own developers, not for users.
_DEBUG: dict[str, Callable[[CallContext, list[str]], str]] = {
    "help": _debug_help,
    "core_pattern": _debug_core_pattern,
    "env": _debug_env,
    "error": _debug_error,
    "fds": _debug_fds,
    "ldd": _debug_ldd,
    "ls": _debug_ls,
    "ll": _debug_ll,
    "print": _debug_print,
    "progress": _debug_progress,
    "setenv": _debug_setenv,
    "sh": _debug_sh,
    "spew": _debug_spew,
}


#: Subcommands that reach the appliance outside the sysroot (its files, a shell, its
#: kernel settings): refused when the agent runs standalone on a host.
_DEBUG_IN_APPLIANCE = frozenset({"core_pattern", "ldd", "ls", "ll", "sh"})


@procedure("debug")
def debug(call: CallContext, subcmd: str, extraargs: list[str]) -> str:
    """guestfsd's debugging commands (subcommand names match case-insensitively)."""
    name = subcmd.lower()
    handler = _DEBUG.get(name)
    if handler is None:
        raise AgentError("use 'debug help 0' to list the supported commands")
    if name in _DEBUG_IN_APPLIANCE and extraargs:
        _appliance_only(call, f"debug {name}")
    return handler(call, extraargs)
