"""The ``inspect`` family's daemon side that reads a package database: the RPM
packages installed in a guest, through the appliance's librpm (``librpm.so.9``), as
guestfsd 1.48's ``daemon/rpm.ml`` and ``rpm-c.c`` read them.

librpm is run in a child process chrooted into the sysroot, as 1.48 does: it reads the
*guest's* rpm configuration (where its database is, which backend: sqlite, ndb or
Berkeley DB read-only), keeps files of the user database open and is not meant to parse
untrusted configuration in the agent itself. The child sends the packages back as
JSON over a pipe; the library is opened before the chroot, from the appliance.
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any

from ..context import CallContext
from ..errors import AgentError
from ..guest import load_library
from ..registry import procedure

_SONAMES = ("librpm.so.9", "librpmio.so.9")
#: <rpm/rpmtag.h>, <rpm/rpmts.h>: RPMTAG_EPOCH, RPMDBI_PACKAGES, RPMVSF_MASK_NOSIGNATURES.
_RPMTAG_EPOCH = 1003
_RPMDBI_PACKAGES = 0
_RPMVSF_MASK_NOSIGNATURES = (1 << 10) | (1 << 11) | (1 << 18) | (1 << 19)
#: The string fields of ``application2`` librpm fills; the rest stay "".
_FORMATS = {
    "app2_name": "%{NAME}",
    "app2_version": "%{VERSION}",
    "app2_release": "%{RELEASE}",
    "app2_arch": "%{ARCH}",
    "app2_url": "%{URL}",
    "app2_summary": "%{SUMMARY}",
    "app2_description": "%{DESCRIPTION}",
}
_EMPTY_FIELDS = (
    "app2_display_name",
    "app2_install_path",
    "app2_trans_path",
    "app2_publisher",
    "app2_source_package",
    "app2_spare1",
    "app2_spare2",
    "app2_spare3",
    "app2_spare4",
)


def _librpm() -> ctypes.CDLL:
    rpmio = load_library("librpmio.so.9")
    lib = load_library("librpm.so.9")
    if lib is None or rpmio is None:
        raise AgentError("no support for RPM guests because librpm was missing at compile time")
    P = ctypes.c_void_p
    lib.rpmReadConfigFiles.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.rpmtsCreate.restype = P
    lib.rpmtsVSFlags.argtypes = [P]
    lib.rpmtsSetVSFlags.argtypes = [P, ctypes.c_int]
    lib.rpmtsInitIterator.restype = P
    lib.rpmtsInitIterator.argtypes = [P, ctypes.c_int, P, ctypes.c_size_t]
    lib.rpmdbNextIterator.restype = P
    lib.rpmdbNextIterator.argtypes = [P]
    lib.headerLink.restype = P
    lib.headerLink.argtypes = [P]
    lib.headerFormat.restype = P  # a malloc'd string, freed with free()
    lib.headerFormat.argtypes = [P, ctypes.c_char_p, P]
    lib.headerGetNumber.restype = ctypes.c_uint64
    lib.headerGetNumber.argtypes = [P, ctypes.c_int]
    lib.headerFree.argtypes = [P]
    lib.rpmdbFreeIterator.argtypes = [P]
    lib.rpmtsFree.argtypes = [P]
    return lib


def _read_packages(lib: ctypes.CDLL) -> list[dict[str, Any]]:
    """In the chrooted child: every package of the guest's database."""
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    # Like rpm's own C callers, go on without the configuration if it fails to read.
    lib.rpmReadConfigFiles(None, None)
    ts = lib.rpmtsCreate()
    if not ts:
        raise AgentError("rpmtsCreate")
    lib.rpmtsSetVSFlags(ts, lib.rpmtsVSFlags(ts) | _RPMVSF_MASK_NOSIGNATURES)  # RHBZ#2064182
    it = lib.rpmtsInitIterator(ts, _RPMDBI_PACKAGES, None, 0)
    if not it:
        # Also what a database that cannot be opened gives (RHBZ#2089623).
        lib.rpmtsFree(ts)
        raise AgentError("rpmtsInitIterator")
    apps = []
    while True:
        h = lib.rpmdbNextIterator(it)
        if not h:
            break
        h = lib.headerLink(h)
        app: dict[str, Any] = dict.fromkeys(_EMPTY_FIELDS, "")
        for key, fmt in _FORMATS.items():
            text = lib.headerFormat(h, fmt.encode(), None)
            app[key] = ctypes.string_at(text).decode("utf-8", "replace") if text else ""
            if text:
                libc.free(text)
        # An int32 on the wire, as 1.48 narrows it.
        epoch = lib.headerGetNumber(h, _RPMTAG_EPOCH) & 0xFFFFFFFF
        app["app2_epoch"] = epoch - (1 << 32) if epoch >= 1 << 31 else epoch
        lib.headerFree(h)
        apps.append(app)
    lib.rpmdbFreeIterator(it)
    lib.rpmtsFree(ts)
    return apps


def _in_guest_chroot(root: str, lib: ctypes.CDLL) -> list[dict[str, Any]]:
    """Run :func:`_read_packages` in a child chrooted into ``root``."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(rfd)
            os.chroot(root)
            os.chdir("/")
            try:
                reply: dict[str, Any] = {"apps": _read_packages(lib)}
            except AgentError as e:
                reply = {"error": e.message}
            data = json.dumps(reply).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view) :]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AgentError(f"librpm: the subprocess failed (wait status {status})")
    reply = json.loads(data)
    if "error" in reply:
        raise AgentError(reply["error"])
    apps: list[dict[str, Any]] = reply["apps"]
    return apps


@procedure("internal_list_rpm_applications")
def internal_list_rpm_applications(call: CallContext) -> list[dict[str, Any]]:
    """The guest's RPM packages as ``application2`` structs, sorted by name."""
    lib = _librpm()
    apps = _in_guest_chroot(call.sysroot.root, lib)
    call.agent.say(f"librpm returned {len(apps)} installed packages")
    return sorted(apps, key=lambda a: a["app2_name"].encode("utf-8", "surrogateescape"))
