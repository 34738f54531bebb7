"""agent/kmount.py: which mounts go straight to mount(2), and which are left to mount(8)
(which then succeeds or fails with its own words). What the syscall path does in the
appliance is checked by the booted inspection, mount and differential tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pyguestfs.agent import kmount

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("", (0, "")),
        ("ro", (1, "")),
        ("rw", (0, "")),
        ("ro,noatime,nodev", (1 | 1024 | 4, "")),
        ("subvol=/@home,ro", (1, "subvol=/@home")),
        ("ro,,", (1, "")),
        ("ro,rw", (0, "")),  # the later one wins, as in mount(8)
        ("rw,ro", (1, "")),
    ],
)
def test_vfs_flags_become_mount_flags(options: str, expected: tuple[int, str]) -> None:
    assert kmount._split_options(options) == expected


@pytest.mark.parametrize("options", ["loop", "ro,loop", "uid=1000", "ro,errors=remount-ro", "x"])
def test_other_options_are_left_to_mount8(options: str) -> None:
    # mount(8) knows what they mean (a loop device, fs-specific data it validates ...).
    assert kmount._split_options(options) is None
    assert kmount.mount("/dev/null", "/nonexistent", "ext4", options) is False


def test_a_file_or_a_missing_source_is_left_to_mount8(tmp_path: Path) -> None:
    image = tmp_path / "fs.img"
    image.write_bytes(b"\0" * 4096)
    assert kmount.mount(str(image), str(tmp_path), "ext4", "ro") is False  # wants a loop
    assert kmount.mount(str(tmp_path / "none"), str(tmp_path), "ext4", "ro") is False
    assert not os.path.ismount(tmp_path)


def test_a_type_the_kernel_does_not_mount_from_a_device_is_left_to_mount8() -> None:
    # ntfs-3g is a FUSE helper that mount(8) runs; proc is a nodev type.
    assert kmount.mount("/dev/null", "/nonexistent", "ntfs-3g-helper-only") is False
    assert "proc" not in kmount._kernel_filesystems()


class FakeLibc:
    """Records mount(2) calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def mount(self, *args: Any) -> int:
        self.calls.append(args)
        return 0


def test_a_type_with_a_mount_helper_is_left_to_mount8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(kmount, "_libc", lambda: libc)
    monkeypatch.setattr(kmount, "_kernel_filesystems", lambda: frozenset({"ntfs", "ext4"}))
    monkeypatch.setattr(kmount, "_is_block_device", lambda path: True)
    monkeypatch.setattr(kmount, "_HELPER_DIRS", (str(tmp_path),))
    (tmp_path / "mount.ntfs").write_text("")  # ntfs-3g's helper
    # mount(8) runs /sbin/mount.TYPE when there is one, not the kernel's driver of the
    # same name, even when the kernel has one loaded.
    assert kmount.mount("/dev/sda2", "/sysroot", "ntfs", "ro") is False
    assert libc.calls == []
    assert kmount.mount("/dev/sda1", "/sysroot", "ext4", "ro,noatime") is True
    assert libc.calls == [(b"/dev/sda1", b"/sysroot", b"ext4", 1 | 1024, None)]


def test_sources_are_named_as_mount8_names_them(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.write_text("")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert kmount.canonical_source(str(link)) == str(target)


def test_umount_of_what_is_not_mounted_is_left_to_umount8(tmp_path: Path) -> None:
    assert kmount.umount(str(tmp_path)) is False  # umount(8) then says "not mounted"
