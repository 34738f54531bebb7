"""The ``sfdisk`` family: the deprecated sfdisk-based partitioning calls, run as 1.48's
``daemon/sfdisk.c`` runs them.

1.48 passes ``-C``/``-H``/``-S``/``-uM``/``-G`` to the appliance's sfdisk; util-linux
dropped those options in 2.26, so on any current appliance (Debian's guestfsd's too)
the calls that use them fail with sfdisk's own complaint, and so do these. The rest
(lines without geometry, ``-N``, ``-l``, ``-g``) work.
"""

from __future__ import annotations

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure
from ..resolve import Device
from ..runner import run


def _sfdisk(
    call: CallContext,
    device: Device,
    lines: list[str],
    *,
    n: int = 0,
    cyls: int = 0,
    heads: int = 0,
    sectors: int = 0,
    extra: str | None = None,
) -> None:
    argv = ["sfdisk"]
    if n > 0:
        argv += ["-N", str(n)]
    if cyls:
        argv += ["-C", str(cyls)]
    if heads:
        argv += ["-H", str(heads)]
    if sectors:
        argv += ["-S", str(sectors)]
    if extra:
        argv.append(extra)
    argv.append(device.node)
    # guestfsd builds this command line in a 256-byte buffer and refuses longer ones.
    if len(" ".join(argv)) >= 256:
        what = "device name" if len(device.node) > 200 else "extra_flag"
        raise AgentError(f"internal buffer overflow: sfdisk {what} too long")
    stdin = "".join(f"{line}\n" for line in lines).encode()
    done = call.run(argv, stdin=stdin, check=False)
    if done.status != 0:
        raise AgentError(call.user_names(f"{' '.join(argv)}: external command failed"))
    # As 1.48: sfdisk's own re-read sometimes fails with EBUSY, so read the table again.
    run(["blockdev", "--rereadpt", device.node], check=False)


@procedure("sfdisk")
def sfdisk(
    call: CallContext, device: Device, cyls: int, heads: int, sectors: int, lines: list[str]
) -> None:
    _sfdisk(call, device, lines, cyls=cyls, heads=heads, sectors=sectors)


@procedure("sfdisk_N")
def sfdisk_N(
    call: CallContext, device: Device, partnum: int, cyls: int, heads: int, sectors: int, line: str
) -> None:
    _sfdisk(call, device, [line], n=partnum, cyls=cyls, heads=heads, sectors=sectors)


@procedure("sfdiskM")
def sfdiskM(call: CallContext, device: Device, lines: list[str]) -> None:
    _sfdisk(call, device, lines, extra="-uM")


def _flag(call: CallContext, device: Device, flag: str) -> str:
    done = call.run(["sfdisk", flag, device.node], check=False)
    if done.status != 0:
        raise AgentError(call.user_names(f"{device.node}: {done.err}"))
    return done.out


@procedure("sfdisk_l")
def sfdisk_l(call: CallContext, device: Device) -> str:
    return _flag(call, device, "-l")


@procedure("sfdisk_kernel_geometry")
def sfdisk_kernel_geometry(call: CallContext, device: Device) -> str:
    return _flag(call, device, "-g")


@procedure("sfdisk_disk_geometry")
def sfdisk_disk_geometry(call: CallContext, device: Device) -> str:
    return _flag(call, device, "-G")
