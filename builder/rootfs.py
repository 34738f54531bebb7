"""The appliance root: a staging tree of host files plus our frozen programs, turned into
a sparse ext2 image by ``mke2fs -d`` — no root privileges, no loop mounts.

Host files are hard-linked into the staging tree when the cache is on the same
filesystem (instant, no space), copied otherwise. Debian's merged /usr (``/bin`` →
``usr/bin`` ...) is reproduced, and every listed path is placed under its real directory,
so ``/bin/tar`` from a package list lands in ``usr/bin/tar`` as on the host.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid as uuidlib
from collections.abc import Iterable
from pathlib import Path

from ..core import runner
from .errors import tool_error

#: Top-level directories that are symlinks on a merged-/usr host.
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: Empty directories the appliance mounts things on or writes to.
SKELETON = ("proc", "sys", "dev", "run", "tmp", "var/tmp", "sysroot", "root", "etc", "mnt")
#: What to check when mke2fs fails.
FREE_SPACE_HINT = "check free space in the cache directory (df)"
#: Sparse size of the root image: mostly holes, only what is written is allocated.
DEFAULT_ROOT_SIZE = 4 * 1024**3


class Staging:
    """A directory being filled with the appliance's files."""

    def __init__(self, root: Path, host_root: str = "/") -> None:
        self.root = root
        self.host_root = host_root
        self.linked = 0
        self.copied = 0
        self._hardlinks_work = True
        root.mkdir(parents=True, exist_ok=True)
        for name in MERGED_USR:
            host = os.path.join(host_root, name)
            if os.path.islink(host):
                os.symlink(os.readlink(host), root / name)
        for d in SKELETON:
            (root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        os.chmod(root / "var/tmp", 0o1777)

    def _target(self, path: str) -> Path:
        """Where a host path goes: its directory resolved like the host resolves it."""
        parent = os.path.realpath(os.path.dirname(path))
        rel = os.path.relpath(os.path.join(parent, os.path.basename(path)), "/")
        return self.root / rel

    def add_host_path(self, path: str) -> None:
        """Copy (or hard-link) one host file, directory or symlink into the tree."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return  # listed by dpkg but removed by the admin (or a diversion)
        target = self._target(path)
        if stat.S_ISDIR(st.st_mode):
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            return
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), target)
        elif stat.S_ISREG(st.st_mode):
            self._link_or_copy(path, target)

    def _link_or_copy(self, src: str, dst: Path) -> None:
        if self._hardlinks_work:
            try:
                os.link(src, dst)
                self.linked += 1
                return
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK):
                    raise
                self._hardlinks_work = False  # another filesystem: copy from now on
        shutil.copy2(src, dst)
        self.copied += 1

    def add_tree(self, src: Path, dest: str) -> None:
        """Copy a directory of ours (a frozen bundle) to ``dest`` inside the tree."""
        target = self.root / dest.lstrip("/")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(src, target, symlinks=True, copy_function=self._copy_fn)

    def _copy_fn(self, src: str, dst: str) -> None:
        self._link_or_copy(src, Path(dst))

    def add_file(self, dest: str, data: bytes, mode: int = 0o644) -> None:
        target = self.root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, mode)

    def add_symlink(self, dest: str, link_target: str) -> None:
        target = self.root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        os.symlink(link_target, target)


def add_host_files(staging: Staging, paths: Iterable[str]) -> None:
    # Directories first, so that symlinked directories in package lists resolve.
    for p in sorted(paths):
        staging.add_host_path(p)


def make_ext2(
    staging: Path, image: Path, size: int = DEFAULT_ROOT_SIZE, fs_uuid: str | None = None
) -> str:
    """``mke2fs -t ext2 -d`` the staging tree into a sparse image; returns the UUID.

    ``root_owner=0:0`` and ``-E no_copy_xattrs`` make the result independent of who runs
    the builder; ``lazy_itable_init`` keeps the image sparse."""
    fs_uuid = fs_uuid or str(uuidlib.uuid4())
    with open(image, "wb") as f:
        f.truncate(size)
    argv = [
        "mke2fs",
        "-q",
        "-F",
        "-t",
        "ext2",
        "-b",
        "4096",
        "-m",
        "0",
        "-U",
        fs_uuid,
        "-L",
        "pyguestfs",
        "-E",
        "root_owner=0:0,lazy_itable_init=1,no_copy_xattrs",
        "-d",
        str(staging),
        str(image),
    ]
    # The filesystem's timestamps from E2FSPROGS_FAKE_TIME: the image does not depend on
    # when it was made.
    env = {"E2FSPROGS_FAKE_TIME": "1"}
    try:
        proc = runner.run(argv, env=env, check=False)
        if proc.returncode != 0 and b"no_copy_xattrs" in proc.stderr:
            # An older e2fsprogs: again without that option.
            argv[argv.index("root_owner=0:0,lazy_itable_init=1,no_copy_xattrs")] = (
                "root_owner=0:0,lazy_itable_init=1"
            )
            proc = runner.run(argv, env=env, check=False)
        if proc.returncode != 0:
            raise runner.failure(proc)
    except runner.CommandError as e:
        image.unlink(missing_ok=True)
        hint = None if isinstance(e, runner.CommandNotFound) else FREE_SPACE_HINT
        raise tool_error(e, f"making the root image {image}", hint) from None
    return fs_uuid


def allocated_bytes(path: Path) -> int:
    return os.stat(path).st_blocks * 512
