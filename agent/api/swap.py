"""The ``swap`` family: making swap areas and turning swapping on and off, as guestfsd's
``daemon/swap.c`` does it (``mkswap``, ``swapon``, ``swapoff`` of util-linux)."""

from __future__ import annotations

from ..context import CallContext
from ..errors import AgentError
from ..registry import procedure, provides_group
from ..resolve import Device, GuestPath

#: The kernel's limit on a swap area's label (``union swap_header`` in linux/swap.h).
SWAP_LABEL_MAX = 16

# guestfsd answers 1 unconditionally: util-linux's mkswap -U and swapon -U are always there.
provides_group("linuxfsuuid", lambda: True)


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


def _check_label(label: str) -> None:
    # strlen: the limit is in bytes, not characters.
    if len(label.encode("utf-8", "surrogateescape")) > SWAP_LABEL_MAX:
        raise AgentError(f"{label}: Linux swap labels are limited to {SWAP_LABEL_MAX} bytes")


@procedure("mkswap")
def mkswap(
    call: CallContext, device: Device, label: str | None = None, uuid: str | None = None
) -> None:
    argv = ["mkswap", "-f"]
    if label is not None:
        _check_label(label)
        argv += ["-L", label]
    if uuid is not None:
        argv += ["-U", uuid]
    # Old signatures (a filesystem that was there before) would make blkid report both:
    # guestfsd wipes them first and ignores a failure to do so.
    call.run(["wipefs", "-a", "--force", device.node], check=False)
    _command(call, [*argv, device.node], f"{device}: ")


@procedure("mkswap_L")
def mkswap_L(call: CallContext, label: str, device: Device) -> None:
    mkswap(call, device, label=label)


@procedure("mkswap_U")
def mkswap_U(call: CallContext, uuid: str, device: Device) -> None:
    mkswap(call, device, uuid=uuid)


@procedure("mkswap_file")
def mkswap_file(call: CallContext, path: GuestPath) -> None:
    _command(call, ["mkswap", "-f", path.host()], f"{path}: ")


def _swaponoff(call: CallContext, program: str, value: str, shown: str, *flag: str) -> None:
    """``swapon``/``swapoff`` on one thing; guestfsd's message names what it passed
    (``shown``: the user's device, ``/sysroot/...`` for a file, the label or UUID)."""
    _command(call, [program, *flag, value], f"{shown}: ")


@procedure("swapon_device")
def swapon_device(call: CallContext, device: Device) -> None:
    _swaponoff(call, "swapon", device.node, device)


@procedure("swapoff_device")
def swapoff_device(call: CallContext, device: Device) -> None:
    _swaponoff(call, "swapoff", device.node, device)


@procedure("swapon_file")
def swapon_file(call: CallContext, file: GuestPath) -> None:
    _swaponoff(call, "swapon", file.host(), file.display())


@procedure("swapoff_file")
def swapoff_file(call: CallContext, file: GuestPath) -> None:
    _swaponoff(call, "swapoff", file.host(), file.display())


@procedure("swapon_label")
def swapon_label(call: CallContext, label: str) -> None:
    _check_label(label)
    _swaponoff(call, "swapon", label, label, "-L")


@procedure("swapoff_label")
def swapoff_label(call: CallContext, label: str) -> None:
    _check_label(label)
    _swaponoff(call, "swapoff", label, label, "-L")


@procedure("swapon_uuid")
def swapon_uuid(call: CallContext, uuid: str) -> None:
    _swaponoff(call, "swapon", uuid, uuid, "-U")


@procedure("swapoff_uuid")
def swapoff_uuid(call: CallContext, uuid: str) -> None:
    _swaponoff(call, "swapoff", uuid, uuid, "-U")
