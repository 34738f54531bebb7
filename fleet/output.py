"""The results file: JSON Lines, one object per image, written as each image finishes.

Each line is written whole, flushed and fsync'ed before the next result is taken, so a
crash of the client (or of the machine) loses no finished result; at worst the line being
written when it died is cut short. ``--resume`` reads the file back, drops such a cut
line, and skips every image that has a complete line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any


def read_done(path: str) -> set[str]:
    """The images that already have a complete line in ``path`` (none if it is missing).
    A last line without its newline -- a write cut short -- is removed from the file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return set()
    done = set()
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        with open(path, "r+b") as f:
            f.truncate(complete)
    for raw in data[:complete].splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # not one of ours: leave it, it names no image
        if isinstance(line, dict) and isinstance(line.get("image"), str):
            done.add(line["image"])
    return done


class ResultWriter:
    """Appends result lines to a file (or writes them to stdout)."""

    def __init__(self, path: str | None, *, append: bool) -> None:
        self.path = path
        self._file: IO[str]
        if path is None or path == "-":
            self._file = sys.stdout
            self._sync = False
        else:
            self._file = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115
            self._sync = True

    def write(self, line: dict[str, Any]) -> None:
        """Write one result, durably, before returning."""
        self._file.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")
        self._file.flush()
        if self._sync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not sys.stdout:
            self._file.close()
