"""Guest disk images for inspection tests: a real Debian 12 installed on a partitioned disk.

The Debian tree comes from ``debootstrap --foreign --variant=minbase bookworm`` (root and
a mirror needed; it takes minutes), made once and kept as a tarball in the test cache directory
(``$PYGUESTFS_TEST_CACHEDIR/guest-images/``), keyed by suite and month so it is refreshed
now and then. Where debootstrap cannot run (not root, no mirror), a Debian-like tree is
made from the host's own files instead (the host is Debian: its os-release,
debian_version and binaries); :attr:`DebianTree.source` says which one a test got.

The disk is assembled on the host without loop devices or root: an MBR partition table
written here, and each ext4 filesystem written into its partition with
``mke2fs -d TREE -E offset=...``. The guest's /etc/fstab names its filesystems the ways
real guests do (UUID=, LABEL=, a /dev/vdX name), and its hostname is set.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "bookworm"
MIB = 1 << 20
SECTOR = 512


@dataclass(frozen=True)
class DebianTree:
    """A cached Debian root tree, as a tarball."""

    tarball: Path
    #: "debootstrap" or "host-files" (the fallback).
    source: str


@dataclass
class Partition:
    """One partition to create: its size, filesystem label and UUID, and contents."""

    size_mib: int
    label: str
    tree: Path | None = None
    fs_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class GuestImage:
    """A built disk image and what a test should expect of it."""

    path: Path
    source: str
    hostname: str
    root_uuid: str
    boot_label: str
    #: /etc/debian_version and /etc/os-release of the installed tree.
    debian_version: str
    os_release: dict[str, str]


# -- the Debian tree ----------------------------------------------------------------------


def apt_mirror() -> str | None:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources), or None
    when apt names none for this suite (the host-files tree is used then)."""
    override = os.environ.get("PYGUESTFS_TEST_DEBIAN_MIRROR")
    if override:
        return override
    candidates = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        text = path.read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(rf"^Suites:.*\b{SUITE}\b", stanza, re.M) and not re.search(
                r"^Enabled:\s*no", stanza, re.M
            ):
                m = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if m:
                    candidates.append(m.group(1))
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.exists():
        for line in sources_list.read_text(errors="replace").splitlines():
            m = re.match(rf"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", line + " ")
            if m:
                candidates.append(m.group(1))
    main = [u for u in candidates if "security" not in u]
    return main[0] if main else None


def _apt_proxy_env() -> dict[str, str]:
    """apt's configured HTTP proxy, for debootstrap's wget."""
    env = dict(os.environ)
    try:
        out = subprocess.run(
            ["apt-config", "shell", "PROXY", "Acquire::http::Proxy"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        return env
    m = re.search(r"PROXY='([^']+)'", out)
    if m:
        env.setdefault("http_proxy", m.group(1))
    return env


def _debootstrap(target: Path, log: Path, debs: Path) -> bool:
    """debootstrap's first stage: every package of the minimal system downloaded
    (into ``debs``, kept for the next build), verified and unpacked into ``target``.

    The second stage (running each package's maintainer scripts under dpkg inside the
    chroot) is left out: it changes nothing inspection reads (release files, binaries,
    the directory layout) and on a loaded test machine it takes longer than everything
    else put together."""
    mirror = apt_mirror()
    if os.geteuid() != 0 or shutil.which("debootstrap") is None or mirror is None:
        return False
    debs.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap",
        "--foreign",
        "--variant=minbase",
        f"--cache-dir={debs}",
        SUITE,
        str(target),
        mirror,
    ]
    with open(log, "wb") as out:
        proc = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, env=_apt_proxy_env(), check=False
        )
    return proc.returncode == 0


def _host_files_tree(target: Path) -> None:
    """A small Debian-like root from the host's files (the fallback): the release files,
    a few binaries with their libraries, and the usual directories."""
    for d in ("etc", "usr/bin", "usr/lib", "usr/sbin", "var/lib/dpkg", "root", "tmp", "boot"):
        (target / d).mkdir(parents=True, exist_ok=True)
    for link, dest in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")):
        os.symlink(dest, target / link)
    for name in ("os-release", "debian_version", "hosts"):
        src = Path("/etc") / name
        if src.exists():
            shutil.copyfile(src.resolve(), target / "etc" / name)
    for binary in ("ls", "bash", "sh", "rm", "echo"):
        src = Path("/usr/bin") / binary
        if src.exists():
            shutil.copy2(src.resolve(), target / "usr/bin" / binary)
    shutil.copyfile("/var/lib/dpkg/status", target / "var/lib/dpkg/status")


