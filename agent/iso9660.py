"""The primary volume descriptor of an ISO 9660 image, read directly (as 1.48's
``daemon/isoinfo.ml`` does, not through a tool): the ``isoinfo`` struct."""

from __future__ import annotations

import calendar
import os
import struct

from .errors import AgentError


def _iso_str(raw: bytes) -> str:
    # strA and strD alike: trailing spaces dropped.
    return raw.decode("latin-1").rstrip(" ")


def _iso_time(raw: bytes) -> int:
    """An ECMA-119 dec-datetime as a Unix time; -1 when unset. The last byte is the
    offset from GMT in 15-minute steps."""
    if raw[:16] == b"0" * 16:
        return -1
    text = raw[:14].decode("ascii")
    try:
        when = calendar.timegm(
            (
                int(text[0:4]),
                int(text[4:6]),
                int(text[6:8]),
                int(text[8:10]),
                int(text[10:12]),
                int(text[12:14]),
                0,
                0,
                0,
            )
        )
    except ValueError as e:
        raise AgentError(f"int_of_string: {e}") from None
    offset = raw[16] - 256 if raw[16] >= 128 else raw[16]
    return when - offset * 15 * 60


def read_pvd(node: str, shown: str) -> dict[str, int | str]:
    """The ``isoinfo`` struct of the image or device at ``node`` (``shown`` in errors),
    as 1.48 fills it: strings without trailing spaces, the little-endian copy of each
    number, times in Unix seconds."""
    # 1.48 (isoinfo.ml) words a failed system call as OCaml's Unix_error: the call's
    # name, its string argument (none for read) and strerror.
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise AgentError.from_os(e, f"open: {shown}") from None
    try:
        pvd = os.pread(fd, 2048, 32768)
    except OSError as e:
        raise AgentError.from_os(e, "read: ") from None
    finally:
        os.close(fd)
    if len(pvd) != 2048 or pvd[0] != 1 or pvd[1:6] != b"CD001":
        raise AgentError(f"{shown}: not an ISO file or CD-ROM")

    def le16(at: int) -> int:
        return int(struct.unpack_from("<h", pvd, at)[0])

    def le32(at: int) -> int:
        return int(struct.unpack_from("<i", pvd, at)[0])

    return {
        "iso_system_id": _iso_str(pvd[8:40]),
        "iso_volume_id": _iso_str(pvd[40:72]),
        "iso_volume_space_size": le32(80),
        "iso_volume_set_size": le16(120),
        "iso_volume_sequence_number": le16(124),
        "iso_logical_block_size": le16(128),
        "iso_volume_set_id": _iso_str(pvd[190:318]),
        "iso_publisher_id": _iso_str(pvd[318:446]),
        "iso_data_preparer_id": _iso_str(pvd[446:574]),
        "iso_application_id": _iso_str(pvd[574:702]),
        "iso_copyright_file_id": _iso_str(pvd[702:739]),
        "iso_abstract_file_id": _iso_str(pvd[739:776]),
        "iso_bibliographic_file_id": _iso_str(pvd[776:813]),
        "iso_volume_creation_t": _iso_time(pvd[813:830]),
        "iso_volume_modification_t": _iso_time(pvd[830:847]),
        "iso_volume_expiration_t": _iso_time(pvd[847:864]),
        "iso_volume_effective_t": _iso_time(pvd[864:881]),
    }
