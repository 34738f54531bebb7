"""The ``content`` family: comparing and checksumming contents, as guestfsd 1.48's
``daemon/cmp.c`` and ``daemon/checksum.c`` do it."""

from __future__ import annotations

import os
import stat
import subprocess

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device, GuestPath
from ..runner import ENV, not_found

#: The program for each checksum type guestfsd knows (matched case-insensitively).
_CHECKSUM_PROGRAMS = {
    "crc": "cksum",
    "md5": "md5sum",
    "sha1": "sha1sum",
    "sha224": "sha224sum",
    "sha256": "sha256sum",
    "sha384": "sha384sum",
    "sha512": "sha512sum",
}


def _checksum_program(csumtype: str) -> str:
    program = _CHECKSUM_PROGRAMS.get(csumtype.lower())
    if program is None:
        raise AgentError(
            "unknown checksum type, expecting crc|md5|sha1|sha224|sha256|sha384|sha512"
        )
    return program


@procedure("equal")
def equal(call: CallContext, file1: GuestPath, file2: GuestPath) -> bool:
    """``cmp -s``: true when both files have the same contents."""
    done = call.run(["cmp", "-s", file1.host(), file2.host()], check=False)
    if done.status > 1:
        raise AgentError(done.err)
    return done.status == 0


@procedure("checksum_device")
def checksum_device(call: CallContext, csumtype: str, device: Device) -> str:
    """The checksum of a whole device: its contents piped into the checksum program
    (guestfsd opens the device before it looks at the type)."""
    try:
        fd = os.open(device.node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, device) from None
    try:
        program = _checksum_program(csumtype)
        done = call.run([program], stdin=fd, check=False)
    finally:
        os.close(fd)
    if done.status != 0:
        raise AgentError(f"{program}: {done.err}")
    return done.out.split(None, 1)[0] if done.out.split() else ""


@procedure("checksums_out")
def checksums_out(call: CallContext, csumtype: str, directory: GuestPath) -> None:
    """``cd DIR && find -type f -print0 | xargs -0 PROGRAM``, streamed as it runs: one
    line per regular file below ``directory``, names relative (``./a/b``)."""
    program = _checksum_program(csumtype)
    host = directory.host()
    try:
        st = os.stat(host)
    except OSError as e:
        raise AgentError.from_os(e, directory) from None
    if not stat.S_ISDIR(st.st_mode):
        raise AgentError(f"{directory}: not a directory")
    try:
        find = subprocess.Popen(
            ["find", "-type", "f", "-print0"],
            cwd=host,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
    except FileNotFoundError:
        raise not_found("find") from None
    try:
        sums = subprocess.Popen(
            ["xargs", "-0", program],
            cwd=host,
            stdin=find.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
    except FileNotFoundError:
        find.kill()
        find.wait()
        raise not_found("xargs") from None
    assert find.stdout is not None and sums.stdout is not None
    find.stdout.close()  # xargs holds it now: find sees SIGPIPE if xargs dies
    try:
        call.begin_file_out()
        call.send_file(sums.stdout.read)
    finally:
        sums.stdout.close()
        status = sums.wait()
        find.wait()
    if status != 0:
        # After the OK reply only a cancelled transfer can say it failed (as pclose's).
        raise AgentError(f"checksums_out: {directory}: {program} exited with status {status}")
