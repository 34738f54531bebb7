"""Module choice and order, against the host's real modules.dep (and a real supermin)."""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyguestfs.builder.cpio import CpioFile, write_cpio
from pyguestfs.builder.errors import BuildError
from pyguestfs.builder.kernel import KernelInfo
from pyguestfs.builder.modules import (
    Module,
    module_bytes,
    read_modules_dep,
    resolve_modules,
    uncompressed_name,
)


@pytest.fixture(scope="module")
def host_modules(host_kernel: KernelInfo) -> list[Module]:
    return resolve_modules(host_kernel.modules_dir)


def test_dependencies_come_first(host_kernel: KernelInfo, host_modules: list[Module]) -> None:
    deps = read_modules_dep(host_kernel.modules_dir)
    rel = [os.path.relpath(m.path, host_kernel.modules_dir) for m in host_modules]
    position = {m: i for i, m in enumerate(rel)}
    assert len(position) == len(rel), "a module is listed twice"
    for m in rel:
        for d in deps[m]:
            assert position[d] < position[m], f"{m} is loaded before its dependency {d}"
    # Everything needed is there; virtio-gpu (and the DRM stack behind it) is not.
    names = {m.basename for m in host_modules}
    with open(os.path.join(host_kernel.modules_dir, "modules.builtin")) as f:
        builtin = {os.path.basename(line.strip()) for line in f}
    for wanted in ("virtio_pci.ko", "virtio_blk.ko", "virtio_scsi.ko", "virtio_console.ko"):
        assert wanted in names or wanted in builtin, f"{wanted} neither chosen nor built in"
    assert "ext4.ko" in names or "ext4.ko" in builtin
    assert "virtio-gpu.ko" not in names and "drm.ko" not in names
    assert all(os.path.isfile(m.path) for m in host_modules)


