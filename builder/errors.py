"""The builder's one error type: what went wrong, and what to do about it."""

from __future__ import annotations


class BuildError(Exception):
    """A build step failed in a way the user can act on.

    ``message`` says what failed and why (naming the file or command); ``hint`` says what
    to do. The CLI prints both and exits non-zero; a traceback is shown only with --debug.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message
