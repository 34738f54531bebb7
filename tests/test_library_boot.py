"""Library-side actions in a booted appliance, one appliance for the module.

The guest image is an ext4 filesystem made on the host (``mke2fs -d``) from a tree with
owners, modes, links, a hard link, a FIFO, xattrs and 1500 names in one directory. It
reaches the appliance through a real ``qemu-nbd`` server on a Unix socket
(``add_drive(protocol="nbd")``), read-only; a scratch disk takes the writes.

* copy_in / copy_out through tar keep owners, modes and links;
* lstatnslist / readlinklist / lxattrlist over 1500 names agree with one call per name;
* mount_local (served by this handle) and ``pyguestmount`` show the image exactly as
  Debian's real ``guestmount`` 1.48 does: the same ``ls -lR``, ``stat`` and contents.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyguestfs.host import GuestFS

MiB = 1 << 20
NAMES = 1500
#: Seconds Debian's guestmount may take to boot its own appliance and mount.
REFERENCE_TIMEOUT = 900

needs_tools = pytest.mark.skipif(
    shutil.which("qemu-nbd") is None
    or shutil.which("mke2fs") is None
    or shutil.which("fusermount3") is None
    or not os.path.exists("/dev/fuse")
    or os.geteuid() != 0,
    reason="needs qemu-nbd, mke2fs, fusermount3 and /dev/fuse, as root",
)
pytestmark = needs_tools

#: Compared between the mounts (inode and device numbers are each FUSE layer's own;
#: atimes move as the other view reads).
COMPARE = (
    "ls -lR --time-style=full-iso . && "
    "stat -c '%n %s %b %a %u %g %h %F %y %z' dir dir/file.txt dir/exec.sh dir/hard link "
    "abs fifo big.bin many/n0007 && sha256sum big.bin dir/file.txt && readlink link abs && "
    "getfattr -h -d -m - dir/file.txt && stat -f -c '%b %a %f %c %l' . && du -s --apparent-size ."
)


def _make_tree(root: Path) -> None:
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "file.txt").write_text("hello\n")
    os.chmod(root / "dir" / "file.txt", 0o640)
    os.chown(root / "dir" / "file.txt", 1001, 1002)
    os.setxattr(root / "dir" / "file.txt", "user.colour", b"blue")
    (root / "dir" / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "dir" / "exec.sh", 0o4755)
    os.link(root / "dir" / "file.txt", root / "dir" / "hard")
    os.symlink("dir/file.txt", root / "link")
    os.symlink("/nowhere/abs", root / "abs")
    os.mkfifo(root / "fifo")
    (root / "big.bin").write_bytes(hashlib.sha256(b"seed").digest() * (MiB // 16))
    (root / "many").mkdir()
    for i in range(NAMES):
        (root / "many" / f"n{i:04d}").write_text(str(i))
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            os.utime(p, (1_600_000_000, 1_600_000_000 + len(p.name)))


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("libboot")
    tree = work / "tree"
    tree.mkdir()
    _make_tree(tree)
    img = work / "tree.img"
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(tree), "-L", "tree", str(img), "96M"],
        check=True,
        env={**os.environ, "E2FSPROGS_FAKE_TIME": "1600000000"},
    )
    return img


@pytest.fixture(scope="module")
def nbd_socket(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real qemu-nbd serving the image read-only on a Unix socket."""
    sock = f"/tmp/pyg-nbd-{os.getpid()}.sock"
    proc = subprocess.Popen(
        ["qemu-nbd", "--read-only", "--persistent", "-f", "raw", "-k", sock, str(image)],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        assert proc.poll() is None, "qemu-nbd exited"
        assert time.monotonic() < deadline, "qemu-nbd did not listen"
        time.sleep(0.05)
    yield sock
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def vm(cachedir: str, nbd_socket: str) -> Iterator[GuestFS[dict[str, str]]]:
    g = GuestFS(python_return_dict=True)
    g.set_cachedir(cachedir)
    g.set_backend_settings(["force_tcg"])
    g.add_drive_scratch(128 * MiB)
    g.add_drive("", format="raw", readonly=True, protocol="nbd", server=[f"unix:{nbd_socket}"])
    g.launch()
    yield g
    g.close()


def _shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # "cd" in the shell, not Popen(cwd=): a vforked child entering a mount served by this
    # very process would wait for it while the vforking thread holds the GIL.
    return subprocess.run(
        f"cd {shlex.quote(str(cwd))} && {cmd}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _listing(root: Path) -> list[tuple[object, ...]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            extra: object = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(p.read_bytes()).hexdigest()
            out.append((str(p.relative_to(root)), st.st_mode, st.st_uid, st.st_gid, extra))
    return sorted(out)


def test_the_nbd_export_is_the_image(vm: GuestFS[dict[str, str]], image: Path) -> None:
    assert vm.list_devices() == ["/dev/sda", "/dev/sdb"]
    assert vm.blockdev_getsize64("/dev/sdb") == image.stat().st_size
    assert (vm.vfs_type("/dev/sdb"), vm.vfs_label("/dev/sdb")) == ("ext4", "tree")
    assert vm.debug_drives()[1].endswith("readonly format=raw protocol=nbd")


def test_copy_in_and_out_keep_owners_modes_and_links(
    vm: GuestFS[dict[str, str]], tmp_path: Path
) -> None:
    vm.umount_all()
    vm.mkfs("ext4", "/dev/sda")
    vm.mount("/dev/sda", "/")
    src = tmp_path / "tree"
    src.mkdir()
    _make_tree(src)
    os.unlink(src / "fifo")
    shutil.rmtree(src / "many")
    vm.copy_in(str(src), "/")
    st = vm.lstatns("/tree/dir/file.txt")
    assert (st["st_uid"], st["st_gid"], st["st_mode"] & 0o7777) == (1001, 1002, 0o640)
    assert vm.lstatns("/tree/dir/exec.sh")["st_mode"] & 0o7777 == 0o4755
    assert vm.readlink("/tree/abs") == "/nowhere/abs"
    out = tmp_path / "out"
    out.mkdir()
    vm.copy_out("/tree", str(out))
    assert _listing(out / "tree") == _listing(src)


def test_batched_lists_agree_with_single_calls(vm: GuestFS[dict[str, str]]) -> None:
    vm.umount_all()
    vm.mount_ro("/dev/sdb", "/")
    names = vm.ls("/many")
    assert len(names) == NAMES
    stats = vm.lstatnslist("/many", names)
    assert [s["st_size"] for s in stats] == [len(n[1:].lstrip("0") or "0") for n in names]
    assert stats[1234] == vm.lstatns(f"/many/{names[1234]}")
    assert vm.readlinklist("/", ["link", "abs", "dir"]) == ["dir/file.txt", "/nowhere/abs", ""]
    xattrs = vm.lxattrlist("/dir", ["file.txt", "exec.sh"])
    assert [(x["attrname"], x["attrval"]) for x in xattrs] == [
        ("", b"1\0"),
        ("user.colour", b"blue"),
        ("", b"0\0"),
    ]


@pytest.fixture(scope="module")
def real_guestmount(
    image: Path, cachedir: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Debian's guestmount 1.48 on the same image, read-only, with its own appliance."""
    if shutil.which("guestmount") is None:
        pytest.skip("Debian's guestmount (package guestmount) is not installed")
    mnt = tmp_path_factory.mktemp("realmnt")
    # force_tcg: where /dev/kvm opens but hangs (this machine, CI's runners), libguestfs
    # would try KVM and never boot; our own launches probe for that, libguestfs does not.
    env = {
        **os.environ,
        "LIBGUESTFS_BACKEND": "direct",
        "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg",
        "LIBGUESTFS_CACHEDIR": cachedir,
    }
    env.pop("LIBGUESTFS_PATH", None)
    subprocess.run(
        ["guestmount", "--ro", "--format=raw", "-a", str(image), "-m", "/dev/sda", str(mnt)],
        check=True,
        env=env,
        timeout=REFERENCE_TIMEOUT,
    )
    yield mnt
    subprocess.run(["guestunmount", str(mnt)], check=False, timeout=120)


def _same(ours: Path, theirs: Path) -> None:
    a, b = _shell(COMPARE, ours), _shell(COMPARE, theirs)
    assert b.returncode == 0, b.stderr
    diff = "\n".join(difflib.unified_diff(b.stdout.splitlines(), a.stdout.splitlines(), "", ""))
    assert (diff, a.stderr, a.returncode) == ("", "", 0)


@pytest.mark.timeout(2400)  # boots Debian's own appliance too, under TCG
def test_mount_local_shows_what_guestmount_shows(
    vm: GuestFS[dict[str, str]], real_guestmount: Path, tmp_path: Path
) -> None:
    vm.umount_all()
    vm.mount_ro("/dev/sdb", "/")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    vm.mount_local(str(mnt), readonly=True)
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            vm.mount_local_run()
        except BaseException as e:
            failed.append(e)

    server = threading.Thread(target=serve)
    server.start()
    try:
        _same(mnt, real_guestmount)
        r = _shell("touch x", mnt)
        assert "Read-only file system" in r.stderr
    finally:
        vm.umount_local(retry=True)
        server.join(60)
    assert not server.is_alive() and failed == []


def _script(name: str) -> str:
    """A console script of this checkout's environment (on PATH or beside python)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


@pytest.mark.boot
@pytest.mark.timeout(2400)
def test_pyguestmount_shows_what_guestmount_shows(
    image: Path, real_guestmount: Path, cachedir: str, tmp_path: Path
) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    pidfile = tmp_path / "pid"
    env = {
        **os.environ,
        "LIBGUESTFS_CACHEDIR": cachedir,
        "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg",
    }
    cmd = [_script("pyguestmount"), "--ro", "--format", "raw", "-a", str(image), "-m", "/dev/sda"]
    try:
        r = subprocess.run(
            [*cmd, "--pid-file", str(pidfile), str(mnt)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # Its background process may still mount later: leave no mount behind.
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
        raise
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    try:
        _same(mnt, real_guestmount)
    finally:
        u = subprocess.run([_script("pyguestunmount"), str(mnt)], capture_output=True, text=True)
    assert u.returncode == 0, u.stderr
    deadline = time.monotonic() + 120
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.2)  # the serving process ends once unmounted
    assert not os.path.exists(f"/proc/{pid}")
