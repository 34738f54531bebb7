"""Storage families on real devices, our agent beside Debian's real guestfsd 1.48: swap,
LUKS, md RAID, Windows LDM, NTFS and btrfs.

Two appliances boot once for the module, under TCG, each on its own copies of the same
disks: two empty 256 MiB disks and a small LUKS2 volume made on the host with
cryptsetup (``/dev/sdc``, key ``sesame``). One appliance runs our agent, the other the
real guestfsd (``guestfs-build-appliance --daemon guestfsd``). The same list of calls
(``CASES``, in order: each family leaves the disks as the next one expects) runs through
both, and every reply is compared -- values with UUIDs, times and temporary directory
names normalised away, errno names and whole error messages. Then the results of our agent
are checked for what they mean: the RAID-1 has both disks, the snapshot is listed, the
LUKS volume opened by both daemons has the host's UUID and holds what was written through
it, the NTFS filesystem was shrunk.

A Windows dynamic disk cannot be made here (that needs Windows' own LDM database
writer), so LDM is tested on disks that have none: the empty listings, the scans that
find nothing and the errors for unknown disk groups -- compared with guestfsd.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paired_appliances as paired
import pytest
from paired_appliances import Case, LocalIn, LocalOut, Results
from paired_appliances import case as _c

from pyguestfs.host import GuestFS

MiB = 1024 * 1024
KEY = "sesame"
NEWKEY = "open-sesame"
SWAP_UUID = "0b7e5c7a-0d1e-4c45-9f2f-6b0f9f8a1c11"
GUEST_OS_RELEASE = b'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n'


def _ntfs_file_inode(g: GuestFS) -> int:
    """The MFT record number of /f on the NTFS filesystem of /dev/sda (mounted briefly)."""
    g.mount("/dev/sda", "/")
    try:
        return int(g.lstatns("/f")["st_ino"])
    finally:
        g.umount("/")


#: Every call, in order, for both daemons.
CASES: list[Case] = [
    # -- swap ---------------------------------------------------------------------------
    _c("mkswap-opts", "mkswap", "/dev/sda", label="swp", uuid=SWAP_UUID),
    _c("swap-label", "vfs_label", "/dev/sda"),
    _c("swap-uuid", "vfs_uuid", "/dev/sda"),
    _c("swapon-label", "swapon_label", "swp"),
    _c("swapoff-label", "swapoff_label", "swp"),
    _c("swapon-uuid", "swapon_uuid", SWAP_UUID),
    _c("swapoff-uuid", "swapoff_uuid", SWAP_UUID),
    _c("swapon-device", "swapon_device", "/dev/sda"),
    _c("swapoff-device", "swapoff_device", "/dev/sda"),
    _c("swapoff-again", "swapoff_device", "/dev/sda"),
    _c("swapon-label-long", "swapon_label", "x" * 17),
    _c("swapoff-label-long", "swapoff_label", "y" * 17),
    _c("swapon-uuid-unknown", "swapon_uuid", "9f2f6b0f-0d1e-4c45-9f2f-6b0f9f8a1c11"),
    _c("mkswap-L-long", "mkswap_L", "x" * 17, "/dev/sdb"),
    _c("mkswap-L", "mkswap_L", "labelled", "/dev/sdb"),
    _c("mkswap-L-label", "vfs_label", "/dev/sdb"),
    _c("mkswap-U", "mkswap_U", SWAP_UUID, "/dev/sdb"),
    _c("mkswap-U-uuid", "vfs_uuid", "/dev/sdb"),
    _c("mkswap-bad-device", "mkswap", "/dev/sdz"),
    _c("swap-file-fs", "mkfs", "ext4", "/dev/sdb"),
    _c("swap-file-mount", "mount", "/dev/sdb", "/"),
    _c("swap-file-make", "fallocate64", "/swapfile", 4 * MiB),
    _c("swap-file-chmod", "chmod", 0o600, "/swapfile"),
    _c("mkswap-file", "mkswap_file", "/swapfile"),
    _c("swapon-file", "swapon_file", "/swapfile"),
    _c("swapoff-file", "swapoff_file", "/swapfile"),
    _c("swapoff-file-again", "swapoff_file", "/swapfile"),
    _c("mkswap-file-missing", "mkswap_file", "/missing"),
    _c("swap-file-umount", "umount", "/"),
    # -- LUKS: the volume the host made, opened by each daemon --------------------------
    _c("luks-uuid", "luks_uuid", "/dev/sdc"),
    _c("luks-uuid-not-luks", "luks_uuid", "/dev/sda"),
    _c("luks-open-wrong-key", "cryptsetup_open", "/dev/sdc", "wrong", "lk"),
    _c("luks-open-not-encrypted", "cryptsetup_open", "/dev/sda", KEY, "lk"),
    _c("luks-open", "cryptsetup_open", "/dev/sdc", KEY, "lk"),
    _c("luks-open-twice", "cryptsetup_open", "/dev/sdc", KEY, "lk"),
    _c("luks-fs", "mkfs", "ext2", "/dev/mapper/lk"),
    _c("luks-mount", "mount", "/dev/mapper/lk", "/"),
    _c("luks-write", "write", "/secret", b"through dm-crypt\n"),
    _c("luks-umount", "umount", "/"),
    _c("luks-close-not-mapper", "cryptsetup_close", "/dev/sdc"),
    _c("luks-close", "cryptsetup_close", "/dev/mapper/lk"),
    _c("luks-close-gone", "luks_close", "/dev/mapper/lk"),
    _c("luks-add-key", "luks_add_key", "/dev/sdc", KEY, NEWKEY, 3),
    _c("luks-add-key-wrong", "luks_add_key", "/dev/sdc", "wrong", "other", 4),
    _c("luks-open-ro-newkey", "luks_open_ro", "/dev/sdc", NEWKEY, "ro"),
    _c("luks-ro-mount", "mount_ro", "/dev/mapper/ro", "/"),
    _c("luks-ro-read", "cat", "/secret"),
    _c("luks-ro-umount", "umount", "/"),
    _c("luks-ro-close", "luks_close", "/dev/mapper/ro"),
    _c("luks-kill-slot", "luks_kill_slot", "/dev/sdc", NEWKEY, 0),
    _c("luks-open-old-key", "luks_open", "/dev/sdc", KEY, "old"),
    _c("luks-open-crypttype", "cryptsetup_open", "/dev/sdc", NEWKEY, "nk", crypttype="luks"),
    _c("luks-close-nk", "cryptsetup_close", "/dev/mapper/nk"),
    _c("luks-format", "luks_format", "/dev/sdb", KEY, 0),
    _c("luks-format-uuid", "vfs_type", "/dev/sdb"),
    _c("luks-format-cipher-bad", "luks_format_cipher", "/dev/sdb", KEY, 1, "no-such-cipher"),
    # -- md RAID-1 over both disks ------------------------------------------------------
    _c("md-wipe-a", "wipefs", "/dev/sda"),
    _c("md-wipe-b", "wipefs", "/dev/sdb"),
    _c("md-none", "list_md_devices"),
    _c("md-bad-level", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], level="raid9"),
    _c("md-bad-nr", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], nrdevices=1),
    _c("md-bad-spare", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], spare=-1),
    _c("md-bad-chunk", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], chunk=1000),
    _c("md-bad-sum", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], nrdevices=3),
    _c("md-create", "md_create", "/dev/md0", ["/dev/sda", "/dev/sdb"], level="raid1"),
    _c("md-list", "list_md_devices"),
    _c("md-detail", "md_detail", "/dev/md0"),
    _c("md-stat", "md_stat", "/dev/md0"),
    _c("md-stat-member", "md_stat", "/dev/sda"),
    _c("md-create-busy", "md_create", "/dev/md1", ["/dev/sda", "/dev/sdb"]),
    _c("md-stop", "md_stop", "/dev/md0"),
    _c("md-list-after", "list_md_devices"),
    _c("md-degraded", "md_create", "/dev/md1", ["/dev/sda"], missingbitmap=2, level="mirror"),
    _c("md-degraded-stat", "md_stat", "/dev/md1"),
    _c("md-degraded-level", "md_detail", "/dev/md1"),
    _c("md-degraded-stop", "md_stop", "/dev/md1"),
    # -- LDM: no dynamic disk here ------------------------------------------------------
    _c("ldm-volumes", "list_ldm_volumes"),
    _c("ldm-partitions", "list_ldm_partitions"),
    _c("ldm-scan", "ldmtool_scan"),
    _c("ldm-scan-devices", "ldmtool_scan_devices", ["/dev/sda", "/dev/sdb"]),
    _c("ldm-create-all", "ldmtool_create_all"),
    _c("ldm-remove-all", "ldmtool_remove_all"),
    _c("ldm-dg-name", "ldmtool_diskgroup_name", "0123-no-such-group"),
    _c("ldm-dg-volumes", "ldmtool_diskgroup_volumes", "0123-no-such-group"),
    _c("ldm-dg-disks", "ldmtool_diskgroup_disks", "0123-no-such-group"),
    _c("ldm-vol-type", "ldmtool_volume_type", "0123-no-such-group", "Volume1"),
    _c("ldm-vol-hint", "ldmtool_volume_hint", "0123-no-such-group", "Volume1"),
    _c("ldm-vol-parts", "ldmtool_volume_partitions", "0123-no-such-group", "Volume1"),
    # -- NTFS: make, resize, fix, clone, read by inode ----------------------------------
    _c("ntfs-wipe", "wipefs", "/dev/sda"),
    _c("ntfs-probe-empty", "ntfs_3g_probe", False, "/dev/sda"),
    _c("ntfs-mkfs", "mkfs", "ntfs", "/dev/sda"),
    _c("ntfs-probe-rw", "ntfs_3g_probe", True, "/dev/sda"),
    _c("ntfs-probe-ro", "ntfs_3g_probe", False, "/dev/sda"),
    _c("ntfs-mount", "mount", "/dev/sda", "/"),
    _c("ntfs-write", "write", "/f", b"a file on NTFS\n" * 100),
    _c("ntfs-umount", "umount", "/"),
    _c("ntfscat", "ntfscat_i", "/dev/sda", _ntfs_file_inode, LocalOut()),
    _c("ntfscat-negative", "ntfscat_i", "/dev/sda", -1, LocalOut()),
    _c("ntfsresize-zero", "ntfsresize", "/dev/sda", size=0),
    _c("ntfsresize-shrink", "ntfsresize", "/dev/sda", size=128 * MiB),
    _c("ntfsresize-again", "ntfsresize_size", "/dev/sda", 160 * MiB),
    _c("ntfsresize-force", "ntfsresize", "/dev/sda", size=160 * MiB, force=True),
    _c("ntfsfix", "ntfsfix", "/dev/sda", clearbadsectors=True),
    _c("ntfs-min-size", "vfs_minimum_size", "/dev/sda"),
    _c("ntfsclone-out", "ntfsclone_out", "/dev/sda", LocalOut(), metadataonly=True, force=True),
    _c("ntfsclone-in", "ntfsclone_in", LocalIn(), "/dev/sdb"),
    _c("ntfsclone-in-probe", "ntfs_3g_probe", False, "/dev/sdb"),
    _c("ntfsfix-not-ntfs", "ntfsfix", "/dev/sdc"),
    _c("ntfsresize-not-ntfs", "ntfsresize", "/dev/sdc"),
    # -- btrfs: subvolumes, snapshots, qgroups, devices ---------------------------------
    _c("btrfs-wipe-a", "wipefs", "/dev/sda"),
    _c("btrfs-wipe-b", "wipefs", "/dev/sdb"),
    _c("btrfs-mkfs", "mkfs_btrfs", ["/dev/sda"], label="pool"),
    _c("btrfs-show", "btrfs_filesystem_show", "/dev/sda"),
    _c("btrfs-mount", "mount", "/dev/sda", "/"),
    _c("subvol-create", "btrfs_subvolume_create", "/sub"),
    _c("subvol-create-exists", "btrfs_subvolume_create", "/sub"),
    _c("subvol-write", "write", "/sub/file", b"in a subvolume\n"),
    _c("subvol-snapshot", "btrfs_subvolume_snapshot", "/sub", "/snap", ro=True),
    _c("subvol-snapshot-rw", "btrfs_subvolume_snapshot", "/sub", "/snap-rw"),
    _c("subvol-snapshot-missing", "btrfs_subvolume_snapshot", "/nowhere", "/x"),
    _c("subvol-list", "btrfs_subvolume_list", "/"),
    _c("subvol-list-device", "btrfs_subvolume_list", "/dev/sda"),
    _c("subvol-show", "btrfs_subvolume_show", "/sub"),
    _c("subvol-show-root", "btrfs_subvolume_show", "/"),
    _c("subvol-mkdir", "mkdir", "/plain"),
    _c("subvol-show-dir", "btrfs_subvolume_show", "/plain"),
    _c("subvol-get-default", "btrfs_subvolume_get_default", "/"),
    _c("subvol-set-default", "btrfs_subvolume_set_default", 256, "/"),
    _c("subvol-get-default-dev", "btrfs_subvolume_get_default", "/dev/sda"),
    _c("subvol-set-default-back", "btrfs_subvolume_set_default", 5, "/"),
    _c("subvol-delete", "btrfs_subvolume_delete", "/snap-rw"),
    _c("subvol-delete-dir", "btrfs_subvolume_delete", "/plain"),
    _c("btrfs-sync", "btrfs_filesystem_sync", "/"),
    _c("btrfs-defrag", "btrfs_filesystem_defragment", "/", flush=True, compress="zlib"),
    _c("btrfs-defrag-bad", "btrfs_filesystem_defragment", "/", compress="zstd9"),
    _c("btrfs-resize", "btrfs_filesystem_resize", "/", size=200 * MiB),
    _c("btrfs-resize-zero", "btrfs_filesystem_resize", "/", size=0),
    _c("btrfs-resize-max", "btrfs_filesystem_resize", "/"),
    _c("quota-enable", "btrfs_quota_enable", "/", True),
    _c("qgroup-create", "btrfs_qgroup_create", "1/100", "/"),
    _c("qgroup-assign", "btrfs_qgroup_assign", "0/256", "1/100", "/"),
    _c("qgroup-limit", "btrfs_qgroup_limit", "/sub", 10 * MiB),
    _c("quota-rescan", "btrfs_quota_rescan", "/"),
    _c("qgroup-show", "btrfs_qgroup_show", "/"),
    _c("qgroup-remove", "btrfs_qgroup_remove", "0/256", "1/100", "/"),
    _c("qgroup-destroy", "btrfs_qgroup_destroy", "1/100", "/"),
    _c("qgroup-destroy-gone", "btrfs_qgroup_destroy", "1/100", "/"),
    _c("subvol-create-qgroup", "btrfs_subvolume_create", "/sub2", qgroupid="0/256"),
    _c("quota-disable", "btrfs_quota_enable", "/", False),
    _c("balance", "btrfs_filesystem_balance", "/"),
    _c("balance-status", "btrfs_balance_status", "/"),
    _c("balance-pause-none", "btrfs_balance_pause", "/"),
    _c("balance-resume-none", "btrfs_balance_resume", "/"),
    _c("balance-cancel-none", "btrfs_balance_cancel", "/"),
    _c("scrub-status-none", "btrfs_scrub_status", "/"),
    _c("scrub-start", "btrfs_scrub_start", "/"),
    _c("scrub-cancel-none", "btrfs_scrub_cancel", "/"),
    _c("scrub-resume-none", "btrfs_scrub_resume", "/"),
    _c("device-add", "btrfs_device_add", ["/dev/sdb"], "/"),
    _c("device-show-two", "btrfs_filesystem_show", "/dev/sda"),
    _c("device-delete", "btrfs_device_delete", ["/dev/sdb"], "/"),
    _c("device-replace", "btrfs_replace", "/dev/sda", "/dev/sdb", "/"),
    _c("device-show-replaced", "btrfs_filesystem_show", "/dev/sdb"),
    _c("btrfs-umount", "umount", "/"),
    _c("subvol-mount", "mount", "btrfsvol:/dev/sdb/sub", "/"),
    _c("subvol-mounted-ls", "ls", "/"),
    _c("subvol-umount", "umount", "/"),
    _c("subvol-mount-ro-opts", "mount_options", "ro", "btrfsvol:/dev/sdb/snap", "/"),
    _c("subvol-mounted-cat", "cat", "/file"),
    _c("subvol-umount-2", "umount", "/"),
    _c("subvol-not-btrfsvol", "btrfs_subvolume_list", "btrfsvol:/dev"),
    _c("quota-enable-subvol", "btrfs_quota_enable", "btrfsvol:/dev/sdb/sub", True),
    _c("quota-rescan-device", "btrfs_quota_rescan", "/dev/sdb"),
    _c("btrfs-fsck", "btrfs_fsck", "/dev/sdb"),
    _c("btrfs-fsck-bad-super", "btrfs_fsck", "/dev/sdb", superblock=-1),
    _c("btrfs-fsck-not-btrfs", "btrfs_fsck", "/dev/sdc"),
    _c("super-recover", "btrfs_rescue_super_recover", "/dev/sdb"),
    # On a btrfs device chunk-recover reads and checks every block: many minutes under
    # TCG. Its error path (no btrfs there) is what both daemons are compared on.
    _c("chunk-recover-not-btrfs", "btrfs_rescue_chunk_recover", "/dev/sdc"),
    _c("tune-extref", "btrfstune_enable_extended_inode_refs", "/dev/sdb"),
    _c("tune-skinny", "btrfstune_enable_skinny_metadata_extent_refs", "/dev/sdb"),
    _c("tune-seeding-on", "btrfstune_seeding", "/dev/sdb", True),
    _c("tune-seeding-off", "btrfstune_seeding", "/dev/sdb", False),
    _c("set-seeding", "btrfs_set_seeding", "/dev/sdb", False),
    _c("btrfs-image-none", "btrfs_image", [], "/img"),
    _c("btrfs-show-not-btrfs", "btrfs_filesystem_show", "/dev/sdc"),
    # -- inspection of a guest whose root is a btrfs subvolume --------------------------
    _c("guest-wipe-a", "wipefs", "/dev/sda"),
    _c("guest-wipe-b", "wipefs", "/dev/sdb"),
    _c("guest-mkfs", "mkfs_btrfs", ["/dev/sda"]),
    _c("guest-mount", "mount", "/dev/sda", "/"),
    _c("guest-subvol", "btrfs_subvolume_create", "/@root"),
    _c("guest-etc", "mkdir_p", "/@root/etc"),
    _c("guest-bin", "mkdir_p", "/@root/bin"),
    _c("guest-os-release", "write", "/@root/etc/os-release", GUEST_OS_RELEASE),
    _c("guest-fstab", "write", "/@root/etc/fstab", b"/dev/sda / btrfs subvol=@root 0 0\n"),
    _c("guest-umount", "umount", "/"),
    _c("guest-filesystems", "list_filesystems"),
    _c("guest-inspect", "inspect_os"),
    _c("guest-distro", "inspect_get_distro", "btrfsvol:/dev/sda/@root"),
    _c("guest-version", "inspect_get_major_version", "btrfsvol:/dev/sda/@root"),
    _c("guest-mountpoints", "inspect_get_mountpoints", "btrfsvol:/dev/sda/@root"),
]

#: Differences between the two daemons that are understood, with their cause.
_BTRFS_ROOT = (
    "our inspection (agent/inspect_*.py) tries each filesystem mounted as a whole, not the "
    "subvolumes of a btrfs one, so a root in a subvolume is not found; guestfsd's "
    "inspect_fs.ml checks each subvolume"
)
KNOWN_DIFFERENCES: dict[str, str] = {
    "guest-inspect": _BTRFS_ROOT,
    "guest-distro": _BTRFS_ROOT,
    "guest-version": _BTRFS_ROOT,
    "guest-mountpoints": _BTRFS_ROOT,
}


# -- running the cases -----------------------------------------------------------------------


_MD_UUID = re.compile(r"[0-9a-f]{8}(?::[0-9a-f]{8}){3}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: [+-]\d{4})?")
_TMP = re.compile(r"/tmp/btrfs[.\w]*")
#: The device-mapper name cryptsetup gives its temporary mapping (a counter).
_TEMP_DM = re.compile(r"temporary-cryptsetup-\d+")
#: Counters that depend on how far a background job (scrub, transaction commits) got.
_VOLATILE = re.compile(
    r"'(Generation|Gen at creation|btrfsscrub_\w+|btrfsqgroup_(?:rfer|excl)|events)'"
    r": (?:'[^']*'|\d+)"
)


def scrub(text: str) -> str:
    """A message without what changes from run to run (UUIDs, times, temporary names)."""
    text = paired.UUID.sub("<uuid>", text)
    text = _MD_UUID.sub("<md-uuid>", text)
    text = _TIME.sub("<time>", text)
    text = _TMP.sub("<tmp>", text)
    return _TEMP_DM.sub("temporary-cryptsetup-<n>", text)


def normalise(value: Any) -> str:
    return _VOLATILE.sub(lambda m: f"'{m.group(1)}': <n>", paired.normalise(value, scrub))


def _luks_image(path: Path) -> str:
    """A 32 MiB LUKS2 volume keyed ``sesame`` (PBKDF2 with few iterations, so that
    opening it under TCG is quick); returns its UUID."""
    with open(path, "wb") as f:
        f.truncate(32 * MiB)
    subprocess.run(
        ["cryptsetup", "-q", "luksFormat", "--type", "luks1",
         "--pbkdf-force-iterations", "1000", "--key-file", "-", str(path)],
        input=KEY.encode(), check=True, capture_output=True,
    )  # fmt: skip
    done = subprocess.run(
        ["cryptsetup", "luksUUID", str(path)], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _disks(where: Path, luks: Path) -> tuple[str, ...]:
    where.mkdir()
    paths = []
    for name in ("a.img", "b.img"):
        with open(where / name, "wb") as f:
            f.truncate(256 * MiB)
        paths.append(str(where / name))
    shutil.copyfile(luks, where / "luks.img")
    return (*paths, str(where / "luks.img"))


#: The appliances' memory, in MiB. cryptsetup sizes Argon2 (luks_format, luks_add_key on
#: LUKS2) to half of it and benchmarks it: with the default 1280 MiB one luks_format takes
#: minutes under TCG, with this tens of seconds. Everything else here needs little.
MEMSIZE = 256


@dataclass
class Storage:
    luks_uuid: str
    results: Results
    ours: GuestFS


#: Two boots and ~210 calls each under TCG: minutes, far more on a loaded machine.
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def vm(cachedir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    """Both appliances booted, every case run through both; our handle stays open."""
    if shutil.which("cryptsetup") is None:
        pytest.skip("cryptsetup is not installed on the host (ci/setup.sh installs it)")
    tmp = tmp_path_factory.mktemp("storage")
    luks = tmp / "luks.img"
    uuid = _luks_image(luks)
    run = paired.run_both(
        cachedir, tmp, lambda where: _disks(where, luks), CASES, scrub,
        memsize=MEMSIZE, normalise_value=normalise,
    )  # fmt: skip
    try:
        yield Storage(uuid, run.results, run.ours)
    finally:
        run.ours.close()


# -- the tests --------------------------------------------------------------------------------

FAMILIES: dict[str, Callable[[Case], bool]] = {
    "swap": lambda c: "swap" in c.id,
    "luks": lambda c: c.id.startswith("luks"),
    "md": lambda c: c.id.startswith("md"),
    "ldm": lambda c: c.id.startswith("ldm"),
    "ntfs": lambda c: c.id.startswith("ntfs"),
    "btrfs": lambda c: (
        not any(c.id.startswith(p) for p in ("swap", "mkswap", "luks", "md", "ldm", "ntfs"))
    ),
}


def test_cases_are_unique_and_call_every_procedure_of_the_families() -> None:
    from pyguestfs.protocol.procedures import FAMILY_OF

    assert len({c.id for c in CASES}) == len(CASES)
    called = {c.api for c in CASES}
    families = {"btrfs", "luks", "swap", "md", "ldm", "ntfs"}
    missing = sorted(
        name for name, family in FAMILY_OF.items() if family in families and name not in called
    )
    assert missing == [], missing


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_same_replies_as_guestfsd(vm: Storage, family: str) -> None:
    if vm.results.real is None:
        pytest.skip(f"no real guestfsd appliance: {vm.results.why_no_real}")
    vm.results.assert_same((c for c in CASES if FAMILIES[family](c)), KNOWN_DIFFERENCES)


def test_swap_areas_are_made_and_used(vm: Storage) -> None:
    assert vm.results.ok("swap-label") == "swp"
    assert vm.results.ok("swap-uuid") == SWAP_UUID
    assert vm.results.ok("mkswap-L-label") == "labelled"
    assert vm.results.ok("mkswap-U-uuid") == SWAP_UUID
    for case_id in ("swapon-label", "swapoff-uuid", "swapon-file", "swapoff-file"):
        vm.results.ok(case_id)
    assert "swap labels are limited to 16 bytes" in vm.results.error("mkswap-L-long")
    assert vm.results.error("swapoff-file-again").startswith("swapoff_file: /sysroot/swapfile: ")


def test_luks_volume_made_on_the_host_opens_with_its_keys(vm: Storage) -> None:
    assert vm.results.ok("luks-uuid") == vm.luks_uuid
    assert "No key available" in vm.results.error("luks-open-wrong-key")
    assert vm.results.error("luks-open-twice").endswith("/dev/mapper/lk: device already exists")
    assert vm.results.ok("luks-ro-read") == "through dm-crypt\n"  # written rw, read back ro
    vm.results.error("luks-open-old-key")  # slot 0 was killed
    assert vm.results.ok("luks-format-uuid") == "crypto_LUKS"


def test_raid1_over_two_disks(vm: Storage) -> None:
    assert vm.results.ok("md-list") == ["/dev/md0"]
    detail = vm.results.ok("md-detail")
    assert detail["level"] == "raid1" and detail["devices"] == "2"
    members = sorted((m["mdstat_device"], m["mdstat_index"]) for m in vm.results.ok("md-stat"))
    assert members == [("/dev/sda", 0), ("/dev/sdb", 1)]
    assert vm.results.ok("md-list-after") == []
    assert vm.results.ok("md-degraded-level")["level"] == "raid1"
    assert [m["mdstat_device"] for m in vm.results.ok("md-degraded-stat")] == ["/dev/sda"]
    assert vm.results.error("md-stat-member").endswith("sda: MD device not found")


def test_ldm_without_dynamic_disks(vm: Storage) -> None:
    assert vm.results.ok("ldm-volumes") == [] and vm.results.ok("ldm-partitions") == []
    assert vm.results.ok("ldm-scan") == [] and vm.results.ok("ldm-scan-devices") == []
    assert vm.results.error("ldm-dg-name")


def test_ntfs_resize_clone_and_cat(vm: Storage) -> None:
    assert vm.results.ok("ntfs-probe-rw") == 0 and vm.results.ok("ntfs-probe-empty") != 0
    assert vm.results.ok("ntfscat")["size"] == len(b"a file on NTFS\n" * 100)
    assert vm.results.ok("ntfscat")["head"] == (b"a file on NTFS\n" * 2)[:24]
    vm.results.ok("ntfsresize-shrink")
    assert vm.results.ok("ntfs-min-size") < 128 * MiB
    assert vm.results.ok("ntfsclone-out")["head"].startswith(b"\0ntfsclone-image")
    assert vm.results.ok("ntfsclone-in-probe") == 0
    # After a shrink, ntfsresize wants Windows' chkdsk before the next one, unless forced.
    vm.results.error("ntfsresize-again")
    vm.results.ok("ntfsresize-force")


def test_btrfs_subvolumes_snapshots_and_devices(vm: Storage) -> None:
    subvolumes = vm.results.ok("subvol-list")
    listed = {s["btrfssubvolume_path"]: s["btrfssubvolume_id"] for s in subvolumes}
    assert set(listed) == {"sub", "snap", "snap-rw"}
    shown = vm.results.ok("subvol-show")
    assert shown["Name"] == "sub" and shown["Snapshot(s)"] == "snap,snap-rw"
    assert vm.results.ok("subvol-get-default") == 5
    assert vm.results.ok("subvol-get-default-dev") == 256
    # btrfs-progs 6 describe the top level like any subvolume (older ones said "is btrfs
    # root", which guestfsd turns into an error).
    assert vm.results.ok("subvol-show-root")["Name"] == "<FS_TREE>"
    assert vm.results.ok("btrfs-show") == ["/dev/sda"]
    assert sorted(vm.results.ok("device-show-two")) == ["/dev/sda", "/dev/sdb"]
    assert vm.results.ok("device-show-replaced") == ["/dev/sdb"]
    assert vm.results.ok("subvol-mounted-ls") == ["file"]
    assert vm.results.ok("subvol-mounted-cat") == "in a subvolume\n"
    assert any(q["btrfsqgroup_id"] == "1/100" for q in vm.results.ok("qgroup-show"))


def test_a_guest_rooted_in_a_btrfs_subvolume(vm: Storage) -> None:
    root = "btrfsvol:/dev/sda/@root"
    assert vm.results.ok("guest-filesystems")[root] == "btrfs"
    # What guestfsd finds there; ours does not yet (KNOWN_DIFFERENCES).
    real = vm.results.real
    if real is not None:
        assert real["guest-inspect"].value == [root]
        assert real["guest-mountpoints"].value == {"/": root}


def test_the_agent_still_serves_after_the_errors(vm: Storage) -> None:
    assert vm.ours.feature_available(["btrfs", "luks", "mdadm", "ldm", "ntfs3g", "ntfsprogs"])
    assert vm.ours.list_devices() == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