def test_same_order_as_supermin(
    host_kernel: KernelInfo, host_modules: list[Module], tmp_path: Path
) -> None:
    """Build a real supermin appliance from the same modules.dep and compare /modules.

    The modules directory handed to supermin holds modules.dep and a symlink to the
    real tree, so supermin copies one link into its root image instead of the whole
    /lib/modules (which took 15 s here); its initrd reads the real files through it.
    """
    if shutil.which("supermin") is None:
        pytest.skip("supermin is not installed (apt-get install supermin)")
    mods = tmp_path / "modules"
    mods.mkdir()
    shutil.copy(os.path.join(host_kernel.modules_dir, "modules.dep"), mods)
    for entry in os.listdir(host_kernel.modules_dir):
        if os.path.isdir(os.path.join(host_kernel.modules_dir, entry)):
            (mods / entry).symlink_to(os.path.join(host_kernel.modules_dir, entry))
    sm = tmp_path / "supermin.d"
    sm.mkdir()
    (sm / "packages").write_text("")
    with tarfile.open(sm / "base.tar.gz", "w:gz") as tar:  # supermin needs /usr/lib to exist
        for d in ("usr", "usr/lib", "lib", "bin", "etc"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    env = dict(os.environ, SUPERMIN_KERNEL=host_kernel.path, SUPERMIN_MODULES=str(mods), LC_ALL="C")
    out = tmp_path / "appliance"
    proc = subprocess.run(
        ["supermin", "--build", "-f", "ext2", "--size", "64M", str(sm), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(
        ["cpio", "-i", "--quiet", "--to-stdout", "modules"],
        stdin=(out / "initrd").open("rb"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [m.basename for m in host_modules] == listing.split()


def test_initrd_of_modules(host_modules: list[Module], tmp_path: Path) -> None:
    """The modules and the list the mini init reads, as a cpio the real tool lists."""
    listing = "".join(f"{m.basename}\n" for m in host_modules).encode()
    entries = [CpioFile(m.basename, module_bytes(m.path)) for m in host_modules]
    initrd = tmp_path / "initrd"
    size = write_cpio(initrd, [*entries, CpioFile("modules", listing)])
    names = subprocess.run(
        ["cpio", "-t", "--quiet"], stdin=initrd.open("rb"), capture_output=True, text=True
    ).stdout.split()
    assert names == [m.basename for m in host_modules] + ["modules"]
    # No compression in the initrd: its size is the modules' plus headers and padding.
    raw = sum(len(e.data or b"") for e in entries)
    assert raw < size < raw + 1024 * (len(entries) + 2)


def fake_modules(tmp_path: Path, dep: str, files: list[str]) -> str:
    root = tmp_path / "lib-modules"
    root.mkdir()
    (root / "modules.dep").write_text(dep)
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(b"\x7fELF" + f.encode())
    return str(root)


def test_depth_first_order_on_a_small_tree(tmp_path: Path) -> None:
    dep = (
        "k/fs/ext4.ko: k/fs/jbd2.ko k/lib/crc16.ko\n"
        "k/fs/jbd2.ko: k/lib/crc16.ko\n"
        "k/lib/crc16.ko:\n"
        "k/virtio/virtio-rng.ko: k/virtio/virtio.ko\n"
        "k/virtio/virtio.ko:\n"
        "k/gpu/virtio-gpu.ko: k/gpu/drm.ko k/virtio/virtio.ko\n"
        "k/gpu/drm.ko:\n"
        "k/net/unrelated.ko:\n"
    )
    files = [line.split(":")[0] for line in dep.splitlines()]
    root = fake_modules(tmp_path, dep, files)
    got = [m.basename for m in resolve_modules(root, ["ext4.ko*", "virtio*.ko*"])]
    # Sorted paths at each level: k/fs/ext4 first, its deps before it; then k/virtio.
    assert got == ["crc16.ko", "jbd2.ko", "ext4.ko", "virtio.ko", "virtio-rng.ko"]
    # "-" and "_" are the same in module names, in patterns and in exclusions.
    got = [m.basename for m in resolve_modules(root, ["virtio_rng.ko"], exclude=[])]
    assert got == ["virtio.ko", "virtio-rng.ko"]
    got = [m.basename for m in resolve_modules(root, ["virtio*"], exclude=["virtio_gpu.ko"])]
    assert "virtio-gpu.ko" not in got and "drm.ko" not in got


def test_cycle_and_compressed_names(tmp_path: Path) -> None:
    dep = "a/x.ko.xz: a/y.ko.zst\na/y.ko.zst: a/x.ko.xz\n"
    root = fake_modules(tmp_path, dep, ["a/x.ko.xz", "a/y.ko.zst"])
    got = resolve_modules(root, ["x.ko*"])  # a damaged modules.dep must not hang us
    assert [m.basename for m in got] == ["y.ko", "x.ko"]
    assert got[0].path == os.path.join(root, "a/y.ko.zst")
    assert uncompressed_name("ext4.ko.gz") == "ext4.ko" and uncompressed_name("a.ko") == "a.ko"


def test_resolution_errors(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"cannot read .*modules\.dep") as e:
        resolve_modules(str(tmp_path))
    assert e.value.hint == f"run: depmod {tmp_path.name}"
    root = fake_modules(
        tmp_path, "k/a/m.ko: k/b/m.ko\nk/b/m.ko:\nk/c/gone.ko:\n", ["k/a/m.ko", "k/b/m.ko"]
    )
    with pytest.raises(BuildError, match=r"two modules are both called m\.ko"):
        resolve_modules(root, ["m.ko"])
    with pytest.raises(BuildError, match=r"lists k/c/gone\.ko, which does not exist"):
        resolve_modules(root, ["gone.ko"])


def test_module_bytes_decompresses(host_modules: list[Module], tmp_path: Path) -> None:
    """Debian ships plain .ko; the other layouts are made here from a real module."""
    plain = next(m for m in host_modules if m.basename == "virtio_blk.ko")
    assert plain.path.endswith(".ko")  # on Debian 6.1, uncompressed
    original = module_bytes(plain.path)
    assert original.startswith(b"\x7fELF")
    (tmp_path / "m.ko.xz").write_bytes(lzma.compress(original, check=lzma.CHECK_CRC32))
    (tmp_path / "m.ko.gz").write_bytes(gzip.compress(original))
    assert module_bytes(str(tmp_path / "m.ko.xz")) == original
    assert module_bytes(str(tmp_path / "m.ko.gz")) == original
    (tmp_path / "bad.ko.xz").write_bytes(b"\xfd7zXZ\x00 truncated")
    with pytest.raises(BuildError, match=r"cannot decompress module .*bad\.ko\.xz"):
        module_bytes(str(tmp_path / "bad.ko.xz"))
    (tmp_path / "text.ko").write_bytes(b"not elf")
    with pytest.raises(BuildError, match="is not an ELF object"):
        module_bytes(str(tmp_path / "text.ko"))


def test_module_bytes_zstd(host_modules: list[Module], tmp_path: Path) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("zstd is not installed (apt-get install zstd)")
    original = module_bytes(next(m.path for m in host_modules if m.basename == "ext4.ko"))
    zst = tmp_path / "ext4.ko.zst"
    subprocess.run(["zstd", "-q", "-o", str(zst)], input=original, check=True)
    assert module_bytes(str(zst)) == original
