"""The ``btrfs`` family: making a btrfs filesystem, subvolumes and snapshots, devices, quota
groups, balance, scrub, tuning and rescue, with btrfs-progs as guestfsd's ``daemon/btrfs.c``
and ``btrfs.ml`` run them, and their output read the same way.

Procedures given a ``Mountable`` (a device or ``btrfsvol:DEV/VOL``) mount it on a
temporary directory outside the sysroot for the one command, then unmount it; given a
path, they work on the sysroot's mount.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

from ...protocol.procedures import BY_NAME
from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..fstools import command, commandr, literal, power_of_2, wipefs_argv
from ..guest import split_lines
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath, Mountable


@procedure("mkfs_btrfs")
def mkfs_btrfs(
    call: CallContext,
    devices: list[Device],
    *,
    allocstart: int | None = None,
    bytecount: int | None = None,
    datatype: str | None = None,
    leafsize: int | None = None,
    label: str | None = None,
    metadata: str | None = None,
    nodesize: int | None = None,
    sectorsize: int | None = None,
) -> None:
    if not devices:
        raise AgentError("list of devices must be non-empty")
    argv = ["mkfs.btrfs"]
    # allocstart: --alloc-start is gone from btrfs-progs; 1.48 ignores the value too.
    if bytecount is not None:
        if bytecount <= 0:
            raise AgentError("bytecount must be > 0")
        argv += ["--byte-count", str(bytecount)]
    raids = ("raid0", "raid1", "raid10", "single")
    if datatype is not None:
        if datatype not in raids:
            raise AgentError("datatype not one of the allowed values")
        argv += ["--data", datatype]
    if leafsize is not None:
        if not power_of_2(leafsize):
            raise AgentError("leafsize must be > 0 and a power of two")
        argv += ["--leafsize", str(leafsize)]
    if label is not None:
        argv += ["--label", label]
    if metadata is not None:
        if metadata not in raids:
            raise AgentError("metadata not one of the allowed values")
        argv += ["--metadata", metadata]
    if nodesize is not None:
        if not power_of_2(nodesize):
            raise AgentError("nodesize must be > 0 and a power of two")
        argv += ["--nodesize", str(nodesize)]
    if sectorsize is not None:
        if not power_of_2(sectorsize):
            raise AgentError("sectorsize must be > 0 and a power of two")
        argv += ["--sectorsize", str(sectorsize)]
    nodes = [d.node for d in devices]
    for node in nodes:
        commandr(call, wipefs_argv(call, node))
    command(call, [*argv, *nodes], literal(devices[0]) + ": {err}")


def _btrfs_available() -> bool:
    """guestfsd's test: the btrfs tool, and a kernel that knows the filesystem (built in,
    or a module modprobe can load)."""
    if not has_program("btrfs")():
        return False
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1:] == ["btrfs"] for line in f):
                return True
    except OSError:
        return False
    release = os.uname().release
    return any(
        os.path.exists(f"/lib/modules/{release}/kernel/fs/btrfs/btrfs.ko{ext}")
        for ext in ("", ".xz", ".zst", ".gz")
    )


provides_group("btrfs", _btrfs_available)


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


def _run(call: CallContext, argv: list[str], what: str) -> str:
    """Run a btrfs-progs command; a failure reads "<what>: <its stderr>"."""
    return _command(call, argv, f"{what}: ")


def _ocaml_command(call: CallContext, argv: list[str]) -> str:
    """A program run as the OCaml half of guestfsd runs it: a failure reads
    "<prog> exited with status N: <stderr>"."""
    done = call.run(argv, check=False)
    if done.status != 0:
        raise AgentError(f"{argv[0]} exited with status {done.status}: {done.err}")
    return done.out


@contextlib.contextmanager
def _mounted_c(call: CallContext, fs: Mountable) -> Iterator[str]:
    """btrfs.c's ``mount``/``umount`` pair: a path is used in the sysroot; a device or a
    subvolume is mounted on a temporary directory for the duration."""
    if fs.path is not None:
        yield _host(fs.path)
        return
    assert fs.device is not None
    tmp = tempfile.mkdtemp(prefix="btrfs.", dir="/tmp")
    options = f"subvol={fs.volume}" if fs.volume is not None else ""
    done = call.run(["mount", "-o", options, fs.device.node, tmp], check=False)
    if done.status != 0:
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        raise AgentError(f"{fs.device} on <internal> (options: ''): {done.err}")
    try:
        yield tmp
    finally:
        _command(call, ["umount", tmp], "umount: ")
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(tmp)


@contextlib.contextmanager
def _mounted_ocaml(call: CallContext, fs: Mountable) -> Iterator[str]:
    """btrfs.ml's ``with_mounted``: the same, with the OCaml daemon's wording."""
    if fs.path is not None:
        yield _host(fs.path)
        return
    assert fs.device is not None
    tmp = tempfile.mkdtemp(prefix="btrfs", dir="/tmp")
    try:
        opts = ["-o", f"subvol={fs.volume}"] if fs.volume is not None else []
        _ocaml_command(call, ["mount", *opts, fs.device.node, tmp])
        yield tmp
    finally:
        call.run(["umount", tmp], check=False)
        with contextlib.suppress(OSError):
            os.rmdir(tmp)


def _host(path: GuestPath) -> str:
    """The path handed to btrfs-progs. guestfsd prefixes ``/sysroot`` to the path as given,
    so a trailing slash stays (``/`` is ``/sysroot/``) and shows in the tools' messages."""
    host = path.host()
    return host + "/" if path.endswith("/") and not host.endswith("/") else host


