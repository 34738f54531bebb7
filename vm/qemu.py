"""qemu's command lines, built in one place.

* :func:`qemu_argv`: the appliance VM, from the user's settings (:class:`MachineConfig`,
  frozen) and what this one launch needs (:class:`LaunchPlan`: a cold boot, the VM that
  saves a warm-launch snapshot, or one restoring it) plus its socket paths;
* :func:`kvm_probe_argv`: the short KVM probe (the appliance kernel booted under KVM with
  no root filesystem, see :mod:`pyguestfs.vm.accel`);
* :func:`help_argv` and :func:`qemu_has_sandbox`: what this qemu binary offers.

A drive's ``-drive``/``-device`` values are also what QMP hot-plugging sends
(:meth:`Drive.drive_opts`, :meth:`Drive.device_props`), so a restored VM's disks are the
disks a cold boot would have.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
from dataclasses import dataclass, field

from ..core import runner
from ..core.settings import DEFAULTS

#: Kernel parameters every launch uses (libguestfs's, plus boot-time savers measured in
#: libguestfs's own commits: cryptomgr.notests, tsc=reliable, 8250.nr_uarts=1, edd=off).
BASE_APPEND = (
    "panic=1 console=ttyS0 edd=off udev.event-timeout=6000 no_timer_check printk.time=1 "
    "cgroup_disable=memory usbcore.nousb cryptomgr.notests tsc=reliable 8250.nr_uarts=1 "
    "selinux=0 mitigations=off random.trust_cpu=on"
)
CHANNEL_NAME = "org.libguestfs.channel.0"
DEFAULT_MEMSIZE: int = DEFAULTS.memsize
#: The memory backend object of a warm-launch VM (its name is part of the saved state).
RAM_ID = "pyguestfs-ram"


def _qemu_escape(value: str) -> str:
    """qemu's option syntax doubles commas inside a value."""
    return value.replace(",", ",,")


@dataclass(frozen=True)
class Drive:
    """One disk as ``add_drive_opts`` describes it."""

    filename: str
    format: str | None = None
    readonly: bool = False
    iface: str | None = None
    label: str | None = None
    cachemode: str | None = None
    discard: str | None = None
    copyonread: bool = False
    blocksize: int | None = None

    def drive_opts(self, index: int) -> str:
        """The ``-drive`` value (also what ``drive_add`` takes when hot-plugging)."""
        opts = [f"file={_qemu_escape(self.filename)}"]
        if self.readonly:
            # As libguestfs: the guest may write, into a throwaway overlay; the image
            # itself is never modified.
            opts.append("snapshot=on")
        opts.append(f"cache={'unsafe' if self.cachemode == 'unsafe' else 'writeback'}")
        if self.format:
            opts.append(f"format={self.format}")
        if self.copyonread:
            opts.append("copy-on-read=on")
        if self.discard in ("enable", "besteffort"):
            opts.append("discard=unmap")
        opts += [f"id=hd{index}", "if=none"]
        return ",".join(opts)

    def device_props(self, index: int, scsi_id: int | None = None) -> dict[str, str | int]:
        """The guest-visible device, as ``-device``/``device_add`` properties."""
        props: dict[str, str | int]
        if self.iface == "virtio":
            props = {"driver": "virtio-blk-pci", "drive": f"hd{index}"}
        else:
            props = {
                "driver": "scsi-hd",
                "drive": f"hd{index}",
                "bus": "scsi.0",
                "channel": 0,
                "scsi-id": index if scsi_id is None else scsi_id,
                "lun": 0,
            }
        if self.label:
            props["serial"] = self.label
        if self.blocksize:
            props["physical_block_size"] = self.blocksize
            props["logical_block_size"] = self.blocksize
        return props

    def qemu_args(self, index: int) -> list[str]:
        """``-drive`` and ``-device`` for this disk as the ``index``-th of a cold boot."""
        props = self.device_props(index)
        dev = ",".join([str(props.pop("driver"))] + [f"{k}={v}" for k, v in props.items()])
        return ["-drive", self.drive_opts(index), "-device", dev]


@dataclass(frozen=True)
class MachineConfig:
    """What the user asked of the appliance VM: qemu, the appliance's files, the disks
    and the settings that shape the machine. The same for every launch with the same
    settings (a warm-launch snapshot is keyed on it, its drives aside)."""

    qemu: str
    kernel: str
    initrd: str
    root: str
    root_uuid: str | None
    drives: tuple[Drive, ...] = field(default=())
    accel: str = "tcg"
    memsize: int = DEFAULT_MEMSIZE
    smp: int = 1
    verbose: bool = False
    append: str | None = None
    network: bool = False
    #: qemu's seccomp filter (``-sandbox``), when this qemu was built with it.
    sandbox: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "drives", tuple(self.drives))  # a list given is frozen too


@dataclass(frozen=True)
class LaunchPlan:
    """How one qemu process runs, apart from the user's settings.

    The default is a cold boot. Warm launch (:mod:`pyguestfs.vm.snapshot`) uses the rest:
    the appliance disk is a qcow2 overlay of the root (written through while a snapshot
    is made, behind a throwaway overlay of its own when one is restored); the guest's RAM
    is a file (written through -- ``ram_shared`` -- while saving, mapped copy-on-write
    when restoring), which migration leaves out of the stream; a restore waits for the
    migration stream (``incoming``) instead of booting; both need the QMP monitor.
    """

    monitor: bool = False
    appliance_overlay: str | None = None
    overlay_throwaway: bool = False
    incoming: bool = False
    ram_file: str | None = None
    ram_shared: bool = False


#: A cold boot.
COLD_BOOT = LaunchPlan()


