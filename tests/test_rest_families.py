"""The remaining 1.48 families (issue #22 part D) on real devices, our agent beside
Debian's real guestfsd 1.48: zero, ext2, mount, findfs/isoinfo/squashfs/f2fs, initrd,
dd and the deprecated sfdisk family.

Two appliances boot once for the module, under TCG, each on its own copies of the same
disks: a 96 MiB and a 32 MiB empty disk, and a 1 MiB image holding an ISO 9660 primary
volume descriptor written here (``/dev/sdc``: its fields and times, with a time zone
offset, are what isoinfo must decode). The same list of calls (``CASES``, in order: each
family leaves the disks as the next one expects) runs through both, and every reply is
compared -- values with UUIDs normalised away, errno names and whole error messages.
Then the results of our agent are checked for what they mean.

Optional groups follow what the appliance carries (the same root for both daemons): when
``scrub``, ``mksquashfs`` or ``resize.f2fs`` are not in it, both daemons must answer
with 1.48's "feature not available" error.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import launch_vm

from pyguestfs.builder.guestfsd import DAEMON_TARBALL
from pyguestfs.host import GuestFS, GuestFSError

# The appliance builds of this session (the shared cache was rebuilt for every agent
# change, under a load of ~25) did not leave time for one run of both daemons: the
# cases are written from 1.48's daemon sources but their replies are not compared yet.
# Drop NOT_YET_RUN after a first run and list what differs in KNOWN_DIFFERENCES.
NOT_YET_RUN = "not yet run against both appliances (see the comment above NOT_YET_RUN)"

MiB = 1024 * 1024
JUUID = "5d1e0b7e-0d1e-4c45-9f2f-6b0f9f8a1c22"
ISO_VOLUME = "PYG_TEST_VOLUME"


@dataclass(frozen=True)
class Case:
    id: str
    api: str | Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def _c(case_id: str, api: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Case:
    return Case(case_id, api, args, kwargs)


class LocalOut:
    """A FileOut argument: a fresh local file, whose size and first bytes are recorded."""


def _parse_mountable(g: GuestFS, mountable: str) -> Any:
    # An internal call: the library has no public method for it.
    return g._call("internal_parse_mountable", {"mountable": mountable}, {})


def _cpio_newc(members: dict[str, bytes]) -> bytes:
    """A cpio archive in the "newc" format (what initramfs-tools writes)."""
    out = bytearray()

    def entry(name: str, data: bytes, mode: int, ino: int) -> None:
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.extend(name.encode() + b"\0")
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    entry("etc", b"", 0o040755, 1)
    for i, (name, data) in enumerate(members.items(), start=2):
        entry(name, data, 0o100644, i)
    entry("TRAILER!!!", b"", 0, 0)
    return bytes(out)


INITRD = gzip.compress(_cpio_newc({"etc/hello": b"hello from an initrd\n", "init": b"#!/bin/sh\n"}))


def _iso_image(path: Path) -> None:
    """1 MiB whose sector 16 is a primary volume descriptor (ECMA-119 8.4)."""
    pvd = bytearray(2048)
    pvd[0] = 1
    pvd[1:6] = b"CD001"
    pvd[6] = 1
    pvd[8:40] = b"LINUX".ljust(32)
    pvd[40:72] = ISO_VOLUME.encode().ljust(32)
    # Each number is stored twice: little-endian, then big-endian.
    for at, fmt, value in ((80, "I", 512), (120, "H", 1), (124, "H", 1), (128, "H", 2048)):
        struct.pack_into("<" + fmt, pvd, at, value)
        struct.pack_into(">" + fmt, pvd, at + struct.calcsize(fmt), value)
    pvd[190:318] = b"SET".ljust(128)
    pvd[318:446] = b"PUBLISHER".ljust(128)
    pvd[446:574] = b"PREPARER".ljust(128)
    pvd[574:702] = b"APP".ljust(128)
    pvd[702:739] = b"COPY".ljust(37)
    pvd[739:776] = b"ABS".ljust(37)
    pvd[776:813] = b"BIB".ljust(37)
    pvd[813:830] = b"2021061512304500" + bytes([4])  # BST: 4 x 15 min ahead of GMT
    pvd[830:847] = b"2022010100000000" + bytes([256 - 8])  # 2 h behind GMT
    pvd[847:864] = b"0" * 16 + b"\0"  # not set: -1
    pvd[864:881] = b"1999123123595900" + b"\0"
    pvd[881] = 1
    with open(path, "wb") as f:
        f.truncate(MiB)
        f.seek(16 * 2048)
        f.write(pvd)


#: Every call, in order, for both daemons.
CASES: list[Case] = [
    # -- zero -----------------------------------------------------------------------------
    _c("is-zero-device-empty", "is_zero_device", "/dev/sdb"),
    _c("is-zero-device-missing", "is_zero_device", "/dev/sdz"),
    _c("zero-mkfs", "mkfs", "ext4", "/dev/sda"),
    _c("is-zero-device-fs", "is_zero_device", "/dev/sda"),
    _c("zero-mount", "mount", "/dev/sda", "/"),
    _c("zero-write-zeroes", "write", "/zeroes", bytes(10000)),
    _c("zero-write-data", "write", "/data", b"not zero\n"),
    _c("zero-write-empty", "write", "/empty", b""),
    _c("is-zero-zeroes", "is_zero", "/zeroes"),
    _c("is-zero-data", "is_zero", "/data"),
    _c("is-zero-empty", "is_zero", "/empty"),
    _c("is-zero-missing", "is_zero", "/missing"),
    _c("is-zero-dir", "is_zero", "/"),
    _c("scrub-file", "scrub_file", "/zeroes"),
    _c("scrub-file-missing", "scrub_file", "/missing"),
    _c("scrub-freespace", "scrub_freespace", "/nowhere"),
    _c("scrub-device", "scrub_device", "/dev/sdz"),
    _c("blkdiscardzeroes", "blkdiscardzeroes", "/dev/sdb"),
    _c("blkdiscard", "blkdiscard", "/dev/sdb"),
    _c("blkdiscard-missing", "blkdiscard", "/dev/sdz"),
    # -- ext2: attributes, generation, lost+found ---------------------------------------------
    _c("e2attrs-get", "get_e2attrs", "/data"),
    _c("e2attrs-set", "set_e2attrs", "/data", "Ad"),
    _c("e2attrs-get-set", "get_e2attrs", "/data"),
    _c("e2attrs-clear", "set_e2attrs", "/data", "A", clear=True),
    _c("e2attrs-get-cleared", "get_e2attrs", "/data"),
    _c("e2attrs-empty", "set_e2attrs", "/data", ""),
    _c("e2attrs-reserved", "set_e2attrs", "/data", "aV"),
    _c("e2attrs-duplicate", "set_e2attrs", "/data", "dAd"),
    _c("e2attrs-unknown", "set_e2attrs", "/data", "d1"),
    _c("e2attrs-missing", "get_e2attrs", "/missing"),
    _c("e2attrs-set-missing", "set_e2attrs", "/missing", "A"),
    _c("e2generation-set", "set_e2generation", "/data", 123456789),
    _c("e2generation-get", "get_e2generation", "/data"),
    _c("e2generation-missing", "get_e2generation", "/missing"),
    _c("lost-found-exists", "mklost_and_found", "/"),
    _c("lost-found-rmdir", "rmdir", "/lost+found"),
    _c("lost-found", "mklost_and_found", "/"),
    _c("lost-found-isdir", "is_dir", "/lost+found"),
    # -- copy, isoinfo, initrd ------------------------------------------------------------
    _c("dd-iso", "dd", "/dev/sdc", "/iso.img"),
    _c("dd-iso-size", "filesize", "/iso.img"),
    _c("dd-missing", "dd", "/missing", "/x"),
    _c("isoinfo-device", "isoinfo_device", "/dev/sdc"),
    _c("isoinfo-file", "isoinfo", "/iso.img"),
    _c("isoinfo-not-iso", "isoinfo", "/data"),
    _c("isoinfo-missing", "isoinfo", "/missing"),
    _c("isoinfo-device-not-iso", "isoinfo_device", "/dev/sdb"),
    _c("initrd-write", "write", "/initrd.img", INITRD),
    _c("initrd-list", "initrd_list", "/initrd.img"),
    _c("initrd-cat", "initrd_cat", "/initrd.img", "etc/hello"),
    _c("initrd-cat-absent", "initrd_cat", "/initrd.img", "etc/absent"),
    _c("initrd-list-not-gzip", "initrd_list", "/data"),
    _c("mksquashfs", "mksquashfs", "/", LocalOut()),
    _c("f2fs-expand", "f2fs_expand", "/dev/sdb"),
    _c("rsync", "rsync", "/lost+found/", "/rsync-copy", archive=True),
    _c("rsync-in", "rsync_in", "rsync://192.0.2.1/none/", "/", deletedest=True),
    _c("rsync-out", "rsync_out", "/data", "rsync://192.0.2.1/none/"),
    _c("boot-grub", "grub_install", "/", "/dev/sda"),
    _c("boot-syslinux", "syslinux", "/dev/sdb", directory="/boot"),
    _c("boot-extlinux", "extlinux", "/"),
    _c("tsk-download-inode", "download_inode", "/dev/sda", 2, LocalOut()),
    _c("tsk-download-inode-negative", "download_inode", "/dev/sda", -1, LocalOut()),
    _c("tsk-download-blocks", "download_blocks", "/dev/sda", 0, 1, LocalOut(), unallocated=True),
    _c("tsk-download-blocks-order", "download_blocks", "/dev/sda", 5, 5, LocalOut()),
    # -- mount -----------------------------------------------------------------------------
    _c("mkmountpoint", "mkmountpoint", "/exempt"),
    _c("mkmountpoint-again", "mkmountpoint", "/exempt"),
    _c("mkmountpoint-relative", "mkmountpoint", "exempt"),
    _c("rmmountpoint", "rmmountpoint", "/exempt"),
    _c("rmmountpoint-again", "rmmountpoint", "/exempt"),
    _c("loop-mkfs", "mkfs", "ext2", "/dev/sdb"),
    _c("loop-dd", "dd", "/dev/sdb", "/fs.img"),
    _c("loop-mkdir", "mkdir", "/mnt"),
    _c("mount-loop", "mount_loop", "/fs.img", "/mnt"),
    _c("mount-loop-ls", "ls", "/mnt"),
    _c("mount-loop-missing", "mount_loop", "/missing.img", "/mnt"),
    _c("remount-no-rw", "remount", "/mnt"),
    _c("remount-ro", "remount", "/mnt", rw=False),
    _c("remount-ro-touch", "touch", "/mnt/x"),
    _c("remount-rw", "remount", "/mnt", rw=True),
    _c("remount-rw-touch", "touch", "/mnt/x"),
    _c("remount-not-mounted", "remount", "/zeroes", rw=True),
    _c("mount-loop-umount", "umount", "/mnt"),
    _c("parse-mountable", _parse_mountable, "/dev/sda"),
    _c("parse-mountable-btrfsvol", _parse_mountable, "btrfsvol:/dev/sda/sub"),
    _c("parse-mountable-missing", _parse_mountable, "/dev/sdz"),
    _c("list-9p", "list_9p"),
    _c("mount-9p", "mount_9p", "tag", "/mnt", options="trans=virtio"),
    _c("zero-umount", "umount", "/"),
    # -- ext2: mke2fs and external journals (sda unmounted from here) ---------------------
    _c(
        "mke2fs",
        "mke2fs",
        "/dev/sdb",
        blocksize=1024,
        label="m2",
        fstype="ext3",
        inodesize=256,
        numberofinodes=2048,
        reservedblockspercentage=1,
        extent=False,
        hasjournal=True,
        lazyitableinit=False,
        usagetype="small",
        creatoros="Linux",
        lastmounteddir="/srv",
        forcecreate=True,
    ),
    _c("mke2fs-type", "vfs_type", "/dev/sdb"),
    _c("mke2fs-label", "vfs_label", "/dev/sdb"),
    _c("mke2fs-blockscount", "mke2fs", "/dev/sdb", blockscount=4096, blocksize=4096),
    _c("mke2fs-bad-fstype", "mke2fs", "/dev/sdb", fstype="xfs"),
    _c("mke2fs-negative", "mke2fs", "/dev/sdb", blocksize=-1),
    _c("mke2fs-bad-journal", "mke2fs", "/dev/sda", journaldevice="/dev/sdz"),
    _c("findfs-label", "findfs_label", "m2"),
    _c("findfs-label-absent", "findfs_label", "no-such-label"),
    _c("findfs-uuid-absent", "findfs_uuid", JUUID),
    _c("mke2journal", "mke2journal", 4096, "/dev/sdb"),
    _c("mke2fs-J", "mke2fs_J", "ext4", 4096, "/dev/sda", "/dev/sdb"),
    _c("mke2fs-J-type", "vfs_type", "/dev/sda"),
    _c("mke2journal-L", "mke2journal_L", 4096, "jlabel", "/dev/sdb"),
    _c("mke2journal-L-long", "mke2journal_L", 4096, "x" * 17, "/dev/sdb"),
    _c("findfs-label-journal", "findfs_label", "jlabel"),
    _c("mke2fs-JL", "mke2fs_JL", "ext3", 4096, "/dev/sda", "jlabel"),
    _c("mke2fs-JL-bad-fstype", "mke2fs_JL", "vfat", 4096, "/dev/sda", "jlabel"),
    _c("mke2journal-U", "mke2journal_U", 4096, JUUID, "/dev/sdb"),
    _c("findfs-uuid", "findfs_uuid", JUUID),
    _c("mke2fs-JU", "mke2fs_JU", "ext4", 4096, "/dev/sda", JUUID),
    _c("mke2fs-JU-fsck", "e2fsck", "/dev/sda", forceall=True),
    _c("mke2fs-journaldevice", "mke2fs", "/dev/sda", journaldevice=f"UUID={JUUID}"),
    _c("mke2fs-journaldevice-dev", "mke2fs", "/dev/sda", journaldevice="/dev/sdb"),
    # -- sfdisk (deprecated) on sdb ---------------------------------------------------------
    _c("sfdisk-wipe", "wipefs", "/dev/sdb"),
    _c("sfdisk", "sfdisk", "/dev/sdb", 0, 0, 0, [",16M", ","]),
    _c("sfdisk-list", "list_partitions"),
    _c("sfdisk-l", "sfdisk_l", "/dev/sdb"),
    _c("sfdisk-N", "sfdisk_N", "/dev/sdb", 2, 0, 0, 0, ",8M"),
    _c("sfdisk-M", "sfdiskM", "/dev/sdb", [",8M", ",8M"]),
    _c("sfdisk-M-list", "list_partitions"),
    _c("sfdisk-chs", "sfdisk", "/dev/sdb", 4, 255, 63, [","]),
    _c("sfdisk-kernel-geometry", "sfdisk_kernel_geometry", "/dev/sdb"),
    _c("sfdisk-disk-geometry", "sfdisk_disk_geometry", "/dev/sdb"),
    _c("sfdisk-missing", "sfdisk_l", "/dev/sdz"),
]

#: Differences between the two daemons that are understood, with their cause.
KNOWN_DIFFERENCES: dict[str, str] = {}


# -- running the cases -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "error" or "exception"
    value: Any = None
    errno: str = ""
    message: str = ""

    def show(self) -> str:
        if self.kind == "ok":
            return f"ok {self.value!r}"[:600]
        return f"{self.kind} {self.errno or '-'} {self.message!r}"


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TMP = re.compile(r"/tmp/initrd-cat-\w+")


def normalise(value: Any) -> str:
    text = repr(value)
    text = _UUID.sub("<uuid>", text)
    return _TMP.sub("<tmp>", text)


class Runner:
    """One daemon's handle, and what its FileOut cases downloaded."""

    def __init__(self, g: GuestFS, local: Path) -> None:
        self.g = g
        self.local = local

    def run(self, case: Case) -> Outcome:
        args: list[Any] = []
        out: Path | None = None
        try:
            for i, a in enumerate(case.args):
                if isinstance(a, LocalOut):
                    out = self.local / f"{case.id}-{i}"
                    out.unlink(missing_ok=True)
                    args.append(str(out))
                else:
                    args.append(a)
            if callable(case.api):
                value = case.api(self.g, *args, **case.kwargs)
            else:
                value = getattr(self.g, case.api)(*args, **case.kwargs)
        except GuestFSError as e:
            return Outcome("error", errno=e.errno_name or "", message=normalise(str(e)))
        except Exception as e:
            return Outcome("exception", message=f"{type(e).__name__}: {e}")
        if out is not None:
            data = out.read_bytes() if out.exists() else b""
            value = {"size": len(data), "head": data[:4]}
        return Outcome("ok", value=value)