def _shown(call: CallContext, text: str) -> str:
    """A host path as guestfsd's messages show it (the sysroot as ``/sysroot``)."""
    return call.sysroot.hide(text)


# -- filesystems -----------------------------------------------------------------------------


@procedure("btrfs_filesystem_resize")
def btrfs_filesystem_resize(
    call: CallContext, mountpoint: GuestPath, size: int | None = None
) -> None:
    if size is not None and size <= 0:
        raise AgentError("size is zero or negative")
    target = str(size) if size is not None else "max"
    _run(call, ["btrfs", "filesystem", "resize", target, _host(mountpoint)], mountpoint)


@procedure("btrfs_filesystem_defragment")
def btrfs_filesystem_defragment(
    call: CallContext, path: GuestPath, flush: bool | None = None, compress: str | None = None
) -> None:
    argv = ["btrfs", "filesystem", "defragment", "-r"]
    if flush:
        argv.append("-f")
    if compress is not None:
        if compress not in ("zlib", "lzo"):
            raise AgentError(f"unknown compress method: {compress}")
        argv.append(f"-c{compress}")
    _run(call, [*argv, _host(path)], path)


@procedure("btrfs_filesystem_show")
def btrfs_filesystem_show(call: CallContext, device: Device) -> list[str]:
    # The output as the program wrote it: its device nodes are returned as nodes, and the
    # dispatcher names them as the user does.
    done = runner.run(["btrfs", "filesystem", "show", device.node], check=False)
    if done.status != 0:
        raise AgentError(f"{device}: {call.sysroot.hide(call.user_names(done.err))}")
    out = done.out
    lines = split_lines(out)
    if len(lines) < 3:
        raise AgentError("truncated output from 'btrfs filesystem show' command")
    found: list[str] = []
    for line in lines[1:]:
        if not line or line.startswith("Label: ") or line.startswith("\tTotal devices "):
            continue
        if line.startswith("\tdevid "):
            at = line.find(" path ")
            if at >= 0:
                # The appliance's node: the dispatcher gives it the user's name.
                found.append(line[at + len(" path ") :].split(" ")[0])
        elif line.startswith("\t*** Some devices missing"):
            raise AgentError(f"{device}: missing devices", "ENODEV")
        elif line.startswith(("btrfs-progs v", "Btrfs v")):
            continue  # the version line older btrfs-progs printed
        else:
            raise AgentError(f"unrecognized line in output from 'btrfs filesystem show': {line}")
    return found


