"""Exceptions of the byte stream that must stay ordinary Python classes.

:class:`StreamClosed` derives from ``EOFError``; the agent's compiled build (mypyc, see
``pyguestfs.builder.native``) cannot compile a class with that base, so it lives here,
in a module that is never compiled, and :mod:`pyguestfs.protocol.stream` re-exports it.
"""

from __future__ import annotations


class StreamClosed(EOFError):
    """The peer closed the stream (or the stream broke) before a full unit arrived."""
