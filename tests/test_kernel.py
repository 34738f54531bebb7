"""Kernel choice and vmlinux extraction, against the host's real kernel where there is one.

Selection tests build small fake /boot and /lib/modules trees, because the rules are
about which of several kernels wins and the host has one. Extraction tests use the real
Debian bzImage (xz) and, for the formats Debian does not use, a small ELF wrapped in a
bzImage-shaped file by the real compressors.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pyguestfs.builder.errors import BuildError
from pyguestfs.builder.kernel import (
    KernelInfo,
    extract_vmlinux,
    find_kernel,
    has_pvh_note,
    pvh_entry,
    read_kernel_version,
    version_key,
)

# --------------------------------------------------------------------------------------
# Helpers: fake kernels and ELF files


def fake_bzimage(payload: bytes = b"", version: str = "6.1.0-test", setup_sects: int = 4) -> bytes:
    """An x86 boot-protocol-2.15 image: setup sectors with a HdrS header, a stub, payload.

    ``payload_offset``/``payload_length`` point at ``payload`` as a real bzImage's do.
    """
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x20F)
    # kernel_version points at the version text, minus 0x200 (Documentation/arch/x86/boot.rst)
    struct.pack_into("<H", setup, 0x20E, 0x400 - 0x200)
    text = version.encode() + b" (test@example) #1 SMP\0"
    setup[0x400 : 0x400 + len(text)] = text
    stub = b"\x90" * 300  # stands in for the decompressor code that precedes the payload
    struct.pack_into("<II", setup, 0x248, len(stub), len(payload))
    return bytes(setup) + stub + payload + b"\0" * 64


def elf_note(name: bytes, n_type: int, desc: bytes) -> bytes:
    name += b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), n_type) + pad(name) + pad(desc)


def tiny_elf(entry: int | None = 0x1000850, is64: bool = True, body: bytes = b"") -> bytes:
    """A little-endian ELF whose only program header is a PT_NOTE segment, like the
    notes of vmlinux: a Xen "linux" guest-os note, optionally the PVH entry note, a GNU
    build id. ``body`` follows so the file has some size.
    """
    notes = elf_note(b"Xen", 6, b"linux\0")
    if entry is not None:
        notes += elf_note(b"Xen", 18, struct.pack("<Q" if is64 else "<I", entry))
    notes += elf_note(b"GNU", 3, bytes(range(20)))
    if is64:
        ehsize, phentsize = 64, 56
        ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
        notes_at = ehsize + phentsize
        ehdr = ident + struct.pack(
            "<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, ehsize, 0, 0, ehsize, phentsize, 1, 64, 0, 0
        )
        phdr = struct.pack("<IIQQQQQQ", 4, 4, notes_at, 0, 0, len(notes), len(notes), 4)
    else:
        ehsize, phentsize = 52, 32
        ident = b"\x7fELF\x01\x01\x01" + b"\0" * 9
        notes_at = ehsize + phentsize
        ehdr = ident + struct.pack(
            "<HHIIIIIHHHHHH", 2, 3, 1, 0x1000000, ehsize, 0, 0, ehsize, phentsize, 1, 40, 0, 0
        )
        phdr = struct.pack("<IIIIIIII", 4, notes_at, 0, 0, len(notes), len(notes), 4, 4)
    return ehdr + phdr + notes + body


def compress(fmt: str, data: bytes) -> bytes:
    """Compress as the kernel's build does (xz with the x86 BCJ filter and CRC32, lz4
    legacy frames); zstd and lz4 with the real tools, as Python 3.11 lacks them."""
    if fmt == "xz":
        filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
        return lzma.compress(data, check=lzma.CHECK_CRC32, filters=filters)
    if fmt == "gzip":
        return gzip.compress(data, mtime=0)
    argv = {"zstd": ["zstd", "-q", "-c"], "lz4": ["lz4", "-l", "-q", "-c9"]}[fmt]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed (apt-get install {argv[0]})")
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def with_size(fmt: str, compressed: bytes, size: int) -> bytes:
    """The payload as the kernel stores it: size_append adds the length, except gzip,
    whose own trailer already ends with it."""
    return compressed if fmt == "gzip" else compressed + struct.pack("<I", size)


def make_tree(tmp_path: Path, boot: dict[str, bytes], modules: list[str]) -> tuple[str, str]:
    """A fake /boot holding ``boot`` and a fake /lib/modules with a modules.dep for
    each version in ``modules``."""
    boot_dir = tmp_path / "boot"
    boot_dir.mkdir()
    for name, content in boot.items():
        (boot_dir / name).write_bytes(content)
    mod_root = tmp_path / "modules"
    mod_root.mkdir()
    for ver in modules:
        (mod_root / ver).mkdir()
        (mod_root / ver / "modules.dep").write_text("kernel/fs/ext4/ext4.ko:\n")
    return str(boot_dir), str(mod_root)


# --------------------------------------------------------------------------------------
# The real host kernel


@pytest.fixture(scope="module")
def host_vmlinux(host_kernel: KernelInfo) -> bytes:
    with open(host_kernel.path, "rb") as f:
        elf = extract_vmlinux(f.read())
    assert elf is not None, f"no vmlinux found inside {host_kernel.path}"
    return elf


def test_host_kernel_and_identity(host_kernel: KernelInfo) -> None:
    assert host_kernel.version == read_kernel_version(host_kernel.path)
    assert os.path.isfile(os.path.join(host_kernel.modules_dir, "modules.dep"))
    assert os.path.basename(host_kernel.modules_dir) == host_kernel.version
    st = os.stat(host_kernel.path)
    assert host_kernel.identity == {
        "path": host_kernel.path,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "version": host_kernel.version,
        "modules_dir": host_kernel.modules_dir,
    }


def test_real_vmlinux_is_pvh_bootable(host_kernel: KernelInfo, host_vmlinux: bytes) -> None:
    assert host_vmlinux.startswith(b"\x7fELF\x02\x01")  # ELF64, little-endian
    assert has_pvh_note(host_vmlinux)
    # The kernel's size_append trailer after the payload states the expected length.
    with open(host_kernel.path, "rb") as f:
        image = f.read()
    setup_sects = image[0x1F1] or 4
    off, length = struct.unpack_from("<II", image, 0x248)
    end = (setup_sects + 1) * 512 + off + length
    assert struct.unpack_from("<I", image, end - 4)[0] == len(host_vmlinux)


def test_real_pvh_entry_agrees_with_readelf(host_vmlinux: bytes, tmp_path: Path) -> None:
    if shutil.which("readelf") is None:
        pytest.skip("readelf is not installed (apt-get install binutils)")
    path = tmp_path / "vmlinux"
    path.write_bytes(host_vmlinux)
    out = subprocess.run(
        ["readelf", "--notes", "--wide", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # readelf does not name Xen note 18: "Unknown note type: (0x00000012)   description
    # data: 50 08 00 01 00 00 00 00" (one line with --wide).
    line = next(x for x in out if "Xen" in x and "(0x00000012)" in x)
    desc = bytes.fromhex(line.split("description data:", 1)[1])
    assert pvh_entry(host_vmlinux) == int.from_bytes(desc, "little")


# --------------------------------------------------------------------------------------
# Extraction of each payload format


@pytest.mark.parametrize("fmt", ["xz", "gzip", "zstd", "lz4"])
def test_extract_by_header(fmt: str) -> None:
    elf = tiny_elf(body=os.urandom(2000) + bytes(30000))
    image = fake_bzimage(with_size(fmt, compress(fmt, elf), len(elf)))
    assert extract_vmlinux(image) == elf


@pytest.mark.parametrize("fmt", ["xz", "gzip", "zstd", "lz4"])
def test_extract_by_magic_scan(fmt: str) -> None:
    """No boot header; a decoy of every magic before the payload; the tools see
    trailing bytes after the stream (and exit non-zero for them) but the ELF is whole."""
    elf = tiny_elf(body=bytes(range(256)) * 100)
    decoys = b"".join(
        m + b"not a stream"
        for m in (b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"\x1f\x8b\x08", b"\x02\x21\x4c\x18")
    )
    image = b"MZ" + bytes(1000) + decoys + with_size(fmt, compress(fmt, elf), len(elf)) + bytes(500)
    assert extract_vmlinux(image) == elf


def test_extract_refuses_truncated_and_non_elf() -> None:
    elf = tiny_elf(body=os.urandom(50000))
    whole = compress("xz", elf)
    assert extract_vmlinux(b"junk" + whole[: len(whole) // 2]) is None
    assert (
        extract_vmlinux(fake_bzimage(with_size("xz", compress("xz", b"not an ELF" * 100), 1000)))
        is None
    )
    assert extract_vmlinux(b"\0" * 4096) is None


def test_extract_refuses_wrong_size_trailer() -> None:
    """The header route checks size_append: a mismatch means this is not the payload."""
    elf = tiny_elf()
    assert (
        extract_vmlinux(fake_bzimage(compress("xz", elf) + struct.pack("<I", len(elf) + 1))) is None
    )


def test_extract_names_missing_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elf = tiny_elf()
    image = fake_bzimage(with_size("zstd", compress("zstd", elf), len(elf)))
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no zstd to be found
    with pytest.raises(BuildError) as e:
        extract_vmlinux(image)
    assert "zstd: command not found" in e.value.message
    assert e.value.hint == "apt-get install zstd"


def test_pvh_note_parsing() -> None:
    assert pvh_entry(tiny_elf(0x1000850)) == 0x1000850
    assert pvh_entry(tiny_elf(0x200000, is64=False)) == 0x200000
    assert not has_pvh_note(tiny_elf(entry=None))
    assert not has_pvh_note(b"\x7fELF")
    assert not has_pvh_note(b"MZ" + bytes(100))


# --------------------------------------------------------------------------------------
# Which kernel is chosen


def test_version_order_is_supermins() -> None:
    # OCaml's compare puts letter runs before numbers before other characters.
    versions = ["6.1.0-9-amd64", "6.10.0-1-amd64", "6.1.0-56-amd64", "6.1.0-56-rt-amd64", "5.19"]
    assert sorted(versions, key=version_key, reverse=True) == [
        "6.10.0-1-amd64",
        "6.1.0-56-rt-amd64",
        "6.1.0-56-amd64",
        "6.1.0-9-amd64",
        "5.19",
    ]
    assert version_key("6.1a") < version_key("6.11")  # `String "a" < `Number 1


def test_newest_boot_kernel_with_modules_wins(tmp_path: Path) -> None:
    boot, mods = make_tree(
        tmp_path,
        {
            "vmlinuz-6.1.0-9-amd64": b"x",
            "vmlinuz-6.10.0-1-amd64": b"x",
            "vmlinuz-6.11.0-1-amd64": b"x",  # newest, but no modules: skipped
            "vmlinuz-7.0.0-1-xen-amd64": b"x",  # Xen kernels are never picked
            "config-6.10.0-1-amd64": b"x",
        },
        ["6.1.0-9-amd64", "6.10.0-1-amd64", "7.0.0-1-xen-amd64"],
    )
    info = find_kernel(env={}, boot_dir=boot, modules_root=mods, host_cpu="x86_64")
    assert info.path == os.path.join(boot, "vmlinuz-6.10.0-1-amd64")
    assert (info.version, info.modules_dir, info.source) == (
        "6.10.0-1-amd64",
        os.path.join(mods, "6.10.0-1-amd64"),
        boot,
    )
    # A version without a kernel narrows the automatic choice.
    older = find_kernel(
        env={}, version="6.1.0-9-amd64", boot_dir=boot, modules_root=mods, host_cpu="x86_64"
    )
    assert older.path.endswith("vmlinuz-6.1.0-9-amd64")


def test_version_read_from_kernel_header(tmp_path: Path) -> None:
    """The header's version beats the file name, as in supermin."""
    boot, mods = make_tree(
        tmp_path, {"vmlinuz-custom-amd64": fake_bzimage(version="6.5.0-real")}, ["6.5.0-real"]
    )
    assert read_kernel_version(os.path.join(boot, "vmlinuz-custom-amd64")) == "6.5.0-real"
    info = find_kernel(env={}, boot_dir=boot, modules_root=mods, host_cpu="x86_64")
    assert info.version == "6.5.0-real"