def debian_tree(cachedir: str | os.PathLike[str]) -> DebianTree:
    """The cached Debian tree, made first if needed (under a lock: one builder at a time)."""
    base = Path(cachedir) / "guest-images"
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().strftime("%Y%m")
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for source in ("debootstrap", "host-files"):
            tarball = base / f"debian-{SUITE}-minbase-{stamp}.{source}.tar"
            if tarball.exists():
                return DebianTree(tarball, source)
        with tempfile.TemporaryDirectory(dir=base) as tmp:
            tree = Path(tmp) / "tree"
            if _debootstrap(tree, base / f"debootstrap-{stamp}.log", base / "debs"):
                source = "debootstrap"
            else:
                shutil.rmtree(tree, ignore_errors=True)
                tree.mkdir()
                _host_files_tree(tree)
                source = "host-files"
            tarball = base / f"debian-{SUITE}-minbase-{stamp}.{source}.tar"
            partial = tarball.with_suffix(".tar.part")
            # GNU tar keeps owners, modes, links and device nodes exactly.
            subprocess.run(["tar", "-C", str(tree), "-cf", str(partial), "."], check=True)
            os.replace(partial, tarball)
        return DebianTree(tarball, source)


# -- the disk -----------------------------------------------------------------------------


def _mbr(partitions: list[tuple[int, int]]) -> bytes:
    """A DOS partition table of Linux partitions given as (first sector, sectors)."""
    entries = b""
    for start, count in partitions:
        # Boot flag, CHS start (unused: LBA only), type 0x83, CHS end, LBA start, count.
        entries += struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", start, count)
    entries = entries.ljust(64, b"\0")
    disk_id = struct.pack("<I", uuid.uuid4().int & 0xFFFFFFFF)
    return b"\0" * 440 + disk_id + b"\0\0" + entries + b"\x55\xaa"


