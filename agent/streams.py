"""A program's output as a FileOut stream (tar_out, cpio_out, base64_out, compress_out):
the procedures of two families (``archives``, ``transfer``) send what a program writes
the same way, so the way is here once."""

from __future__ import annotations

import tempfile
from typing import IO, TYPE_CHECKING, Any

from .errors import AgentError
from .runner import start

if TYPE_CHECKING:
    from .context import CallContext


def error_text(err: IO[bytes]) -> str:
    """A program's stderr collected in a file, as guestfsd's read_error_file gives it:
    the whole text, one final newline removed."""
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


def stream_program(call: CallContext, argv: list[str], what: str, **popen: Any) -> None:
    """Send a program's stdout as the FileOut stream. Its failure after the OK reply can
    only cancel the transfer (the dispatcher sends the cancel chunk); its stderr, which
    guestfsd leaves in the appliance's log, goes to ours under --verbose."""
    with tempfile.TemporaryFile(prefix="out-err-") as err:
        proc = start(argv, feed=False, stderr=err, **popen)
        assert proc.stdout is not None
        try:
            call.begin_file_out()
            call.send_file(proc.stdout.read)
        except BaseException:
            proc.kill()  # cancelled or failed half-way: the output has nowhere to go
            proc.wait()
            raise
        status = proc.wait()
        if status != 0:
            text = error_text(err)
            raise AgentError(call.sysroot.hide(f"{argv[0]}: {what}: exit {status}: {text}"))
