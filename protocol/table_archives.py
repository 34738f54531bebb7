"""Archives and encodings: tgz/txz in and out, cpio, base64 and compressed downloads.

``tar_in`` and ``tar_out``, the general forms these older calls are built on, are in
``table_core`` with the other transfers.
"""

from __future__ import annotations

from .tabledef import Procedure
from .tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    # Deprecated by tar_in / tar_out in libguestfs, still served by guestfsd 1.48.
    _def(
        "tgz_in",
        71,
        "FileIn tarball, Pathname directory",
        "RErr",
        "unpack a local gzip-compressed tarball into a guest directory",
    ),
    _def(
        "tgz_out",
        72,
        "Pathname directory, FileOut tarball",
        "RErr",
        "pack a guest directory into a local gzip-compressed tarball",
    ),
    _def(
        "txz_in",
        229,
        "FileIn tarball, Pathname directory",
        "RErr",
        "unpack a local xz-compressed tarball into a guest directory",
        group="xz",
    ),
    _def(
        "txz_out",
        230,
        "Pathname directory, FileOut tarball",
        "RErr",
        "pack a guest directory into a local xz-compressed tarball",
        group="xz",
    ),
    _def(
        "cpio_out",
        419,
        "String directory, FileOut cpiofile",
        "RErr",
        "pack a guest directory into a local cpio archive (format newc or crc)",
        optargs="OString format",
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
        "compress_out",
        291,
        "String ctype, Pathname file, FileOut zfile",
        "RErr",
        "download a guest file compressed (compress, gzip, bzip2, xz or lzop)",
        optargs="OInt level",
    ),
    _def(
        "compress_device_out",
        292,
        "String ctype, Device device, FileOut zdevice",
        "RErr",
        "download a guest device compressed (compress, gzip, bzip2, xz or lzop)",
        optargs="OInt level",
    ),
)
