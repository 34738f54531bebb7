"""The ``selinux`` family: the agent's own SELinux context (libselinux's ``getcon`` and
``setcon``, from the appliance's ``libselinux.so.1``) and relabelling a guest tree with
``setfiles``, as guestfsd 1.48's ``daemon/selinux.c`` and ``selinux-relabel.c`` do.
"""

from __future__ import annotations

import ctypes
import shutil

from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library
from ..registry import procedure, provides_group, require_group
from ..resolve import GuestPath
from ..runner import ENV, run

_SONAME = "libselinux.so.1"

provides_group("selinux", lambda: load_library(_SONAME) is not None)
provides_group("selinuxrelabel", lambda: shutil.which("setfiles", path=ENV["PATH"]) is not None)


def _lib() -> ctypes.CDLL:
    require_group("selinux")
    lib = load_library(_SONAME)
    assert lib is not None  # the group test loaded it
    lib.getcon.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.setcon.argtypes = [ctypes.c_char_p]
    lib.freecon.argtypes = [ctypes.c_void_p]
    lib.freecon.restype = None
    return lib


@procedure("getcon")
def getcon(call: CallContext) -> str:
    lib = _lib()
    context = ctypes.c_void_p()
    if lib.getcon(ctypes.byref(context)) == -1:
        raise AgentError.from_errno(ctypes.get_errno(), "getcon")
    try:
        return ctypes.string_at(context.value or 0).decode("utf-8", "surrogateescape")
    finally:
        lib.freecon(context)


@procedure("setcon")
def setcon(call: CallContext, context: str) -> None:
    lib = _lib()
    if lib.setcon(context.encode("utf-8", "surrogateescape")) == -1:
        raise AgentError.from_errno(ctypes.get_errno(), "setcon")


#: Whether this appliance's setfiles knows -m and -C (asked once, as guestfsd does).
_SETFILES_OPTIONS: dict[str, bool] = {}


def _setfiles_has(option: str) -> bool:
    """Run ``setfiles -X`` alone: an unknown option is named in its complaint."""
    if option not in _SETFILES_OPTIONS:
        done = run(["setfiles", f"-{option}"], check=False)
        _SETFILES_OPTIONS[option] = bool(done.err) and f"'{option}'" not in done.err
    return _SETFILES_OPTIONS[option]


@procedure("selinux_relabel")
def selinux_relabel(
    call: CallContext, specfile: str, path: GuestPath, *, force: bool = False
) -> None:
    """Label ``path`` (a tree of the guest) from the guest's file contexts ``specfile``
    with setfiles, chrooted into the sysroot (``-r``); /dev, /proc, /selinux and /sys of
    the guest are excluded."""
    require_group("selinuxrelabel")
    sysroot = call.sysroot
    argv = ["setfiles"]
    if force:
        argv.append("-F")
    for excluded in ("/dev", "/proc", "/selinux", "/sys"):
        argv += ["-e", sysroot.resolve(excluded)]
    # -m: do not put every mount point on the exclude list (RHBZ#1433577); -C: exit 1
    # means "some files could not be relabelled", not a fatal error (RHBZ#1794518).
    has_c = _setfiles_has("C")
    if _setfiles_has("m"):
        argv.append("-m")
    if has_c:
        argv.append("-C")
    if sysroot.root != "/":
        argv += ["-r", sysroot.root]
    argv += ["-v"] if call.agent.verbose else ["-q"]
    argv += [sysroot.resolve(specfile), path.host()]
    done = call.run(argv, check=False)
    if done.status == 0 or (done.status == 1 and has_c):
        return
    raise AgentError(done.err)
