"""``python -m pyguestfs.demo``: the README's main job.

Builds (or reuses) the appliance from this machine's kernel and packages, boots it on a
scratch disk under qemu, and shows a few operations with their timings.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from .builder.appliance import BuildOptions, build
from .host import GuestFS


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    result = fn()
    print(f"  {label:<46} {time.perf_counter() - t:9.3f} s", flush=True)
    return result


def main() -> int:
    print("pyguestfs demo: build the appliance, boot it on a scratch disk, use it")
    result = _timed("build appliance (a no-op when cached)", lambda: build(BuildOptions()))
    summary = result.summary()
    sizes = summary["sizes"]
    print(
        f"    kernel {sizes['kernel']['bytes'] / 1e6:.1f} MB, initrd "
        f"{sizes['initrd']['bytes'] / 1e6:.1f} MB, root {sizes['root']['allocated'] / 1e6:.1f}"
        f" MB allocated ({'built' if result.built else 'cached'})"
    )
    g = GuestFS(python_return_dict=True)
    if os.environ.get("PYGUESTFS_DEMO_VERBOSE"):
        g.set_verbose(True)
    g.add_drive_scratch(1 << 30)
    _timed("launch (qemu start to agent ready)", g.launch)
    print(f"    devices: {g.list_devices()}")
    _timed("part_disk /dev/sda mbr", lambda: g.part_disk("/dev/sda", "mbr"))
    _timed("mkfs ext4 /dev/sda1", lambda: g.mkfs("ext4", "/dev/sda1"))
    _timed("mount /dev/sda1 /", lambda: g.mount("/dev/sda1", "/"))
    _timed(
        "write /etc/motd (100 bytes)", lambda: (g.mkdir_p("/etc"), g.write("/etc/motd", b"x" * 100))
    )
    with tempfile.TemporaryDirectory() as tmp:
        payload = os.path.join(tmp, "payload")
        with open(payload, "wb") as f:
            f.write(os.urandom(32 << 20))
        _timed("upload 32 MiB", lambda: g.upload(payload, "/payload"))
        back = os.path.join(tmp, "back")
        _timed("download 32 MiB", lambda: g.download("/payload", back))
        with open(payload, "rb") as a, open(back, "rb") as b:
            same = hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
        print(f"    round trip intact: {same}")
    n = 200
    t = time.perf_counter()
    for _ in range(n):
        g.exists("/etc")
    print(f"  {'exists() round trip, mean of 200':<46} {(time.perf_counter() - t) / n:9.4f} s")
    print(f"    ls /: {g.ls('/')}   df: {g.statvfs('/')['blocks']} blocks")
    _timed("shutdown (sync, unmount, qemu ends)", g.close)
    return 0


if __name__ == "__main__":
    sys.exit(main())