@dataclass
class Results:
    ours: dict[str, Outcome]
    real: dict[str, Outcome] | None
    why_no_real: str = ""

    def differs(self, case_id: str) -> bool:
        assert self.real is not None
        a, b = self.ours[case_id], self.real[case_id]
        return (a.kind, normalise(a.value), a.errno, a.message) != (
            b.kind,
            normalise(b.value),
            b.errno,
            b.message,
        )


def _disks(where: Path) -> tuple[str, ...]:
    where.mkdir()
    paths = []
    for name, size in (("a.img", 96 * MiB), ("b.img", 32 * MiB)):
        with open(where / name, "wb") as f:
            f.truncate(size)
        paths.append(str(where / name))
    _iso_image(where / "iso.img")
    return (*paths, str(where / "iso.img"))


def _boot(cachedir: str, drives: tuple[str, ...], daemon: str) -> GuestFS:
    # launch() reads the daemon choice from the environment (core/settings.py).
    saved = os.environ.get("PYGUESTFS_APPLIANCE_DAEMON")
    os.environ["PYGUESTFS_APPLIANCE_DAEMON"] = daemon
    try:
        return launch_vm(cachedir, drives=drives)
    finally:
        if saved is None:
            del os.environ["PYGUESTFS_APPLIANCE_DAEMON"]
        else:
            os.environ["PYGUESTFS_APPLIANCE_DAEMON"] = saved


