"""Choosing the accelerator: KVM only where it truly works, else TCG.

Being able to open ``/dev/kvm`` proves little: on nested CI runners (and on the machine
this project is developed on) qemu with ``-accel kvm -cpu max`` aborts at once
("failed to set MSR 0x10a") or hangs in early boot. So KVM is *tried*: the appliance's
own kernel is booted under KVM with no root filesystem, and only its reaching the
root-mount panic counts as "KVM works". The verdict is cached per qemu binary and host
kernel, so the probe runs once per machine.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence

from ..core import runner
from .qemu import kvm_probe_argv

_PROBE_TIMEOUT = 8.0


def kvm_works(qemu: str, kernel: str, timeout: float = _PROBE_TIMEOUT) -> tuple[bool, str]:
    """Boot ``kernel`` under KVM with no root filesystem; (works, why).

    A working KVM reaches the kernel's "VFS: Unable to mount root fs" panic in well under
    a second, and with ``panic=-1 -no-reboot`` qemu then exits. A broken one aborts at
    once or hangs (a trivial 32-bit program may even run: the hang comes later, in the
    kernel's early boot), so only the real kernel reaching its panic counts."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not accessible"
    try:
        r = runner.run(kvm_probe_argv(qemu, kernel), check=False, timeout=timeout)
    except runner.CommandTimedOut:
        return False, f"a KVM guest kernel did not reach its root-mount panic in {timeout:.0f} s"
    except runner.CommandError as e:
        return False, e.message
    out = r.stdout.decode("utf-8", "replace")
    if "Kernel panic" in out or "Unable to mount root" in out:
        return True, "a KVM guest kernel booted"
    err = r.stderr.decode("utf-8", "replace").strip().splitlines()
    status = runner.describe_status(r.returncode)
    return False, f"qemu -accel kvm failed ({status}): {' '.join(err[-2:])}"


def choose_accel(
    qemu: str, kernel: str, settings: Sequence[str], cache_dir: str | None
) -> tuple[str, str]:
    """The accelerator for this launch and why: ``force_tcg``/``force_kvm`` backend
    settings win; otherwise the cached (or freshly probed) KVM verdict."""
    if "force_tcg" in settings:
        return "tcg", "force_tcg"
    if "force_kvm" in settings:
        return "kvm", "force_kvm"
    key = _cache_key(qemu) + "|" + _cache_key(kernel)
    path = os.path.join(cache_dir, "kvm-verdict.json") if cache_dir else None
    if path:
        try:
            with open(path) as f:
                cached = json.load(f)
            if cached.get("key") == key:
                return ("kvm" if cached["works"] else "tcg"), f"cached: {cached['why']}"
        except (OSError, ValueError, KeyError):
            pass
    works, why = kvm_works(qemu, kernel)
    if path:
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump({"key": key, "works": works, "why": why}, f)
            os.replace(tmp, path)
        except OSError:
            pass
    return ("kvm" if works else "tcg"), why


def _cache_key(qemu: str) -> str:
    """A file's identity (real path, size, mtime) and the host kernel's release."""
    try:
        st = os.stat(qemu)
        ident = f"{os.path.realpath(qemu)}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        ident = qemu
    return f"{ident}|{platform.release()}"