def test_lib_modules_layout_beats_boot(tmp_path: Path) -> None:
    boot, mods = make_tree(tmp_path, {"vmlinuz-9.0.0-amd64": b"x"}, ["9.0.0-amd64", "6.8.0"])
    (Path(mods) / "6.8.0" / "vmlinuz").write_bytes(b"k" * 20000)
    info = find_kernel(env={}, boot_dir=boot, modules_root=mods, host_cpu="x86_64")
    assert info.path == os.path.join(mods, "6.8.0", "vmlinuz")
    assert info.version == "6.8.0"


def test_environment_and_argument_overrides(tmp_path: Path) -> None:
    boot, mods = make_tree(tmp_path, {"vmlinuz-6.1.0-9-amd64": b"x"}, ["6.1.0-9-amd64"])
    custom = tmp_path / "my-kernel"
    custom.write_bytes(b"not a bzImage")
    custom_mods = tmp_path / "my-modules"
    custom_mods.mkdir()
    (custom_mods / "modules.dep").write_text("")
    env = {
        "SUPERMIN_KERNEL": str(custom),
        "SUPERMIN_KERNEL_VERSION": "6.9.9-custom",
        "SUPERMIN_MODULES": str(custom_mods),
    }
    info = find_kernel(env=env, boot_dir=boot, modules_root=mods)
    assert (info.path, info.version, info.modules_dir, info.source) == (
        str(custom),
        "6.9.9-custom",
        str(custom_mods),
        "SUPERMIN_KERNEL",
    )
    # Arguments beat the environment; SUPERMIN_KERNEL_VERSION belongs to SUPERMIN_KERNEL,
    # so with an explicit kernel the version comes from that kernel's name.
    info = find_kernel(
        os.path.join(boot, "vmlinuz-6.1.0-9-amd64"), env=env, boot_dir=boot, modules_root=mods
    )
    assert (info.version, info.modules_dir, info.source) == (
        "6.1.0-9-amd64",
        str(custom_mods),
        "argument",
    )
    # supermin ignores SUPERMIN_KERNEL_VERSION without SUPERMIN_KERNEL.
    info = find_kernel(
        env={"SUPERMIN_KERNEL_VERSION": "1.2.3"},
        boot_dir=boot,
        modules_root=mods,
        host_cpu="x86_64",
    )
    assert info.version == "6.1.0-9-amd64"


