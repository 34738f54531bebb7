"""The ``ext2`` family: ext2/3/4 labels, UUIDs, checks, tuning and resizing
(``daemon/ext2.c``, ``labels.c``, ``uuids.c`` of 1.48)."""

from __future__ import annotations

import errno
import os
import re

from .. import runner
from ..context import CallContext
from ..errors import AgentError
from ..fstools import (
    EXTFS,
    blkid_tag,
    check_ext_label,
    command,
    commandr,
    fs_label,
    literal,
    set_ext_label,
    set_ext_uuid,
    tune2fs_list,
    wipefs_argv,
)
from ..guest import mounts_under
from ..registry import procedure
from ..resolve import Device, GuestPath


@procedure("get_e2label")
def get_e2label(call: CallContext, device: Device) -> str:
    return fs_label(call, device.node, device)


@procedure("get_e2uuid")
def get_e2uuid(call: CallContext, device: Device) -> str:
    return blkid_tag(call, device.node, device, "UUID")


@procedure("set_e2label")
def set_e2label(call: CallContext, device: Device, label: str) -> None:
    set_ext_label(call, device.node, label)


@procedure("set_e2uuid")
def set_e2uuid(call: CallContext, device: Device, uuid: str) -> None:
    set_ext_uuid(call, device.node, uuid)


@procedure("e2fsck")
def e2fsck(
    call: CallContext, device: Device, *, correct: bool | None = None, forceall: bool | None = None
) -> None:
    if correct and forceall:
        raise AgentError("only one of the options 'correct', 'forceall' may be specified")
    argv = ["e2fsck", "-f"]
    if correct:
        argv.append("-p")
    if forceall:
        argv.append("-y")
    rc, _out, err = commandr(call, [*argv, device.node], fold=True)
    # 0: clean, 1: errors corrected. 2 and 3 (corrected, reboot needed) count as
    # failures, as in guestfsd.
    if rc >= 2:
        raise AgentError(err)


@procedure("e2fsck_f")
def e2fsck_f(call: CallContext, device: Device) -> None:
    e2fsck(call, device, correct=True)


@procedure("tune2fs_l")
def tune2fs_l(call: CallContext, device: Device) -> list[tuple[str, str]]:
    return tune2fs_list(call, device.node)


@procedure("tune2fs")
def tune2fs(
    call: CallContext,
    device: Device,
    *,
    force: bool | None = None,
    maxmountcount: int | None = None,
    mountcount: int | None = None,
    errorbehavior: str | None = None,
    group: int | None = None,
    intervalbetweenchecks: int | None = None,
    reservedblockspercentage: int | None = None,
    lastmounteddirectory: str | None = None,
    reservedblockscount: int | None = None,
    user: int | None = None,
) -> None:
    argv = ["tune2fs"]
    if force:
        argv.append("-f")

    def number(value: int | None, name: str, flag: str, suffix: str = "") -> None:
        if value is None:
            return
        if value < 0:
            raise AgentError(f"{name} cannot be negative")
        argv.extend([flag, f"{value}{suffix}" if value else "0"])

    number(maxmountcount, "maxmountcount", "-c")
    number(mountcount, "mountcount", "-C")
    if errorbehavior is not None:
        if errorbehavior not in ("continue", "remount-ro", "panic"):
            raise AgentError(f"invalid errorbehavior parameter: {errorbehavior}")
        argv += ["-e", errorbehavior]
    number(group, "group", "-g")
    # tune2fs takes "<n>s" for seconds (undocumented, long supported); 0 stays "0".
    number(intervalbetweenchecks, "intervalbetweenchecks", "-i", "s")
    number(reservedblockspercentage, "reservedblockspercentage", "-m")
    if lastmounteddirectory is not None:
        argv += ["-M", lastmounteddirectory]
    number(reservedblockscount, "reservedblockscount", "-r")
    number(user, "user", "-u")
    command(call, [*argv, device.node], literal(device) + ": {err}")


def _is_mounted(call: CallContext, device: Device) -> bool:
    """Whether the device is mounted at or below the sysroot (same st_rdev)."""
    node = device.node
    try:
        rdev = os.stat(node).st_rdev
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {device}") from None
    for source in (m.source for m in mounts_under(call.sysroot.root)):
        try:
            if os.stat(source).st_rdev == rdev:
                return True
        except OSError:
            continue
    return False


def _check_unless_mounted(call: CallContext, device: Device) -> None:
    """resize2fs refuses a filesystem not checked since its last mount: check it first,
    answering yes to everything, unless it is mounted (an online resize)."""
    if not _is_mounted(call, device):
        e2fsck(call, device, forceall=True)


@procedure("resize2fs")
def resize2fs(call: CallContext, device: Device) -> None:
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", device.node])


