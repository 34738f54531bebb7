"""Disk-image helpers on the host (1.48's ``lib/create.c`` and ``lib/info.c``):
``disk_create`` (raw files itself, qcow2 through ``qemu-img create``), and
``disk_format``, ``disk_virtual_size``, ``disk_has_backing_file`` through
``qemu-img info --output json``. No appliance is needed.

``qemu-img info`` opens images it is given, which may be hostile: it runs with a time
limit (``qemu-img`` reading a crafted image must not hang the program) and ``-U`` so that
an image in use by a running VM can still be inspected, as 1.48 does.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from ...core import runner
from ..calls import _H
from ..errors import GuestFSError
from .base import HandleBase

#: Seconds ``qemu-img`` may take; libguestfs also bounds it (a crafted image can make it
#: loop or allocate without end).
QEMU_IMG_TIMEOUT = 60.0


def _qemu_img_path(filename: str) -> str:
    """A relative name is given as ``./NAME``, so that ``file:x`` or ``nbd:x`` is never
    read as a protocol (1.48 does the same)."""
    return filename if filename.startswith("/") else f"./{filename}"


def _escape(value: str) -> str:
    return value.replace(",", ",,")


def _run_qemu_img(argv: list[str], what: str, filename: str) -> bytes:
    try:
        return runner.run(argv, timeout=QEMU_IMG_TIMEOUT).stdout
    except runner.CommandNotFound:
        raise GuestFSError(f"{what}: qemu-img: command not found", "ENOENT") from None
    except runner.CommandTimedOut:
        raise GuestFSError(
            f"{what}: {filename}: qemu-img ran longer than {QEMU_IMG_TIMEOUT:g} s", "ETIMEDOUT"
        ) from None
    except runner.CommandFailed as e:
        detail = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        status = runner.describe_status(e.status) if e.status is not None else "failed"
        status = status.replace("exit status", "exited with error status")
        tail = f"\n{detail[-1]}" if detail else ""
        raise GuestFSError(f"{what}: {filename}: qemu-img {status}.{tail}") from None
    except runner.CommandError as e:
        raise GuestFSError(f"{what}: {filename}: {e.message}") from None


class Disks(HandleBase[_H]):
    """Create disk images and read their format, size and backing file."""

    def disk_create(
        self,
        filename: str,
        format: str,
        size: int,
        backingfile: str | None = None,
        backingformat: str | None = None,
        preallocation: str | None = None,
        compat: str | None = None,
        clustersize: int | None = None,
    ) -> None:
        """Create a blank disk image: ``raw`` (a sparse or allocated file, written here)
        or ``qcow2`` (``qemu-img create``), possibly over a backing file (size -1)."""
        if backingfile is not None:
            if size != -1:
                raise GuestFSError("if using a backing file, size must be passed as -1")
        elif size <= 0:
            raise GuestFSError(f"invalid size: {size}")
        if format == "raw":
            if backingfile is not None:
                raise GuestFSError("backingfile cannot be used for raw format disks")
            self._create_raw(filename, size, backingformat, preallocation, compat, clustersize)
        elif format == "qcow2":
            self._create_qcow2(
                filename, size, backingfile, backingformat, preallocation, compat, clustersize
            )
        else:
            raise GuestFSError(f"unsupported format ‘{format}’")

    @staticmethod
    def _create_raw(
        filename: str,
        size: int,
        backingformat: str | None,
        preallocation: str | None,
        compat: str | None,
        clustersize: int | None,
    ) -> None:
        if backingformat is not None:
            raise GuestFSError("backingformat parameter cannot be used with raw format")
        allocated = False
        if preallocation is not None:
            if preallocation == "full":
                allocated = True
            elif preallocation not in ("off", "sparse"):
                raise GuestFSError(f"invalid value for preallocation parameter ‘{preallocation}’")
        if compat is not None:
            raise GuestFSError("compat parameter cannot be used with raw format")
        if clustersize is not None:
            raise GuestFSError("clustersize parameter cannot be used with raw format")
        try:
            st = os.stat(filename)
        except OSError:
            st = None
        if st is not None and stat.S_ISCHR(st.st_mode):
            raise GuestFSError(f"refusing to overwrite char device ‘{filename}’")
        if st is not None and stat.S_ISBLK(st.st_mode):
            return  # 1.48 leaves a block device as it is (at most discarding its blocks)
        try:
            fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError as e:
            raise GuestFSError(
                f"cannot create raw file: {filename}: {e.strerror}", _errname(e)
            ) from None
        try:
            if allocated:
                os.posix_fallocate(fd, 0, size)
            else:
                os.ftruncate(fd, size)
        except OSError as e:
            os.close(fd)
            os.unlink(filename)
            what = "fallocate" if allocated else "truncate"
            raise GuestFSError(f"{filename}: {what}: {e.strerror}", _errname(e)) from None
        os.close(fd)

    def _create_qcow2(
        self,
        filename: str,
        size: int,
        backingfile: str | None,
        backingformat: str | None,
        preallocation: str | None,
        compat: str | None,
        clustersize: int | None,
    ) -> None:
        if backingformat is not None:
            if not (0 < len(backingformat) <= 16 and backingformat.isascii()) or not (
                backingformat.isalnum()
            ):
                raise GuestFSError(f"invalid value for backingformat parameter ‘{backingformat}’")
        elif backingfile is not None:
            # qemu-img needs the backing format (-F) since qemu 6.1: probe it, as 1.48.
            backingformat = self.disk_format(backingfile)
        options: list[str] = []
        if backingfile is not None:
            options.append(f"backing_file={_escape(backingfile)}")
        if backingformat is not None:
            options.append(f"backing_fmt={backingformat}")
        if preallocation is not None:
            mode = {"off": "off", "sparse": "off", "metadata": "metadata", "full": "falloc"}
            if preallocation not in mode:
                raise GuestFSError(f"invalid value for preallocation parameter ‘{preallocation}’")
            options.append(f"preallocation={mode[preallocation]}")
        if compat is not None:
            if compat not in ("0.10", "1.1"):
                raise GuestFSError(f"invalid value for compat parameter ‘{compat}’")
            options.append(f"compat={compat}")
        if clustersize is not None:
            if not 512 <= clustersize <= 2097152 or clustersize & (clustersize - 1):
                raise GuestFSError(f"invalid value for clustersize parameter ‘{clustersize}’")
            options.append(f"cluster_size={clustersize}")
        argv = ["qemu-img", "create", "-f", "qcow2"]
        if options:
            argv += ["-o", ",".join(options)]
        argv.append(_qemu_img_path(filename))
        if size >= 0:
            argv.append(str(size))
        _run_qemu_img(argv, "qemu-img", filename)

    # -- qemu-img info ---------------------------------------------------------------------
    @staticmethod
    def _image_info(filename: str) -> dict[str, Any]:
        argv = ["qemu-img", "info", "-U", "--output", "json", _qemu_img_path(filename)]
        out = _run_qemu_img(argv, "qemu-img info", filename)
        if not out.strip():
            raise GuestFSError(
                "qemu-img info command produced no output, but didn't return an error status code"
            )
        try:
            tree = json.loads(out)
        except ValueError as e:
            raise GuestFSError(f"qemu-img info: JSON parse error: {e}") from None
        if not isinstance(tree, dict):
            raise GuestFSError("qemu-img info: JSON output was not an object")
        return tree

    def disk_format(self, filename: str) -> str:
        """The image's format as qemu detects it (``raw``, ``qcow2`` ...); ``unknown``
        never comes from qemu-img, which calls anything it cannot parse ``raw``."""
        value = self._image_info(filename).get("format")
        if not isinstance(value, str):
            raise GuestFSError("qemu-img info: JSON output did not contain ‘format’ key")
        return value

    def disk_virtual_size(self, filename: str) -> int:
        """The size the image presents to a guest, in bytes."""
        value = self._image_info(filename).get("virtual-size")
        if not isinstance(value, int) or isinstance(value, bool):
            raise GuestFSError("qemu-img info: JSON output did not contain ‘virtual-size’ key")
        return value

    def disk_has_backing_file(self, filename: str) -> bool:
        """True if the image names a backing file."""
        value = self._image_info(filename).get("backing-filename")
        if value is None:
            return False
        if not isinstance(value, str):
            raise GuestFSError("qemu-img info: JSON output was not an object")
        return True


def _errname(e: OSError) -> str:
    import errno

    return errno.errorcode.get(e.errno or 0, "")
