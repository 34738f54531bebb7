"""A stand-in for the inits' privileged operations: records them instead of doing them."""

from __future__ import annotations

import errno
import os

from pyguestfs.initrd.mini_init import Syscalls, parse_uuid


class FakeSyscalls(Syscalls):
    """Records every privileged operation instead of doing it."""

    def __init__(
        self,
        uuids: dict[tuple[int, int], str] | None = None,
        failing_modules: frozenset[str] = frozenset(),
    ) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.uuids = {dev: parse_uuid(u) for dev, u in (uuids or {}).items()}
        self.failing_modules = failing_modules

    def mount(self, source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
        self.calls.append(("mount", source, target, fstype, flags, data))

    def umount(self, target: str) -> None:
        self.calls.append(("umount", target))

    def mknod_block(self, path: str, dev: tuple[int, int], mode: int = 0o600) -> None:
        self.calls.append(("mknod", path, dev, mode))

    def block_uuid(self, node: str, dev: tuple[int, int]) -> bytes | None:
        return self.uuids.get(dev)

    def load_module(self, path: str) -> None:
        self.calls.append(("insmod", os.path.basename(path)))
        if os.path.basename(path) in self.failing_modules:
            raise OSError(errno.ENODEV, "No such device")

    def chroot(self, path: str) -> None:
        self.calls.append(("chroot", path))

    def execv(self, path: str, argv: list[str]) -> None:
        self.calls.append(("execv", path, argv))

    def interface_up(self, name: str) -> None:
        self.calls.append(("up", name))

    def reboot(self) -> None:
        self.calls.append(("reboot",))


def calls_of(sc: FakeSyscalls, kind: str) -> list[tuple[object, ...]]:
    return [c for c in sc.calls if c[0] == kind]
