"""The ``tsk`` family: files and data units read with The Sleuth Kit's tools
(``daemon/sleuthkit.c`` of 1.48): ``icat`` for an inode, ``blkls`` for a range of data
units, their output streamed as the FileOut.

The libtsk procedures (``internal_filesystem_walk``, ``internal_find_inode``) are not
implemented: the ``libtsk`` group is reported unavailable (docs/compatibility.md).
"""

from __future__ import annotations

import tempfile

from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..registry import has_program, procedure, provides_group
from ..resolve import Mountable

provides_group("sleuthkit", has_program("icat"))


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
