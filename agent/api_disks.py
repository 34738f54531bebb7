"""Devices and partitions: block device queries, partition tables (parted, sfdisk, sgdisk).

The tools, their arguments and the error texts are guestfsd 1.48's (``daemon/blockdev.c``,
``parted.c``, ``parted.ml``, ``devsparts.c``, ``devsparts.ml``, ``is.c``): blockdev(8) for
the block device queries, ``parted -s`` to write partition tables and ``parted -m`` to read
them, sfdisk for MBR type bytes and sgdisk for GPT GUIDs and attributes.

Devices are named as users see them (``/dev/sda1``); :func:`resolve_device` is guestfsd's
RESOLVE_DEVICE (translate, check the node opens, check it is a device), and names the
kernel put into a tool's messages are turned back into the user's names.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time

from .context import CallContext
from .errors import AgentError
from .parted import (
    check_partnum,
    parted_print,
    partition_row,
    partitions,
    run_tool,
    table_field,
    table_type,
)
from .registry import has_program, implements, provides_group

provides_group("gdisk", has_program("sgdisk"))

_have_sgdisk = has_program("sgdisk")


# -- device arguments ------------------------------------------------------------------------

#: Names DeviceMap does not translate: anything but /dev/{sd,vd,hd,xvd,ubd}X[N].
_UNTRANSLATED = re.compile(r"(?!/dev/(?:sd|vd|hd|xvd|ubd)[a-z]+\d*$)/.*", re.S)


def resolve_device(ctx: CallContext, device: str) -> str:
    """A ``Device`` argument → the guest node, with guestfsd's RESOLVE_DEVICE errors:
    "<api>_stub: <device>: No such file or directory" (ENOENT) when nothing backs the name,
    "<api>_stub: <device>: expecting a device name" when it is not a block device."""
    stub = f"{ctx.proc.name}_stub"
    devices = ctx.agent.devices
    if devices is None:  # standalone agent: it serves no block devices at all
        raise AgentError.from_errno(errno.ENOENT, f"{stub}: {device}")
    try:
        # A name outside the sd/vd/hd scheme (/dev/mapper/..., /dev/null) is used as it is
        # and judged below, so a character device is refused as guestfsd refuses it.
        node = device if _UNTRANSLATED.fullmatch(device) else devices.translate(device)
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    except AgentError:
        raise AgentError.from_errno(errno.ENOENT, f"{stub}: {device}") from None
    except OSError as e:
        # guestfsd retries other spellings on ENOENT/ENXIO and reports ENOENT in the end.
        code = errno.ENOENT if e.errno in (errno.ENOENT, errno.ENXIO) else (e.errno or 0)
        raise AgentError.from_errno(code, f"{stub}: {device}") from None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    # Any /dev/sd name passes as guestfsd's is_device_parameter lets it; other names must
    # be block devices (the translation never yields the appliance's own disk).
    if not device.startswith("/dev/sd") and (
        not stat.S_ISBLK(st.st_mode) or st.st_rdev == devices.root_dev
    ):
        raise AgentError(f"{stub}: {device}: expecting a device name")
    return node


def user_name(ctx: CallContext, node: str) -> str:
    """A guest node → the name the user sees (reverse device name translation)."""
    return ctx.agent.devices.reverse(node) if ctx.agent.devices else node


def _user_text(ctx: CallContext, text: str) -> str:
    """Rewrite the kernel's disk names in a tool's message into the user's names."""
    devices = ctx.agent.devices
    if devices is None:
        return text

    def swap(m: re.Match[str]) -> str:
        return devices.reverse(m.group(0))

    return re.sub(r"/dev/[a-z]+[0-9]*(?:p[0-9]+)?(?![A-Za-z0-9])", swap, text)


def _tool(ctx: CallContext, argv: list[str], *, fold: bool = False) -> tuple[int, str, str]:
    """Run a tool; kernel names in its output become the user's names. With ``fold`` the
    whole output is the third element (stdout folded into stderr, as guestfsd does)."""
    rc, out, err = run_tool(argv, fold=fold)
    return rc, _user_text(ctx, out), _user_text(ctx, err)


def _command(ctx: CallContext, argv: list[str], *, fold: bool = False) -> str:
    """OCaml guestfsd's ``command``: a failure reads "<prog> exited with status N: <err>"."""
    rc, out, err = _tool(ctx, argv, fold=fold)
    if rc != 0:
        raise AgentError(f"{argv[0]} exited with status {rc}: {err}")
    return out