def qemu_argv(
    config: MachineConfig, plan: LaunchPlan, channel: str, qmp: str | None = None
) -> list[str]:
    """The appliance VM's command line: qemu connects to the host's listening sockets,
    ``channel`` (the agent's virtio-serial port) and, when ``plan.monitor``, ``qmp``."""
    if plan.monitor != (qmp is not None):
        raise ValueError("qemu_argv: a QMP socket path goes with plan.monitor, and only then")
    # q35 without the legacy devices: fewer devices to probe under emulation.
    machine = f"q35,accel={config.accel}"
    if plan.ram_file is not None:
        machine += f",memory-backend={RAM_ID}"
    argv = [
        config.qemu,
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        machine,
        "-cpu",
        "max",
        "-m",
        str(config.memsize),
        "-no-reboot",
        "-rtc",
        "driftfix=slew",
        "-global",
        "kvm-pit.lost_tick_policy=discard",
        "-object",
        "rng-random,filename=/dev/urandom,id=rng0",
        "-device",
        "virtio-rng-pci,rng=rng0",
        "-device",
        "virtio-scsi-pci,id=scsi",
    ]
    if config.sandbox:
        # The set libvirt enables: qemu may not run obsolete syscalls, gain privileges,
        # fork/exec or change scheduling -- a compromised qemu is contained further.
        argv += [
            "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        ]
    if config.smp > 1:
        argv += ["-smp", str(config.smp)]
    for i, d in enumerate(config.drives):
        argv += d.qemu_args(i)
    # The appliance disk comes last; the guest writes to a throwaway overlay.
    n = len(config.drives)
    if plan.appliance_overlay is None:
        disk = f"file={_qemu_escape(config.root)},snapshot=on,format=raw"
    else:
        disk = f"file={_qemu_escape(plan.appliance_overlay)},format=qcow2"
        if plan.overlay_throwaway:
            disk += ",snapshot=on"
    argv += [
        "-drive",
        f"{disk},id=appliance,cache=unsafe,if=none",
        "-device",
        f"scsi-hd,drive=appliance,bus=scsi.0,channel=0,scsi-id={n},lun=0",
        "-device",
        "virtio-serial-pci",
        "-chardev",
        f"socket,path={_qemu_escape(channel)},id=channel0",
        "-device",
        f"virtserialport,chardev=channel0,name={CHANNEL_NAME}",
        "-serial",
        "stdio",
    ]
    if qmp is not None:
        # qemu connects to the host's listener (Machine.monitor), like the channel.
        argv += [
            "-chardev",
            f"socket,path={_qemu_escape(qmp)},id=qmp,server=off",
            "-mon",
            "chardev=qmp,mode=control",
        ]
    if plan.ram_file is not None:
        share = "on" if plan.ram_shared else "off"
        argv += [
            "-object",
            f"memory-backend-file,id={RAM_ID},size={config.memsize}M,"
            f"mem-path={_qemu_escape(plan.ram_file)},share={share}",
        ]
    if plan.incoming:
        argv += ["-incoming", "defer"]
    if config.network:
        argv += [
            "-netdev",
            "user,id=usernet,net=169.254.0.0/16",
            "-device",
            "virtio-net-pci,netdev=usernet",
        ]
    if plan.incoming:
        # The kernel is already in the saved RAM: loading the files again would only
        # cost time (qemu reads and copies them whole before the restore can start).
        return argv
    return [*argv, "-kernel", config.kernel, "-initrd", config.initrd, "-append", cmdline(config)]


def cmdline(config: MachineConfig) -> str:
    """The appliance kernel's command line."""
    append = [BASE_APPEND]
    if config.root_uuid:
        append.append(f"root=UUID={config.root_uuid}")
    append.append("guestfs_verbose=1" if config.verbose else "quiet")
    if config.network:
        append.append("guestfs_network=1")
    if config.append:
        append.append(config.append)
    return " ".join(append)


#: The KVM probe's kernel command line: quiet, and a panic ends qemu at once.
KVM_PROBE_APPEND = "console=ttyS0 panic=-1 quiet loglevel=2"


def kvm_probe_argv(qemu: str, kernel: str) -> list[str]:
    """The KVM probe: ``kernel`` booted under KVM with no disk, so that it panics on the
    missing root filesystem; with ``panic=-1 -no-reboot`` qemu then exits."""
    return [
        qemu,
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-machine",
        "q35,accel=kvm",
        "-cpu",
        "max",
        "-m",
        "256",
        "-serial",
        "stdio",
        "-kernel",
        kernel,
        "-append",
        KVM_PROBE_APPEND,
    ]


def help_argv(qemu: str) -> list[str]:
    """``qemu -help``: the options this binary was built with."""
    return [qemu, "-help"]


@functools.lru_cache(maxsize=8)
def qemu_has_sandbox(qemu: str, cache_dir: str | None = None) -> bool:
    """True if ``qemu -help`` lists ``-sandbox`` (qemu built with libseccomp).

    Asking costs a qemu start (up to a second on a loaded machine, a good part of a warm
    launch), so the answer is kept in ``cache_dir`` per qemu binary (path, size, mtime).
    """
    path = os.path.join(cache_dir, "qemu-sandbox.json") if cache_dir else None
    binary = shutil.which(qemu) or qemu
    try:
        st = os.stat(binary)
        identity = [os.path.realpath(binary), st.st_size, st.st_mtime_ns]
    except OSError:
        identity = None
    if path and identity:
        try:
            with open(path) as f:
                cached = json.load(f)
            if cached.get("qemu") == identity:
                return bool(cached["sandbox"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    try:
        out = runner.run(help_argv(qemu), check=False, timeout=30).stdout
    except runner.CommandError:
        return False  # not cached: a qemu that could not be asked may work next time
    has = b"\n-sandbox " in out
    if path and identity:
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump({"qemu": identity, "sandbox": has}, f)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return has
