"""The ``luks`` family: LUKS (and, through ``cryptsetup_open``, BitLocker) encrypted
devices, with ``cryptsetup(8)`` as guestfsd's ``daemon/luks.c`` and ``cryptsetup.ml`` run it.

Keys reach cryptsetup through a file private to the agent (mode 0600 under /tmp), never on
its command line, and the file is removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator

from ..context import CallContext
from ..errors import AgentError
from ..registry import has_program, procedure, provides_group
from ..resolve import Device

provides_group("luks", has_program("cryptsetup"))


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


@contextlib.contextmanager
def _keyfile(key: str) -> Iterator[str]:
    """The key in a temporary file (its exact bytes: no newline is added)."""
    fd, path = tempfile.mkstemp(prefix="luks", dir="/tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key.encode("utf-8", "surrogateescape"))
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _ocaml_command(call: CallContext, argv: list[str]) -> str:
    """A program run as the OCaml half of guestfsd runs it: a failure reads
    "<prog> exited with status N: <stderr>"."""
    done = call.run(argv, check=False)
    if done.status != 0:
        raise AgentError(f"{argv[0]} exited with status {done.status}: {done.err}")
    return done.out


def _luks_format(
    call: CallContext, device: Device, key: str, keyslot: int, cipher: str | None
) -> None:
    argv = ["cryptsetup", "-q"]
    if cipher is not None:
        argv += ["--cipher", cipher]
    argv += ["--key-slot", str(keyslot), "luksFormat", device.node]
    with _keyfile(key) as kf:
        _command(call, [*argv, kf])


@procedure("luks_format")
def luks_format(call: CallContext, device: Device, key: str, keyslot: int) -> None:
    _luks_format(call, device, key, keyslot, None)


@procedure("luks_format_cipher")
def luks_format_cipher(
    call: CallContext, device: Device, key: str, keyslot: int, cipher: str
) -> None:
    _luks_format(call, device, key, keyslot, cipher)


@procedure("luks_add_key")
def luks_add_key(call: CallContext, device: Device, key: str, newkey: str, keyslot: int) -> None:
    with _keyfile(key) as kf, _keyfile(newkey) as nkf:
        _command(
            call,
            [
                "cryptsetup",
                "-q",
                "-d",
                kf,
                "--key-slot",
                str(keyslot),
                "luksAddKey",
                device.node,
                nkf,
            ],
        )


@procedure("luks_kill_slot")
def luks_kill_slot(call: CallContext, device: Device, key: str, keyslot: int) -> None:
    with _keyfile(key) as kf:
        _command(call, ["cryptsetup", "-q", "-d", kf, "luksKillSlot", device.node, str(keyslot)])


@procedure("luks_uuid")
def luks_uuid(call: CallContext, device: Device) -> str:
    return _command(call, ["cryptsetup", "luksUUID", device.node]).strip()


def _is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _crypt_type(call: CallContext, device: Device) -> str:
    """What cryptsetup calls the encryption blkid finds on ``device``."""
    done = call.run(
        ["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", device.node], check=False
    )
    if done.status not in (0, 2):  # 2: no TYPE found
        raise AgentError(f"blkid: {device}: TYPE: {done.err}")
    found = done.out.rstrip("\n") if done.status == 0 else ""
    if found == "crypto_LUKS":
        return "luks"
    if found == "BitLocker":
        return "bitlk"
    raise AgentError(f"{found}: unknown encrypted device type")


@procedure("cryptsetup_open")
def cryptsetup_open(
    call: CallContext,
    device: Device,
    key: str,
    mapname: str,
    readonly: bool = False,
    crypttype: str | None = None,
) -> None:
    # /dev/mapper/control always exists, so "control" is refused here too.
    mapper = f"/dev/mapper/{mapname}"
    if _is_block_device(mapper):
        raise AgentError(f"{mapper}: device already exists")
    kind = crypttype if crypttype is not None else _crypt_type(call, device)
    argv = ["cryptsetup", "-d"]
    with _keyfile(key) as kf:
        argv.append(kf)
        if readonly:
            argv.append("--readonly")
        argv += ["open", device.node, mapname, "--type", kind]
        _ocaml_command(call, argv)


@procedure("luks_open")
def luks_open(call: CallContext, device: Device, key: str, mapname: str) -> None:
    cryptsetup_open(call, device, key, mapname, crypttype="luks")


@procedure("luks_open_ro")
def luks_open_ro(call: CallContext, device: Device, key: str, mapname: str) -> None:
    cryptsetup_open(call, device, key, mapname, readonly=True, crypttype="luks")


@procedure("cryptsetup_close")
def cryptsetup_close(call: CallContext, device: Device) -> None:
    prefix = "/dev/mapper/"
    if not device.startswith(prefix):
        raise AgentError(
            f"{device}: you must call this on the /dev/mapper device created by cryptsetup-open"
        )
    _ocaml_command(call, ["cryptsetup", "close", device[len(prefix) :]])


@procedure("luks_close")
def luks_close(call: CallContext, device: Device) -> None:
    cryptsetup_close(call, device)