def _require_gdisk() -> None:
    """The stub's check for an optional group (reply_with_unavailable_feature)."""
    if not _have_sgdisk():
        raise AgentError(
            "feature 'gdisk' is not available in this\nbuild of libguestfs.  Read "
            "'AVAILABILITY' in the guestfs(3) man page for\nhow to check for the "
            "availability of features.",
            "ENOTSUP",
        )


def _check_guid(guid: str) -> None:
    """The 1.48 library refuses a malformed GUID argument before the daemon sees it."""
    inner = guid[1:-1] if len(guid) == 38 and guid[0] == "{" and guid[-1] == "}" else guid
    ok = len(inner) == 36 and all(
        (c == "-") if i in (8, 13, 18, 23) else c.isascii() and c.isalnum()
        for i, c in enumerate(inner)
    )
    if not ok:
        raise AgentError("guid: parameter is not a valid GUID")


# -- which disks the appliance has -----------------------------------------------------------


@implements("nr_devices")
def nr_devices(ctx: CallContext) -> int:
    return len(ctx.agent.devices.list_devices()) if ctx.agent.devices else 0


def _disk_serial(sys_disk: str) -> str | None:
    """The serial number qemu was given (``serial=LABEL``): SCSI VPD page 0x80 for
    virtio-scsi (what udev's ID_SCSI_SERIAL is made of), the ``serial`` file for virtio-blk."""
    try:
        with open(os.path.join(sys_disk, "device", "vpd_pg80"), "rb") as f:
            page = f.read()
        if len(page) >= 4 and page[1] == 0x80:
            length = int.from_bytes(page[2:4], "big")
            serial = page[4 : 4 + length].decode("ascii", "replace").strip(" \0")
            return serial or None
    except OSError:
        pass
    try:
        with open(os.path.join(sys_disk, "serial")) as f:
            return f.read().strip() or None
    except OSError:
        return None


@implements("list_disk_labels")
def list_disk_labels(ctx: CallContext) -> dict[str, str]:
    # guestfsd reads the /dev/disk/guestfs/LABEL[N] links its udev rule makes from each
    # disk's SCSI serial; without udev the same names come from sysfs.
    devices = ctx.agent.devices
    labels: dict[str, str] = {}
    if devices is None:
        return labels
    for i, disk in enumerate(devices.kernel_disks()):
        serial = _disk_serial(os.path.join(devices.sys_block, disk))
        if not serial:
            continue
        user_disk = devices.list_devices()[i]
        labels[serial] = user_disk
        for part in devices.partitions_of(disk):
            num = re.search(r"(\d+)$", part)
            if num:
                labels[serial + num.group(1)] = user_disk + num.group(1)
    return labels


def _split_device_partition(node: str) -> tuple[str, int]:
    """guestfsd's split_device_partition: "/dev/sdb1" → ("sdb", 1), "/dev/sdb" → ("sdb", 0),
    "/dev/md0p1" → ("md0", 1). A name's trailing digits are its partition number."""
    name = node[5:] if node.startswith("/dev/") else node
    m = re.fullmatch(r"(.*?)(\d*)", name, re.S)
    assert m is not None
    dev, digits = m.group(1), m.group(2)
    part = int(digits) if digits else 0
    if digits and len(dev) >= 2 and dev[-1] == "p" and dev[-2].isdigit():
        dev = dev[:-1]
    return dev, part


@implements("part_to_dev")
def part_to_dev(ctx: CallContext, partition: str) -> str:
    dev, part = _split_device_partition(resolve_device(ctx, partition))
    if part == 0:
        raise AgentError("device name is not a partition")
    return user_name(ctx, "/dev/" + dev)


@implements("part_to_partnum")
def part_to_partnum(ctx: CallContext, partition: str) -> int:
    _, part = _split_device_partition(resolve_device(ctx, partition))
    if part == 0:
        raise AgentError("device name is not a partition")
    return part


@implements("is_whole_device")
def is_whole_device(ctx: CallContext, device: str) -> bool:
    # A whole disk has a "device" link in its /sys/block directory; partitions, LVs and
    # dm devices do not.
    node = resolve_device(ctx, device)
    sys_block = ctx.agent.devices.sys_block if ctx.agent.devices else "/sys/block"
    return os.path.exists(os.path.join(sys_block, node[5:], "device"))


# -- tests on paths for device nodes ---------------------------------------------------------


