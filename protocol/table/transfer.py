"""Moving bytes between the host and the guest: uploads, downloads, base64, rsync."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "upload",
        66,
        "FileIn filename, Dev_or_Path remotefilename",
        "RErr",
        "copy a local file into the guest",
    ),
    _def(
        "download",
        67,
        "Dev_or_Path remotefilename, FileOut filename",
        "RErr",
        "copy a guest file to a local file",
    ),
    _def(
        "base64_in",
        242,
        "FileIn base64file, Pathname filename",
        "RErr",
        "decode a local base64 file into a guest file",
    ),
    _def(
        "base64_out",
        243,
        "Pathname filename, FileOut base64file",
        "RErr",
        "download a guest file encoded as base64",
    ),
    _def(
        "upload_offset",
        273,
        "FileIn filename, Dev_or_Path remotefilename, Int64 offset",
        "RErr",
        "copy a local file into a guest file at an offset",
    ),
    _def(
        "download_offset",
        274,
        "Dev_or_Path remotefilename, FileOut filename, Int64 offset, Int64 size",
        "RErr",
        "copy part of a guest file to a local file",
    ),
    _def(
        "rsync",
        344,
        "Pathname src, Pathname dest",
        "RErr",
        "copy a directory onto another in the guest with rsync",
        optargs="OBool archive, OBool deletedest",
        group="rsync",
    ),
    _def(
        "rsync_in",
        345,
        "String remote, Pathname dest",
        "RErr",
        "pull files into the guest from an rsync server",
        optargs="OBool archive, OBool deletedest",
        group="rsync",
    ),
    _def(
        "rsync_out",
        346,
        "Pathname src, String remote",
        "RErr",
        "push files from the guest to an rsync server",
        optargs="OBool archive, OBool deletedest",
        group="rsync",
    ),
)
