"""``python -m pyguestfs.demo``: the main job of the README, with timings.

Until the appliance boots (the builder issue), it runs the agent standalone on a scratch
directory, as ``guestfsd -r -l`` would, and drives it through the host library.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from .host import GuestFS


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    result = fn()
    print(f"  {label:<44} {(time.perf_counter() - t) * 1000:9.2f} ms")
    return result


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pyguestfs-demo-") as tmp:
        sysroot = os.path.join(tmp, "sysroot")
        os.mkdir(sysroot)
        sock = os.path.join(tmp, "agent.sock")
        agent = subprocess.Popen(
            [sys.executable, "-m", "pyguestfs.agent", "--listen", sock, "--sysroot", sysroot]
        )
        print(f"pyguestfs demo: agent serving {sysroot} on {sock}")
        try:
            g = GuestFS(python_return_dict=True)
            _timed("attach (agent start + launch flag)", lambda: g.attach(sock))
            _timed("ping_daemon", g.ping_daemon)
            _timed("mkdir_p /etc/app", lambda: g.mkdir_p("/etc/app"))
            _timed(
                "write /etc/app/config (100 bytes)", lambda: g.write("/etc/app/config", b"x" * 100)
            )
            payload = os.path.join(tmp, "payload")
            with open(payload, "wb") as f:
                f.write(os.urandom(64 << 20))
            _timed("upload 64 MiB", lambda: g.upload(payload, "/payload"))
            back = os.path.join(tmp, "back")
            _timed("download 64 MiB", lambda: g.download("/payload", back))
            digest = _timed(
                "checksum sha256 (in the agent)", lambda: g.checksum("sha256", "/payload")
            )
            with open(back, "rb") as f:
                ok = hashlib.sha256(f.read()).hexdigest() == digest
            print(f"  round trip intact: {ok}")
            print(f"  ls /: {g.ls('/')}   find /etc: {g.find('/etc')}")
            n = 1000
            t = time.perf_counter()
            for _ in range(n):
                g.exists("/etc")
            mean_ms = (time.perf_counter() - t) / n * 1000
            print(f"  {'exists() round trip (mean of 1000)':<44} {mean_ms:9.3f} ms")
            _timed("shutdown", g.close)
        finally:
            agent.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