def _is_kind(ctx: CallContext, path: str, follow: bool, kind: int) -> bool:
    host = ctx.sysroot.resolve(path, follow=follow)
    try:
        st = os.stat(host) if follow else os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return False  # guestfsd: a missing path is simply not one
    except OSError as e:
        raise AgentError.from_os(e, f"stat: {path}") from None
    return stat.S_IFMT(st.st_mode) == kind


@implements("is_blockdev")
def is_blockdev(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFBLK)


@implements("is_chardev")
def is_chardev(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFCHR)


@implements("is_fifo")
def is_fifo(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFIFO)


@implements("is_socket")
def is_socket(ctx: CallContext, path: str, followsymlinks: bool = False) -> bool:
    return _is_kind(ctx, path, followsymlinks, stat.S_IFSOCK)


# -- partition tables with parted ------------------------------------------------------------


def _parted_change(ctx: CallContext, device: str, node: str, *words: str, colon: str = "") -> None:
    """``parted -s -- NODE WORDS...``; a failure is "parted: <device>: <output>"."""
    rc, _, out = _tool(ctx, ["parted", "-s", "--", node, *words], fold=True)
    if rc != 0:
        raise AgentError(f"parted: {device}: {out.strip()}{colon}")
    ctx.agent.devices.refresh()  # type: ignore[union-attr]


@implements("part_init")
def part_init(ctx: CallContext, device: str, parttype: str) -> None:
    label = table_type(parttype)
    node = resolve_device(ctx, device)
    _parted_change(ctx, device, node, "mklabel", label)


_PRLOGEX = {
    "primary": "primary",
    "logical": "logical",
    "extended": "extended",
    "p": "primary",
    "l": "logical",
    "e": "extended",
}


@implements("part_add")
def part_add(ctx: CallContext, device: str, prlogex: str, startsect: int, endsect: int) -> None:
    node = resolve_device(ctx, device)
    kind = _PRLOGEX.get(prlogex)
    if kind is None:
        raise AgentError(
            f'unknown partition type: {prlogex}: this should be "primary", "logical" or "extended"'
        )
    if startsect < 0:
        raise AgentError("startsect cannot be negative")
    # On GPT parted takes the word as the new partition's name, as in libguestfs.
    _parted_change(ctx, device, node, "mkpart", kind, f"{startsect}s", f"{endsect}s")


@implements("part_disk")
def part_disk(ctx: CallContext, device: str, parttype: str) -> None:
    node = resolve_device(ctx, device)
    label = table_type(parttype)
    # As libguestfs: partitions aligned to 128 sectors and the last 128 left free (room
    # for GPT's backup). parted names the partition on GPT; on msdos it is the kind.
    _parted_change(
        ctx,
        device,
        node,
        "mklabel",
        label,
        "mkpart",
        "p1" if label == "gpt" else "primary",
        "128s",
        "-128s",
    )
    _settle(ctx, f"{device}1")