def make_disk(path: Path, partitions: list[Partition]) -> None:
    """Write a partitioned disk image: partition i starts after i MiB-aligned gaps."""
    layout = []
    offset = MIB
    for part in partitions:
        layout.append((offset, part))
        offset += part.size_mib * MIB
    with open(path, "wb") as f:
        f.truncate(offset + MIB)
        f.write(_mbr([(o // SECTOR, p.size_mib * MIB // SECTOR) for o, p in layout]))
    for off, part in layout:
        argv = ["mke2fs", "-q", "-F", "-t", "ext4", "-U", part.fs_uuid, "-L", part.label]
        if part.tree is not None:
            argv += ["-d", str(part.tree)]
        argv += ["-E", f"offset={off}", str(path), f"{part.size_mib}M"]
        subprocess.run(argv, check=True, capture_output=True)


def _read_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and not key.startswith("#"):
            out[key] = value.strip().strip('"')
    return out


def _build_debian_guest(source: DebianTree, workdir: Path, image: Path) -> dict[str, object]:
    """Lay out the trees of the three partitions and write the disk (see debian_guest)."""
    root_tree = workdir / "root"
    boot_tree = workdir / "boot"
    srv_tree = workdir / "srv"
    root_tree.mkdir()
    subprocess.run(["tar", "-C", str(root_tree), "-xf", str(source.tarball)], check=True)
    # /boot's contents go on their own partition; the root keeps the empty mountpoint.
    shutil.move(str(root_tree / "boot"), str(boot_tree))
    (root_tree / "boot").mkdir()
    (boot_tree / "grub").mkdir(exist_ok=True)
    (boot_tree / "grub" / "grub.cfg").write_text("# no bootloader is installed\n")
    srv_tree.mkdir()
    (srv_tree / "data.txt").write_text("not an operating system\n")

    hostname = "inspected-debian"
    root = Partition(700, "debroot", root_tree)
    boot = Partition(32, "BOOT", boot_tree)
    srv = Partition(16, "srvdata", srv_tree)
    (root_tree / "etc" / "hostname").write_text(f"# set by the test\n{hostname}\n")
    (root_tree / "etc" / "fstab").write_text(
        "# <file system> <mount point> <type> <options> <dump> <pass>\n"
        f"UUID={root.fs_uuid}  /  ext4  errors=remount-ro  0  1\n"
        "LABEL=BOOT  /boot  ext4  defaults  0  2\n"
        "/dev/vda3  //srv//  ext4  defaults  0  2\n"
        "proc  /proc  proc  defaults  0  0\n"
        "tmpfs  /tmp  tmpfs  defaults  0  0\n"
        "/dev/cdrom  /media/cdrom0  udf,iso9660  user,noauto  0  0\n"
        f"UUID={uuid.uuid4()}  /mnt/gone  ext4  nofail  0  2\n"
    )
    make_disk(image, [root, boot, srv])
    return {
        "source": source.source,
        "hostname": hostname,
        "root_uuid": root.fs_uuid,
        "boot_label": boot.label,
        "debian_version": (root_tree / "etc" / "debian_version").read_text().split("\n")[0],
        "os_release": _read_os_release((root_tree / "etc" / "os-release").read_text()),
    }


def debian_guest(cachedir: str | os.PathLike[str]) -> GuestImage:
    """A disk with Debian on sda1 (/), its /boot on sda2 and /srv on sda3, built once and
    cached beside the tree (tests add it read-only: their writes go to an overlay).

    fstab names / by UUID=, /boot by LABEL= and /srv as /dev/vda3, and adds entries that
    inspection must skip (proc, tmpfs, a CD-ROM, a UUID that no filesystem has)."""
    source = debian_tree(cachedir)
    base = source.tarball.parent
    stem = source.tarball.name.removesuffix(".tar")
    image = base / f"{stem}.disk.img"
    meta_path = base / f"{stem}.disk.json"
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (image.exists() and meta_path.exists()):
            with tempfile.TemporaryDirectory(dir=base) as tmp:
                partial = Path(tmp) / "disk.img"
                meta = _build_debian_guest(source, Path(tmp), partial)
                os.replace(partial, image)
                meta_path.write_text(json.dumps(meta))
    meta = json.loads(meta_path.read_text())
    return GuestImage(path=image, **meta)


# -- tiny guests for fleets ---------------------------------------------------------------


@dataclass(frozen=True)
class TinyGuest:
    """A small Debian-like guest and what its inspection should say."""

    path: Path
    hostname: str
    #: name -> version ("EPOCH:UPSTREAM-RELEASE" as dpkg writes it) of its installed packages.
    packages: dict[str, str]
    root_uuid: str
    os_release: dict[str, str]


def dpkg_status(packages: dict[str, str], arch: str = "amd64") -> str:
    """A dpkg status file listing ``packages`` as installed (and one removed package that
    inspection must not list)."""
    out = []
    for name, version in packages.items():
        out.append(
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Architecture: {arch}\nVersion: {version}\n"
            f"Description: {name} for the fleet tests\n a longer description\n"
        )
    out.append("Package: removed-one\nStatus: deinstall ok config-files\nVersion: 1.0-1\n")
    return "\n".join(out) + "\n"


def tiny_debian_guest(path: Path, hostname: str, packages: dict[str, str]) -> TinyGuest:
    """Write a one-partition Debian-like guest to ``path`` (about 17 MiB, sparse): the
    host's release files and a few of its binaries (so inspection finds the distro,
    version and architecture), the given hostname, an fstab naming the root by UUID, and
    a dpkg database listing ``packages``. Takes well under a second; no root needed."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        _host_files_tree(tree)
        root = Partition(16, "tinyroot", tree)
        (tree / "etc" / "hostname").write_text(f"{hostname}\n")
        (tree / "etc" / "fstab").write_text(f"UUID={root.fs_uuid}  /  ext4  defaults  0  1\n")
        (tree / "var" / "lib" / "dpkg" / "status").write_text(dpkg_status(packages))
        os_release = _read_os_release((tree / "etc" / "os-release").read_text())
        make_disk(path, [root])
    return TinyGuest(path, hostname, dict(packages), root.fs_uuid, os_release)


# -- Windows registry hives ------------------------------------------------------------------


def empty_hive(root_name: str = "ROOT") -> bytes:
    """A valid, empty Windows Registry hive (8 KiB): the regf header, one hbin page with
    the root key (nk), its security record (sk: a self-relative descriptor with a NULL
    DACL) and one free cell. libhivex opens it, and ``hivexregedit --merge`` fills it, as
    libguestfs's test data fills its ``minimal-hive``; written here so that the tests
    carry no binary file. Offsets in cells are relative to the first hbin (0x1000)."""
    name = root_name.encode("ascii")
    nk_len = (80 + len(name) + 7) // 8 * 8
    descriptor = struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0)
    sk_len = (24 + len(descriptor) + 7) // 8 * 8
    root_off, sk_off = 0x20, 0x20 + nk_len
    nk = bytearray(nk_len)
    # A used cell (negative size), "nk", flags: hive entry | no delete | ASCII name; no
    # parent, no subkeys, no values (0xffffffff: no list), the sk, no class name.
    struct.pack_into(
        "<i2sHqIIIIIIIIIIHHIIIIHH",
        nk,
        0,
        -nk_len,
        b"nk",
        0x2C,
        0,
        0,
        0,
        0,
        0,
        0xFFFFFFFF,
        0xFFFFFFFF,
        0,
        0xFFFFFFFF,
        sk_off,
        0xFFFFFFFF,
        0,
        0,
        0,
        0,
        0,
        0,
        len(name),
        0,
    )
    nk[80 : 80 + len(name)] = name
    sk = bytearray(sk_len)
    # The only sk: its own next and previous in the circular list, one reference.
    struct.pack_into("<i2sHIIII", sk, 0, -sk_len, b"sk", 0, sk_off, sk_off, 1, len(descriptor))
    sk[24 : 24 + len(descriptor)] = descriptor
    page = bytearray(0x1000)
    struct.pack_into("<4sII", page, 0, b"hbin", 0, 0x1000)
    cells = bytes(nk) + bytes(sk)
    page[0x20 : 0x20 + len(cells)] = cells
    struct.pack_into("<i", page, 0x20 + len(cells), 0x1000 - 0x20 - len(cells))  # free
    header = bytearray(0x1000)
    # Sequence numbers equal (a clean hive), version 1.3, primary file, root cell, size
    # of the hbin data, then the checksum: XOR of the first 127 little-endian words.
    struct.pack_into("<4sIIqIIIIIII", header, 0, b"regf", 1, 1, 0, 1, 3, 0, 1, root_off, 0x1000, 1)
    checksum = 0
    for (word,) in struct.iter_unpack("<I", bytes(header[:0x1FC])):
        checksum ^= word
    struct.pack_into("<I", header, 0x1FC, checksum)
    return bytes(header) + bytes(page)


def make_hive(path: Path, prefix: str, reg: str) -> None:
    """Write a hive at ``path``: :func:`empty_hive` with ``reg`` (a .reg file's text whose
    keys start with ``prefix``, such as ``HKEY_LOCAL_MACHINE\\SOFTWARE``) merged in by
    hivexregedit, as libguestfs's test data makes its Windows hives."""
    path.write_bytes(empty_hive())
    with tempfile.NamedTemporaryFile("w", suffix=".reg", encoding="utf-8") as f:
        f.write("Windows Registry Editor Version 5.00\n\n" + reg)
        f.flush()
        subprocess.run(
            ["hivexregedit", "--merge", "--prefix", prefix, str(path), f.name],
            check=True,
            capture_output=True,
        )


def pe32_executable() -> bytes:
    """The headers of a 32-bit x86 console program (file(1): "PE32 executable (console)
    Intel 80386"): what inspection reads of a Windows guest's cmd.exe."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, len(dos))  # e_lfanew: the PE header follows
    # "PE\0\0", COFF header: i386, no sections, optional header of 224 bytes, flags
    # executable | 32-bit machine.
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14C, 0, 0, 0, 0, 224, 0x0102)
    optional = bytearray(224)
    struct.pack_into("<H", optional, 0, 0x10B)  # PE32
    struct.pack_into("<H", optional, 68, 3)  # subsystem: Windows console
    return bytes(dos) + coff + bytes(optional)


# -- a phony Windows 7 guest -----------------------------------------------------------------

#: HKLM\SOFTWARE of the phony guest: what inspection reads (product, version, variant) and
#: two installed programs.
WINDOWS_SOFTWARE_REG = r"""[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"=str(1):"Windows 7 Professional (pyguestfs test guest)"
"CurrentVersion"=str(1):"6.1"
"CurrentBuild"=str(1):"7601"
"InstallationType"=str(1):"Client"
"SystemRoot"=str(1):"C:\\Windows"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\pyg-editor]
"DisplayName"=str(1):"A text editor made up for the tests"
"DisplayVersion"=str(1):"2.4.1"
"Publisher"=str(1):"pyguestfs"
"InstallLocation"=str(1):"C:\\Program Files\\Editor"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\pyg-tool]
"DisplayName"=str(1):"A command-line tool made up for the tests"
"DisplayVersion"=str(1):"0.9"
"""

#: The MBR disk signature of the phony guest (4 bytes at 0x1b8), which the registry's
#: MountedDevices entries name.
WINDOWS_DISK_ID = b"PyGf"
#: Partition starts in sectors: sda1 (a data volume) and sda2 (the system volume, C:).
WINDOWS_PARTITIONS = (64, 524288)

#: HKLM\SYSTEM: the current control set (2, so ControlSet002 is the live one), the
#: hostname there, and drive letters mapped to (disk signature, partition offset) blobs.
WINDOWS_SYSTEM_REG = (
    r"""[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000002
"Failed"=dword:00000000
"LastKnownGood"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\MountedDevices]
"\\DosDevices\\C:"=hex(3):"""
    + ",".join(f"{b:02x}" for b in WINDOWS_DISK_ID + struct.pack("<Q", 524288 * 512))
    + r"""
"\\DosDevices\\E:"=hex(3):"""
    + ",".join(f"{b:02x}" for b in WINDOWS_DISK_ID + struct.pack("<Q", 64 * 512))
    + r"""
"\\DosDevices\\F:"=hex(3):"""
    + ",".join(f"{b:02x}" for b in b"nope" + struct.pack("<Q", 64 * 512))
    + r"""
"\??\Volume{00000000-0000-0000-0000-000000000000}"=hex(3):00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip\Parameters]
"Hostname"=str(1):"stale-controlset"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\Tcpip]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\Tcpip\Parameters]
"Hostname"=str(1):"win7-phony"
"Domain"=str(1):"test.invalid"
"""
)


@dataclass(frozen=True)
class WindowsImage:
    """The phony Windows disk and what inspection must find on it."""

    path: Path
    product_name: str = "Windows 7 Professional (pyguestfs test guest)"
    hostname: str = "win7-phony"
    control_set: str = "ControlSet002"
    version: tuple[int, int] = (6, 1)


def _windows_fish(workdir: Path, image: Path) -> str:
    """The guestfish script of libguestfs's make-windows-img.sh, with our files."""
    sw, sys_, cmd = workdir / "software", workdir / "system", workdir / "cmd.exe"
    disk_id = WINDOWS_DISK_ID.decode("ascii")
    return f"""
sparse {image} 512M
run
part-init /dev/sda mbr
part-add /dev/sda p {WINDOWS_PARTITIONS[0]} {WINDOWS_PARTITIONS[1] - 1}
part-add /dev/sda p {WINDOWS_PARTITIONS[1]} -64
pwrite-device /dev/sda "{disk_id}" 0x01b8
mkfs ntfs /dev/sda1
mkfs ntfs /dev/sda2
mount /dev/sda2 /
mkdir-p /Windows/System32/Config
mkdir-p /Windows/System32/Drivers
upload {sw} /Windows/System32/Config/SOFTWARE
upload {sys_} /Windows/System32/Config/SYSTEM
upload {cmd} /Windows/System32/cmd.exe
mkdir "/Program Files"
touch /autoexec.bat
write /Windows/win.ini "[fonts]\\r\\n"
umount /
mount /dev/sda1 /
mkdir "/System Volume Information"
write /data.txt "a data volume\\r\\n"
"""


