"""A look at an image file before an appliance is started for it.

``qemu-img info`` reads only the image's headers, in a process of its own with a time
limit, so the cheap failures of a fleet -- a missing file, a directory, a corrupt qcow2
header, a FIFO that never delivers a byte -- are reported with their reason in a fraction
of a second instead of costing a launch. The format it finds is then given to
``add_drive`` explicitly, so qemu never probes the format itself.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass

from ..core import runner

#: The longest ``qemu-img info`` may take: it reads a few headers, which takes well under
#: a second even on a loaded machine; what takes longer is not an image (a FIFO, a stuck
#: network filesystem).
PROBE_TIMEOUT = 20.0

#: Formats an image may have for ``add_drive`` (qemu's names).
KNOWN_FORMATS = frozenset({"raw", "qcow2", "qcow", "vmdk", "vdi", "vhdx", "vpc", "qed", "luks"})


class ImageError(Exception):
    """The image cannot be used; the message is the reason written to the output."""


@dataclass(frozen=True)
class ImageInfo:
    """What the probe found."""

    path: str
    format: str
    virtual_size: int
    backing_file: str | None


def probe(path: str, format: str | None = None, timeout: float = PROBE_TIMEOUT) -> ImageInfo:
    """Check ``path`` and find its format (or check the one given); raise
    :class:`ImageError` saying why it cannot be inspected."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError(f"{path}: No such file or directory") from None
    except OSError as e:
        raise ImageError(f"{path}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(f"{path}: Is a directory, not a disk image")
    if not os.access(path, os.R_OK):
        raise ImageError(f"{path}: Permission denied")
    argv = ["qemu-img", "info", "--output=json"]
    if format and format != "auto":
        if format not in KNOWN_FORMATS:
            raise ImageError(f"{path}: unknown format {format!r}")
        argv += ["-f", format]
    argv.append(path)
    try:
        out = runner.output(argv, timeout=timeout)
    except runner.CommandTimedOut:
        raise ImageError(
            f"{path}: not a readable disk image: reading its header took more than "
            f"{timeout:g} s (a FIFO, or a file that blocks on read?)"
        ) from None
    except runner.CommandError as e:
        detail = e.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ImageError(
            f"{path}: not a disk image qemu can open: {' '.join(detail) or e}"
        ) from None
    try:
        info = json.loads(out)
        found = str(info["format"])
        size = int(info["virtual-size"])
    except (ValueError, KeyError, TypeError) as e:
        raise ImageError(f"{path}: qemu-img info gave no usable answer ({e})") from None
    if size == 0:
        raise ImageError(f"{path}: an empty file, not a disk image")
    if found not in KNOWN_FORMATS:
        raise ImageError(f"{path}: unsupported image format {found!r}")
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    return ImageInfo(path=path, format=found, virtual_size=size, backing_file=backing)
