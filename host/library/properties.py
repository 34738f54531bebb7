"""The handle's settings: each ``set_X``/``get_X`` pair of 1.48 that is a row of the
settings table (:mod:`pyguestfs.core.settings`), checked through it, and the 1.48
actions that read or write several settings at once (``backend_setting``,
``parse_environment``).

The pairs written in :class:`Properties` are exactly the table's ``handle`` settings
(``tests/test_settings.py`` checks it); their docstrings come from the table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from ...core.settings import SETTINGS, Settings, libguestfs_environment, read_environment
from ..calls import _H
from ..errors import GuestFSError
from .base import HandleBase

#: The backends 1.48 knows (``appliance`` is direct's old name). Only direct runs here.
_BACKENDS = ("direct", "libvirt")
#: libguestfs's guestfs_int_is_true: the words a boolean variable may hold.
_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off")


def _is_true(text: str) -> bool | None:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


class BackendSettingItems(HandleBase[_H]):
    """One backend setting at a time (lib/handle.c): ``NAME`` or ``NAME=VALUE`` items of
    the backend_settings list."""

    def _set(self, name: str, value: object) -> None:
        try:
            self._settings = self._settings.replace(**{name: value})
        except (TypeError, ValueError) as e:
            raise GuestFSError(f"set_{name}: {e}") from None

    def get_backend_setting(self, name: str) -> str:
        """``name`` alone counts as ``name=1``; ESRCH when it is not set."""
        for item in self._settings.backend_settings:
            if item == name:
                return "1"
            if item.startswith(name + "="):
                return item[len(name) + 1 :]
        raise GuestFSError("setting not found", "ESRCH")

    def set_backend_setting(self, name: str, val: str) -> None:
        self._require_config("set_backend_setting")
        kept: list[str] = [s for s in self._settings.backend_settings if not _names(s, name)]
        self._set("backend_settings", [*kept, f"{name}={val}"])

    def clear_backend_setting(self, name: str) -> int:
        self._require_config("clear_backend_setting")
        current = self._settings.backend_settings
        kept: list[str] = [s for s in current if not _names(s, name)]
        self._set("backend_settings", kept)
        return len(current) - len(kept)


class Properties(BackendSettingItems[_H]):
    """``set_``/``get_`` of each setting, and the backend settings."""

    def set_verbose(self, verbose: bool) -> None:
        self._set("verbose", verbose)

    def get_verbose(self) -> bool:
        return self._settings.verbose

    def set_trace(self, trace: bool) -> None:
        self._set("trace", trace)

    def get_trace(self) -> bool:
        return self._settings.trace

    def set_autosync(self, autosync: bool) -> None:
        self._set("autosync", autosync)

    def get_autosync(self) -> bool:
        return self._settings.autosync

    def set_backend_settings(self, settings: Sequence[str]) -> None:
        self._require_config("set_backend_settings")
        self._set("backend_settings", settings)

    def get_backend_settings(self) -> list[str]:
        return list(self._settings.backend_settings)

    def set_memsize(self, memsize: int) -> None:
        self._require_config("set_memsize")
        self._set("memsize", memsize)

    def get_memsize(self) -> int:
        return self._settings.memsize

    def set_smp(self, smp: int) -> None:
        self._require_config("set_smp")
        if smp > 255:
            raise GuestFSError(f"unsupported number of smp vcpus: {smp}")
        self._set("smp", smp)

    def get_smp(self) -> int:
        return self._settings.smp

    def set_append(self, append: str | None) -> None:
        self._require_config("set_append")
        self._set("append", append)

    def get_append(self) -> str | None:
        return self._settings.append

    def set_network(self, network: bool) -> None:
        self._require_config("set_network")
        self._set("network", network)

    def get_network(self) -> bool:
        return self._settings.network

    def set_hv(self, hv: str) -> None:
        self._require_config("set_hv")
        self._set("hv", hv)

    def get_hv(self) -> str:
        return self._settings.hv

    def set_path(self, searchpath: str | None) -> None:
        self._require_config("set_path")
        self._set("path", searchpath)

    def get_path(self) -> str:
        """The fixed-appliance search path set by set_path or LIBGUESTFS_PATH; an empty
        string when none is set (pyguestfs then builds and caches its own appliance)."""
        return self._settings.path or ""

    def set_cachedir(self, cachedir: str | None) -> None:
        self._require_config("set_cachedir")
        self._set("cachedir", _directory("set_cachedir", cachedir))

    def get_cachedir(self) -> str:
        return self._settings.cache_base()

    def set_tmpdir(self, tmpdir: str | None) -> None:
        self._require_config("set_tmpdir")
        self._set("tmpdir", _directory("set_tmpdir", tmpdir))

    def get_tmpdir(self) -> str:
        """The directory scratch disks go in (1.48: its own temporary files)."""
        return self._settings.temp_base()

    def set_backend(self, backend: str) -> None:
        self._require_config("set_backend")
        name = "direct" if backend == "appliance" else backend
        if name.partition(":")[0] not in _BACKENDS:  # "NAME:ARG" is NAME with an argument
            raise GuestFSError(f"invalid backend: {backend}")
        self._set("backend", name)

    def get_backend(self) -> str:
        return self._settings.backend

    def set_program(self, program: str) -> None:
        self._set("program", program)

    def get_program(self) -> str:
        return self._settings.program or os.path.basename(sys.argv[0] if sys.argv else "")

    def set_identifier(self, identifier: str) -> None:
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in identifier):
            raise GuestFSError(
                "identifier must contain only alphanumeric characters, underscore or minus sign"
            )
        self._set("identifier", identifier)

    def get_identifier(self) -> str:
        return self._settings.identifier

    def set_pgroup(self, pgroup: bool) -> None:
        self._require_config("set_pgroup")
        self._set("pgroup", pgroup)

    def get_pgroup(self) -> bool:
        return self._settings.pgroup

    def set_recovery_proc(self, recoveryproc: bool) -> None:
        self._require_config("set_recovery_proc")
        self._set("recovery_proc", recoveryproc)

    def get_recovery_proc(self) -> bool:
        return self._settings.recovery_proc

    def set_launch_timeout(self, seconds: float) -> None:
        self._set("launch_timeout", seconds)

    def get_launch_timeout(self) -> float:
        return self._settings.launch_timeout

    def set_warm_launch(self, enabled: bool) -> None:
        self._set("warm_launch", enabled)

    def get_warm_launch(self) -> bool:
        return self._settings.warm_launch

    # -- the environment -------------------------------------------------------------------
    def parse_environment(self) -> None:
        self._parse_environment(libguestfs_environment())

    def parse_environment_list(self, environment: Sequence[str]) -> None:
        env: dict[str, str] = {}
        for item in environment:
            name, eq, value = item.partition("=")
            if eq and name not in env:  # 1.48 takes the first NAME= in the list
                env[name] = value
        self._parse_environment(env)

    def _parse_environment(self, env: Mapping[str, str]) -> None:
        """What 1.48's parse_environment does: each variable present replaces its setting;
        the booleans must read as booleans; the others go through their setters' checks."""
        for var in ("LIBGUESTFS_TRACE", "LIBGUESTFS_DEBUG"):
            if var in env and _is_true(env[var]) is None:
                raise GuestFSError(f"{var}={env[var]}: non-boolean value")
        memsize = env.get("LIBGUESTFS_MEMSIZE", "")
        if memsize and not memsize.strip().lstrip("+-").isdigit():
            raise GuestFSError("non-numeric value for LIBGUESTFS_MEMSIZE")
        fresh: Settings = read_environment(env)
        if "LIBGUESTFS_TRACE" in env:
            self.set_trace(bool(_is_true(env["LIBGUESTFS_TRACE"])))
        if "LIBGUESTFS_DEBUG" in env:
            self.set_verbose(bool(_is_true(env["LIBGUESTFS_DEBUG"])))
        if env.get("LIBGUESTFS_TMPDIR"):
            self.set_tmpdir(env["LIBGUESTFS_TMPDIR"])
        elif "TMPDIR" in env:
            self._set("tmpdir", fresh.tmpdir)
        if env.get("LIBGUESTFS_CACHEDIR"):
            self.set_cachedir(env["LIBGUESTFS_CACHEDIR"])
        if env.get("LIBGUESTFS_PATH"):
            self.set_path(env["LIBGUESTFS_PATH"])
        hv = env.get("LIBGUESTFS_HV") or env.get("LIBGUESTFS_QEMU")
        if hv:
            self.set_hv(hv)
        if "LIBGUESTFS_APPEND" in env:
            self.set_append(env["LIBGUESTFS_APPEND"])
        if memsize:
            self.set_memsize(int(memsize))
        backend = env.get("LIBGUESTFS_BACKEND") or env.get("LIBGUESTFS_ATTACH_METHOD")
        if backend:
            self.set_backend(backend)
        if "LIBGUESTFS_BACKEND_SETTINGS" in env:
            self.set_backend_settings(list(fresh.backend_settings))
        if "XDG_RUNTIME_DIR" in env:
            self._set("runtime_dir", fresh.runtime_dir)


def _names(item: str, name: str) -> bool:
    return item == name or item.startswith(name + "=")


def _directory(api: str, path: str | None) -> str | None:
    """1.48's set_abs_path: an existing directory, made absolute (None: the default)."""
    if path is None:
        return None
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as e:
        raise GuestFSError(
            f"converting path to absolute path: {api}: {path}: realpath: {e.strerror}",
            _errno_name(e),
        ) from None
    if not os.path.isdir(real):
        raise GuestFSError(f"setting temporary directory: {api}: ‘{path}’ is not a directory")
    return real


def _errno_name(e: OSError) -> str:
    import errno

    return errno.errorcode.get(e.errno or 0, "")


def document_settings(cls: type) -> None:
    """Give each settings method of ``cls`` the doc of its row in the settings table."""
    for setting in SETTINGS:
        if not setting.handle:
            continue
        for verb in ("set", "get"):
            method = getattr(cls, f"{verb}_{setting.name}")
            if not method.__doc__:
                method.__doc__ = f"{verb.capitalize()} the {setting.name} setting: {setting.doc}"


document_settings(Properties)
