"""The serial-port fallback: the agent on a terminal device, put into raw mode through
pyserial, still speaks the binary protocol byte for byte (a cooked tty would mangle it)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import termios
from pathlib import Path

from rawclient import LAUNCH_FLAG, header


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        part = os.read(fd, n - len(buf))
        assert part, "the agent closed the line"
        buf += part
    return buf


def test_agent_serves_over_a_pty(tmp_path: Path) -> None:
    master, slave = os.openpty()
    # The host end must be raw too, or the pty would echo and translate bytes.
    attrs = termios.tcgetattr(master)
    attrs[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    attrs[0] &= ~(termios.ICRNL | termios.IXON | termios.INLCR)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(master, termios.TCSANOW, attrs)
    slave_path = os.ttyname(slave)
    (tmp_path / "root").mkdir()
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyguestfs.agent",
            "--channel",
            slave_path,
            "--standalone",
            "--sysroot",
            str(tmp_path / "root"),
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        # Our slave fd stays open until the agent has opened its own: a pty whose slave
        # side is closed by everyone reads as EIO on the master.
        assert struct.unpack(">I", _read_exact(master, 4))[0] == LAUNCH_FLAG
        os.close(slave)
        # A message full of bytes a cooked tty would eat: \r, \n, ^C, ^D, ^S, 0xff.
        path = b"/\r\n\x03\x04\x13\xff"
        body = header(36, 0x123400) + struct.pack(">I", len(path)) + path + b"\0"
        os.write(master, struct.pack(">I", len(body)) + body)
        reply_len = struct.unpack(">I", _read_exact(master, 4))[0]
        reply = _read_exact(master, reply_len)
        assert reply_len == 44 and reply[-4:] == b"\0\0\0\0"  # exists(...) = false, intact
        os.write(master, struct.pack(">I", 40) + header(92, 0x123401))
        assert struct.unpack(">I", _read_exact(master, 4))[0] == 40
    finally:
        agent.kill()
        agent.wait()
        os.close(master)
