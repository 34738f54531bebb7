"""LVM APIs: the struct codec and output parsing without a VM, then one appliance with two
128 MiB scratch disks on which volume groups are built, listed, resized, renamed,
deactivated and removed, with libguestfs 1.48's results and errno names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import launch_vm, needs_qemu

from pyguestfs.agent import lvmconf
from pyguestfs.agent.api import lvm as api_lvm
from pyguestfs.agent.errors import AgentError
from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol.messages import decode_ret, encode_ret
from pyguestfs.protocol.procedures import BY_NAME
from pyguestfs.protocol.types import STRUCTS, FieldType

MIB = 1 << 20
UUID = re.compile(r"[0-9A-Za-z]{32}")


# -- without a VM ----------------------------------------------------------------------------
def _sample(name: str) -> dict[str, Any]:
    values: dict[FieldType, Any] = {
        FieldType.STRING: "x",
        FieldType.UUID: "0123456789abcdefGHIJKLMNOPQRSTUV",
        FieldType.BYTES: 5 << 30,
        FieldType.INT64: -1,
        FieldType.OPTPERCENT: -1.0,
    }
    return {f: values[t] for f, t in STRUCTS[name].fields}


@pytest.mark.parametrize(
    ("api", "struct", "count"),
    [("pvs_full", "lvm_pv", 14), ("vgs_full", "lvm_vg", 19), ("lvs_full", "lvm_lv", 16)],
)
def test_lvm_structs_round_trip(api: str, struct: str, count: int) -> None:
    proc = BY_NAME[api]
    assert proc.ret_struct == struct and len(STRUCTS[struct].fields) == count
    rows = [_sample(struct), _sample(struct)]
    assert decode_ret(proc, encode_ret(proc, rows)) == rows


def test_uuid_is_32_bytes_without_length_and_percent_a_float() -> None:
    proc = BY_NAME["lvs_full"]
    row = _sample("lvm_lv")
    row["snap_percent"] = 12.5
    wire = encode_ret(proc, [row])
    # count, lv_name ("x" padded to 4 + its length), then the UUID's 32 raw bytes.
    assert wire[12:44] == b"0123456789abcdefGHIJKLMNOPQRSTUV"
    assert decode_ret(proc, wire)[0]["snap_percent"] == 12.5
    with pytest.raises(ValueError):
        encode_ret(proc, [dict(row, lv_uuid="short")])


def test_parse_tokens_as_the_generated_tokenizer() -> None:
    parse = api_lvm._parse_token
    assert parse(FieldType.UUID, "Ab1dEf-1234-5678-9abc-def0-1234-567890") == (
        "Ab1dEf123456789abcdef01234567890"
    )
    assert parse(FieldType.BYTES, "134217728") == 128 * MIB
    assert parse(FieldType.INT64, "-1") == -1
    assert parse(FieldType.OPTPERCENT, "") == -1.0
    assert parse(FieldType.OPTPERCENT, "37.50") == 37.5
    for ftype, tok in ((FieldType.UUID, "abc-def"), (FieldType.INT64, ""), (FieldType.BYTES, "x")):
        with pytest.raises(ValueError):
            parse(ftype, tok)


class _Devices:
    dev = "/dev"

    def kernel_disks(self) -> list[str]:
        return ["sda", "nvme0n1"]


def _ctx(devices: object | None) -> Any:
    return SimpleNamespace(agent=SimpleNamespace(devices=devices))


def test_config_sees_only_the_users_disks() -> None:
    text = lvmconf.config_text(_ctx(_Devices()), None)
    assert "obtain_device_list_from_udev = 0" in text and "udev_rules = 0" in text
    assert (
        'global_filter = [ "a|^/dev/sda$|", "a|^/dev/sda[0-9]+$|", "a|^/dev/nvme0n1$|", '
        '"a|^/dev/nvme0n1p[0-9]+$|", "a|^/dev/mapper/|", "a|^/dev/md|", "r|.*|" ]'
    ) in text
    assert 'filter = [ "a|.*|" ]' in text
    # Standalone on a host: nothing at all.
    assert 'global_filter = [ "r|.*|" ]' in lvmconf.config_text(_ctx(None), ["r|.*|"])


def test_names_are_trimmed_sorted_and_unknown_devices_dropped() -> None:
    out = "  /dev/sdb1 \n  unknown device\n\n  /dev/sda1   \n"
    assert api_lvm._lines(out) == ["/dev/sda1", "/dev/sdb1"]
    assert api_lvm._lines("  VG/LV\n", prefix="/dev/") == ["/dev/VG/LV"]
    assert lvmconf.regex_quote("/dev/VG/a+b.c") == r"/dev/VG/a\+b\.c"


def test_standalone_agent_refuses_devices(g: GuestFS) -> None:
    # Served on a host, the agent has no disks: a device is never the host's.
    with pytest.raises(GuestFSError) as e:
        g.pvcreate("/dev/sda")
    assert e.value.errno_name == "ENOENT"
    with pytest.raises(GuestFSError) as e:
        g.lvm_canonical_lv_name("sda")
    assert "not a device name" in str(e.value)


def test_percent_is_checked_before_lvm_runs() -> None:
    with pytest.raises(AgentError, match=r"percentage must be \[0\.\.100\] \(was 101\)"):
        api_lvm.lvcreate_free(_ctx(None), "LV", "VG", 101)


# -- in the appliance --------------------------------------------------------------------
@pytest.fixture(scope="module")
def vm(cachedir: str) -> Iterator[GuestFS]:
    g = launch_vm(cachedir, scratch=(128 * MIB, 128 * MIB))
    yield g
    g.close()


def _raises(errno_name: str, fn: Any, *args: Any) -> str:
    with pytest.raises(GuestFSError) as e:
        fn(*args)
    assert e.value.errno_name == errno_name, e.value
    return str(e.value)


def _lv(g: GuestFS, name: str) -> dict[str, Any]:
    return next(lv for lv in g.lvs_full() if lv["lv_name"] == name)


@needs_qemu
@pytest.mark.timeout(2400)  # TCG on a loaded machine: a call can take half a minute
class TestInAppliance:
    """In order: each test starts from the state the one before left. Calls are few
    because each one costs seconds under TCG."""

    def test_volume_group_across_two_disks(self, vm: GuestFS) -> None:
        assert vm.feature_available(["lvm2"])
        vm.part_disk("/dev/sda", "mbr")
        vm.part_disk("/dev/sdb", "mbr")
        vm.pvcreate("/dev/sda1")
        vm.pvcreate("/dev/sdb1")
        # Never the appliance's own disk (sdc in the guest), only the user's.
        assert vm.pvs() == ["/dev/sda1", "/dev/sdb1"]
        vm.vgcreate("VG", ["/dev/sda1", "/dev/sdb1"])
        assert vm.vgs() == ["VG"]
        # 160 MiB do not fit on one 128 MiB disk: the LV spans both.
        vm.lvcreate("LV", "VG", 160)
        assert vm.lvs() == ["/dev/VG/LV"]
        vm.mkfs("ext4", "/dev/VG/LV")
        vm.mount("/dev/VG/LV", "/")
        vm.write("/hello", b"across two disks\n")
        assert vm.cat("/hello") == "across two disks\n"
        vm.umount_all()

    def test_full_listings_and_uuids(self, vm: GuestFS) -> None:
        pvs = vm.pvs_full()
        assert [pv["pv_name"] for pv in pvs] == ["/dev/sda1", "/dev/sdb1"]
        for pv in pvs:
            assert UUID.fullmatch(pv["pv_uuid"])
            assert pv["pv_fmt"] == "lvm2"
            assert 100 * MIB < pv["pv_size"] <= 128 * MIB
            assert pv["pv_size"] == pv["pv_free"] + pv["pv_used"]
            assert pv["pv_mda_count"] == 1
        assert sum(pv["pv_used"] for pv in pvs) == 160 * MIB
        (vg,) = vm.vgs_full()
        assert vg["vg_name"] == "VG" and UUID.fullmatch(vg["vg_uuid"])
        assert (vg["pv_count"], vg["lv_count"], vg["snap_count"]) == (2, 1, 0)
        assert vg["vg_extent_size"] == 4 * MIB
        assert vg["vg_size"] == vg["vg_extent_count"] * 4 * MIB
        assert vg["vg_size"] - vg["vg_free"] == 160 * MIB
        (lv,) = vm.lvs_full()
        assert lv["lv_name"] == "LV" and UUID.fullmatch(lv["lv_uuid"])
        assert lv["lv_size"] == 160 * MIB and lv["seg_count"] == 2
        assert lv["lv_attr"][4] == "a"  # active
        assert lv["snap_percent"] == -1.0 and lv["copy_percent"] == -1.0
        assert lv["lv_kernel_major"] > 0
        # The *uuid calls give LVM's dashed form, the structs the 32 bare characters.
        sda1 = vm.pvuuid("/dev/sda1")
        assert sda1.replace("-", "") == pvs[0]["pv_uuid"]
        assert sorted(u.replace("-", "") for u in vm.vgpvuuids("VG")) == sorted(
            pv["pv_uuid"] for pv in pvs
        )
        assert vm.vguuid("VG").replace("-", "") == vg["vg_uuid"]
        lv_uuid = vm.lvuuid("/dev/VG/LV")
        assert lv_uuid.replace("-", "") == lv["lv_uuid"]
        assert vm.vglvuuids("VG") == [lv_uuid]

    def test_names(self, vm: GuestFS) -> None:
        assert vm.is_lv("/dev/VG/LV") is True
        assert vm.is_lv("/dev/sda1") is False
        assert vm.lvm_canonical_lv_name("/dev/mapper/VG-LV") == "/dev/VG/LV"
        assert "not a logical volume" in _raises("EINVAL", vm.lvm_canonical_lv_name, "/dev/sda1")

    def test_lvresize(self, vm: GuestFS) -> None:
        vm.lvresize("/dev/VG/LV", 200)
        vm.lvresize("/dev/VG/LV", 200)  # the same size again is no error in libguestfs
        assert vm.lvs_full()[0]["lv_size"] == 200 * MIB

    def test_lvrename_and_vgrename(self, vm: GuestFS) -> None:
        vm.lvrename("/dev/VG/LV", "/dev/VG/LV2")
        vm.vg_activate(False, ["VG"])
        vm.vgrename("VG", "VG2")
        vm.vg_activate(True, ["VG2"])
        assert vm.lvs() == ["/dev/VG2/LV2"]

    def test_vg_activate_all(self, vm: GuestFS) -> None:
        vm.vg_activate_all(False)
        assert vm.lvs_full()[0]["lv_attr"][4] == "-"
        _raises("ENOENT", vm.mount, "/dev/VG2/LV2", "/")  # no node while inactive
        vm.vg_activate_all(True)
        # Resized, renamed, deactivated and back: the filesystem is intact.
        vm.mount("/dev/VG2/LV2", "/")
        assert vm.cat("/hello") == "across two disks\n"
        vm.umount_all()

    def test_errors(self, vm: GuestFS) -> None:
        message = _raises("", vm.lvcreate, "LV", "NOVG", 10)
        assert "NOVG" in message and "not found" in message
        _raises("ENOENT", vm.pvcreate, "/dev/sdz")

    def test_removing(self, vm: GuestFS) -> None:
        vm.lvcreate("LV3", "VG2", 8)
        vm.lvremove("/dev/VG2/LV3")
        assert vm.lvs() == ["/dev/VG2/LV2"]
        vm.vgremove("VG2")  # with its LV
        vm.pvremove("/dev/sdb1")
        assert (vm.vgs(), vm.pvs()) == ([], ["/dev/sda1"])

    def test_lvm_remove_all(self, vm: GuestFS) -> None:
        vm.vgcreate("VGB", ["/dev/sdb1"])  # vgcreate makes a plain partition a PV itself
        vm.lvcreate_free("B1", "VGB", 100)
        assert vm.lvs() == ["/dev/VGB/B1"]
        vm.lvm_remove_all()
        assert (vm.pvs(), vm.vgs(), vm.lvs()) == ([], [], [])
