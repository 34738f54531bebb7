"""The ``md`` family: Linux software RAID with ``mdadm(8)`` and ``/proc/mdstat``, as
guestfsd's ``daemon/md.c`` and ``md.ml`` do it."""

from __future__ import annotations

import errno
import fcntl
import os
import re

from ..context import CallContext
from ..errors import AgentError
from ..registry import has_program, procedure, provides_group
from ..resolve import Device

provides_group("mdadm", has_program("mdadm"))

#: The RAID levels guestfsd lets through to ``mdadm --level``.
_LEVELS = frozenset(
    "linear raid0 0 stripe raid1 1 mirror raid4 4 raid5 5 raid6 6 raid10 10".split()
)
#: ``GET_ARRAY_INFO`` (``_IOR(MD_MAJOR, 0x11, mdu_array_info_t)``, 72 bytes).
_GET_ARRAY_INFO = 0x80480911
_MD_NAME = re.compile(r"md[0-9]+")
#: A disk's kernel name inside mdadm's export keys (``MD_DEVICE_dev_vdb_ROLE``).
_KEY_DEVICE = re.compile(r"(?<=dev_)([a-z]+[0-9]*)(?=_)")


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


@procedure("md_create")
def md_create(
    call: CallContext,
    name: str,
    devices: list[Device],
    missingbitmap: int | None = None,
    nrdevices: int | None = None,
    spare: int | None = None,
    chunk: int | None = None,
    level: str | None = None,
) -> None:
    # The bitmap is unsigned in guestfsd: bit 63 set is one more "missing", not a sign.
    bitmap = (missingbitmap or 0) & 0xFFFFFFFFFFFFFFFF
    if spare is not None and spare < 0:
        raise AgentError("spare must not be negative")
    if nrdevices is not None and nrdevices < 2:
        raise AgentError("nrdevices is less than 2")
    missing = bin(bitmap).count("1")
    if nrdevices is None:
        nrdevices = len(devices) + missing
    if level is not None and level not in _LEVELS:
        raise AgentError(f"unknown level parameter: {level}")
    if chunk is not None and chunk & 1023 != 0:
        raise AgentError("chunk size must be a multiple of 1024 bytes")
    if len(devices) + missing != nrdevices + (spare or 0):
        raise AgentError(
            f"devices ({len(devices)}) + bits set in missingbitmap ({missing}) is not equal "
            f"to nrdevices ({nrdevices}) + spare ({spare or 0})"
        )
    argv = ["mdadm", "--create", "--run", name, "--level", level or "raid1"]
    argv += ["--raid-devices", str(nrdevices)]
    if spare is not None:
        argv += ["--spare-devices", str(spare)]
    if chunk is not None:
        argv += ["--chunk", str(int(chunk / 1024))]  # C division: toward zero
    # Devices in order, a "missing" wherever the bitmap has a 1 bit.
    queue = list(devices)
    while queue or bitmap:
        if bitmap & 1:
            argv.append("missing")
        else:
            argv.append(queue.pop(0).node)
        bitmap >>= 1
    _command(call, argv, f"mdadm: {name}: ")


def _is_raid_device(node: str) -> bool:
    """False only when the kernel says the md node has no array (ENODEV): a /dev/mdN can
    exist without one when md is built into the kernel."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.ioctl(fd, _GET_ARRAY_INFO, bytes(72))
    except OSError as e:
        return e.errno != errno.ENODEV
    finally:
        os.close(fd)
    return True


@procedure("list_md_devices")
def list_md_devices(call: CallContext) -> list[str]:
    try:
        names = os.listdir("/sys/block")
    except OSError as e:
        raise AgentError.from_os(e, "/sys/block") from None
    found = [n for n in names if _MD_NAME.fullmatch(n) and os.path.isdir(f"/sys/block/{n}/md")]
    devs = [f"/dev/{n}" for n in found if _is_raid_device(f"/dev/{n}")]
    return sorted(devs, key=lambda d: (len(d), d))


@procedure("md_detail")
def md_detail(call: CallContext, md: Device) -> list[tuple[str, str]]:
    done = call.run(["mdadm", "-D", "--export", md.node], check=False)
    if done.status != 0:
        raise AgentError(f"mdadm exited with status {done.status}: {done.err}")
    pairs = []
    for line in done.out.strip().split("\n"):
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("MD_").lower()
        # Member disks are named in the keys too: the user's names there, as in the values.
        key = _KEY_DEVICE.sub(lambda m: call.user_names(f"/dev/{m.group(1)}")[5:], key)
        pairs.append((key, value))
    return pairs


@procedure("md_stop")
def md_stop(call: CallContext, md: Device) -> None:
    _command(call, ["mdadm", "--stop", md.node])


def _parse_mdstat_line(call: CallContext, line: str) -> list[dict[str, object]]:
    """The members of ``active raid1 sdb1[0] sdc1[1](F)``: name, index, flag letters."""
    members: list[dict[str, object]] = []
    for word in line.split(" "):
        p, q = word.find("["), word.find("]")
        if p < 0 or q < 0 or p > q:
            continue
        if p == 0:
            raise AgentError(f"device entry is too short: {word}")
        m = re.match(r"\s*([+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*))", word[p + 1 : q])
        if not m:
            raise AgentError(f"not a device number: {word[p + 1 : q]}")
        members.append(
            {
                "mdstat_device": call.user_names(f"/dev/{word[:p]}"),
                "mdstat_index": _c_int(m.group(1)),
                "mdstat_flags": "".join(c for c in word[q + 1 :] if c.isascii() and c.isalpha()),
            }
        )
    return members


def _c_int(text: str) -> int:
    """sscanf's %i: hexadecimal after 0x, octal after a leading 0, else decimal."""
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits[:2].lower() == "0x":
        return sign * int(digits[2:], 16)
    if digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


@procedure("md_stat")
def md_stat(call: CallContext, md: Device) -> list[dict[str, object]]:
    name = md.node.removeprefix("/dev/")
    shown = md.removeprefix("/dev/")  # the user's name, as guestfsd's appliance sees it
    try:
        with open("/proc/mdstat", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().split("\n")
    except OSError as e:
        raise AgentError.from_os(e, "fopen: /proc/mdstat") from None
    for line in lines:
        if line.startswith(f"{name} : "):
            return _parse_mdstat_line(call, line[len(name) + 3 :])
    raise AgentError(f"{shown}: MD device not found")
