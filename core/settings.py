"""Every setting of pyguestfs, declared once, read in one place.

Each field of :class:`Settings` is one setting, declared with :func:`_setting`: its name,
type and default (the field's), what it does, and where a value can come from --

* an environment variable (``env``), read by :func:`read_environment` and nowhere else;
* a ``GuestFS`` method pair (``handle``): ``g.set_NAME(value)`` / ``g.get_NAME()``;
* a ``guestfs-build-appliance`` flag (``cli``), added to its parser by :func:`add_argument`.

An explicit value (a ``set_`` call, a flag) wins over the environment, which wins over the
default, as in libguestfs. :data:`SETTINGS` is the table made from the fields; the
README's settings section is generated from it (``python ci/settings_table.py``), and
tests check that the handle's methods and the builder's flags match it.

A :class:`Settings` object is frozen: :meth:`Settings.replace` checks and returns a new one.
:data:`DEVELOPMENT_VARIABLES` lists the variables only the tests, CI scripts, the demo and
the benchmarks read, so that the README lists every variable this repository knows.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # argparse costs launch() import time; only the builder's CLI needs it
    import argparse

_T = TypeVar("_T")


class _Unset:
    """What a parser returns for environment text that leaves the setting at its default."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# -- how environment text becomes a value --------------------------------------------------


def _one_is_true(text: str) -> bool:
    return text == "1"


def _text(text: str) -> Any:
    return text if text else UNSET


def _colon_list(text: str) -> Any:
    return tuple(x for x in text.split(":") if x) if text else UNSET


def _digits(text: str) -> Any:
    return int(text) if text.isdigit() else UNSET


def _switch(text: str) -> bool:
    return text.strip().lower() not in ("0", "off", "no", "false")


def _count(text: str) -> Any:
    try:
        return max(0, int(text))
    except ValueError:
        return UNSET


@dataclass(frozen=True)
class Setting:
    """One row of the table: a setting and every place its value can come from."""

    name: str
    #: The Python type, as written in :class:`Settings` (``"int"``, ``"str | None"``).
    type: str
    default: Any
    doc: str
    #: The environment variable, and how its text is read (for the README).
    env: str | None = None
    env_doc: str = ""
    parse: Callable[[str], Any] | None = None
    #: True: ``GuestFS.set_<name>`` and ``GuestFS.get_<name>`` exist.
    handle: bool = False
    #: The ``guestfs-build-appliance`` flag, its metavar and its choices.
    cli: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    #: The smallest value ``set_<name>`` accepts, and its unit for the message.
    minimum: int | None = None
    unit: str = ""
    #: Who reads it: "launch" (the GuestFS handle), "build" (the builder, also when
    #: launch() builds), or both.
    used_by: str = "launch"


def _setting(
    default: _T,
    doc: str,
    *,
    env: str | None = None,
    env_doc: str = "",
    parse: Callable[[str], Any] = _text,
    handle: bool = False,
    cli: str | None = None,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    minimum: int | None = None,
    unit: str = "",
    used_by: str = "launch",
) -> _T:
    """Declare a field of :class:`Settings` (its default, for the type checker)."""
    meta = {
        "doc": doc,
        "env": env,
        "env_doc": env_doc,
        "parse": parse if env else None,
        "handle": handle,
        "cli": cli,
        "metavar": metavar,
        "choices": choices,
        "minimum": minimum,
        "unit": unit,
        "used_by": used_by,
    }
    return field(default=default, metadata={"setting": meta})


DEFAULT_QEMU = "qemu-system-x86_64"
#: Where the cache and scratch disks go when neither a setting nor TMPDIR says.
DEFAULT_TMPDIR = "/var/tmp"
_OFF = "0, off, no or false turn it off"


