"""The ``tsk`` family: files and data units read with The Sleuth Kit's tools
(``daemon/sleuthkit.c`` of 1.48): ``icat`` for an inode, ``blkls`` for a range of data
units, their output streamed as the FileOut.

``internal_filesystem_walk`` and ``internal_find_inode`` walk the filesystem with the
appliance's libtsk (:mod:`..libtsk`), as ``daemon/tsk.c`` does, and stream one XDR
``tsk_dirent`` per entry; the library's ``filesystem_walk``/``find_inode`` read them back.
"""

from __future__ import annotations

import tempfile

from ...protocol.types import STRUCTS
from ...protocol.xdr import Encoder
from .. import libtsk, runner
from ..context import CallContext
from ..errors import AgentError
from ..registry import has_program, procedure, provides_group, require_group
from ..resolve import Mountable

provides_group("sleuthkit", has_program("icat"))
provides_group("libtsk", libtsk.available)


def _stream_out(call: CallContext, argv: list[str]) -> None:
    """Send a tool's standard output as the call's FileOut. As in guestfsd the OK reply
    goes first, so a failure of the tool can only cancel the transfer."""
    with tempfile.TemporaryFile() as errors:
        proc = runner.start(argv, feed=False, stderr=errors)
        assert proc.stdout is not None
        try:
            call.begin_file_out()
            call.send_file(proc.stdout.read)
        finally:
            if proc.poll() is None and not proc.stdout.closed:
                proc.stdout.close()
            status = proc.wait()
        if status != 0:
            errors.seek(0)
            text = call.user_names(errors.read().decode("utf-8", "replace").strip())
            raise AgentError(f"{argv[0]}: {text or f'exit status {status}'}")


def _node(mountable: Mountable) -> str:
    assert mountable.device is not None  # a Mountable argument always names a device
    return mountable.device.node


@procedure("download_inode")
def download_inode(call: CallContext, device: Mountable, inode: int) -> None:
    if inode < 0:
        raise AgentError("inode must be >= 0")
    # -r: recover a deleted file's data too, as 1.48 asks.
    _stream_out(call, ["icat", "-r", _node(device), str(inode)])


@procedure("download_blocks")
def download_blocks(
    call: CallContext,
    device: Mountable,
    start: int,
    stop: int,
    *,
    unallocated: bool | None = None,
) -> None:
    if start < 0:
        raise AgentError("starting address must be greater than zero")
    if stop <= start:
        raise AgentError("stopping address must greater than starting address")
    argv = ["blkls", _node(device)]
    # 1.48 passes -e (every unit) only when the optarg is absent, whatever its value.
    if unallocated is None:
        argv.append("-e")
    _stream_out(call, [*argv, f"{start}-{stop}"])


def _stream_dirents(call: CallContext, device: Mountable, inode: int | None) -> None:
    """Walk ``device`` and send a ``tsk_dirent`` per entry. As in guestfsd the OK reply
    goes once the filesystem is open, so a failure of the walk cancels the transfer."""
    require_group("libtsk")
    dirent = STRUCTS["tsk_dirent"]
    limit = call.agent.chunk_size
    chunk = Encoder()

    def send(entry: libtsk.Entry) -> None:
        nonlocal chunk
        enc = Encoder()
        a, an, m, mn, c, cn, cr, crn = entry.times
        dirent.encode(
            enc,
            {
                "tsk_inode": entry.inode,
                "tsk_type": entry.type,
                "tsk_size": entry.size,
                "tsk_name": entry.name,
                "tsk_flags": entry.flags,
                "tsk_atime_sec": a,
                "tsk_atime_nsec": an,
                "tsk_mtime_sec": m,
                "tsk_mtime_nsec": mn,
                "tsk_ctime_sec": c,
                "tsk_ctime_nsec": cn,
                "tsk_crtime_sec": cr,
                "tsk_crtime_nsec": crn,
                "tsk_nlink": entry.nlink,
                "tsk_link": entry.link,
                "tsk_spare1": 0,
            },
        )
        if len(chunk.buf) + len(enc.buf) > limit:
            call.send_chunk(bytes(chunk.buf))
            chunk = Encoder()
        chunk.buf += enc.buf

    try:
        libtsk.walk(_node(device), send, inode, on_open=call.begin_file_out)
    except libtsk.TskError as e:
        raise AgentError(call.user_names(str(e))) from None
    if chunk.buf:
        call.send_chunk(bytes(chunk.buf))


@procedure("internal_filesystem_walk")
def internal_filesystem_walk(call: CallContext, device: Mountable) -> None:
    _stream_dirents(call, device, None)


@procedure("internal_find_inode")
def internal_find_inode(call: CallContext, device: Mountable, inode: int) -> None:
    _stream_dirents(call, device, inode)