@dataclass
class Rest:
    results: Results
    ours: GuestFS


@pytest.fixture(scope="module")
def vm(cachedir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    """Both appliances booted, every case run through both; our handle stays open."""
    if NOT_YET_RUN:
        pytest.skip(NOT_YET_RUN)
    tmp = tmp_path_factory.mktemp("rest")
    ours = _boot(cachedir, _disks(tmp / "ours"), "pyguestfs")
    try:
        (tmp / "ours-out").mkdir()
        runner = Runner(ours, tmp / "ours-out")
        mine = {case.id: runner.run(case) for case in CASES}
        real: dict[str, Outcome] | None = None
        why = ""
        if not DAEMON_TARBALL.is_file():
            why = f"{DAEMON_TARBALL} is missing (apt-get install libguestfs-tools)"
        else:
            g = _boot(cachedir, _disks(tmp / "real"), "guestfsd")
            try:
                (tmp / "real-out").mkdir()
                other = Runner(g, tmp / "real-out")
                real = {case.id: other.run(case) for case in CASES}
            finally:
                g.close()
        yield Rest(Results(mine, real, why), ours)
    finally:
        ours.close()


# -- the tests --------------------------------------------------------------------------------

_PREFIXES = {
    "zero": ("is-zero", "zero-", "scrub", "blkdiscard"),
    "ext2": ("e2attrs", "e2generation", "lost-found", "mke2"),
    "files": ("dd", "isoinfo", "initrd", "mksquashfs", "f2fs", "findfs", "rsync"),
    "boot+tsk": ("boot-", "tsk-"),
    "mount": ("mkmountpoint", "rmmountpoint", "loop", "mount-", "remount", "parse", "list-9p"),
    "sfdisk": ("sfdisk",),
}
FAMILIES: dict[str, Callable[[Case], bool]] = {
    family: (lambda c, p=prefixes: c.id.startswith(p)) for family, prefixes in _PREFIXES.items()
}


def test_cases_are_unique_and_each_belongs_to_a_family() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    orphans = [c.id for c in CASES if not any(f(c) for f in FAMILIES.values())]
    assert orphans == []


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_same_replies_as_guestfsd(vm: Rest, family: str) -> None:
    res = vm.results
    if res.real is None:
        pytest.skip(f"no real guestfsd appliance: {res.why_no_real}")
    cases = [c for c in CASES if FAMILIES[family](c)]
    diffs = [c for c in cases if res.differs(c.id) and c.id not in KNOWN_DIFFERENCES]
    stale = [c.id for c in cases if c.id in KNOWN_DIFFERENCES and not res.differs(c.id)]
    report = "\n".join(
        f"{c.id} ({c.api}):\n  ours: {res.ours[c.id].show()}\n  real: {res.real[c.id].show()}"
        for c in diffs
    )
    assert not diffs, f"{len(diffs)} of {len(cases)} cases differ:\n{report}"
    assert not stale, f"listed as known differences but now the same: {stale}"


def _ok(vm: Rest, case_id: str) -> Any:
    outcome = vm.results.ours[case_id]
    assert outcome.kind == "ok", f"{case_id}: {outcome.show()}"
    return outcome.value


def _error(vm: Rest, case_id: str) -> str:
    outcome = vm.results.ours[case_id]
    assert outcome.kind == "error", f"{case_id}: {outcome.show()}"
    return outcome.message


def test_zero_tests_read_the_bytes(vm: Rest) -> None:
    assert _ok(vm, "is-zero-device-empty") is True
    assert _ok(vm, "is-zero-device-fs") is False
    assert _ok(vm, "is-zero-zeroes") is True and _ok(vm, "is-zero-empty") is True
    assert _ok(vm, "is-zero-data") is False
    assert _error(vm, "is-zero-missing").startswith("is_zero: open: /missing: ")


def test_ext2_attributes_and_generation(vm: Rest) -> None:
    before = set(_ok(vm, "e2attrs-get"))
    assert set(_ok(vm, "e2attrs-get-set")) == before | {"A", "d"}
    assert set(_ok(vm, "e2attrs-get-cleared")) == before | {"d"}
    assert "bad file attribute 'V'" in _error(vm, "e2attrs-reserved")
    assert "duplicate file attribute 'd'" in _error(vm, "e2attrs-duplicate")
    assert _ok(vm, "e2generation-get") == 123456789
    assert _ok(vm, "lost-found-isdir") is True


def test_mke2fs_and_external_journals(vm: Rest) -> None:
    assert _ok(vm, "mke2fs-type") == "ext3" and _ok(vm, "mke2fs-label") == "m2"
    assert _ok(vm, "findfs-label") == "/dev/sdb"
    assert _ok(vm, "findfs-label-journal") == "/dev/sdb"
    assert _ok(vm, "findfs-uuid") == "/dev/sdb"
    assert _ok(vm, "mke2fs-J-type") == "ext4"
    assert "not a valid extended filesystem type" in _error(vm, "mke2fs-bad-fstype")


def test_isoinfo_decodes_the_descriptor(vm: Rest) -> None:
    info = _ok(vm, "isoinfo-device")
    assert info["iso_volume_id"] == ISO_VOLUME and info["iso_system_id"] == "LINUX"
    assert info["iso_volume_space_size"] == 512 and info["iso_logical_block_size"] == 2048
    # 2021-06-15 12:30:45 at GMT+1 and 2022-01-01 00:00:00 at GMT-2.
    assert info["iso_volume_creation_t"] == 1623760245 - 3600
    assert info["iso_volume_modification_t"] == 1640995200 + 7200
    assert info["iso_volume_expiration_t"] == -1
    assert _ok(vm, "isoinfo-file") == info
    assert _ok(vm, "dd-iso-size") == MiB


def test_initrd_and_loop_mounts(vm: Rest) -> None:
    assert sorted(_ok(vm, "initrd-list")) == ["etc", "etc/hello", "init"]
    assert _ok(vm, "initrd-cat") == b"hello from an initrd\n"
    assert "lost+found" in _ok(vm, "mount-loop-ls")
    assert _error(vm, "remount-no-rw").endswith("parameter 'rw' must be specified")
    assert _error(vm, "remount-ro-touch")
    _ok(vm, "remount-rw-touch")
    parsed = _ok(vm, "parse-mountable-btrfsvol")
    assert (parsed["im_type"], parsed["im_device"], parsed["im_volume"]) == (1, "/dev/sda", "sub")


def test_the_agent_still_serves_after_the_errors(vm: Rest) -> None:
    assert vm.ours.list_devices() == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
