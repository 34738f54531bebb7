"""Kernel uevents for disks that arrive while the agent runs (warm launch's hot-plug).

A disk's sysfs directory and /dev node appear as soon as the kernel adds it, before it
has read the disk's partition table; the kernel announces the disk with its ``add``
uevent only once the partitions exist (it holds the announcement back for that very
reason). So "the disk is in /sys/block" is not "the disk is ready": a caller listing
partitions in between would see none. Listening on the kernel's uevent netlink socket
tells the two apart without udev, which the appliance does not run.
"""

from __future__ import annotations

import select
import socket

#: Room for the uevents of many hot-plugged disks (each brings a dozen or so: SCSI
#: target, device, disk, partitions ...): a full buffer drops announcements.
_RECEIVE_BUFFER = 4 << 20
#: <linux/netlink.h> (Python's socket module does not name it): the kernel's uevents,
#: sent to multicast group 1.
_NETLINK_KOBJECT_UEVENT = 15
_KERNEL_GROUP = 1
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class UeventsLost(Exception):
    """The socket's buffer overflowed: some announcements never arrived."""


class DiskAnnouncements:
    """Names of the disks (``sda`` ...) the kernel has announced since :meth:`open`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.announced: set[str] = set()

    @classmethod
    def open(cls) -> DiskAnnouncements | None:
        """Start listening; None where the kernel offers no uevent socket (standalone
        agents in containers, tests): callers then fall back to watching sysfs."""
        try:
            sock = socket.socket(
                socket.AF_NETLINK,
                socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                _NETLINK_KOBJECT_UEVENT,
            )
        except OSError:
            return None
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RECEIVE_BUFFER)
            except OSError:  # not root: the ordinary limit
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            sock.bind((0, _KERNEL_GROUP))
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return cls(sock)

    def wait(self, timeout: float) -> None:
        """Take in what has arrived, waiting up to ``timeout`` for something to.

        Raises :class:`UeventsLost` when the kernel had to drop messages.
        """
        readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        if not readable:
            return
        while True:
            try:
                message = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as e:  # ENOBUFS: the buffer overflowed
                raise UeventsLost(str(e)) from None
            name = disk_added(message)
            if name is not None:
                self.announced.add(name)

    def close(self) -> None:
        self._sock.close()


def disk_added(message: bytes) -> str | None:
    """The kernel name in an ``add`` uevent for a whole disk, else None.

    A kernel uevent is ``ACTION@DEVPATH`` then ``KEY=value`` fields, NUL-separated.
    """
    fields = message.split(b"\0")
    if not fields[0].startswith(b"add@"):
        return None
    env = dict(f.split(b"=", 1) for f in fields[1:] if b"=" in f)
    if env.get(b"SUBSYSTEM") != b"block" or env.get(b"DEVTYPE") != b"disk":
        return None
    name = env.get(b"DEVNAME", b"").decode(errors="replace")
    return name.removeprefix("/dev/") or None