def _settle(ctx: CallContext, partition: str, timeout: float = 10.0) -> None:
    """Wait for the node of a partition parted announced (guestfsd's udev_settle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.path.exists(ctx.agent.devices.translate(partition)):  # type: ignore[union-attr]
                return
        except AgentError:
            pass
        time.sleep(0.01)


@implements("part_list")
def part_list(ctx: CallContext, device: str) -> list[dict[str, int]]:
    _, rows = _print(ctx, device, resolve_device(ctx, device))
    return partitions(rows)


@implements("part_del")
def part_del(ctx: CallContext, device: str, partnum: int) -> None:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    _parted_change(ctx, device, node, "rm", str(partnum))


@implements("part_resize")
def part_resize(ctx: CallContext, device: str, partnum: int, endsect: int) -> None:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    # 1.48's message for this one call ends in a stray colon.
    _parted_change(ctx, device, node, "resizepart", str(partnum), f"{endsect}s", colon=":")


@implements("part_set_bootable")
def part_set_bootable(ctx: CallContext, device: str, partnum: int, bootable: bool) -> None:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    _parted_change(ctx, device, node, "set", str(partnum), "boot", "on" if bootable else "off")


@implements("part_set_name")
def part_set_name(ctx: CallContext, device: str, partnum: int, name: str) -> None:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    _parted_change(ctx, device, node, "name", str(partnum), name)


def _print(
    ctx: CallContext, device: str, node: str, *, c_style: bool = False
) -> tuple[str, list[str]]:
    return parted_print(device, node, rewrite=lambda text: _user_text(ctx, text), c_style=c_style)


def _has_bogus_mbr(node: str) -> bool:
    """The MBR mkfs.fat ≥ 4.2 writes on a whole-disk filesystem, which parted reports as a
    "loop" label: one bootable FAT entry covering the disk from LBA 0 (RHBZ#1931821)."""
    try:
        with open(node, "rb") as f:
            sector = f.read(512)
    except OSError:
        return False
    if len(sector) < 512 or sector[0x1FE:0x200] != b"\x55\xaa":
        return False
    entry = sector[0x1BE:0x1CE]
    return (
        sector[3:11] == b"mkfs.fat"
        and entry[0] == 0x80
        and entry[1:4] == b"\x00\x01\x00"
        and entry[4] in (0x01, 0x04, 0x06, 0x0C, 0x0E)
        and entry[8:12] == b"\x00\x00\x00\x00"
    )


def _parttype(ctx: CallContext, device: str, node: str) -> str:
    device_line, _ = _print(ctx, device, node)
    # "/dev/sda:134217728B:scsi:512:512:gpt:QEMU QEMU HARDDISK:;"
    fields = device_line.split(":")
    if len(fields) < 6:
        raise AgentError(f"{device}: cannot parse the output of parted")
    if fields[5] == "loop":
        # A filesystem on the whole disk: not a table (RHBZ#634246).
        if _has_bogus_mbr(node):
            return "msdos"
        raise AgentError(f"{device}: not a partitioned device")
    return fields[5]


@implements("part_get_parttype")
def part_get_parttype(ctx: CallContext, device: str) -> str:
    return _parttype(ctx, device, resolve_device(ctx, device))


@implements("part_get_bootable")
def part_get_bootable(ctx: CallContext, device: str, partnum: int) -> bool:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    _, rows = _print(ctx, device, node, c_style=True)
    return "boot" in table_field(partition_row(rows, partnum), 6)


@implements("part_get_name")
def part_get_name(ctx: CallContext, device: str, partnum: int) -> str:
    node = resolve_device(ctx, device)
    if _parttype(ctx, device, node) != "gpt":
        raise AgentError("part-get-name can only be used on GUID Partition Tables")
    _, rows = _print(ctx, device, node, c_style=True)
    return table_field(partition_row(rows, partnum), 5)


# -- MBR type bytes with sfdisk --------------------------------------------------------------


def _mbr_id(ctx: CallContext, node: str, partnum: int) -> int:
    check_partnum(partnum)
    out = _command(ctx, ["sfdisk", "--part-type", node, str(partnum)])
    # Printed in hex. On GPT sfdisk prints the type GUID, whose first group 1.48 reads
    # as if it were the byte (an int, so it wraps like C's).
    m = re.match(r"\s*(?:0[xX])?([0-9a-fA-F]+)", out)
    if not m:
        raise AgentError(f"sfdisk: cannot parse the type: {out.strip()}")
    value = int(m.group(1), 16) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@implements("part_get_mbr_id")
def part_get_mbr_id(ctx: CallContext, device: str, partnum: int) -> int:
    return _mbr_id(ctx, resolve_device(ctx, device), partnum)


@implements("part_set_mbr_id")
def part_set_mbr_id(ctx: CallContext, device: str, partnum: int, idbyte: int) -> None:
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    rc, _, err = _tool(
        ctx, ["sfdisk", "--part-type", node, str(partnum), f"{idbyte & 0xFFFFFFFF:x}"]
    )
    if rc != 0:
        raise AgentError(f"sfdisk --part-type: {err}")


@implements("part_get_mbr_part_type")
def part_get_mbr_part_type(ctx: CallContext, device: str, partnum: int) -> str:
    node = resolve_device(ctx, device)
    parttype = _parttype(ctx, device, node)
    mbr_id = _mbr_id(ctx, node, partnum)
    if parttype != "msdos":
        return "primary"
    if partnum <= 4:
        # 0x05 and 0x0f (LBA) are the extended partition's type bytes.
        return "extended" if mbr_id in (0x05, 0x0F) else "primary"
    return "logical"


# -- GPT details with sgdisk -----------------------------------------------------------------


def _sgdisk_info(ctx: CallContext, device: str, partnum: int, field: str) -> str:
    """The value after "FIELD:" in ``sgdisk -i N``, as parted.ml's sgdisk_info_extract_field."""
    _require_gdisk()
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    rc, _, out = _tool(ctx, ["sgdisk", node, "-i", str(partnum)], fold=True)
    if rc != 0:
        raise AgentError(f"sgdisk: {out.rstrip(chr(10))}")
    for line in out.strip().split("\n"):
        if line.startswith(field + ":") and len(line) >= len(field) + 2:
            return line[len(field) + 1 :].lstrip()
    raise AgentError(f"{device}: sgdisk output did not contain '{field}'")


def _leading(value: str, allowed: str) -> str:
    n = 0
    while n < len(value) and value[n] in allowed:
        n += 1
    return value[:n]


_GUID_CHARS = "-0123456789ABCDEF"


@implements("part_get_gpt_type")
def part_get_gpt_type(ctx: CallContext, device: str, partnum: int) -> str:
    return _leading(_sgdisk_info(ctx, device, partnum, "Partition GUID code"), _GUID_CHARS)


@implements("part_get_gpt_guid")
def part_get_gpt_guid(ctx: CallContext, device: str, partnum: int) -> str:
    return _leading(_sgdisk_info(ctx, device, partnum, "Partition unique GUID"), _GUID_CHARS)


@implements("part_get_gpt_attributes")
def part_get_gpt_attributes(ctx: CallContext, device: str, partnum: int) -> int:
    digits = _leading(_sgdisk_info(ctx, device, partnum, "Attribute flags"), "0123456789ABCDEF")
    if not digits:
        raise AgentError("Int64.of_string")  # what OCaml's conversion fails with
    value = int(digits, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _sgdisk_change(ctx: CallContext, device: str, node: str, argv: list[str], what: str) -> None:
    rc, _, out = _tool(ctx, argv, fold=True)
    if rc != 0:
        raise AgentError(f"{what}: {out.rstrip(chr(10))}")


@implements("part_set_gpt_type")
def part_set_gpt_type(ctx: CallContext, device: str, partnum: int, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    code = f"{partnum}:{guid}"
    _sgdisk_change(ctx, device, node, ["sgdisk", node, "-t", code], f"sgdisk {device} -t {code}")


@implements("part_set_gpt_guid")
def part_set_gpt_guid(ctx: CallContext, device: str, partnum: int, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    code = f"{partnum}:{guid}"
    _sgdisk_change(ctx, device, node, ["sgdisk", node, "-u", code], f"sgdisk {device} -u {code}")


@implements("part_set_gpt_attributes")
def part_set_gpt_attributes(ctx: CallContext, device: str, partnum: int, attributes: int) -> None:
    _require_gdisk()
    node = resolve_device(ctx, device)
    check_partnum(partnum)
    arg = f"{partnum}:=:{attributes & 0xFFFFFFFFFFFFFFFF:X}"
    _sgdisk_change(ctx, device, node, ["sgdisk", node, "-A", arg], "sgdisk")


@implements("part_get_disk_guid")
def part_get_disk_guid(ctx: CallContext, device: str) -> str:
    _require_gdisk()
    node = resolve_device(ctx, device)
    rc, _, out = _tool(ctx, ["sgdisk", node, "-p"], fold=True)
    if rc != 0:
        raise AgentError(f"sgdisk {device} -p: {out.rstrip(chr(10))}")
    for line in out.split("\n"):
        if line.startswith("Disk identifier (GUID):"):
            return _leading(line.split(":", 1)[1].lstrip(" \t"), _GUID_CHARS)
    raise AgentError(
        "sgdisk output did not contain disk GUID. See LIBGUESTFS_DEBUG output for more details"
    )


@implements("part_set_disk_guid")
def part_set_disk_guid(ctx: CallContext, device: str, guid: str) -> None:
    _check_guid(guid)
    _require_gdisk()
    node = resolve_device(ctx, device)
    _sgdisk_change(ctx, device, node, ["sgdisk", node, "-U", guid], f"sgdisk {device} -U {guid}")


@implements("part_set_disk_guid_random")
def part_set_disk_guid_random(ctx: CallContext, device: str) -> None:
    _require_gdisk()
    node = resolve_device(ctx, device)
    _sgdisk_change(ctx, device, node, ["sgdisk", node, "-U", "R"], f"sgdisk {device} -U R")


@implements("part_expand_gpt")
def part_expand_gpt(ctx: CallContext, device: str) -> None:
    _require_gdisk()
    node = resolve_device(ctx, device)
    _sgdisk_change(ctx, device, node, ["sgdisk", "-e", node], f"sgdisk -e {device}")
