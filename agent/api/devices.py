"""The ``devices`` family: which disks and partitions the appliance has, and how their
names relate (``daemon/devsparts.c``, ``devsparts.ml``, ``listfs.ml`` of 1.48).

Devices are returned as the appliance's nodes; the dispatcher names them as the user does.
"""

from __future__ import annotations

import os
import re

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device


@procedure("list_devices")
def list_devices(call: CallContext) -> list[str]:
    devices = call.agent.devices
    if devices is None:
        return []
    return [os.path.join(devices.dev, disk) for disk in devices.kernel_disks()]


@procedure("list_partitions")
def list_partitions(call: CallContext) -> list[str]:
    devices = call.agent.devices
    if devices is None:
        return []
    return [
        os.path.join(devices.dev, part)
        for disk in devices.kernel_disks()
        for part in devices.partitions_of(disk)
        if part[-1].isdigit()
    ]


@procedure("nr_devices")
def nr_devices(call: CallContext) -> int:
    return len(call.agent.devices.kernel_disks()) if call.agent.devices else 0


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


@procedure("list_disk_labels")
def list_disk_labels(call: CallContext) -> dict[str, str]:
    # guestfsd reads the /dev/disk/guestfs/LABEL[N] links its udev rule makes from each
    # disk's SCSI serial; without udev the same names come from sysfs.
    devices = call.agent.devices
    labels: dict[str, str] = {}
    if devices is None:
        return labels
    for disk in devices.kernel_disks():
        serial = _disk_serial(os.path.join(devices.sys_block, disk))
        if not serial:
            continue
        labels[serial] = os.path.join(devices.dev, disk)
        for part in devices.partitions_of(disk):
            num = re.search(r"(\d+)$", part)
            if num:
                labels[serial + num.group(1)] = os.path.join(devices.dev, part)
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


@procedure("part_to_dev")
def part_to_dev(call: CallContext, partition: Device) -> str:
    dev, part = _split_device_partition(partition.node)
    if part == 0:
        raise AgentError("device name is not a partition")
    return "/dev/" + dev


@procedure("part_to_partnum")
def part_to_partnum(call: CallContext, partition: Device) -> int:
    _, part = _split_device_partition(partition.node)
    if part == 0:
        raise AgentError("device name is not a partition")
    return part


@procedure("is_whole_device")
def is_whole_device(call: CallContext, device: Device) -> bool:
    # A whole disk has a "device" link in its /sys/block directory; partitions, LVs and
    # dm devices do not.
    sys_block = call.agent.devices.sys_block if call.agent.devices else "/sys/block"
    return os.path.exists(os.path.join(sys_block, device.node[5:], "device"))