# -- subvolumes ------------------------------------------------------------------------------


@procedure("btrfs_subvolume_snapshot")
def btrfs_subvolume_snapshot(
    call: CallContext,
    source: GuestPath,
    dest: GuestPath,
    ro: bool | None = None,
    qgroupid: str | None = None,
) -> None:
    argv = ["btrfs", "subvolume", "snapshot"]
    if ro:
        argv.append("-r")
    if qgroupid is not None:
        argv += ["-i", qgroupid]
    _run(call, [*argv, _host(source), _host(dest)], f"{source}: {dest}")


@procedure("btrfs_subvolume_create")
def btrfs_subvolume_create(call: CallContext, dest: GuestPath, qgroupid: str | None = None) -> None:
    argv = ["btrfs", "subvolume", "create"]
    if qgroupid is not None:
        argv += ["-i", qgroupid]
    _run(call, [*argv, _host(dest)], dest)


_SUBVOLUME_LINE = re.compile(r"ID\s+(\d+).*\stop level\s+(\d+).*\spath\s(.*)")


@procedure("btrfs_subvolume_list")
def btrfs_subvolume_list(call: CallContext, fs: Mountable) -> list[dict[str, object]]:
    with _mounted_ocaml(call, fs) as mp:
        out = _ocaml_command(call, ["btrfs", "subvolume", "list", mp])
    found: list[dict[str, object]] = []
    for line in filter(None, out.split("\n")):
        m = _SUBVOLUME_LINE.search(line)
        if m is None:
            raise AgentError(f"unexpected output from 'btrfs subvolume list' command: {line}")
        found.append(
            {
                "btrfssubvolume_id": int(m.group(1)),
                "btrfssubvolume_top_level_id": int(m.group(2)),
                "btrfssubvolume_path": m.group(3),
            }
        )
    return found


@procedure("btrfs_subvolume_set_default")
def btrfs_subvolume_set_default(call: CallContext, id: int, fs: GuestPath) -> None:
    _run(call, ["btrfs", "subvolume", "set-default", str(id), _host(fs)], fs)


@procedure("btrfs_subvolume_get_default")
def btrfs_subvolume_get_default(call: CallContext, fs: Mountable) -> int:
    with _mounted_ocaml(call, fs) as mp:
        out = _ocaml_command(call, ["btrfs", "subvolume", "get-default", mp])
    m = re.match(r"ID\s*([+-]?\d+)", out)
    if m is None:
        raise AgentError(f"scanf: bad input at char number 0: looking for 'I', found {out[:1]!r}")
    return int(m.group(1))


def _analyze(line: str, delimiter: str = ":") -> tuple[str | None, str | None]:
    """btrfs.c's ``analyze_line``: ``key: value`` with leading blanks dropped; a line
    without the delimiter is a key alone, a line starting with it a value alone."""
    p = line.lstrip(" \t\n\v\f\r")
    key: str | None = None if p.startswith(delimiter) else p
    at = p.find(delimiter)
    if at < 0:
        return key, None
    if key is not None:
        key = p[:at]
    return key, p[at + 1 :].lstrip(" \t\n\v\f\r")


@procedure("btrfs_subvolume_show")
def btrfs_subvolume_show(call: CallContext, subvolume: GuestPath) -> list[tuple[str, str]]:
    out = _run(call, ["btrfs", "subvolume", "show", _host(subvolume)], subvolume)
    if "is btrfs root" in out or "is toplevel subvolume" in out:
        raise AgentError(f"{subvolume} is btrfs root")
    if "\n" not in out:
        raise AgentError(f"truncated output: {out}")
    # Lines as analyze_line walks them: the text up to each LF; the empty tail after the
    # last LF ends the walk.
    lines = out.split("\n")
    lines.pop()
    pairs: list[tuple[str, str]] = []
    key, value = _analyze(lines[0])
    # The first line is the subvolume's path.
    if key is not None and value is None:
        pairs.append(("path", key))
    else:
        pairs.append((key or "", value or ""))
    i = 1

    def next_line() -> tuple[str | None, str | None]:
        nonlocal i
        if i >= len(lines):
            return None, None
        i += 1
        return _analyze(lines[i - 1])

    key, value = next_line()
    while key is not None:
        if key.startswith("Snapshot(s)"):
            name = key
            snapshots: list[str] = []
            key, value = next_line()
            while key is not None and value is None:
                snapshots.append(key)
                key, value = next_line()
            pairs.append((name, ",".join(snapshots)))
        else:
            pairs.append((key, value if value is not None and value != "-" else ""))
            key, value = next_line()
    return pairs


