"""Numbers fixed by the libguestfs 1.48 protocol (``generator/XDR.ml``).

They are facts of the wire format, not choices: a real libguestfs library or daemon
on the other end of the stream relies on each one.
"""

from typing import Final

PROGRAM: Final = 0x2000F5F5
PROTOCOL_VERSION: Final = 4

#: Largest body a length word may announce. Bigger means the stream is out of sync.
MESSAGE_MAX: Final = 4 * 1024 * 1024
#: Largest payload of one FileIn/FileOut chunk.
MAX_CHUNK_SIZE: Final = 8192
#: Largest chunk our agent and host agree on through internal_pyguestfs_set_chunk_size
#: (a pyguestfs extension; a real library or daemon never asks and stays at 8 KiB).
BIG_CHUNK_MAX: Final = 1024 * 1024
#: Longest error message the daemon sends; longer ones are truncated.
ERROR_LEN: Final = 65536
#: Longest errno name in ``guestfs_message_error`` (``string<32>``).
ERRNO_STRING_MAX: Final = 32

# Special first words. They are all larger than MESSAGE_MAX, so a reader can
# always tell a flag from a length.
LAUNCH_FLAG: Final = 0xF5F55FF5
CANCEL_FLAG: Final = 0xFFFFEEEE
PROGRESS_FLAG: Final = 0xFFFF5555

#: Size of ``struct guestfs_progress`` on the wire (proc, serial, position, total).
PROGRESS_SIZE: Final = 24
#: Size of ``struct guestfs_message_header`` on the wire.
HEADER_SIZE: Final = 40

DIRECTION_CALL: Final = 0
DIRECTION_REPLY: Final = 1
STATUS_OK: Final = 0
STATUS_ERROR: Final = 1

#: The library's first serial number (``lib/handle.c``); it adds one per request.
FIRST_SERIAL: Final = 0x00123400

#: Highest procedure number libguestfs 1.48 uses. Our own extensions live far above.
MAX_PROC_NR: Final = 510
#: What our host sends first on a channel to a parked agent (a restored appliance); the
#: agent answers with LAUNCH_FLAG. Never sent to a real guestfsd.
WAKE_FLAG: Final = 0xF5F5A11E
#: First number of pyguestfs's own procedures, well clear of any libguestfs release.
EXTENSION_PROC_BASE: Final = 0x10000

# Progress rate limits of the 1.48 daemon (``daemon/proto.c``).
PROGRESS_INITIAL_DELAY: Final = 2.0
PROGRESS_PERIOD: Final = 0.333333

#: Above this size ``write``/``write_append`` switch from internal_write to upload.
WRITE_INLINE_MAX: Final = 2 * 1024 * 1024

#: Default channel inside the appliance.
DEFAULT_CHANNEL: Final = "/dev/virtio-ports/org.libguestfs.channel.0"
