"""The ``xfs`` family: xfs_info, xfs_admin, xfs_growfs, xfs_repair (``daemon/xfs.c`` of
1.48); xfs_info's text is read by :func:`pyguestfs.agent.fstools.parse_xfs_info`."""

from __future__ import annotations

from ..context import CallContext
from ..errors import AgentError
from ..fstools import check_xfs_label, commandr, parse_xfs_info
from ..fstools import xfs_admin as run_xfs_admin
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath

provides_group("xfs", has_program("mkfs.xfs"))  # guestfsd's own test for the group


@procedure("xfs_info")
def xfs_info(call: CallContext, pathordevice: Device | GuestPath) -> dict[str, str | int]:
    target = pathordevice.node if isinstance(pathordevice, Device) else pathordevice.host()
    rc, out, err = commandr(call, ["xfs_info", target])
    if rc != 0:
        raise AgentError(call.sysroot.hide(err))
    return parse_xfs_info(call.sysroot.hide(out))


@procedure("xfs_admin")
def xfs_admin(
    call: CallContext,
    device: Device,
    *,
    extunwritten: bool | None = None,
    imgfile: bool | None = None,
    v2log: bool | None = None,
    projid32bit: bool | None = None,
    lazycounter: bool | None = None,
    label: str | None = None,
    uuid: str | None = None,
) -> None:
    opts: list[str] = []
    for flag, on in (("-e", extunwritten), ("-f", imgfile), ("-j", v2log), ("-p", projid32bit)):
        if on:
            opts.append(flag)
    if lazycounter is not None:
        opts += ["-c", "1" if lazycounter else "0"]
    if label is not None:
        check_xfs_label(label)
        opts += ["-L", label]
    if uuid is not None:
        opts += ["-U", uuid]
    run_xfs_admin(call, device.node, device, *opts)


@procedure("xfs_growfs")
def xfs_growfs(
    call: CallContext,
    path: GuestPath,
    *,
    datasec: bool | None = None,
    logsec: bool | None = None,
    rtsec: bool | None = None,
    datasize: int | None = None,
    logsize: int | None = None,
    rtsize: int | None = None,
    rtextsize: int | None = None,
    maxpct: int | None = None,
) -> None:
    argv = ["xfs_growfs"]
    for flag, on in (("-d", datasec), ("-l", logsec), ("-r", rtsec)):
        if on:
            argv.append(flag)
    for flag, value, name in (
        ("-D", datasize, "datasize"),
        ("-L", logsize, "logsize"),
        ("-R", rtsize, "rtsize"),
        ("-e", rtextsize, "rtextsize"),
        ("-m", maxpct, "maxpct"),
    ):
        if value is not None:
            if value < 0:
                raise AgentError(f"{name} must be >= 0")
            argv += [flag, str(value)]
    rc, _out, err = commandr(call, [*argv, path.host()])
    if rc != 0:
        raise AgentError(f"{path}: {call.sysroot.hide(err)}")


@procedure("xfs_repair")
def xfs_repair(
    call: CallContext,
    device: Device | GuestPath,
    *,
    forcelogzero: bool | None = None,
    nomodify: bool | None = None,
    noprefetch: bool | None = None,
    forcegeometry: bool | None = None,
    maxmem: int | None = None,
    ihashsize: int | None = None,
    bhashsize: int | None = None,
    agstride: int | None = None,
    logdev: str | None = None,
    rtdev: str | None = None,
) -> int:
    argv = ["xfs_repair"]
    for flag, on in (("-L", forcelogzero), ("-n", nomodify), ("-P", noprefetch)):
        if on:
            argv.append(flag)
    if forcegeometry:
        argv += ["-o", "force_geometry"]
    if maxmem is not None:
        if maxmem < 0:
            raise AgentError("maxmem must be >= 0")
        argv += ["-m", str(maxmem)]
    for prefix, value, name in (
        ("ihash=", ihashsize, "ihashsize"),
        ("bhash=", bhashsize, "bhashsize"),
        ("ag_stride=", agstride, "agstride"),
    ):
        if value is not None:
            if value < 0:
                raise AgentError(f"{name} must be >= 0")
            argv += ["-o", f"{prefix}{value}"]
    # logdev and rtdev go to xfs_repair as given, as guestfsd passes them.
    if logdev is not None:
        argv += ["-l", logdev]
    if rtdev is not None:
        argv += ["-r", rtdev]
    if isinstance(device, Device):
        argv.append(device.node)
    else:
        argv += ["-f", device.host()]
    rc, _out, _err = commandr(call, argv)
    return rc  # 0 clean, 1 corruption found (with nomodify): the caller reads the status
