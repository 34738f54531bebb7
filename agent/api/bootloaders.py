"""The ``bootloaders`` family: GRUB legacy, SYSLINUX and EXTLINUX installed by their own
tools (``daemon/grub.c``, ``syslinux.c`` of 1.48). Each group is served when its tool is
in the appliance."""

from __future__ import annotations

from ..context import CallContext
from ..fstools import command
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, GuestPath
from ..runner import literal

provides_group("grub", has_program("grub-install"))
provides_group("syslinux", has_program("syslinux"))
provides_group("extlinux", has_program("extlinux"))


@procedure("grub_install")
def grub_install(call: CallContext, root: GuestPath, device: Device) -> None:
    # 1.48 joins the sysroot and the path as text: no symlink in root is followed.
    base = call.sysroot.root.rstrip("/")
    command(call, ["grub-install", f"--root-directory={base}{root}", device.node])


@procedure("syslinux")
def syslinux(call: CallContext, device: Device, *, directory: str | None = None) -> None:
    argv = ["syslinux", "--install", "--force"]
    if directory is not None:
        argv += ["--directory", directory]
    command(call, [*argv, device.node])


@procedure("extlinux")
def extlinux(call: CallContext, directory: GuestPath) -> None:
    command(call, ["extlinux", "--install", directory.host()], literal(directory) + ": {err}")