# --------------------------------------------------------------------------------------
# Errors a user can act on


def test_no_kernel_says_where_it_looked(tmp_path: Path) -> None:
    boot, mods = make_tree(tmp_path, {"vmlinuz-6.2.0-1-amd64": b"x"}, [])
    with pytest.raises(BuildError) as e:
        find_kernel(env={}, boot_dir=boot, modules_root=mods, host_cpu="x86_64")
    msg = e.value.message
    assert f"{mods}/*/vmlinuz" in msg and f"{boot}/vmlinu?-*" in msg
    # The kernel that was found but lacks modules is named, with what it lacks.
    assert f"{boot}/vmlinuz-6.2.0-1-amd64: no {mods}/6.2.0-1-amd64/modules.dep" in msg
    assert e.value.hint is not None and "apt-get install linux-image-amd64" in e.value.hint


def test_missing_modules_directory(tmp_path: Path) -> None:
    boot, mods = make_tree(tmp_path, {"vmlinuz-6.2.0-1-amd64": b"x"}, [])
    kernel = os.path.join(boot, "vmlinuz-6.2.0-1-amd64")
    with pytest.raises(BuildError) as e:
        find_kernel(kernel, version="6.2.0-1-amd64", env={}, modules_root=mods)
    assert e.value.message == (
        f"modules directory {mods}/6.2.0-1-amd64 for kernel {kernel} (version "
        "6.2.0-1-amd64) does not exist"
    )
    assert e.value.hint is not None and "SUPERMIN_MODULES" in e.value.hint
    with pytest.raises(BuildError, match=r"from SUPERMIN_MODULES.*does not exist"):
        find_kernel(kernel, version="6.2.0-1-amd64", env={"SUPERMIN_MODULES": "/nonexistent"})