@dataclass(frozen=True)
class Settings:
    """The value of every setting (see the module's docstring; :data:`SETTINGS` is the
    table). Frozen: :meth:`replace` returns a checked copy."""

    # -- the handle and its appliance VM ------------------------------------------------
    verbose: bool = _setting(
        False,
        "Stream the appliance's console and the library's messages to stderr (or to "
        "EVENT_APPLIANCE and EVENT_LIBRARY callbacks).",
        env="LIBGUESTFS_DEBUG",
        env_doc="1 turns it on",
        parse=_one_is_true,
        handle=True,
    )
    trace: bool = _setting(
        False,
        "Print each API call and its result to stderr (or to EVENT_TRACE callbacks).",
        env="LIBGUESTFS_TRACE",
        env_doc="1 turns it on",
        parse=_one_is_true,
        handle=True,
    )
    autosync: bool = _setting(
        True, "Sync and unmount the disks when the handle shuts down.", handle=True
    )
    backend_settings: tuple[str, ...] = _setting(
        (),
        "Backend settings: force_tcg (never KVM) or force_kvm (KVM without probing it); "
        "otherwise KVM is used where a probe boot shows that it works.",
        env="LIBGUESTFS_BACKEND_SETTINGS",
        env_doc="colon-separated",
        parse=_colon_list,
        handle=True,
    )
    memsize: int = _setting(
        1280,
        "Memory of the appliance VM, in MiB.",
        env="LIBGUESTFS_MEMSIZE",
        env_doc="digits only; other text is ignored",
        parse=_digits,
        handle=True,
        minimum=256,
        unit=" MiB",
    )
    smp: int = _setting(1, "Virtual CPUs of the appliance VM.", handle=True, minimum=1)
    append: str | None = _setting(
        None,
        "Parameters added to the appliance kernel's command line.",
        env="LIBGUESTFS_APPEND",
        handle=True,
    )
    network: bool = _setting(
        False, "Give the appliance a user-mode network (virtio-net, qemu's slirp).", handle=True
    )
    hv: str = _setting(
        DEFAULT_QEMU,
        "The qemu binary that runs the appliance.",
        env="LIBGUESTFS_HV",
        handle=True,
    )
    path: str | None = _setting(
        None,
        "A fixed appliance to boot instead of the cached one: a directory holding kernel, "
        "initrd and root (a colon-separated list is searched in order).",
        env="LIBGUESTFS_PATH",
        handle=True,
    )
    cachedir: str | None = _setting(
        None,
        "The base of the appliance cache (.guestfs-UID/pyguestfs in it); unset: TMPDIR, "
        "else /var/tmp. get_cachedir() returns the base in use.",
        env="LIBGUESTFS_CACHEDIR",
        handle=True,
        cli="--cachedir",
        metavar="DIR",
        used_by="launch, build",
    )
    tmpdir: str | None = _setting(
        None,
        "Where scratch disks are made, and the cache's base when cachedir is unset "
        "(unset: /var/tmp). get_tmpdir() returns the directory in use.",
        env="TMPDIR",
        handle=True,
        used_by="launch, build",
    )
    runtime_dir: str | None = _setting(
        None,
        "Where the private directory of qemu's sockets goes; /tmp when unset, or when a "
        "socket path under it would pass the kernel's 108-byte limit.",
        env="XDG_RUNTIME_DIR",
    )
    backend: str = _setting(
        "direct",
        "How the appliance runs: direct (pyguestfs runs qemu itself; appliance is its old "
        "name). libvirt and libvirt:URI are accepted, as 1.48 accepts them, but launch() "
        "refuses them with ENOTSUP: pyguestfs has no libvirt backend.",
        env="LIBGUESTFS_BACKEND",
        handle=True,
    )
    program: str | None = _setting(
        None,
        "The program name in messages; unset: the name of the running program, as "
        "libguestfs's program_invocation_short_name.",
        handle=True,
    )
    identifier: str = _setting(
        "",
        "A name for the handle, shown in its trace lines (letters, digits, _ and - only).",
        handle=True,
    )
    pgroup: bool = _setting(
        False,
        "Run qemu in a process group of its own, so that a ^C typed at the terminal "
        "reaches the program but not the appliance.",
        handle=True,
    )
    recovery_proc: bool = _setting(
        True,
        "Make sure qemu dies with the program. pyguestfs always ties qemu to the program "
        "(PR_SET_PDEATHSIG) instead of forking 1.48's recovery process; the value is "
        "kept for get_recovery_proc.",
        handle=True,
    )
    launch_timeout: float = _setting(
        20 * 60.0, "Seconds launch() waits for the agent (pyguestfs extension).", handle=True
    )
    warm_launch: bool = _setting(
        True,
        "Restore launches from a saved snapshot of the booted appliance when a valid one "
        "exists; the first cold launch has it made in the background (pyguestfs extension).",
        env="PYGUESTFS_WARM_LAUNCH",
        env_doc=_OFF,
        parse=_switch,
        handle=True,
    )
    chunk_size: int | None = _setting(
        None,
        "FileIn/FileOut chunk size, in bytes, asked of our agent before the first transfer; "
        "0 keeps libguestfs's 8 KiB; unset: 1 MiB, the most the agent grants.",
        env="PYGUESTFS_CHUNK_SIZE",
        env_doc="an integer; other text is ignored",
        parse=_count,
    )
    # -- the appliance build --------------------------------------------------------------
    appliance_daemon: str = _setting(
        "pyguestfs",
        "The daemon the appliance runs: pyguestfs's agent, or Debian's real guestfsd 1.48 "
        "(from libguestfs0's supermin.d/daemon.tar.gz, with the libraries it needs), cached "
        "apart from the default appliance -- to drive the real daemon with pyguestfs, or "
        "compare the two.",
        env="PYGUESTFS_APPLIANCE_DAEMON",
        env_doc="read by launch() only",
        cli="--daemon",
        choices=("pyguestfs", "guestfsd"),
        used_by="launch, build",
    )
    cache_from: str | None = _setting(
        None,
        "Before building, look for REPO:<cache key> (or REPO:TAG) in the Docker engine or "
        "its registry; import it if its key label matches, else build and say why.",
        env="PYGUESTFS_CACHE_FROM",
        env_doc="read by launch() only",
        cli="--cache-from",
        metavar="REPO[:TAG]",
        used_by="launch, build",
    )
    cache_from_archive: str | None = _setting(
        None,
        "The same from an OCI archive (or docker save tarball) written by --oci-archive.",
        env="PYGUESTFS_CACHE_FROM_ARCHIVE",
        env_doc="read by launch() only",
        cli="--cache-from-archive",
        metavar="FILE",
        used_by="launch, build",
    )
    kernel: str | None = _setting(
        None,
        "The kernel to boot; unset: the newest host kernel, chosen as supermin does.",
        env="SUPERMIN_KERNEL",
        cli="--kernel",
        metavar="FILE",
        used_by="build",
    )
    kernel_version: str | None = _setting(
        None,
        "The version of the SUPERMIN_KERNEL kernel, when its header does not say.",
        env="SUPERMIN_KERNEL_VERSION",
        env_doc="only with SUPERMIN_KERNEL",
        used_by="build",
    )
    modules: str | None = _setting(
        None,
        "The kernel's modules directory; unset: /lib/modules/VERSION.",
        env="SUPERMIN_MODULES",
        cli="--modules",
        metavar="DIR",
        used_by="build",
    )
    docker_host: str | None = _setting(
        None,
        "The Docker engine the image cache talks to; unset: unix:///var/run/docker.sock.",
        env="DOCKER_HOST",
        used_by="build",
    )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, each converted to its setting's type and checked;
        ValueError says what is wrong (``memsize must be at least 256 MiB``)."""
        checked = {name: _convert(SETTING[name], value) for name, value in changes.items()}
        return dataclasses.replace(self, **checked)

    def cache_base(self) -> str:
        """The directory the appliance cache lives in (``.guestfs-UID`` goes there)."""
        return self.cachedir or self.tmpdir or DEFAULT_TMPDIR

    def temp_base(self) -> str:
        """The directory scratch disks go in."""
        return self.tmpdir or DEFAULT_TMPDIR


def _convert(s: Setting, value: Any) -> Any:
    if s.type == "bool":
        return bool(value)
    if s.type == "int":
        value = int(value)
    elif s.type == "float":
        value = float(value)
    elif s.type == "str":
        value = str(value) if value else s.default  # an empty value means the default
    elif s.type == "tuple[str, ...]":
        value = tuple(str(v) for v in value)
    elif value is not None and s.type == "str | None":
        value = str(value)
    elif value is not None and s.type == "int | None":
        value = int(value)
    if s.minimum is not None and value < s.minimum:
        raise ValueError(f"{s.name} must be at least {s.minimum}{s.unit}")
    if s.choices is not None and value not in s.choices:
        raise ValueError(f"{s.name} must be one of {', '.join(s.choices)}, not {value!r}")
    return value


#: The table: one row per field of :class:`Settings`, in declaration order.
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name=f.name, type=str(f.type), default=f.default, **f.metadata["setting"])
    for f in fields(Settings)
)
SETTING: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: Every setting at its default.
DEFAULTS = Settings()


def read_environment(env: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment (``os.environ`` unless ``env`` is given) asks for.

    The one place pyguestfs reads its settings from environment variables."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.env is None or s.parse is None:
            continue
        text = source.get(s.env)
        if text is None:
            continue
        value = s.parse(text)
        if value is not UNSET:
            values[s.name] = value
    return Settings(**values)


#: The variables libguestfs 1.48's parse_environment reads (lib/handle.c).
LIBGUESTFS_VARIABLES = (
    "LIBGUESTFS_TRACE",
    "LIBGUESTFS_DEBUG",
    "LIBGUESTFS_TMPDIR",
    "LIBGUESTFS_CACHEDIR",
    "TMPDIR",
    "LIBGUESTFS_PATH",
    "LIBGUESTFS_HV",
    "LIBGUESTFS_QEMU",
    "LIBGUESTFS_APPEND",
    "LIBGUESTFS_MEMSIZE",
    "LIBGUESTFS_BACKEND",
    "LIBGUESTFS_ATTACH_METHOD",
    "LIBGUESTFS_BACKEND_SETTINGS",
    "XDG_RUNTIME_DIR",
)


def libguestfs_environment() -> dict[str, str]:
    """The variables of :data:`LIBGUESTFS_VARIABLES` set in this process's environment,
    for ``GuestFS.parse_environment``."""
    return {name: os.environ[name] for name in LIBGUESTFS_VARIABLES if name in os.environ}


def add_argument(parser: argparse.ArgumentParser | Any, name: str, **extra: Any) -> None:
    """Add the ``guestfs-build-appliance`` flag of setting ``name`` to ``parser`` (or an
    argument group): its flag, metavar, choices and help come from the table; the value
    lands in ``args.<name>``, None when the flag is not given."""
    s = SETTING[name]
    if s.cli is None:
        raise ValueError(f"setting {name} has no command-line flag")
    options: dict[str, Any] = {"dest": s.name, "default": None, "help": s.doc}
    if s.choices:
        options["choices"] = s.choices
    if s.metavar:
        options["metavar"] = s.metavar
    options.update(extra)
    parser.add_argument(s.cli, **options)


# -- variables only the tests, CI scripts, the demo and the benchmarks read -----------------

DEVELOPMENT_VARIABLES: tuple[tuple[str, str, str], ...] = (
    (
        "PYGUESTFS_TEST_CACHEDIR",
        "tests",
        "Reuse this appliance cache across test runs instead of a fresh one per run.",
    ),
    (
        "PYGUESTFS_RECORD_CALLS",
        "tests",
        "Write the names of the procedures the tests called to this JSON file "
        "(ci/api_table.py marks them tested in the README).",
    ),
    ("PYGUESTFS_FUZZ_FULL", "tests", "1: the long fuzzing run instead of CI's."),
    ("PYGUESTFS_FUZZ_SEED", "tests", "The fuzzer's seed (an integer)."),
    (
        "PYGUESTFS_REQUIRE_REAL_DAEMON",
        "tests",
        "1: fail, instead of skipping, the comparisons with the real guestfsd when it cannot run.",
    ),
    (
        "PYGUESTFS_TEST_DEBIAN_MIRROR",
        "tests",
        "The Debian mirror debootstrap uses for the inspection tests' guest.",
    ),
    ("PYGUESTFS_DEMO_VERBOSE", "demo", "Show the appliance's console in demo.py (ci/demo.sh)."),
    (
        "PYGUESTFS_ARCHIVE_DIR",
        "ci",
        "ci/appliance-cache.sh: a directory kept between CI runs, holding OCI archives.",
    ),
    (
        "PYGUESTFS_IMAGE_REPO",
        "ci",
        "ci/appliance-cache.sh: the registry repository of appliance images.",
    ),
    ("PYGUESTFS_PUSH", "ci", "ci/appliance-cache.sh: 1 pushes a freshly built image."),
    ("BENCH_KVM", "bench", "1 or 0: run the benchmarks under KVM or TCG instead of probing."),
)


def markdown_table() -> str:
    """The README's settings section, generated from :data:`SETTINGS`."""

    def code(text: str | None) -> str:
        return f"`{text}`" if text else ""

    def default(s: Setting) -> str:
        if s.default is None:
            return "unset"
        if s.default == ():
            return "none"
        return f"`{s.default}`"

    lines = [
        "| setting | type | default | environment | `GuestFS` | `guestfs-build-appliance` "
        "| used by | meaning |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        env = code(s.env) + (f" ({s.env_doc})" if s.env_doc else "")
        handle = f"`set_{s.name}`, `get_{s.name}`" if s.handle else ""
        cli = code(f"{s.cli} {s.metavar}" if s.metavar else s.cli)
        if s.choices:
            cli += " (" + ", ".join(s.choices) + ")"
        lines.append(
            f"| `{s.name}` | {s.type.replace('|', 'or')} | {default(s)} | {env} | {handle} "
            f"| {cli} | {s.used_by} | {s.doc} |"
        )
    lines += [
        "",
        "Read only by the tests, CI scripts, the demo and the benchmarks:",
        "",
        "| variable | read by | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {who} | {doc} |" for name, who, doc in DEVELOPMENT_VARIABLES]
    return "\n".join(lines)
