"""Filesystem APIs: mkfs per type, labels, UUIDs, blkid, list_filesystems, ext2/3/4 tools,
resizing, df, zeroing and copying.

The boot tests share one VM (two scratch disks and a read-only image) and run in order:
each section leaves the disks as the next one expects. Copy semantics that need no block
device also run against the agent on the host (``g`` fixture), in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import launch_vm, needs_qemu

from pyguestfs.host import GuestFS, GuestFSError

MiB = 1 << 20
#: The read-only drive: 16 MiB of a recognisable pattern (no filesystem signature).
RO_PATTERN = bytes(range(256)) * (16 * MiB // 256)
FIXED_UUID = "01234567-89ab-cdef-0123-456789abcdef"


def _error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> GuestFSError:
    with pytest.raises(GuestFSError) as info:
        call(*args, **kwargs)
    return info.value


def _download(g: GuestFS, path: str, tmp_path: Path, offset: int = 0, size: int = -1) -> bytes:
    local = tmp_path / "download.bin"
    if size >= 0:
        g.download_offset(path, str(local), offset, size)
    else:
        g.download(path, str(local))
    return local.read_bytes()


def _upload(g: GuestFS, data: bytes, path: str, tmp_path: Path) -> None:
    local = tmp_path / "upload.bin"
    local.write_bytes(data)
    g.upload(str(local), path)


# -- on the host: copy_file_to_file semantics ---------------------------------------------


def test_copy_file_to_file_offsets_size_append(g: GuestFS, agent: Any) -> None:
    root = Path(agent.sysroot)
    (root / "src").write_bytes(b"0123456789")
    g.copy_file_to_file("/src", "/whole")
    assert (root / "whole").read_bytes() == b"0123456789"
    g.copy_file_to_file("/src", "/part", srcoffset=2, size=5)
    assert (root / "part").read_bytes() == b"23456"
    # destoffset writes into the file at that place (and truncates it first: no append).
    (root / "dest").write_bytes(b"abcdefghij")
    g.copy_file_to_file("/src", "/dest", destoffset=4, size=3)
    assert (root / "dest").read_bytes() == bytes(4) + b"012"
    (root / "log").write_bytes(b"head:")
    g.copy_file_to_file("/src", "/log", append=True, size=4)
    assert (root / "log").read_bytes() == b"head:0123"


def test_copy_file_to_file_sparse(g: GuestFS, agent: Any) -> None:
    root = Path(agent.sysroot)
    data = b"x" * 8192 + bytes(4 * 8192) + b"y" * 8192
    (root / "holey").write_bytes(data)
    g.copy_file_to_file("/holey", "/sparse", sparse=True)
    assert (root / "sparse").read_bytes() == data
    # A zero tail is seeked over and never written: 1.48 leaves the file short.
    (root / "tail").write_bytes(b"z" * 8192 + bytes(8192))
    g.copy_file_to_file("/tail", "/tailcopy", sparse=True)
    assert (root / "tailcopy").read_bytes() == b"z" * 8192


def test_copy_file_to_file_errors(g: GuestFS, agent: Any) -> None:
    root = Path(agent.sysroot)
    (root / "src").write_bytes(b"short")
    for opt in ("srcoffset", "destoffset", "size"):
        e = _error(g.copy_file_to_file, "/src", "/d", **{opt: -1})
        assert e.message.endswith(f"{opt} is negative") and e.errno_name == ""
    e = _error(g.copy_file_to_file, "/src", "/d", size=100)
    assert e.message.endswith("/src: input too short") and e.errno_name == ""
    assert not (root / "d").exists()  # file-to-file removes a failed destination
    e = _error(g.copy_file_to_file, "/missing", "/d")
    assert e.errno_name == "ENOENT" and e.message.endswith("/missing: No such file or directory")
    e = _error(g.copy_file_to_file, "/src", "/nodir/d")
    assert e.errno_name == "ENOENT"


XFS_INFO_SAMPLE = """\
meta-data=/dev/sda               isize=512    agcount=4, agsize=32768 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=1        finobt=1, sparse=1, rmapbt=0
data     =                       bsize=4096   blocks=131072, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=16384, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
"""


def test_xfs_info_parsing() -> None:
    from pyguestfs.agent.fstools import parse_xfs_info as _parse_xfs_info

    info = _parse_xfs_info(XFS_INFO_SAMPLE)
    assert info["xfs_mntpoint"] == "/dev/sda"
    assert (info["xfs_inodesize"], info["xfs_agcount"], info["xfs_agsize"]) == (512, 4, 32768)
    assert (info["xfs_blocksize"], info["xfs_datablocks"]) == (4096, 131072)
    assert (info["xfs_dirversion"], info["xfs_dirblocksize"], info["xfs_cimode"]) == (2, 4096, 0)
    assert (info["xfs_logname"], info["xfs_logblocksize"], info["xfs_logblocks"]) == (
        "internal",
        4096,
        16384,
    )
    assert (info["xfs_logversion"], info["xfs_logsectsize"], info["xfs_lazycount"]) == (2, 512, 1)
    assert (info["xfs_rtname"], info["xfs_rtblocks"], info["xfs_rtextents"]) == ("none", 0, 0)
    # 1.48 never reads extsz=, so the field keeps the C daemon's -1 (all ones, unsigned).
    assert info["xfs_rtextsize"] == (1 << 32) - 1


# -- in the appliance ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ro_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ro") / "pattern.img"
    path.write_bytes(RO_PATTERN)
    return path


@pytest.fixture(scope="module")
def vm(cachedir: str, appliance: Path, ro_image: Path) -> Iterator[GuestFS]:
    # /dev/sda: 512 MiB (xfs needs > 300 MB), /dev/sdb: 256 MiB, /dev/sdc: the pattern, ro.
    g = launch_vm(cachedir, scratch=(512 * MiB, 256 * MiB), readonly=(str(ro_image),))
    yield g
    g.close()


#: fstype → (label, a UUID settable with set_uuid, or None when 1.48 cannot set one).
FSTYPES = {
    "ext2": ("e2label", FIXED_UUID),
    "ext3": ("e3label", FIXED_UUID),
    "ext4": ("e4label", FIXED_UUID),
    "vfat": ("FATLABEL", None),
    "btrfs": ("btrlabel", FIXED_UUID),
    "ntfs": ("ntfslabel", None),
    "xfs": ("xfslabel", FIXED_UUID),
}


@needs_qemu
@pytest.mark.parametrize("fstype", list(FSTYPES))
def test_mkfs_label_uuid(vm: GuestFS, fstype: str) -> None:
    if fstype == "ntfs" and shutil.which("mkfs.ntfs") is None:
        pytest.skip("mkfs.ntfs (ntfs-3g) is not installed on this host, so not in the appliance")
    if fstype in ("xfs", "btrfs") and shutil.which(f"mkfs.{fstype}") is None:
        pytest.skip(f"mkfs.{fstype} is not installed on this host, so not in the appliance")
    label, uuid = FSTYPES[fstype]
    device = "/dev/sda" if fstype == "xfs" else "/dev/sdb"
    vm.mkfs(fstype, device, label=label)
    assert vm.vfs_type(device) == fstype
    assert vm.vfs_label(device) == label
    before = vm.vfs_uuid(device)
    assert before
    vm.set_label(device, "relabel")
    assert vm.vfs_label(device) == "relabel"  # fatlabel of dosfstools 4.2 keeps the case
    info = vm.blkid(device)
    assert info["TYPE"] == fstype and info["USAGE"] == "filesystem"
    if uuid is None:
        e = _error(vm.set_uuid, device, FIXED_UUID)
        assert e.errno_name == "ENOTSUP"
        assert e.message.endswith(f"don't know how to set the UUID for '{fstype}' filesystems")
        return
    vm.set_uuid(device, uuid)
    assert vm.vfs_uuid(device) == uuid
    vm.set_uuid_random(device)
    assert vm.vfs_uuid(device) not in ("", uuid)


@needs_qemu
def test_xfs_tools(vm: GuestFS) -> None:
    if shutil.which("mkfs.xfs") is None:
        pytest.skip("mkfs.xfs is not installed on this host, so not in the appliance")
    assert vm.feature_available(["xfs"])
    vm.mkfs("xfs", "/dev/sda", label="xfsa")
    info = vm.xfs_info("/dev/sda")
    assert info["xfs_mntpoint"] == "/dev/sda" and info["xfs_blocksize"] == 4096
    assert info["xfs_blocksize"] * info["xfs_datablocks"] <= 512 * MiB
    vm.xfs_admin("/dev/sda", label="adm", uuid=FIXED_UUID)
    assert (vm.vfs_label("/dev/sda"), vm.vfs_uuid("/dev/sda")) == ("adm", FIXED_UUID)
    assert vm.xfs_repair("/dev/sda", nomodify=True) == 0
    vm.mount("/dev/sda", "/")
    try:
        assert vm.xfs_info("/")["xfs_datablocks"] == info["xfs_datablocks"]
        assert vm.vfs_minimum_size("/dev/sda") == 4096 * info["xfs_datablocks"]
        vm.xfs_growfs("/", datasec=True)
        e = _error(vm.xfs_growfs, "/", maxpct=-1)
        assert e.message.endswith("maxpct must be >= 0")
    finally:
        vm.umount_all()


@needs_qemu
def test_mkfs_option_checks(vm: GuestFS) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("ext4", {"label": "x" * 17}, "ext2/3/4 labels are limited to 16 bytes"),
        ("xfs", {"label": "x" * 13}, "xfs labels are limited to 12 bytes"),
        ("ext4", {"blocksize": 3000}, "block size must be > 0 and a power of 2"),
        ("btrfs", {"blocksize": 4096}, "blocksize cannot be set on btrfs filesystems"),
        ("vfat", {"inode": 256}, "inode size (-I) can only be set on ext2/3/4 filesystems"),
        ("ext4", {"inode": 0}, "inode size must be larger than zero"),
        ("ext4", {"sectorsize": 512}, "sector size (-S) can only be set on ufs filesystems"),
        ("vfat", {"blocksize": 1 << 20}, "unsupported cluster size for vfat filesystem"),
        ("minix", {"label": "x"}, "don't know how to set the label for 'minix' filesystems"),
    ]
    for fstype, opts, text in cases:
        e = _error(vm.mkfs, fstype, "/dev/sdb", **opts)
        assert text in e.message, (fstype, opts, e.message)
        assert e.errno_name == ""
    e = _error(vm.mkfs, "nosuchfs", "/dev/sdb")
    assert e.message.startswith("mkfs: nosuchfs: /dev/sdb: ") and e.errno_name == ""


@needs_qemu
def test_mkfs_blocksize_per_filesystem(vm: GuestFS) -> None:
    vm.mkfs("ext4", "/dev/sdb", blocksize=1024)
    assert vm.tune2fs_l("/dev/sdb")["Block size"] == "1024"
    # vfat: the block size becomes sectors per cluster (4096 / 512 = 8).
    vm.mkfs("vfat", "/dev/sdb", blocksize=4096)
    vm.mount("/dev/sdb", "/")
    try:
        assert vm.statvfs("/")["bsize"] == 4096
    finally:
        vm.umount_all()
    vm.mkfs_b("ext2", 2048, "/dev/sdb")
    assert vm.vfs_type("/dev/sdb") == "ext2"
    assert vm.tune2fs_l("/dev/sdb")["Block size"] == "2048"


@needs_qemu
def test_mkfs_btrfs_and_wipefs(vm: GuestFS) -> None:
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("mkfs.btrfs is not installed on this host, so not in the appliance")
    vm.mkfs_btrfs(["/dev/sdb"], label="multi", nodesize=16384, datatype="single")
    assert vm.vfs_type("/dev/sdb") == "btrfs"
    assert vm.vfs_label("/dev/sdb") == "multi"
    e = _error(vm.mkfs_btrfs, ["/dev/sdb"], datatype="raid7")
    assert e.message.endswith("datatype not one of the allowed values")
    e = _error(vm.mkfs_btrfs, [])
    assert e.message.endswith("list of devices must be non-empty")
    vm.wipefs("/dev/sdb")
    assert vm.vfs_type("/dev/sdb") == ""
    e = _error(vm.set_label, "/dev/sdb", "x")
    assert e.errno_name == "ENOTSUP"
    assert e.message.endswith("don't know how to set the label for '' filesystems")


@needs_qemu
def test_list_filesystems(vm: GuestFS) -> None:
    vm.part_disk("/dev/sdb", "mbr")
    vm.mkfs("ext4", "/dev/sdb1", label="data")
    fses = vm.list_filesystems()
    # sda holds the xfs made above on the whole disk; sdb is partitioned, so only sdb1.
    assert fses["/dev/sdb1"] == "ext4"
    assert "/dev/sdb" not in fses
    assert fses["/dev/sdc"] == "unknown"
    if shutil.which("mkfs.xfs"):
        assert fses["/dev/sda"] == "xfs"
    info = vm.blkid("/dev/sdb1")
    assert info["TYPE"] == "ext4" and info["LABEL"] == "data"
    assert info["PART_ENTRY_NUMBER"] == "1" and info["PART_ENTRY_TYPE"] == "0x83"


@needs_qemu
def test_e2_labels_and_uuids(vm: GuestFS) -> None:
    vm.set_e2label("/dev/sdb1", "e2name")
    assert vm.get_e2label("/dev/sdb1") == "e2name"
    vm.set_e2uuid("/dev/sdb1", FIXED_UUID)
    assert vm.get_e2uuid("/dev/sdb1") == FIXED_UUID
    vm.set_e2uuid("/dev/sdb1", "random")  # the deprecated call keeps tune2fs's words
    assert vm.get_e2uuid("/dev/sdb1") not in ("", FIXED_UUID)
    e = _error(vm.set_uuid, "/dev/sdb1", "random")
    assert e.message.endswith("e2: invalid new UUID") and e.errno_name == ""
    e = _error(vm.set_e2label, "/dev/sdb1", "y" * 17)
    assert e.message.endswith(f"{'y' * 17}: ext2/3/4 labels are limited to 16 bytes")
    vm.set_label("/dev/sdb1", "data")


@needs_qemu
def test_tune2fs(vm: GuestFS) -> None:
    sb = vm.tune2fs_l("/dev/sdb1")
    assert sb["Filesystem magic number"] == "0xEF53"
    assert sb["Filesystem volume name"] == "data"
    assert sb["Filesystem OS type"] == "Linux"
    assert int(sb["Block count"]) > 0
    vm.tune2fs(
        "/dev/sdb1",
        maxmountcount=0,
        intervalbetweenchecks=0,
        errorbehavior="panic",
        reservedblockspercentage=1,
        lastmounteddirectory="/mnt/old",
    )
    sb = vm.tune2fs_l("/dev/sdb1")
    assert sb["Maximum mount count"] == "-1"
    assert sb["Check interval"] == "0 (<none>)"
    assert sb["Errors behavior"] == "Panic"
    assert sb["Last mounted on"] == "/mnt/old"
    percent = int(sb["Reserved block count"]) * 100 / int(sb["Block count"])
    assert 0.9 < percent < 1.1
    vm.tune2fs("/dev/sdb1", intervalbetweenchecks=86400, mountcount=3)
    sb = vm.tune2fs_l("/dev/sdb1")
    assert sb["Check interval"].startswith("86400 ")
    assert sb["Mount count"] == "3"
    e = _error(vm.tune2fs, "/dev/sdb1", errorbehavior="explode")
    assert e.message.endswith("invalid errorbehavior parameter: explode")
    e = _error(vm.tune2fs, "/dev/sdb1", group=-1)
    assert e.message.endswith("group cannot be negative")


@needs_qemu
def test_checks(vm: GuestFS) -> None:
    _ensure_sdb1(vm)
    if vm.vfs_type("/dev/sdb1") != "ext4":
        vm.mkfs("ext4", "/dev/sdb1")
    # Neither option: e2fsck would ask questions, and the daemon's stdin is not a terminal.
    # guestfsd 1.48 runs the same "e2fsck -f DEVICE" and fails the same way.
    e = _error(vm.e2fsck, "/dev/sdb1")
    assert "need terminal for interactive repairs" in e.message
    vm.e2fsck("/dev/sdb1", correct=True)
    vm.e2fsck("/dev/sdb1", forceall=True)
    vm.e2fsck_f("/dev/sdb1")
    e = _error(vm.e2fsck, "/dev/sdb1", correct=True, forceall=True)
    assert e.message.endswith("only one of the options 'correct', 'forceall' may be specified")
    assert vm.fsck("ext4", "/dev/sdb1") == 0
    # fsck's status word is the answer, not an error: 8 is "operational error".
    assert vm.fsck("ext4", "/dev/sdc") & 8
    e = _error(vm.e2fsck, "/dev/sdc", correct=True)
    assert "Bad magic number" in e.message or "bad magic" in e.message.lower()


def _ensure_sdb1(vm: GuestFS) -> None:
    """The later tests need /dev/sdb1 (made by test_list_filesystems in a full run)."""
    if "/dev/sdb1" not in vm.list_partitions():
        vm.part_disk("/dev/sdb", "mbr")


def _fs_bytes(vm: GuestFS, device: str) -> int:
    sb = vm.tune2fs_l(device)
    return int(sb["Block count"]) * int(sb["Block size"])


@needs_qemu
def test_resize(vm: GuestFS) -> None:
    part = vm.blockdev_getsize64("/dev/sdb1")
    vm.resize2fs_size("/dev/sdb1", 64 * MiB)
    assert _fs_bytes(vm, "/dev/sdb1") == 64 * MiB
    minimum = vm.vfs_minimum_size("/dev/sdb1")
    assert 0 < minimum < 64 * MiB
    vm.resize2fs("/dev/sdb1")
    assert part - 4 * MiB < _fs_bytes(vm, "/dev/sdb1") <= part
    e = _error(vm.resize2fs_size, "/dev/sdb1", 64 * MiB + 1)
    assert e.message.endswith(f"{64 * MiB + 1}: size must be a round number of kilobytes")
    vm.resize2fs_M("/dev/sdb1")
    assert _fs_bytes(vm, "/dev/sdb1") < 64 * MiB
    vm.resize2fs("/dev/sdb1")
    # Mounted: no e2fsck first, and resize2fs itself refuses to shrink online.
    vm.mount("/dev/sdb1", "/")
    try:
        e = _error(vm.resize2fs_size, "/dev/sdb1", 64 * MiB)
        assert "On-line shrinking not supported" in e.message and e.errno_name == ""
        vm.resize2fs("/dev/sdb1")  # an online grow to the same size is fine
    finally:
        vm.umount_all()


@needs_qemu
def test_df(vm: GuestFS) -> None:
    e = _error(vm.df)
    assert e.message.endswith("do_df: you must call 'mount' first to mount the root filesystem")
    vm.mount("/dev/sdb1", "/")
    out = vm.df()
    header, *rows = out.splitlines()
    assert header.split()[:2] == ["Filesystem", "1K-blocks"]
    row = next(r.split() for r in rows if r.startswith("/dev/sdb1 "))
    assert row[-1] == "/sysroot"
    st = vm.statvfs("/")
    assert int(row[1]) == st["blocks"] * st["frsize"] // 1024
    human = vm.df_h()
    assert human.splitlines()[0].split()[:2] == ["Filesystem", "Size"]
    assert any(r.startswith("/dev/sdb1 ") and r.endswith("/sysroot") for r in human.splitlines())


@needs_qemu
def test_copy_between_devices_and_files(vm: GuestFS, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 123)
    _upload(vm, data, "/data", tmp_path)
    # file → device at an offset, back to a file, and device → device from the ro drive.
    vm.copy_file_to_device("/data", "/dev/sda", destoffset=MiB)
    assert _download(vm, "/dev/sda", tmp_path, MiB, len(data)) == data
    vm.copy_device_to_file("/dev/sda", "/back", srcoffset=MiB, size=len(data))
    assert _download(vm, "/back", tmp_path) == data
    vm.copy_device_to_device("/dev/sdc", "/dev/sda", srcoffset=1000, destoffset=512, size=MiB)
    assert _download(vm, "/dev/sda", tmp_path, 512, MiB) == RO_PATTERN[1000 : 1000 + MiB]
    vm.copy_device_to_file("/dev/sdc", "/whole")
    assert vm.checksum("sha256", "/whole") == hashlib.sha256(RO_PATTERN).hexdigest()
    vm.copy_file_to_file("/data", "/whole", append=True, size=10)
    assert vm.filesize("/whole") == len(RO_PATTERN) + 10
    vm.copy_size("/dev/sdc", "/first", 4096)
    assert _download(vm, "/first", tmp_path) == RO_PATTERN[:4096]
    # Errors: libguestfs gives these without an errno.
    e = _error(vm.copy_file_to_device, "/data", "/dev/sda", append=True)
    assert e.message.endswith("the append flag cannot be set for this call")
    e = _error(vm.copy_device_to_device, "/dev/sdc", "/dev/sda", srcoffset=-5)
    assert e.message.endswith("srcoffset is negative") and e.errno_name == ""
    e = _error(vm.copy_device_to_file, "/dev/sdc", "/short", srcoffset=len(RO_PATTERN), size=1)
    assert e.message.endswith("/dev/sdc: input too short") and e.errno_name == ""


@needs_qemu
def test_zero_free_space(vm: GuestFS) -> None:
    before = vm.ls("/")
    free = vm.statvfs("/")["bfree"]
    vm.zero_free_space("/")
    assert vm.statvfs("/")["bfree"] >= free - 64  # its fill file is gone again
    assert vm.ls("/") == before


@needs_qemu
def test_read_only_mount_is_erofs(vm: GuestFS) -> None:
    vm.umount_all()
    vm.mount_ro("/dev/sdb1", "/")
    try:
        e = _error(vm.copy_device_to_file, "/dev/sdc", "/new", size=10)
        assert e.errno_name == "EROFS" and e.message.endswith("/new: Read-only file system")
    finally:
        vm.umount_all()


@needs_qemu
def test_full_filesystem_is_enospc(vm: GuestFS) -> None:
    _ensure_sdb1(vm)
    vm.mkfs("ext2", "/dev/sdb1")  # no journal, so it can shrink this far:
    vm.resize2fs_size("/dev/sdb1", 8 * MiB)  # a tiny root ...
    vm.mount("/dev/sdb1", "/")
    try:
        vm.mkdir("/mnt")
        vm.mkfs("ext4", "/dev/sda")  # ... with a big filesystem below it
        vm.mount("/dev/sda", "/mnt")
        vm.copy_device_to_file("/dev/sdc", "/mnt/big")
        e = _error(vm.copy_file_to_file, "/mnt/big", "/full")
        assert e.errno_name == "ENOSPC"
        assert e.message.endswith("/full: write: No space left on device")
        assert not vm.exists("/full")  # a failed file-to-file copy removes its output
    finally:
        vm.umount_all()


@needs_qemu
def test_zerofree_and_fstrim(vm: GuestFS) -> None:
    _ensure_sdb1(vm)
    if vm.vfs_type("/dev/sdb1") not in ("ext2", "ext3", "ext4"):
        vm.mkfs("ext2", "/dev/sdb1")
    kind = vm.vfs_type("/dev/sdb1")
    vm.zerofree("/dev/sdb1")
    assert vm.vfs_type("/dev/sdb1") == kind
    assert vm.feature_available(["zerofree", "fstrim", "wipefs"])
    vm.mount("/dev/sdb1", "/")
    try:
        try:
            vm.fstrim("/")
        except GuestFSError as e:
            # The scratch disks are added without discard=unmap, as libguestfs does by
            # default: the kernel then says the operation is not supported.
            assert e.errno_name == "ENOTSUP", e.message
        e = _error(vm.fstrim, "/", length=0)
        assert e.message.endswith("length <= 0")
    finally:
        vm.umount_all()


@needs_qemu
def test_zero_and_zero_device(vm: GuestFS, tmp_path: Path, ro_image: Path) -> None:
    _ensure_sdb1(vm)
    vm.zero("/dev/sdb1")
    assert _download(vm, "/dev/sdb1", tmp_path, 0, 128 * 1024) == bytes(128 * 1024)
    assert vm.vfs_type("/dev/sdb1") == ""
    # The read-only drive is written through a throwaway overlay, as in libguestfs: the
    # guest sees zeroes, the image file keeps its bytes.
    vm.zero_device("/dev/sdc")
    assert _download(vm, "/dev/sdc", tmp_path) == bytes(len(RO_PATTERN))
    assert ro_image.read_bytes() == RO_PATTERN
    e = _error(vm.zero, "/dev/sdz")
    assert e.errno_name == "ENOENT"
