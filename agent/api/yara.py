"""The ``yara`` family: YARA rules loaded from an uploaded file and matched against guest
files, through the appliance's libyara (:mod:`..libyara`), as guestfsd 1.48's
``daemon/yara.c`` does it. One rule set is loaded per agent.

``internal_yara_scan`` streams one XDR ``yara_detection`` (the path as the caller gave
it, the rule's identifier) per matching rule; the library's ``yara_scan`` reads them
back.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile

from ...protocol.types import STRUCTS
from ...protocol.xdr import Encoder
from .. import libyara
from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure, provides_group, require_group
from ..resolve import GuestPath

provides_group("libyara", libyara.available)

#: The rules loaded by ``yara_load`` on each agent.
_RULES: PerConnection[libyara.Rules] = PerConnection("yara")

_NO_RULES = "no yara rules loaded"


def _drop(call: CallContext) -> bool:
    """Free this agent's rules; whether there were any."""
    rules = _RULES.pop(call.agent, None)
    if rules is None:
        return False
    rules.destroy()
    return True


def _compile_error(line: int, message: str) -> None:
    # guestfsd prints each compiler error on its stderr (the appliance console); the
    # caller only gets their count.
    print(f"Yara error (line {line}): {message}", file=sys.stderr)


@procedure("yara_load")
def yara_load(call: CallContext) -> None:
    """Replace the loaded rules with the uploaded file's: compiled rules (``yarac``) or,
    when they are not, rule source compiled here."""
    require_group("libyara")
    fd, tmp = tempfile.mkstemp(prefix="yara")
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:

            def sink(data: memoryview) -> None:
                out.write(data)

            call.receive_file(sink)
        try:
            libyara.initialize()
        except libyara.YaraError as e:
            raise AgentError(str(e)) from None
        # As in 1.48, the old rules go first: a file that fails leaves none loaded.
        _drop(call)
        try:
            rules = libyara.Rules.load_compiled(tmp)
        except libyara.YaraError as e:
            if e.code != libyara.ERROR_INVALID_FILE:
                raise AgentError(str(e)) from None
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                rules = libyara.Rules.compile_source(fd, _compile_error)
            except libyara.YaraCompileError as ce:
                raise AgentError(str(ce)) from None
            except libyara.YaraError as ce:
                if ce.code == libyara.ERROR_INSUFFICIENT_MEMORY:
                    raise AgentError.from_errno(errno.ENOMEM, "yr_compiler_get_rules") from None
                raise AgentError(str(ce)) from None
        _RULES[call.agent] = rules
    finally:
        os.close(fd)
        os.unlink(tmp)


@procedure("yara_destroy")
def yara_destroy(call: CallContext) -> None:
    """Free the loaded rules."""
    require_group("libyara")
    if not _drop(call):
        raise AgentError(_NO_RULES)


@procedure("internal_yara_scan")
def internal_yara_scan(call: CallContext, path: GuestPath) -> None:
    """Stream a ``yara_detection`` for each loaded rule that matches ``path``."""
    require_group("libyara")
    rules: libyara.Rules | None = _RULES.get(call.agent)
    if rules is None:
        raise AgentError(_NO_RULES)
    try:
        fd = os.open(path.host(), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, str(path)) from None
    try:
        call.begin_file_out()
        detection = STRUCTS["yara_detection"]
        name = str(path)
        chunk = Encoder()
        limit = call.agent.chunk_size

        def matched(identifier: bytes) -> None:
            nonlocal chunk
            enc = Encoder()
            detection.encode(enc, {"yara_name": name, "yara_rule": identifier})
            if len(chunk.buf) + len(enc.buf) > limit:
                call.send_chunk(bytes(chunk.buf))
                chunk = Encoder()
            chunk.buf += enc.buf

        code = rules.scan_fd(fd, matched)
        if chunk.buf:
            call.send_chunk(bytes(chunk.buf))
        if code != libyara.ERROR_SUCCESS:
            # The OK reply is out: as in 1.48 the transfer is cancelled.
            raise AgentError(f"yr_rules_scan_fd: error {code}")
    finally:
        os.close(fd)
