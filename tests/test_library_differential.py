"""The library-side calls of 1.48 beside python3-guestfs (the real library 1.48).

``bindings_scripts/library_calls.py`` makes about 80 calls that need no appliance -- adding
drives (file and nbd, and every refusal), the drive list, device names, backend
settings, parse_environment_list, the disk_* helpers on real images made by qemu-img,
add_domain against libvirt's test driver with a domain whose disks are real images --
once with /usr/bin/python3 and ``import guestfs``, once with pyguestfs.host, and the
two outputs must be the same, case by case. The few known differences are listed in
``KNOWN_DIFFERENCES`` with the reason; a listed case that starts agreeing fails too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "bindings_scripts" / "library_calls.py"
REAL_PYTHON = "/usr/bin/python3"

#: Cases whose answers differ on purpose, and why (docs/compatibility.md lists them).
KNOWN_DIFFERENCES: dict[str, str] = {}


def _has_python3_guestfs() -> bool:
    if not os.access(REAL_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([REAL_PYTHON, "-c", "import guestfs, libvirt"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.skipif(
        not _has_python3_guestfs(),
        reason="Debian's python3-guestfs and python3-libvirt are not installed",
    ),
    # Two Pythons and the real libguestfs per call: not the quick (unit) loop.
    pytest.mark.artifact,
]


def _domain_xml(work: Path) -> str:
    def disk(path: Path, fmt: str, dev: str, readonly: bool = False) -> str:
        ro = "<readonly/>" if readonly else ""
        return (
            f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>"
            f"<source file='{path}'/><target dev='{dev}' bus='virtio'/>{ro}</disk>"
        )

    def domain(name: str, uuid: str, disks: str) -> str:
        return (
            f"<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>"
            f"<memory>65536</memory><os><type>hvm</type></os><devices>{disks}</devices>"
            "</domain>"
        )

    return (
        "<node>"
        + domain(
            "guest1",
            "11111111-2222-3333-4444-555555555555",
            disk(work / "d1.qcow2", "qcow2", "vda") + disk(work / "d2.img", "raw", "vdb", True),
        )
        + domain("nodisk", "11111111-2222-3333-4444-666666666666", "")
        + domain(
            "baddisk",
            "11111111-2222-3333-4444-777777777777",
            disk(work / "d2.img", "raw", "vda") + disk(work / "missing.img", "raw", "vdb"),
        )
        + "</node>"
    )


def _run(python: str, work: Path, *extra: str) -> dict[str, dict[str, object]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LIBGUESTFS_") and k not in ("TMPDIR", "XDG_RUNTIME_DIR")
    }
    r = subprocess.run(
        [python, str(SCRIPT), str(work), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    out: dict[str, dict[str, object]] = {}
    for line in r.stdout.splitlines():
        item = json.loads(line)
        out[item.pop("case")] = item
    return out


def _workdir(base: Path) -> Path:
    base.mkdir()
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(base / "d1.qcow2"), "16M"], check=True
    )
    for name, size in (("d2.img", 8 << 20), ("disk.raw", 1 << 20)):
        with open(base / name, "wb") as f:
            f.truncate(size)
    (base / "domain.xml").write_text(_domain_xml(base))
    return base


def test_library_calls_answer_as_python3_guestfs(tmp_path: Path) -> None:
    # Each side gets its own copy of the same files (the cases create and overwrite
    # images), at paths of the same length so that the texts can be compared after
    # the directory name is masked.
    ours = _run(sys.executable, _workdir(tmp_path / "ours"), "--pyguestfs")
    theirs = _run(REAL_PYTHON, _workdir(tmp_path / "real"))
    assert ours.keys() == theirs.keys()
    assert len(ours) >= 70

    def masked(v: object, side: str) -> str:
        return json.dumps(v, sort_keys=True).replace(str(tmp_path / side), "WORK")

    same, differ = [], []
    for case in theirs:
        a, b = masked(ours[case], "ours"), masked(theirs[case], "real")
        (same if a == b else differ).append(case)
        if a != b and case not in KNOWN_DIFFERENCES:
            print(f"{case}:\n  pyguestfs: {a}\n  libguestfs: {b}")
    assert sorted(set(differ) - set(KNOWN_DIFFERENCES)) == []
    assert sorted(set(KNOWN_DIFFERENCES) & set(same)) == []
