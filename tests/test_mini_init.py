"""The mini initrd's init without a VM: its pure logic, and its whole step table run over a
scratch tree with the privileged operations faked (nothing is mounted, nothing loaded)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_syscalls import FakeSyscalls, calls_of

from pyguestfs.initrd import mini_init
from pyguestfs.initrd.mini_init import (
    MS_NOATIME,
    Context,
    disk_sort_key,
    format_uuid,
    last_disk,
    list_disks,
    parse_cmdline,
    parse_uuid,
    read_devnum,
    read_module_list,
    superblock_uuid,
)

ROOT_UUID = "5a28411a-60dc-4ec3-b24c-f6ef803a17e6"
OTHER_UUID = "0123456789abcdef0123456789abcdef"


def make_initramfs(
    tmp: Path,
    cmdline: str,
    disks: dict[str, str] | None = None,
    modules: list[str] | None = None,
) -> Path:
    """A scratch initramfs: /proc/cmdline, /sys/block/<disk>/dev, /modules and the .ko files."""
    root = tmp / "initramfs"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cmdline").write_text(cmdline + "\n")
    for name, dev in (disks or {}).items():
        (root / "sys" / "block" / name).mkdir(parents=True)
        (root / "sys" / "block" / name / "dev").write_text(dev + "\n")
    if modules is not None:
        (root / "modules").write_text("".join(m + "\n" for m in modules))
        for m in modules:
            (root / m).write_bytes(b"\x7fELF fake module")
    return root


# ---------------------------------------------------------------- pure logic


def test_parse_cmdline_keys_values_and_bare_words() -> None:
    p = parse_cmdline(f"panic=1 console=ttyS0 root=UUID={ROOT_UUID} quiet  TERM=xterm\n")
    assert p["root"] == f"UUID={ROOT_UUID}"  # only the first "=" splits
    assert p["quiet"] == ""
    assert p["TERM"] == "xterm"
    assert parse_cmdline("a=1 a=2")["a"] == "2"  # the last one wins
    assert parse_cmdline("") == {}


def test_parse_uuid_with_and_without_dashes() -> None:
    raw = parse_uuid(ROOT_UUID)
    assert len(raw) == 16
    assert raw == parse_uuid(ROOT_UUID.replace("-", "").upper())
    assert format_uuid(raw) == ROOT_UUID


@pytest.mark.parametrize("bad", ["", "5a28411a", ROOT_UUID + "00", "z" * 32])
def test_parse_uuid_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_uuid(bad)


def test_superblock_uuid_needs_the_ext_magic() -> None:
    uuid = parse_uuid(ROOT_UUID)
    # bytes from 0x438: magic, then 0x2e bytes of other fields, then the UUID at 0x468
    block = b"\x53\xef" + b"\0" * (0x468 - 0x438 - 2) + uuid
    assert superblock_uuid(block) == uuid
    assert superblock_uuid(b"\0\0" + block[2:]) is None


def test_list_disks_in_kernel_order_without_loop_ram_cdrom(tmp_path: Path) -> None:
    names = ["sdb", "loop0", "sdaa", "sr0", "ram0", "sda", "vda", "sdz", "dm-0", "zram0"]
    for n in names:
        (tmp_path / n).mkdir()
    assert list_disks(os.fspath(tmp_path)) == ["sda", "sdb", "sdz", "vda", "sdaa"]
    assert sorted(["sdaa", "sdz"], key=disk_sort_key) == ["sdz", "sdaa"]
    assert list_disks(os.fspath(tmp_path / "missing")) == []


def test_read_devnum(tmp_path: Path) -> None:
    (tmp_path / "sda").mkdir()
    (tmp_path / "sda" / "dev").write_text("8:0\n")
    (tmp_path / "sdb").mkdir()
    (tmp_path / "sdb" / "dev").write_text("garbage\n")
    assert read_devnum(os.fspath(tmp_path), "sda") == (8, 0)
    assert read_devnum(os.fspath(tmp_path), "sdb") is None
    assert read_devnum(os.fspath(tmp_path), "sdc") is None


def test_read_module_list_keeps_order_and_skips_comments(tmp_path: Path) -> None:
    f = tmp_path / "modules"
    f.write_text("# dependencies first\nvirtio_ring.ko\n\n  virtio.ko  \nlib/ext4.ko\n")
    assert read_module_list(os.fspath(f)) == ["virtio_ring.ko", "virtio.ko", "lib/ext4.ko"]
    assert read_module_list(os.fspath(tmp_path / "none")) == []


def test_last_disk_waits_for_the_listing_to_settle(tmp_path: Path) -> None:
    root = make_initramfs(tmp_path, "", {"sda": "8:0"})
    ctx = Context(FakeSyscalls(), os.fspath(root))
    history: list[tuple[float, list[str]]] = []
    assert last_disk(ctx, history, now=10.0) is None  # first sight: not trusted yet
    # a second disk shows up: the clock starts again
    (root / "sys" / "block" / "sdb").mkdir()
    (root / "sys" / "block" / "sdb" / "dev").write_text("8:16\n")
    assert last_disk(ctx, history, now=10.1) is None
    assert last_disk(ctx, history, now=10.1 + mini_init.LAST_DISK_SETTLE / 2) is None
    assert last_disk(ctx, history, now=10.2 + mini_init.LAST_DISK_SETTLE) == ("sdb", 8, 16)


# ---------------------------------------------------------------- the whole step table


def test_boot_by_uuid_picks_the_matching_disk_and_continues_in_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    modules = ["virtio_ring.ko", "virtio.ko", "virtio_scsi.ko", "ext4.ko"]
    # the root is sdb (not the last disk): the UUID decides
    root = make_initramfs(
        tmp_path,
        f"panic=1 console=ttyS0 root=UUID={ROOT_UUID}",
        {"sda": "8:0", "sdb": "8:16", "sdc": "8:32"},
        modules,
    )
    sc = FakeSyscalls({(8, 0): OTHER_UUID, (8, 16): ROOT_UUID, (8, 32): OTHER_UUID})
    rc = mini_init.main(os.fspath(root), timeout=1, then=lambda: 42, sc=sc)
    assert rc == 42
    r = os.fspath(root)
    assert calls_of(sc, "insmod") == [("insmod", m) for m in modules]
    assert sc.calls[0] == ("mount", "sysfs", f"{r}/sys", "sysfs", 0, "")
    assert ("mknod", f"{r}/dev/root", (8, 16), 0o700) in sc.calls
    mount_root = ("mount", f"{r}/dev/root", f"{r}/root", "ext4", MS_NOATIME, "")
    assert sc.calls.index(("umount", f"{r}/sys")) < sc.calls.index(mount_root)
    assert sc.calls[-1] == ("chroot", f"{r}/root")
    out = capfd.readouterr().out
    for words in (
        "mini-init 1 starting up",
        "mounting /sys",
        "internal insmod virtio_scsi.ko",
        "picked /sys/block/sdb/dev as root device",
        "creating /dev/root as block special 8:16",
        "mounting new root on /root",
        "continuing as the appliance /init",
    ):
        assert words in out


def test_boot_by_device_name_execs_the_appliance_init(tmp_path: Path) -> None:
    root = make_initramfs(tmp_path, "root=/dev/sda", {"sda": "8:0", "sdb": "8:16"}, [])
    sc = FakeSyscalls()
    assert mini_init.main(os.fspath(root), timeout=1, sc=sc) == 0
    assert ("mknod", f"{root}/dev/root", (8, 0), 0o700) in sc.calls
    assert sc.calls[-2:] == [("chroot", f"{root}/root"), ("execv", "/init", ["/init"])]


def test_no_root_parameter_falls_back_to_the_last_disk(tmp_path: Path) -> None:
    root = make_initramfs(tmp_path, "quiet", {"sda": "8:0", "sdb": "8:16"})
    sc = FakeSyscalls()
    # the listing must stay unchanged for LAST_DISK_SETTLE of real time: the default
    # timeout, not a tight one, bounds that wait on a loaded machine
    assert mini_init.main(os.fspath(root), sc=sc) == 0
    assert ("mknod", f"{root}/dev/root", (8, 16), 0o700) in sc.calls


def test_module_errors_and_missing_files_are_reported_and_skipped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_initramfs(tmp_path, "root=/dev/sda", {"sda": "8:0"}, ["a.ko", "b.ko", "c.ko"])
    (root / "b.ko").unlink()
    sc = FakeSyscalls(failing_modules=frozenset({"a.ko"}))
    assert mini_init.main(os.fspath(root), timeout=1, sc=sc) == 0
    assert calls_of(sc, "insmod") == [("insmod", "a.ko"), ("insmod", "c.ko")]
    out = capfd.readouterr().out
    assert "insmod a.ko: No such device (ignored)" in out
    assert "b.ko: missing, skipped" in out


def test_quiet_silences_the_steps_but_not_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_initramfs(tmp_path, "quiet root=/dev/sda", {"sda": "8:0"}, ["a.ko"])
    sc = FakeSyscalls(failing_modules=frozenset({"a.ko"}))
    assert mini_init.main(os.fspath(root), timeout=1, sc=sc) == 0
    out = capfd.readouterr().out
    assert "picked" not in out and "mounting" not in out
    assert "insmod a.ko: No such device (ignored)" in out


def test_root_that_never_appears_fails_with_what_was_seen(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = make_initramfs(
        tmp_path, f"root=UUID={ROOT_UUID} guestfs_root_timeout=0.05", {"sda": "8:0"}
    )
    sc = FakeSyscalls({(8, 0): OTHER_UUID})
    assert mini_init.main(os.fspath(root), sc=sc) == 1
    out = capfd.readouterr().out
    assert "error: find root device" in out
    assert "did not appear within 0.05 s" in out
    assert "sda (8:0 uuid=01234567-89ab-cdef-0123-456789abcdef)" in out
    assert "/sys/block/sda: dev 8:0" in out  # the diagnostics
    assert not calls_of(sc, "chroot")


def test_unknown_root_syntax_is_an_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = make_initramfs(tmp_path, "root=LABEL=appliance", {"sda": "8:0"})
    assert mini_init.main(os.fspath(root), timeout=1, sc=FakeSyscalls()) == 1
    assert "root=LABEL=appliance: not understood" in capfd.readouterr().out


def test_preload_runs_between_modules_and_root_search(tmp_path: Path) -> None:
    root = make_initramfs(tmp_path, "root=/dev/sda", {"sda": "8:0"}, ["a.ko"])
    sc = FakeSyscalls()
    order: list[str] = []

    def preload() -> None:
        order.append(f"preload after {len(calls_of(sc, 'insmod'))} modules")
        assert not calls_of(sc, "mknod")

    assert mini_init.main(os.fspath(root), timeout=1, then=lambda: 0, sc=sc, preload=preload) == 0
    assert order == ["preload after 1 modules"]


def test_the_steps_are_the_boot_process_in_order() -> None:
    assert [what for what, _ in mini_init.STEPS] == [
        "mount /proc",
        "mount /sys",
        "load modules",
        "preload",
        "find root device",
        "mount root",
        "switch root",
    ]


def test_cli_refuses_to_run_unless_pid_1(capfd: pytest.CaptureFixture[str]) -> None:
    assert mini_init.cli([]) == 2
    assert "not PID 1" in capfd.readouterr().out
