"""The builder's one error type: what went wrong, and what to do about it."""

from __future__ import annotations

from ..core.runner import CommandError, CommandNotFound


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


#: The Debian package of each program the builder runs whose name is not the package's.
PACKAGE_OF = {
    "xz": "xz-utils",
    "mke2fs": "e2fsprogs",
    "depmod": "kmod",
    "ldd": "libc-bin",
    "cp": "coreutils",
    "qemu-img": "qemu-utils",
}


def tool_error(e: CommandError, context: str = "", hint: str | None = None) -> BuildError:
    """The runner's error (pyguestfs.core.runner, in its one wording) as a BuildError,
    after ``context`` when given. A missing program gets an ``apt-get install`` hint
    unless ``hint`` says otherwise."""
    message = f"{context}: {e.message}" if context else e.message
    if hint is None and isinstance(e, CommandNotFound):
        program = e.program.rsplit("/", 1)[-1]
        hint = f"apt-get install {PACKAGE_OF.get(program, program)}"
    return BuildError(message, hint)