@procedure("resize2fs_size")
def resize2fs_size(call: CallContext, device: Device, size: int) -> None:
    if size & 1023:
        raise AgentError(f"{size}: size must be a round number of kilobytes")
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", device.node, f"{size // 1024}K"])


@procedure("resize2fs_M")
def resize2fs_M(call: CallContext, device: Device) -> None:
    _check_unless_mounted(call, device)
    command(call, ["resize2fs", "-M", device.node])


# -- external journals and mke2fs (daemon/ext2.c) ---------------------------------------------


def _wipe_before_mkfs(call: CallContext, device: Device) -> None:
    """guestfsd's ``wipe_device_before_mkfs``: old signatures confuse blkid; failure is
    ignored."""
    commandr(call, wipefs_argv(call, device.node))


def _check_extfs(fstype: str) -> None:
    if fstype not in EXTFS:
        raise AgentError(f"{fstype}: not a valid extended filesystem type")


def _mke2journal(call: CallContext, blocksize: int, device: Device, *extra: str) -> None:
    _wipe_before_mkfs(call, device)
    command(call, ["mke2fs", "-F", "-O", "journal_dev", "-b", str(blocksize), *extra, device.node])


@procedure("mke2journal")
def mke2journal(call: CallContext, blocksize: int, device: Device) -> None:
    _mke2journal(call, blocksize, device)


@procedure("mke2journal_L")
def mke2journal_L(call: CallContext, blocksize: int, label: str, device: Device) -> None:
    check_ext_label(label)
    _mke2journal(call, blocksize, device, "-L", label)


@procedure("mke2journal_U")
def mke2journal_U(call: CallContext, blocksize: int, uuid: str, device: Device) -> None:
    _mke2journal(call, blocksize, device, "-U", uuid)


def _mke2fs_journal(
    call: CallContext, fstype: str, blocksize: int, device: Device, journal: str
) -> None:
    _check_extfs(fstype)
    _wipe_before_mkfs(call, device)
    command(
        call,
        [
            "mke2fs",
            "-F",
            "-t",
            fstype,
            "-J",
            f"device={journal}",
            "-b",
            str(blocksize),
            device.node,
        ],
    )


@procedure("mke2fs_J")
def mke2fs_J(
    call: CallContext, fstype: str, blocksize: int, device: Device, journal: Device
) -> None:
    _mke2fs_journal(call, fstype, blocksize, device, journal.node)


@procedure("mke2fs_JL")
def mke2fs_JL(call: CallContext, fstype: str, blocksize: int, device: Device, label: str) -> None:
    _check_extfs(fstype)
    check_ext_label(label)
    _mke2fs_journal(call, fstype, blocksize, device, f"LABEL={label}")


@procedure("mke2fs_JU")
def mke2fs_JU(call: CallContext, fstype: str, blocksize: int, device: Device, uuid: str) -> None:
    _mke2fs_journal(call, fstype, blocksize, device, f"UUID={uuid}")


#: mke2fs's numeric options: (optarg, switch, text before the number).
_MKE2FS_NUMBERS = (
    ("blocksize", "-b", ""),
    ("fragsize", "-f", ""),
    ("blockspergroup", "-g", ""),
    ("numberofgroups", "-G", ""),
    ("bytesperinode", "-i", ""),
    ("inodesize", "-I", ""),
    ("journalsize", "-J", "size="),
)
_MKE2FS_EXTENDED = (
    ("mmpupdateinterval", "mmp_update_interval="),
    ("stridesize", "stride="),
    ("stripewidth", "stripe_width="),
    ("maxonlineresize", "resize="),
)
#: The ``-O`` feature switches: (optarg, feature name); false gives ``^feature``.
_MKE2FS_FEATURES = (
    ("extent", "extent"),
    ("filetype", "filetype"),
    ("flexbg", "flexbg"),
    ("hasjournal", "has_journal"),
    ("journaldev", "journal_dev"),
    ("largefile", "large_file"),
    ("quota", "quota"),
    ("resizeinode", "resize_inode"),
    ("sparsesuper", "sparse_super"),
    ("uninitbg", "uninit_bg"),
)


def _nonnegative(name: str, value: int) -> str:
    if value < 0:
        raise AgentError(f"{name} must be >= 0")
    return str(value)


@procedure("mke2fs")
def mke2fs(call: CallContext, device: Device, **opts: int | str | bool | None) -> None:
    """mke2fs with each optional argument given turned into its switch, in 1.48's order
    (the ``quotatype`` optarg is accepted and, as in 1.48, not passed on)."""

    def given(name: str) -> bool:
        return opts.get(name) is not None

    def num(name: str) -> str:
        value = opts[name]
        assert isinstance(value, int)
        return _nonnegative(name, value)

    argv = ["mke2fs"]
    for name, switch, prefix in _MKE2FS_NUMBERS[:2]:
        if given(name):
            argv += [switch, prefix + num(name)]
    if opts.get("forcecreate"):
        argv.append("-F")
    for name, switch, prefix in _MKE2FS_NUMBERS[2:]:
        if given(name):
            argv += [switch, prefix + num(name)]
    journaldevice = opts.get("journaldevice")
    if isinstance(journaldevice, str):
        # An OString gets no device name translation from the stub (RHBZ#876579): a
        # device name is translated here; LABEL= and UUID= pass as they are.
        resolver = call.agent.resolver
        target = journaldevice
        if resolver.is_device_parameter(journaldevice):
            target = resolver.translate(journaldevice)
            if not os.path.exists(target):
                raise AgentError.from_errno(errno.ENOENT, journaldevice)
        argv += ["-J", f"device={target}"]
    if isinstance(opts.get("label"), str):
        argv += ["-L", str(opts["label"])]
    if given("reservedblockspercentage"):
        argv += ["-m", num("reservedblockspercentage")]
    if isinstance(opts.get("lastmounteddir"), str):
        argv += ["-M", str(opts["lastmounteddir"])]
    if given("numberofinodes"):
        argv += ["-N", num("numberofinodes")]
    if isinstance(opts.get("creatoros"), str):
        argv += ["-o", str(opts["creatoros"])]
    if opts.get("writesbandgrouponly"):
        argv.append("-S")
    fstype = opts.get("fstype")
    if isinstance(fstype, str):
        _check_extfs(fstype)
        argv += ["-t", fstype]
    if isinstance(opts.get("usagetype"), str):
        argv += ["-T", str(opts["usagetype"])]
    if isinstance(opts.get("uuid"), str):
        argv += ["-U", str(opts["uuid"])]
    for name, prefix in _MKE2FS_EXTENDED:
        if given(name):
            argv += ["-E", prefix + num(name)]
    for name, setting in (
        ("lazyitableinit", "lazy_itable_init"),
        ("lazyjournalinit", "lazy_journal_init"),
    ):
        if given(name):
            argv += ["-E", f"{setting}={1 if opts[name] else 0}"]
    if opts.get("testfs"):
        argv += ["-E", "test_fs"]
    if given("discard"):
        argv += ["-E", "discard" if opts["discard"] else "nodiscard"]
    for name, feature in _MKE2FS_FEATURES:
        if given(name):
            argv += ["-O", feature if opts[name] else "^" + feature]
    argv.append(device.node)
    if given("blockscount"):
        argv.append(num("blockscount"))
    _wipe_before_mkfs(call, device)
    command(call, argv, literal(device) + ": {err}")


# -- attributes and generation (lsattr/chattr on the sysroot path) -----------------------------


@procedure("get_e2attrs")
def get_e2attrs(call: CallContext, file: GuestPath) -> str:
    out = command(
        call,
        ["lsattr", "-d", "--", file.host(follow=False)],
        literal(f"lsattr: {file}") + ": {err}",
    )
    flags = out.split(" ", 1)[0].replace("-", "")
    return "".join(sorted(flags))


@procedure("set_e2attrs")
def set_e2attrs(
    call: CallContext, file: GuestPath, attrs: str, *, clear: bool | None = None
) -> None:
    if attrs == "":
        return  # chattr cannot take a bare "-" or "+"
    seen: set[str] = set()
    for c in attrs:
        if c in "RVfv":  # chattr's own command line switches
            raise AgentError(f"bad file attribute '{c}'")
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            raise AgentError(f"unknown file attribute '{c}'")
        if c in seen:
            raise AgentError(f"duplicate file attribute '{c}'")
        seen.add(c)
    sign = "-" if clear else "+"
    command(
        call,
        ["chattr", sign + attrs, "--", file.host(follow=False)],
        literal(f"chattr: {file}") + ": {err}",
    )


@procedure("get_e2generation")
def get_e2generation(call: CallContext, file: GuestPath) -> int:
    out = command(
        call,
        ["lsattr", "-dv", "--", file.host(follow=False)],
        literal(f"lsattr: {file}") + ": {err}",
    )
    # lsattr -v prints the generation in decimal before the flags.
    m = re.match(r"\s*([+-]?[0-9]+)", out)
    if not m:
        raise AgentError(f"cannot parse output from 'lsattr' command: {out}")
    value = int(m.group(1))
    if value < 0:
        raise AgentError(f"unexpected negative number from 'lsattr' command: {out}")
    return value


@procedure("set_e2generation")
def set_e2generation(call: CallContext, file: GuestPath, generation: int) -> None:
    command(
        call,
        ["chattr", "-v", str(generation % (1 << 64)), "--", file.host(follow=False)],
        literal(f"chattr: {file}") + ": {err}",
    )


@procedure("mklost_and_found")
def mklost_and_found(call: CallContext, mountpoint: GuestPath) -> None:
    # mklost+found works in the current directory (guestfsd cds there through a shell).
    try:
        done = runner.run(["mklost+found"], cwd=mountpoint.host(), check=False)
    except OSError:  # the directory itself is missing: the shell's cd would have failed
        done = None
    if done is None or done.status != 0:
        # guestfsd names the shell command it ran, the path escaped as its shell_quote
        # does: a backslash before each character that is not [A-Za-z0-9/._-].
        quoted = re.sub(r"([^A-Za-z0-9/._-])", r"\\\1", mountpoint.display())
        raise AgentError(f"cd {quoted} && mklost+found: command failed")