# -- devices -------------------------------------------------------------------------------


_DEVICE_ADD_FORCE: list[bool] = []


@procedure("btrfs_device_add")
def btrfs_device_add(call: CallContext, devices: list[Device], fs: GuestPath) -> None:
    if not devices:
        return
    if not _DEVICE_ADD_FORCE:
        help_text = _command(
            call, ["btrfs", "device", "add", "--help"], "btrfs device add --help: "
        )
        _DEVICE_ADD_FORCE.append("--force" in help_text)
    argv = ["btrfs", "device", "add", *(["--force"] if _DEVICE_ADD_FORCE[0] else [])]
    _run(call, [*argv, *(d.node for d in devices), _host(fs)], fs)


@procedure("btrfs_device_delete")
def btrfs_device_delete(call: CallContext, devices: list[Device], fs: GuestPath) -> None:
    if not devices:
        return
    _run(call, ["btrfs", "device", "delete", *(d.node for d in devices), _host(fs)], fs)


@procedure("btrfs_replace")
def btrfs_replace(
    call: CallContext, srcdev: Device, targetdev: Device, mntpoint: GuestPath
) -> None:
    argv = ["btrfs", "replace", "start", "-B", "-f", srcdev.node, targetdev.node, _host(mntpoint)]
    _run(call, argv, mntpoint)


@procedure("btrfs_set_seeding")
def btrfs_set_seeding(call: CallContext, device: Device, seeding: bool) -> None:
    # guestfsd runs it with commandr: only a btrfstune that cannot run is an error.
    call.run(["btrfstune", "-S", "1" if seeding else "0", device.node], check=False)


@procedure("btrfstune_seeding")
def btrfstune_seeding(call: CallContext, device: Device, seeding: bool) -> None:
    # Clearing the flag needs -f: btrfstune asks for confirmation otherwise.
    argv = ["btrfstune", "-S", "1" if seeding else "0", *([] if seeding else ["-f"])]
    _run(call, [*argv, device.node], device)


@procedure("btrfs_fsck")
def btrfs_fsck(
    call: CallContext, device: Device, superblock: int | None = None, repair: bool | None = None
) -> None:
    argv = ["btrfsck"]
    if superblock is not None:
        if superblock < 0:
            raise AgentError("super block offset must be >= 0")
        argv += ["--super", str(superblock)]
    if repair:
        argv.append("--repair")
    _run(call, [*argv, device.node], device)


@procedure("btrfs_image")
def btrfs_image(
    call: CallContext, source: list[Device], image: GuestPath, compresslevel: int | None = None
) -> None:
    if not source:
        raise AgentError("list of sources must be non-empty")
    argv = ["btrfs-image"]
    if compresslevel is not None and compresslevel >= 0:
        argv += ["-c", str(compresslevel)]
    # guestfsd 1.48 passes the path as it is, so the image lands in the appliance's own
    # root, not in the guest; it is written under the sysroot here (compatibility.md).
    argv += [*(d.node for d in source), _host(image)]
    _run(call, argv, f"{source[0]} {image}")


# -- quota groups ----------------------------------------------------------------------------


@procedure("btrfs_quota_enable")
def btrfs_quota_enable(call: CallContext, fs: Mountable, enable: bool) -> None:
    with _mounted_c(call, fs) as mp:
        _run(call, ["btrfs", "quota", "enable" if enable else "disable", mp], _shown(call, mp))