def test_explicit_kernel_problems(tmp_path: Path) -> None:
    with pytest.raises(
        BuildError, match=r"kernel /nonexistent/vmlinuz \(from SUPERMIN_KERNEL\) does not exist"
    ):
        find_kernel(env={"SUPERMIN_KERNEL": "/nonexistent/vmlinuz"})
    odd = tmp_path / "kernel.img"
    odd.write_bytes(b"x" * 100)
    with pytest.raises(BuildError, match="cannot tell the version") as e:
        find_kernel(str(odd), env={}, modules_root=str(tmp_path))
    assert e.value.hint is not None and "SUPERMIN_KERNEL_VERSION" in e.value.hint
    # A directory is unreadable as a kernel for everyone, root included.
    with pytest.raises(BuildError, match="cannot be read: Is a directory"):
        find_kernel(str(tmp_path), version="1", env={})


def _find_kernel_as_nobody(tree: Path) -> tuple[str, str]:
    """find_kernel's (message, hint) for the tree in ``tree`` (a ``boot`` and a ``modules``
    folder), as user nobody (uid 65534).

    The child is forked from this process, with pyguestfs already imported, then drops its
    privileges: nothing of the checkout (the virtualenv's python, the sources) has to be
    reachable by nobody, and neither has ``tree``'s parent: the child enters ``tree`` as
    root and looks it up by relative paths, which start from there. The answer comes back
    through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.chdir(tree)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                find_kernel(env={}, boot_dir="boot", modules_root="modules", host_cpu="x86_64")
                answer = None
            except BuildError as e:
                answer = [e.message, e.hint]
            with os.fdopen(write_end, "w") as f:
                json.dump(answer, f)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        answer = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"the child failed: {answer!r}"
    result = json.loads(answer)
    assert result is not None, "the kernel was readable as nobody"
    message, hint = result
    return message, hint


def test_unreadable_kernel_is_explained(tmp_path: Path) -> None:
    """Ubuntu's /boot/vmlinuz-* is 0600 root:root; a build as a normal user must say so.

    Root reads any file whatever its mode, so as root the check runs in a child process
    switched to user nobody (uid 65534) looking at a root-owned 0600 kernel: a real
    EACCES from the real kernel, the exact Ubuntu situation. Run as a normal user, the
    test makes its own kernel mode 0000 and calls find_kernel directly.
    """
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(
        tree,
        {"vmlinuz-6.8.0-31-generic": fake_bzimage(version="6.8.0-31-generic")},
        ["6.8.0-31-generic"],
    )
    if os.geteuid() == 0:
        # nobody may enter the tree and list it (whatever the umask), not read the kernel
        for d in (tree, tree / "boot", tree / "modules", tree / "modules" / "6.8.0-31-generic"):
            d.chmod(0o755)
        (tree / "modules" / "6.8.0-31-generic" / "modules.dep").chmod(0o644)
        boot = "boot"  # as the child names it: relative to the tree
        kernel = os.path.join(boot, "vmlinuz-6.8.0-31-generic")
        os.chmod(tree / kernel, 0o600)
        message, hint = _find_kernel_as_nobody(tree)
        uid, mode = 65534, "0600"
        owner = os.stat(tree / kernel).st_uid
    else:
        boot = str(tree / "boot")
        kernel = os.path.join(boot, "vmlinuz-6.8.0-31-generic")
        os.chmod(kernel, 0)
        with pytest.raises(BuildError) as e:
            find_kernel(
                env={}, boot_dir=boot, modules_root=str(tree / "modules"), host_cpu="x86_64"
            )
        message, hint = e.value.message, e.value.hint
        uid, mode = os.geteuid(), "0000"
        owner = os.stat(kernel).st_uid
    assert message == (
        f"kernel {kernel} (from {boot}) is not readable by uid {uid} "
        f"(mode {mode}, owner uid {owner}): Permission denied"
    )
    assert hint.startswith(f"sudo chmod 0644 {kernel}, or copy it somewhere readable")
    assert "SUPERMIN_KERNEL" in hint
