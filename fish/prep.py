"""``-N [FILE=]TYPE[:PARAM...]``: prepared disk images (guestfish 1.48's ``fish/prep*.c``).

Each type has ordered optional parameters with defaults; the image is created before
launch and partitioned/formatted through the handle right after it, as the drive
``/dev/sdX`` it became.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from .parse import IntError, parse_size


@dataclass(frozen=True)
class Param:
    name: str
    default: str
    desc: str


@dataclass(frozen=True)
class PrepType:
    name: str
    shortdesc: str
    longdesc: str
    params: tuple[Param, ...]
    #: Which parameter holds the image size.
    size_param: str = "size"


_SIZE = Param("size", "1G", "the size of the disk image")
_PART = Param("partition", "mbr", "partition table type")
_FS = Param("filesystem", "ext2", "the type of filesystem to use")
_NAME = Param("name", "/dev/VG/LV", "the name of the VG and LV to use")
_BOOTFS = Param("bootfs", "ext2", "the type of filesystem to use for boot")
_ROOTFS = Param("rootfs", "ext2", "the type of filesystem to use for root")
_BOOTSIZE = Param("bootsize", "128M", "the size of the boot filesystem")

PREP_TYPES: tuple[PrepType, ...] = (
    PrepType("disk", "create a blank disk", "  An empty raw disk image.", (_SIZE,)),
    PrepType(
        "part",
        "create a partitioned disk",
        "  A raw disk image with one partition filling it.",
        (_SIZE, _PART),
    ),
    PrepType(
        "fs",
        "create a filesystem",
        "  A raw disk image with one partition holding an empty filesystem.",
        (_FS, _SIZE, _PART),
    ),
    PrepType(
        "lv",
        "create a disk with logical volume",
        "  One partition as an LVM physical volume, holding a volume group with one\n"
        "  logical volume as large as it can be (no filesystem).",
        (_NAME, _SIZE, _PART),
    ),
    PrepType(
        "lvfs",
        "create a disk with logical volume and filesystem",
        "  As 'lv', with a filesystem made on the logical volume.",
        (_NAME, _FS, _SIZE, _PART),
    ),
    PrepType(
        "bootroot",
        "create a boot and root filesystem",
        "  Two partitions, a boot filesystem and a root filesystem.",
        (_BOOTFS, _ROOTFS, _SIZE, _BOOTSIZE, _PART),
    ),
    PrepType(
        "bootrootlv",
        "create a boot and root filesystem using LVM",
        "  As 'bootroot', with the root filesystem on a logical volume.",
        (
            Param("name", "/dev/VG/LV", "the name of the VG and LV for root"),
            _BOOTFS,
            _ROOTFS,
            _SIZE,
            _BOOTSIZE,
            _PART,
        ),
    ),
)


class PrepError(Exception):
    """A prepared disk that cannot be made; the message is guestfish's, after
    ``error creating prepared disk image 'TYPE' on 'FILE': ``."""


def list_prepared_drives(prog: str) -> str:
    """The text of ``-N help``."""
    out = ["List of available prepared disk images:\n"]
    for t in PREP_TYPES:
        out.append(f"{prog} -N {t.name:<8} - {t.shortdesc}\n\n{t.longdesc}\n")
        out.append("  Optional parameters:")
        out.append(f"    -N {t.name}" + "".join(f":<{p.name}>" for p in t.params))
        out += [f"      <{p.name}> {p.desc} (default: {p.default})" for p in t.params]
        out.append("")
    out.append(
        'Prepared disk images are written to "test1.img" in the current directory\n'
        '("test2.img" for a second -N ...). Give a file name before the type to\n'
        f"choose another:\n\n  {prog} -N blank.img=fs\n"
    )
    return "\n".join(out)


@dataclass
class Prepared:
    """One -N disk: its type, parameter values by name, and file."""

    type: PrepType
    spec: str
    values: dict[str, str]
    filename: str

    def prelaunch(self) -> None:
        """Create the image file (sparse), checking the LV name first."""
        if "name" in self.values:
            _vg_lv(self.values["name"])
        try:
            size = parse_size(self.values["size"])
        except IntError as e:
            # guestfish's parse_size says why before the prepared-disk error.
            sys.stderr.write(
                f"parse_size: invalid integer parameter (xstrtoull returned {e.code})\n"
            )
            raise PrepError("failed to allocate disk") from None
        try:
            with open(self.filename, "wb") as f:
                f.truncate(size)
        except OSError as e:
            raise PrepError(f"failed to allocate disk: {e.strerror}") from None

    def postlaunch(self, g: Any, device: str) -> None:
        """Partition and format the drive, which the guest sees as ``device``."""
        v = self.values
        t = self.type.name
        part1 = f"{device}1"
        if t in ("part", "fs", "lv", "lvfs"):
            _step(lambda: g.part_disk(device, v["partition"]), "failed to partition disk: ")
        if t == "fs":
            _step(
                lambda: g.mkfs(v["filesystem"], part1),
                f"failed to create filesystem ({v['filesystem']}): ",
            )
        if t in ("lv", "lvfs"):
            _make_lv(g, v["name"], part1)
        if t == "lvfs":
            _step(
                lambda: g.mkfs(v["filesystem"], v["name"]),
                f"failed to create filesystem ({v['filesystem']}): ",
            )
        if t in ("bootroot", "bootrootlv"):
            try:
                bootsize = parse_size(v["bootsize"])
            except IntError:
                raise PrepError("could not parse boot size") from None
            sector = _step(lambda: g.blockdev_getss(device), "failed to get sector size of disk: ")
            _step(lambda: g.part_init(device, v["partition"]), "failed to partition disk: ")
            last = 64 + bootsize // sector - 1
            _step(lambda: g.part_add(device, "primary", 64, last), "failed to add boot partition: ")
            _step(
                lambda: g.part_add(device, "primary", last + 1, -64),
                "failed to add root partition: ",
            )
            _step(lambda: g.mkfs(v["bootfs"], part1), "failed to create boot filesystem: ")
            part2 = f"{device}2"
            if t == "bootroot":
                _step(lambda: g.mkfs(v["rootfs"], part2), "failed to create root filesystem: ")
            else:
                _make_lv(g, v["name"], part2)
                _step(lambda: g.mkfs(v["rootfs"], v["name"]), "failed to create root filesystem: ")


def _step(call: Any, prefix: str) -> Any:
    from ..core.errors import GuestFSError

    try:
        return call()
    except GuestFSError as e:
        raise PrepError(prefix + str(e)) from None


def _make_lv(g: Any, name: str, part: str) -> None:
    vg, lv = _vg_lv(name)
    _step(lambda: g.pvcreate(part), f"failed to create PV: {part}: ")
    _step(lambda: g.vgcreate(vg, [part]), f"failed to create VG: {vg}: ")
    _step(lambda: g.lvcreate_free(lv, vg, 100), f"failed to create LV: /dev/{vg}/{lv}: ")


def _vg_lv(name: str) -> tuple[str, str]:
    rest = name[5:] if name.startswith("/dev/") else name
    vg, slash, lv = rest.partition("/")
    if not slash:
        raise PrepError("incorrect format for LV name, use '/dev/VG/LV'")
    return vg, lv


class UnknownPrep(ValueError):
    pass


def parse_prep(arg: str, index: int) -> Prepared:
    """``-N [FILE=]TYPE[:P1[:P2...]]``; ``index`` numbers the default file name
    (test1.img, test2.img ...). Raises :class:`UnknownPrep` for a type not known."""
    filename, eq, spec = arg.partition("=")
    if not eq:
        filename, spec = f"test{index}.img", arg
    type_name, _, params = spec.partition(":")
    # guestfish compares only as many characters as were given (a prefix matches).
    found = next(
        (
            t
            for t in PREP_TYPES
            if t.name[: len(type_name)] == type_name.lower() and len(type_name) <= len(t.name)
        ),
        None,
    )
    if found is None:
        raise UnknownPrep(spec)
    values = {p.name: p.default for p in found.params}
    given = params.split(":") if params else []
    for p, value in zip(found.params, given, strict=False):
        values[p.name] = value
    return Prepared(found, spec, values, filename)
