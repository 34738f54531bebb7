"""The agent's LVM configuration, and device-mapper made ready, before ``lvm`` runs.

This appliance runs no udev, so LVM gets a configuration of its own (in a private
directory, ``LVM_SYSTEM_DIR``, as libguestfs's appliance does with ``/tmp/lvm``) that

* never asks udev (no device list from udev, no udev sync or rules: libdevmapper makes the
  ``/dev/mapper`` nodes and the ``/dev/VG/LV`` links itself),
* sees only the user's disks, their partitions and device-mapper/md devices built on them,
  never the appliance's own disk (a ``global_filter``; ``lvm_set_filter`` narrows it
  further with a ``filter``, so even ``lvm_clear_filter`` cannot expose that disk).

The first LVM call loads device-mapper and activates what the disks hold
(``pvscan --cache --activate ay``, which 1.48's appliance ``/init`` runs at boot). The
procedures are in :mod:`pyguestfs.agent.api.lvm`.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import runner
from .errors import AgentError

if TYPE_CHECKING:
    from .context import CallContext


class _LvmSetup:
    """The agent's one LVM configuration and whether device-mapper is ready."""

    def __init__(self) -> None:
        self.system_dir: str | None = None
        self.written: str | None = None
        #: lvm_set_filter's patterns (None: every device the global filter allows).
        self.user_filter: list[str] | None = None
        self.activated = False

    def ensure(self, call: CallContext) -> None:
        """Write the configuration if it changed; load and activate on first use."""
        if self.system_dir is None:
            self.system_dir = tempfile.mkdtemp(prefix="pyguestfs-lvm.")
            atexit.register(shutil.rmtree, self.system_dir, True)
            # Every later command of the agent sees it, as guestfsd's children do the
            # LVM_SYSTEM_DIR its /init exports (inspection's LVM calls included).
            runner.ENV["LVM_SYSTEM_DIR"] = self.system_dir
        text = config_text(call, self.user_filter)
        if text != self.written:
            path = os.path.join(self.system_dir, "lvm.conf")
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
            self.written = text
        if not self.activated and call.agent.devices is not None:
            self.activated = True
            _load_device_mapper()
            try:
                runner.run(["lvm", "pvscan", "--cache", "--activate", "ay"])
            except AgentError:
                pass  # as the appliance's /init: a disk LVM cannot read is no reason to fail


SETUP = _LvmSetup()


def lvm_ready(call: CallContext) -> None:
    """Make ``lvm`` usable in this agent (configuration, device-mapper, activation).

    Other API families that run ``lvm`` themselves (inspection) call this first."""
    SETUP.ensure(call)


def _accept_patterns(call: CallContext) -> list[str]:
    """The user's disks and their partitions, and the dm/md devices made from them."""
    devices = call.agent.devices
    if devices is None:
        return []  # standalone on a host: LVM must see none of the host's disks
    patterns = []
    for disk in devices.kernel_disks():
        node = os.path.join(devices.dev, disk)
        patterns.append(f"a|^{regex_quote(node)}$|")
        patterns.append(f"a|^{regex_quote(node)}{'p' if disk[-1].isdigit() else ''}[0-9]+$|")
    # LUKS-opened devices, md arrays and LVs: made from the user's disks, never the root.
    patterns += ["a|^/dev/mapper/|", "a|^/dev/md|"]
    return patterns


def config_text(call: CallContext, user_filter: list[str] | None) -> str:
    global_filter = [*_accept_patterns(call), "r|.*|"]
    user = user_filter if user_filter is not None else ["a|.*|"]
    return (
        "devices {\n"
        '    scan = [ "/dev" ]\n'
        "    obtain_device_list_from_udev = 0\n"
        '    external_device_info_source = "none"\n'
        # 1.48 turns the devices file off (RHBZ#1965941): disks are named by the filter.
        "    use_devicesfile = 0\n"
        f"    global_filter = [ {_list(global_filter)} ]\n"
        f"    filter = [ {_list(user)} ]\n"
        "}\n"
        "activation {\n"
        # No udev: libdevmapper creates and removes the nodes and links itself.
        "    udev_sync = 0\n"
        "    udev_rules = 0\n"
        "    verify_udev_operations = 0\n"
        "    monitoring = 0\n"
        "}\n"
        "global {\n"
        "    use_lvmpolld = 0\n"
        "    notify_dbus = 0\n"
        "}\n"
    )


def _list(patterns: Sequence[str]) -> str:
    return ", ".join(f'"{p}"' for p in patterns)


def regex_quote(path: str) -> str:
    """Escape the characters of device and LV names that LVM's regex engine treats
    specially (LV names may hold ``+`` and ``.``)."""
    return re.sub(r"([.+*?^$()\[\]{}|\\])", r"\\\1", path)


def _load_device_mapper() -> None:
    """Load dm_mod and make sure /dev/mapper/control exists: without udev nothing
    creates the node, and libdevmapper can only do so once the module is in."""
    try:
        runner.run(["modprobe", "dm_mod"])
    except AgentError:
        pass  # built into the kernel, or not there at all: lvm will say which
    control = "/dev/mapper/control"
    if os.path.exists(control):
        return
    minor = None
    try:
        with open("/proc/misc") as f:  # lines of "<minor> <name>"
            for line in f:
                number, _, name = line.strip().partition(" ")
                if name == "device-mapper":
                    minor = int(number)
    except (OSError, ValueError):
        pass
    if minor is None:
        return
    try:
        os.makedirs("/dev/mapper", exist_ok=True)
        os.mknod(control, 0o600 | stat.S_IFCHR, os.makedev(10, minor))
    except OSError:
        pass  # lvm reports a missing control node itself