def windows_registry(hostname: str = WindowsImage.hostname) -> tuple[str, str]:
    """The .reg texts (SOFTWARE, SYSTEM) of a phony guest named ``hostname``; any other
    name than the default also gets a program of its own (``pyg-only-on-HOSTNAME``,
    version 1.LENGTH), so that guests of a fleet differ in their applications too."""
    software, system = WINDOWS_SOFTWARE_REG, WINDOWS_SYSTEM_REG
    if hostname != WindowsImage.hostname:
        system = system.replace(
            f'"Hostname"=str(1):"{WindowsImage.hostname}"', f'"Hostname"=str(1):"{hostname}"'
        )
        key = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
        software += (
            f"\n[{key}\\pyg-only-on-{hostname}]\n"
            f'"DisplayName"=str(1):"pyg-only-on-{hostname}"\n'
            f'"DisplayVersion"=str(1):"1.{len(hostname)}"\n'
        )
    return software, system


def windows_guest(
    cachedir: str | os.PathLike[str], hostname: str = WindowsImage.hostname
) -> WindowsImage:
    """A phony Windows 7 disk made as libguestfs 1.48's test data makes its own
    (``test-data/phony-guests/make-windows-img.sh``): an MBR disk with a signature, two
    NTFS partitions, the system on the second with SOFTWARE and SYSTEM hives (merged
    into empty hives by hivexregedit) and a PE32 cmd.exe. Built once with the real
    guestfish, cached in the test cache directory under a name that changes with its
    recipe. ``hostname`` names the guest (see :func:`windows_registry`)."""
    import hashlib

    software_reg, system_reg = windows_registry(hostname)
    base = Path(cachedir) / "guest-images"
    base.mkdir(parents=True, exist_ok=True)
    recipe = (
        "\n".join([software_reg, system_reg, _windows_fish(Path("W"), Path("I"))]).encode()
        + empty_hive()
        + pe32_executable()
    )
    image = base / f"windows7-phony-{hashlib.sha256(recipe).hexdigest()[:12]}.img"
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image.exists():
            with tempfile.TemporaryDirectory(dir=base) as tmp:
                work = Path(tmp)
                make_hive(work / "software", r"HKEY_LOCAL_MACHINE\SOFTWARE", software_reg)
                make_hive(work / "system", r"HKEY_LOCAL_MACHINE\SYSTEM", system_reg)
                (work / "cmd.exe").write_bytes(pe32_executable())
                partial = work / "windows.img"
                env = dict(
                    os.environ,
                    LIBGUESTFS_BACKEND="direct",
                    LIBGUESTFS_BACKEND_SETTINGS="force_tcg",
                    LANG="C",
                )
                env.pop("LIBGUESTFS_PATH", None)
                subprocess.run(
                    ["guestfish"],
                    input=_windows_fish(work, partial),
                    text=True,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                os.replace(partial, image)
    return WindowsImage(image, hostname=hostname)


def tiny_rpm_guest(path: Path, hostname: str) -> TinyGuest | None:
    """A one-partition Fedora-like guest: the host's binaries (for the architecture), an
    os-release saying Fedora 39, and the real RPM database of config_data.rpm_guest_tar
    (two packages: alpha 0.1-3 and zeta-tools 7:1.2-3). None where rpm is missing."""
    import io
    import tarfile

    from config_data import rpm_guest_tar

    data = rpm_guest_tar()
    if not data:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        _host_files_tree(tree)
        for name in ("debian_version", "os-release"):
            (tree / "etc" / name).unlink(missing_ok=True)
        shutil.rmtree(tree / "var" / "lib" / "dpkg")
        os_release = {"NAME": "Fedora Linux", "ID": "fedora", "VERSION_ID": "39"}
        (tree / "etc" / "os-release").write_text(
            "".join(f'{k}="{v}"\n' for k, v in os_release.items())
        )
        (tree / "etc" / "fedora-release").write_text("Fedora release 39 (Thirty Nine)\n")
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            tf.extractall(tree)  # our own tar, made above
        root = Partition(16, "rpmroot", tree)
        (tree / "etc" / "hostname").write_text(f"{hostname}\n")
        (tree / "etc" / "fstab").write_text(f"UUID={root.fs_uuid}  /  ext4  defaults  0  1\n")
        make_disk(path, [root])
    packages = {"alpha": "0.1-3", "zeta-tools": "7:1.2-3"}
    return TinyGuest(path, hostname, packages, root.fs_uuid, os_release)