@procedure("btrfs_quota_rescan")
def btrfs_quota_rescan(call: CallContext, fs: Mountable) -> None:
    with _mounted_c(call, fs) as mp:
        _run(call, ["btrfs", "quota", "rescan", mp], _shown(call, mp))


@procedure("btrfs_qgroup_limit")
def btrfs_qgroup_limit(call: CallContext, subvolume: GuestPath, size: int) -> None:
    _run(call, ["btrfs", "qgroup", "limit", str(size), _host(subvolume)], subvolume)


@procedure("btrfs_qgroup_create")
def btrfs_qgroup_create(call: CallContext, qgroupid: str, subvolume: GuestPath) -> None:
    _run(call, ["btrfs", "qgroup", "create", qgroupid, _host(subvolume)], subvolume)


@procedure("btrfs_qgroup_destroy")
def btrfs_qgroup_destroy(call: CallContext, qgroupid: str, subvolume: GuestPath) -> None:
    _run(call, ["btrfs", "qgroup", "destroy", qgroupid, _host(subvolume)], subvolume)


@procedure("btrfs_qgroup_assign")
def btrfs_qgroup_assign(call: CallContext, src: str, dst: str, path: GuestPath) -> None:
    _run(call, ["btrfs", "qgroup", "assign", src, dst, _host(path)], path)


@procedure("btrfs_qgroup_remove")
def btrfs_qgroup_remove(call: CallContext, src: str, dst: str, path: GuestPath) -> None:
    _run(call, ["btrfs", "qgroup", "remove", src, dst, _host(path)], path)


_QGROUP_RAW: list[bool] = []
_QGROUP_LINE = re.compile(r"([0-9/]+)\s+(\d+)\s+(\d+)")


@procedure("btrfs_qgroup_show")
def btrfs_qgroup_show(call: CallContext, path: GuestPath) -> list[dict[str, object]]:
    if not _QGROUP_RAW:
        # --raw keeps sizes in bytes (btrfs-progs >= 3.18.2 print KiB ... by default).
        out = call.run(["btrfs", "qgroup", "show", "--help"], check=False).out
        _QGROUP_RAW.append("--raw" in out)
    argv = ["btrfs", "qgroup", "show", *(["--raw"] if _QGROUP_RAW[0] else []), _host(path)]
    lines = split_lines(_run(call, argv, path))
    groups: list[dict[str, object]] = []
    # Two heading lines (names, dashes), then one qgroup a line.
    for line in lines[2:]:
        m = _QGROUP_LINE.match(line)
        if m is None:
            raise AgentError(f"cannot parse output of qgroup show command: {line}")
        groups.append(
            {
                "btrfsqgroup_id": m.group(1),
                "btrfsqgroup_rfer": int(m.group(2)),
                "btrfsqgroup_excl": int(m.group(3)),
            }
        )
    return groups


# -- balance and scrub -----------------------------------------------------------------------


def _struct_fields(proc: str) -> list[str]:
    struct = BY_NAME[proc].struct
    assert struct is not None, proc
    return [f for f, _ in struct.fields]


_BALANCE_FIELDS = _struct_fields("btrfs_balance_status")
_BALANCE_STATE = re.compile(r"Balance on '.*' is (.*)")
_BALANCE_COUNTS = re.compile(
    r"\s*(\d+) out of about\s*(\d+) chunks balanced \(\s*(\d+) considered\),\s*(\d+)% left"
)


@procedure("btrfs_balance_status")
def btrfs_balance_status(call: CallContext, path: GuestPath) -> dict[str, object]:
    lines = split_lines(_run(call, ["btrfs", "balance", "status", _host(path)], path))
    if not lines:
        raise AgentError("No balance status output")
    status: dict[str, object] = dict.fromkeys(_BALANCE_FIELDS, 0)
    status["btrfsbalance_status"] = ""
    if "No balance found on" in lines[0]:
        status["btrfsbalance_status"] = "none"
        return status
    m = _BALANCE_STATE.search(lines[0])
    if m is None or m.group(1) not in ("running", "paused"):
        raise AgentError(f"unexpected output from 'btrfs balance status' command: {lines[0]}")
    status["btrfsbalance_status"] = m.group(1)
    if len(lines) < 2:
        raise AgentError("truncated output from 'btrfs balance status' command")
    counts = _BALANCE_COUNTS.match(lines[1])
    if counts is None:
        raise AgentError(f"sscanf: cannot parse '{lines[1]}'")
    balanced, total, considered, left = (int(x) for x in counts.groups())
    status.update(
        btrfsbalance_balanced=balanced,
        btrfsbalance_total=total,
        btrfsbalance_considered=considered,
        btrfsbalance_left=left,
    )
    return status


