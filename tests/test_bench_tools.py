"""The benchmark tools' own logic, without a VM: the boot analysis's stage extraction
and the PNG timeline writer."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from boot_analysis import analyse, summarise
from png_timeline import render

CONSOLE = [
    # (host arrival, s after launch(); text): the guest clock starts 2.0 s after launch().
    (2.5, "[    0.000000] Linux version 6.1.0-28-amd64\n[    3.1"),
    (5.4, "00000] Run /init as init process\n"),
    (6.0, "[    4.000000] mini-init: mini-init 1 starting up\n"),
    (6.1, "[    4.050000] mini-init: internal insmod virtio_scsi.ko\n"),
    (6.9, "[    4.800000] mini-init: internal insmod ext4.ko\n"),
    (7.0, "[    4.850000] EXT4-fs: a kernel line between two mini-init lines\n"),
    (7.5, "[    5.200000] mini-init: preloaded the appliance program in 0.3 s\n"),
    (7.6, "garbage without a stamp\n"),
    (9.5, "[    7.300000] init: Starting /init script ...\n"),
]
HOST = {"qemu started": 0.4, "launch flag seen": 10.0, "first call answered": 10.2}


def test_stages_are_put_on_the_hosts_clock() -> None:
    stages = {s.name: round(s.at, 3) for s in analyse(CONSOLE, HOST)}
    # The fastest line (at 6.0 s for guest 4.0 s) fixes the guest's zero at 2.0 s; a line
    # split over two chunks arrives with the second.
    assert stages["kernel started"] == 2.0
    assert stages["kernel runs the initramfs /init"] == 5.1
    # A module is loaded when the mini init prints its next line; the last one, when the
    # preload that followed it began (its line says it took 0.3 s).
    assert stages["module virtio_scsi.ko loaded"] == 6.8
    assert stages["module ext4.ko loaded"] == 6.9
    assert stages["agent imports preloaded"] == 7.2
    assert stages["appliance /init started"] == 9.3
    assert stages["first call answered"] == 10.2
    order = [s.name for s in analyse(CONSOLE, HOST)]
    assert order[0] == "qemu started" and order[-1] == "first call answered"


def test_summary_gives_medians_and_lengths() -> None:
    runs = [analyse(CONSOLE, HOST), analyse(CONSOLE, {**HOST, "first call answered": 11.2})]
    rows = {name: (at, took, spread) for name, at, took, spread in summarise(runs)}
    at, took, spread = rows["first call answered"]
    assert (round(at, 3), round(took, 3), round(spread, 3)) == (10.7, 0.7, 1.0)


def test_the_timeline_is_a_valid_png(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    render("Boot, TCG", [("qemu started", 0.0, 0.4), ("kernel", 0.4, 5.0)], out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    _length, kind = struct.unpack(">I4s", data[8:16])
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (kind, depth, color) == (b"IHDR", 8, 2)
    idat = data.index(b"IDAT")
    (size,) = struct.unpack(">I", data[idat - 4 : idat])
    raw = zlib.decompress(data[idat + 4 : idat + 4 + size])
    assert len(raw) == height * (1 + width * 3)
    assert raw.count(b"\x00\x00\x00") > 100  # text was drawn (black pixels)


def _warm_doc(warm: float, lib: float) -> dict[str, object]:
    def stats(v: float) -> dict[str, float]:
        return {"median": v, "min": v * 0.8, "max": v * 1.5}

    return {
        "runs": 2,
        "warm_per_run": 4,
        "kvm": False,
        "summary": {
            "libguestfs": stats(lib),
            "pyguestfs cold": stats(lib / 3),
            "pyguestfs warm": stats(warm),
            "cpu_loop_s": stats(0.2),
            "fault_64MiB_s": stats(0.5),
        },
        "stages": {"qemu_up": stats(0.1), "ready": stats(warm * 0.9)},
    }


def test_warm_launch_table_judges_both_targets() -> None:
    from warm_launch import markdown

    slow = markdown(_warm_doc(warm=4.28, lib=107.9))
    assert "| pyguestfs warm (restored) | 4.28 (3.42-6.42) | 0.040 |" in slow
    assert "0.040: **met**" in slow and "median 4.28 s, best 3.42 s: **not met**" in slow
    assert "| ready | 3.85 |" in slow
    fast = markdown(_warm_doc(warm=0.9, lib=12.0))
    assert "0.075: **met**" in fast and "**met**. Cold boot" in fast
    assert "**not met**" not in markdown(_warm_doc(warm=0.5, lib=12.0))
    assert "0.125: **not met**" in markdown(_warm_doc(warm=1.5, lib=12.0))


def test_warm_launch_table_reports_translated_blocks_when_measured() -> None:
    from warm_launch import markdown

    doc = _warm_doc(warm=2.0, lib=90.0)
    assert "translated by TCG" not in markdown(doc)  # KVM runs, or older results
    summary = doc["summary"]
    assert isinstance(summary, dict)
    summary["tcg_blocks"] = {"median": 28000.0, "min": 27500.0, "max": 29000.0}
    assert "28000 blocks (27500-29000)" in markdown(doc)
