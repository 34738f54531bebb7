"""The real ``virt-edit`` (guestfs-tools 1.48) on our appliance and on libguestfs's own:
it edits a file by uploading a new copy, ``copy_attributes`` from the old one, and
``rename`` over it. Both appliances must leave the same file: the new contents with the
old mode, owner and extended attributes.

The disk is made without any appliance (``mke2fs -d`` from a host directory) and read
back the same way (``debugfs``), so only virt-edit's own launch runs in each appliance.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import needs_qemu

from pyguestfs.builder.appliance import BuildOptions, build

MIB = 1 << 20
REAL_TOOLS = shutil.which("virt-edit") is not None and shutil.which("debugfs") is not None


@pytest.fixture(scope="module")
def fixed(cachedir: str, appliance: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our appliance as a libguestfs fixed appliance directory."""
    out = tmp_path_factory.mktemp("fixed")
    build(BuildOptions(cachedir=cachedir, output=str(out)))
    return out


def _disk(tmp: Path) -> Path:
    """An ext4 image holding /etc/app.conf: mode 0640, owner 12:34, a user xattr."""
    tree = tmp / "tree"
    (tree / "etc").mkdir(parents=True)
    conf = tree / "etc" / "app.conf"
    conf.write_text("colour = old\nsize = 3\n")
    os.chown(conf, 12, 34)
    os.chmod(conf, 0o640)
    os.setxattr(conf, "user.origin", b"test")
    disk = tmp / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(32 * MIB)
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tree), str(disk)],
        check=True,
        capture_output=True,
    )
    return disk


def _file_state(disk: Path) -> dict[str, str]:
    """Contents, mode, owner and xattrs of /etc/app.conf, as debugfs reads them."""

    def debugfs(request: str) -> str:
        done = subprocess.run(
            ["debugfs", "-R", request, str(disk)], capture_output=True, text=True, check=True
        )
        return done.stdout

    stat = debugfs("stat /etc/app.conf")
    mode = re.search(r"Mode:\s+(\d+)", stat)
    owner = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", stat)
    assert mode and owner, stat
    xattrs = stat.split("Extended attributes:", 1)[1] if "Extended attributes:" in stat else ""
    return {
        "contents": debugfs("cat /etc/app.conf"),
        "mode": mode.group(1),
        "owner": f"{owner.group(1)}:{owner.group(2)}",
        "xattrs": " ".join(line.strip() for line in xattrs.splitlines() if "user." in line),
    }


def _virt_edit(disk: Path, tmp: Path, fixed_dir: Path | None) -> None:
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    env.pop("LIBGUESTFS_PATH", None)
    if fixed_dir is not None:
        env["LIBGUESTFS_PATH"] = str(fixed_dir)
    env["TMPDIR"] = str(tmp)
    done = subprocess.run(
        ["virt-edit", "-a", str(disk), "-m", "/dev/sda", "/etc/app.conf", "-e", "s/old/new/"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@needs_qemu
@pytest.mark.skipif(not REAL_TOOLS, reason="virt-edit (guestfs-tools) or debugfs is missing")
@pytest.mark.timeout(1800)
def test_virt_edit_keeps_attributes_like_libguestfs(fixed: Path, tmp_path: Path) -> None:
    results = {}
    for name, fixed_dir in (("libguestfs", None), ("pyguestfs", fixed)):
        work = tmp_path / name
        work.mkdir()
        disk = _disk(work)
        before = _file_state(disk)
        _virt_edit(disk, work, fixed_dir)
        results[name] = _file_state(disk)
        assert results[name]["contents"] == "colour = new\nsize = 3\n"
        assert {k: results[name][k] for k in ("mode", "owner", "xattrs")} == {
            k: before[k] for k in ("mode", "owner", "xattrs")
        }, f"{name}: the edit lost the file's attributes"
    assert results["pyguestfs"] == results["libguestfs"]