#: The counters of ``btrfs scrub status -R``, as the struct names them (less the prefix).
_SCRUB_COUNTERS = tuple(f.removeprefix("btrfsscrub_") for f in _struct_fields("btrfs_scrub_status"))


@procedure("btrfs_scrub_status")
def btrfs_scrub_status(call: CallContext, path: GuestPath) -> dict[str, object]:
    lines = split_lines(_run(call, ["btrfs", "scrub", "status", "-R", _host(path)], path))
    if len(lines) < 2:
        raise AgentError("truncated output from 'btrfs scrub status -R' command")
    counters: dict[str, object] = {f"btrfsscrub_{name}": 0 for name in _SCRUB_COUNTERS}
    for line in lines:
        # Only the tab-indented lines carry counters; the others are headings.
        if not line.startswith("\t"):
            continue
        if line == "\tno stats available":
            return counters
        if line.startswith("\tscrub started at"):
            continue
        m = re.match(r"\t([a-z_]+): *(\d+)", line)
        if m is None or m.group(1) not in _SCRUB_COUNTERS:
            raise AgentError(f"{line}: could not parse btrfs scrub status.")
        counters[f"btrfsscrub_{m.group(1)}"] = int(m.group(2))
    if len(lines) < 17:
        raise AgentError("truncated output from 'btrfs scrub status -R' command")
    return counters


# -- the procedures that run one command on one path or device ----------------------------

#: name -> (argument name, btrfs subcommand): "btrfs SUBCOMMAND /sysroot/PATH", and a
#: failure reads "PATH: <stderr>".
_ON_PATH = {
    "btrfs_filesystem_sync": ("fs", ["filesystem", "sync"]),
    "btrfs_filesystem_balance": ("fs", ["balance"]),
    "btrfs_subvolume_delete": ("subvolume", ["subvolume", "delete"]),
    "btrfs_balance_pause": ("path", ["balance", "pause"]),
    "btrfs_balance_cancel": ("path", ["balance", "cancel"]),
    "btrfs_balance_resume": ("path", ["balance", "resume"]),
    "btrfs_scrub_start": ("path", ["scrub", "start"]),
    "btrfs_scrub_cancel": ("path", ["scrub", "cancel"]),
    "btrfs_scrub_resume": ("path", ["scrub", "resume"]),
}
#: name -> argv before the device: a failure reads "DEVICE: <stderr>".
_ON_DEVICE = {
    "btrfstune_enable_extended_inode_refs": ["btrfstune", "-r"],
    "btrfstune_enable_skinny_metadata_extent_refs": ["btrfstune", "-x"],
    "btrfs_rescue_chunk_recover": ["btrfs", "rescue", "chunk-recover", "-y"],
    "btrfs_rescue_super_recover": ["btrfs", "rescue", "super-recover", "-y"],
}


def _register_simple() -> None:
    for name, (arg, sub) in _ON_PATH.items():

        def on_path(call: CallContext, _arg: str = arg, _sub: list[str] = sub, **a: Any) -> None:
            path: GuestPath = a[_arg]
            _run(call, ["btrfs", *_sub, _host(path)], path)

        on_path.__name__ = on_path.__qualname__ = name
        procedure(name)(on_path)
    for name, argv in _ON_DEVICE.items():

        def on_device(call: CallContext, device: Device, _argv: list[str] = argv) -> None:
            _run(call, [*_argv, device.node], device)

        on_device.__name__ = on_device.__qualname__ = name
        procedure(name)(on_device)


_register_simple()
