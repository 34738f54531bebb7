"""The guest-configuration family and the small daemon families in the appliance: one
booted appliance with one scratch disk holding an LVM volume with ext4 on it, the way a
guest's root often is. What the differential suite cannot show runs here: the feature
groups the appliance really has, the libraries the frozen agent loads from the
appliance's root (libacl, libcap, libselinux, libsystemd), setfiles, the kernel's
answers (uname, dmesg, drop_caches, modules), device checksums and mounted LVs' names."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from config_data import JOURNAL_REMOTE, rpm_guest_tar
from conftest import launch_vm

from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol.procedures import BY_NAME

MIB = 1 << 20
#: Dashes inside VG and LV names: device-mapper doubles them (vg--cfg-lv--root).
VG, LV = "vg-cfg", "lv-root"


@pytest.fixture(scope="module")
def vm(cachedir: str) -> Iterator[GuestFS]:
    g = launch_vm(cachedir, scratch=(96 * MIB,))
    g.part_disk("/dev/sda", "mbr")
    g.pvcreate("/dev/sda1")
    g.vgcreate(VG, ["/dev/sda1"])
    g.lvcreate(LV, VG, 64)
    g.mkfs("ext4", f"/dev/{VG}/{LV}")
    g.mount(f"/dev/{VG}/{LV}", "/")
    yield g
    g.close()


def test_groups_the_appliance_serves(vm: GuestFS) -> None:
    groups = ["acl", "linuxcaps", "selinux", "selinuxrelabel", "journal", "inotify"]
    assert {g: vm.feature_available([g]) for g in groups} == dict.fromkeys(groups, True)
    # available() raises for a missing group: it does not here.
    vm.available(groups)


def test_mounted_lv_is_named_as_1_48_names_it(vm: GuestFS) -> None:
    canonical = f"/dev/{VG}/{LV}"
    assert vm.mounts() == [canonical]
    assert vm.mountpoints() == {canonical: "/"}
    assert vm.lvm_canonical_lv_name("/dev/mapper/vg--cfg-lv--root") == canonical


def test_acl_and_capabilities_on_the_guest_filesystem(vm: GuestFS) -> None:
    vm.mkdir("/acl")
    vm.write("/acl/f", "x")
    vm.acl_set_file("/acl/f", "access", "u::rw-,g::r--,o::---,u:4242:r--,m::r--")
    assert vm.acl_get_file("/acl/f", "access") == (
        "user::rw-\nuser:4242:r--\ngroup::r--\nmask::r--\nother::---\n"
    )
    vm.acl_set_file("/acl", "default", "u::rwx,g::r-x,o::---")
    assert vm.acl_get_file("/acl", "default") == "user::rwx\ngroup::r-x\nother::---\n"
    vm.acl_delete_def_file("/acl")
    assert vm.acl_get_file("/acl", "default") == ""
    assert vm.cap_get_file("/acl/f") == ""
    vm.cap_set_file("/acl/f", "cap_net_bind_service+ep")
    assert vm.cap_get_file("/acl/f") == "cap_net_bind_service=ep"
    with pytest.raises(GuestFSError, match="could not parse cap string"):
        vm.cap_set_file("/acl/f", "cap_bogus+ep")


def test_copy_attributes_as_virt_edit_uses_it(vm: GuestFS) -> None:
    vm.write("/orig", "old\n")
    vm.chown(12, 34, "/orig")
    vm.chmod(0o1750, "/orig")  # not setuid: the chown that follows the chmod clears it
    vm.setxattr("user.note", "kept", 4, "/orig")
    vm.write("/new", "new\n")
    vm.copy_attributes("/orig", "/new", all=True)
    st = vm.statns("/new")
    assert (st["st_mode"] & 0o7777, st["st_uid"], st["st_gid"]) == (0o1750, 12, 34)
    assert vm.getxattr("/new", "user.note") == b"kept"
    vm.rename("/new", "/orig")
    assert vm.cat("/orig") == "new\n"
    vm.rm_f("/orig")
    vm.rm_f("/orig")  # gone already: no error
    assert not vm.exists("/orig")


def test_selinux_relabel_labels_the_tree(vm: GuestFS) -> None:
    vm.mkdir_p("/etc/selinux/targeted/contexts/files")
    spec = "/etc/selinux/targeted/contexts/files/file_contexts"
    vm.write(spec, "/srv(/.*)?    system_u:object_r:var_t:s0\n")
    vm.mkdir_p("/srv/www")
    vm.write("/srv/www/index.html", "hi")
    vm.selinux_relabel(spec, "/srv", force=True)
    assert vm.lgetxattr("/srv/www/index.html", "security.selinux").rstrip(b"\0") == (
        b"system_u:object_r:var_t:s0"
    )


@pytest.mark.skipif(not os.path.exists(JOURNAL_REMOTE), reason="systemd-journal-remote missing")
def test_journal_of_the_guest(vm: GuestFS, tmp_path: Path) -> None:
    export = b"".join(
        b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n"
        b"_BOOT_ID=00112233445566778899aabbccddeeff\nMESSAGE=entry %d\n\n"
        % (1_700_000_000_000_000 + i, 5 + i, i)
        for i in range(5)
    )
    journal = tmp_path / "system.journal"
    subprocess.run([JOURNAL_REMOTE, "-o", str(journal), "-"], input=export, check=True)
    vm.mkdir_p("/var/log/journal/00112233445566778899aabbccddeeff")
    vm.upload(str(journal), "/var/log/journal/00112233445566778899aabbccddeeff/system.journal")
    vm.journal_open("/var/log/journal")
    messages = []
    while vm.journal_next():
        fields = {f["attrname"]: f["attrval"] for f in vm.journal_get()}
        messages.append((vm.journal_get_realtime_usec(), fields["MESSAGE"]))
    assert messages == [(1_700_000_000_000_000 + i, b"entry %d" % i) for i in range(5)]
    assert vm.journal_skip(-2) == 2
    vm.journal_close()


def test_inotify_sees_guest_changes(vm: GuestFS) -> None:
    vm.mkdir("/watched")
    vm.inotify_init(4096)  # also sets the appliance kernel's max_queued_events
    vm.inotify_add_watch("/watched", 0x100 | 0x200)  # IN_CREATE | IN_DELETE
    vm.touch("/watched/a")
    vm.write("/watched/b", "b")
    vm.rm("/watched/a")
    assert vm.inotify_files() == ["a", "b"]
    assert vm.inotify_read() == []
    vm.inotify_close()


def test_files_and_dirs_in_the_appliance(vm: GuestFS) -> None:
    vm.mkdir_mode("/m", 0o711)
    assert vm.statns("/m")["st_mode"] & 0o777 == 0o711 & ~vm.get_umask()
    vm.fill_dir("/m", 3)
    assert vm.ls("/m") == ["00000000", "00000001", "00000002"]
    vm.fill(0x61, 5000, "/m/filled")
    vm.fill_pattern("xy", 5, "/m/pattern")
    assert vm.read_file("/m/pattern") == b"xyxyx"
    assert vm.checksum("md5", "/m/filled") == hashlib.md5(b"a" * 5000).hexdigest()
    vm.cp_r("/m", "/m2")
    assert vm.equal("/m/filled", "/m2/filled")
    assert "00000002" in vm.llz("/m2")
    assert vm.find("/m2") == ["/00000000", "/00000001", "/00000002", "/filled", "/pattern"]
    assert vm.find("/m2/") == ["00000000", "00000001", "00000002", "filled", "pattern"]


def test_daemon_procedures_in_the_appliance(vm: GuestFS, tmp_path: Path) -> None:
    uts = vm.utsname()
    assert uts["uts_sysname"] == "Linux" and uts["uts_machine"] == "x86_64"
    assert uts["uts_release"] in vm.dmesg()
    vm.drop_caches(3)
    assert vm.filesystem_available("ext4")
    assert not vm.filesystem_available("nosuchfs")
    assert vm.echo_daemon(["one", "two"]) == "one two"
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho uploaded\n")
    vm.debug_upload(str(script), "/tmp/script", 0o755)
    # Output and errors come back together, trailing newlines cut (guestfsd's command).
    assert vm.debug("sh", ["/tmp/script"]) == "uploaded"
    assert "script" in vm.debug("ls", ["/tmp"]).split()
    assert vm.debug("setenv", ["PYG_TEST", "1"]) == "ok"
    assert "PYG_TEST=1" in vm.debug("env", []).splitlines()
    assert vm.debug("sh", ["echo", "$root"]) == "/sysroot"


def test_checksum_device_matches_the_device_bytes(vm: GuestFS) -> None:
    # A fresh LV on a scratch disk reads as zeros: its checksum is known without
    # downloading it.
    vm.lvcreate("small", VG, 4)
    device = f"/dev/{VG}/small"
    size = vm.blockdev_getsize64(device)
    assert size == 4 * MIB
    assert vm.checksum_device("sha256", device) == hashlib.sha256(bytes(size)).hexdigest()
    assert vm.checksum_device("crc", device) == vm.checksum_device("CRC", device)
    with pytest.raises(GuestFSError, match="unknown checksum type"):
        vm.checksum_device("md4", "/dev/sda")
    vm.lvremove(device)


def test_rpm_packages_of_a_guest(vm: GuestFS, tmp_path: Path) -> None:
    """librpm, run chrooted in the guest by the agent, lists what rpm installed."""
    tar = rpm_guest_tar()
    if not tar:
        pytest.skip("rpm and rpmbuild are not installed (ci/setup.sh installs them)")
    (tmp_path / "rpm.tar").write_bytes(tar)
    vm.tar_in(str(tmp_path / "rpm.tar"), "/")
    proc = BY_NAME["internal_list_rpm_applications"]
    apps = vm._shape(proc, vm._call(proc.name, {}, {}))  # type: ignore[attr-defined]
    assert [(a["app2_name"], a["app2_epoch"], a["app2_version"]) for a in apps] == [
        ("alpha", 0, "0.1"),
        ("zeta-tools", 7, "1.2"),
    ]
    assert apps[1]["app2_url"] == "https://example.invalid/zeta-tools"
