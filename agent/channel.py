"""Opening the agent's end of the wire: a virtio-serial port, a serial line, an inherited
file descriptor, or a Unix socket it listens on (standalone, like ``guestfsd -l``)."""

from __future__ import annotations

import os
import socket
import stat
import termios

from ..protocol.stream import ByteStream


class ChannelError(Exception):
    """The channel could not be opened; the message says which and why."""


def open_channel(spec: str) -> ByteStream:
    """``fd:N`` (an inherited descriptor), a serial tty, or any other character device."""
    if spec.startswith("fd:"):
        try:
            return ByteStream(int(spec[3:]))
        except ValueError:
            raise ChannelError(f"bad channel {spec!r}: expected fd:NUMBER") from None
    try:
        st = os.stat(spec)
    except OSError as e:
        raise ChannelError(f"cannot open channel {spec}: {e.strerror}") from None
    if stat.S_ISCHR(st.st_mode) and _is_terminal(spec):
        return _open_serial(spec)
    try:
        fd = os.open(spec, os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        raise ChannelError(f"cannot open channel {spec}: {e.strerror}") from None
    return ByteStream(fd)


def _is_terminal(path: str) -> bool:
    """A tty (a serial line, a pty) needs raw mode; a virtio port is not a terminal."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _open_serial(path: str) -> ByteStream:
    """A serial port (the fallback when there is no virtio-serial): raw mode, no echo, no
    line discipline, or the binary protocol would be mangled."""
    import serial  # pyserial; imported here so the virtio path never pays for it

    try:
        port = serial.Serial(path, baudrate=115200, timeout=None, exclusive=True)
    except (serial.SerialException, OSError) as e:
        raise ChannelError(f"cannot open serial channel {path}: {e}") from None
    fd = os.dup(port.fileno())
    port.close()  # the dup keeps the port open with the raw settings pyserial applied
    # pyserial leaves VMIN=0 (it times reads with select), so a read with nothing waiting
    # returns 0 bytes, which the stream would take for end of file: block for one byte.
    attrs = termios.tcgetattr(fd)
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    os.set_blocking(fd, True)  # pyserial opens with O_NONBLOCK; the dup shares that flag
    return ByteStream(fd)


def listen_once(path: str) -> ByteStream:
    """Bind a Unix socket at ``path``, accept one client, and return its stream."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise ChannelError(f"{path} exists and is not a socket")
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(path)
        srv.listen(1)
        conn, _ = srv.accept()
    except OSError as e:
        raise ChannelError(f"cannot listen on {path}: {e.strerror}") from None
    finally:
        srv.close()
        try:
            os.unlink(path)
        except OSError:
            pass
    return ByteStream(conn.detach())
