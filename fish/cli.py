"""``pyguestfish``: guestfish's command line on the pyguestfs host library.

Options are read as GNU getopt_long reads guestfish's (options and commands may be
mixed; ``--`` ends the options; long options may be abbreviated), then: drives are
added in order, the appliance is launched at once when ``-N``, ``-m`` or ``-i`` asks for
it (prepared disks made, the guest's filesystems mounted), and the commands run from the
command line, from ``-f FILE``, from standard input, or interactively on a terminal.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import GuestFSError
from .local import display_command, list_commands
from .prep import Prepared, PrepError, UnknownPrep, list_prepared_drives, parse_prep
from .shell import FishExit, Shell

VERSION = "1.48.6"

#: Short options: letter -> 0 (no argument), 1 (required), 2 (optional, attached only).
_SHORT = {
    "a": 1, "c": 1, "d": 1, "D": 0, "f": 1, "h": 2, "i": 0, "m": 1, "n": 0, "N": 1,
    "r": 0, "v": 0, "V": 0, "w": 0, "x": 0,
}  # fmt: skip
#: Long options: name -> (argument kind as above, the short option it stands for or "").
_LONG = {
    "add": (1, "a"), "blocksize": (2, ""), "cmd-help": (2, "h"), "connect": (1, "c"),
    "csh": (0, ""), "domain": (1, "d"), "echo-keys": (0, ""), "file": (1, "f"),
    "format": (2, ""), "help": (0, ""), "inspector": (0, "i"), "key": (1, ""),
    "keys-from-stdin": (0, ""), "listen": (0, ""), "live": (0, ""), "long-options": (0, ""),
    "mount": (1, "m"), "network": (0, ""), "new": (1, "N"), "no-dest-paths": (0, ""),
    "no-sync": (0, "n"), "pipe-error": (0, ""), "progress-bars": (0, ""),
    "no-progress-bars": (0, ""), "remote": (2, ""), "ro": (0, "r"), "rw": (0, "w"),
    "selinux": (0, ""), "short-options": (0, ""), "verbose": (0, "v"), "version": (0, "V"),
}  # fmt: skip


class UsageError(Exception):
    """A command line getopt refuses (the message is getopt's)."""


def getopt_long(args: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """GNU getopt_long over guestfish's options: (options in order, operands in order).
    Long options are returned by long name, short ones by letter."""
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands += args[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            matches = [n for n in _LONG if n.startswith(name)]
            if name in _LONG:
                matches = [name]
            if not matches:
                raise UsageError(f"unrecognized option '--{name}'")
            if len(matches) > 1:
                raise UsageError(f"option '--{name}' is ambiguous")
            full = matches[0]
            kind, short = _LONG[full]
            if kind == 0 and eq:
                raise UsageError(f"option '--{full}' doesn't allow an argument")
            if kind == 1 and not eq:
                if i >= len(args):
                    raise UsageError(f"option '--{full}' requires an argument")
                value, i = args[i], i + 1
                eq = "="
            opts.append((short or full, value if eq else None))
            continue
        if arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                letter = arg[j]
                j += 1
                if letter not in _SHORT:
                    raise UsageError(f"invalid option -- '{letter}'")
                kind = _SHORT[letter]
                if kind == 0:
                    opts.append((letter, None))
                    continue
                rest = arg[j:]
                if rest:
                    opts.append((letter, rest))
                elif kind == 1:
                    if i >= len(args):
                        raise UsageError(f"option requires an argument -- '{letter}'")
                    opts.append((letter, args[i]))
                    i += 1
                else:
                    opts.append((letter, None))
                break
            continue
        operands.append(arg)
    return opts, operands


@dataclass
class Drive:
    kind: str  # "a", "uri", "d" or "N"
    arg: str
    format: str | None = None
    prepared: Prepared | None = None
    #: A network disk's add_drive arguments (protocol, server, username, secret).
    uri: dict[str, Any] = field(default_factory=dict)


def is_uri(arg: str) -> bool:
    """Whether ``-a`` was given a URI: a scheme of at most 8 lower-case letters before
    ``://`` (guestfish's ``is_uri``)."""
    scheme, sep, _ = arg.partition("://")
    return bool(sep) and len(scheme) <= 8 and all("a" <= c <= "z" for c in scheme)


def parse_uri(arg: str) -> dict[str, Any]:
    """A disk URI as add_drive's arguments (``parse_uri`` of guestfish): the protocol,
    ``tcp:HOST[:PORT]`` or ``unix:SOCKET`` (``?socket=``), user and password, and the
    path (the export name, without its leading ``/`` for nbd and the like)."""
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(arg)
    if not parts.scheme:
        raise ValueError(f"{arg}: scheme of URI is NULL or empty")
    socket = parse_qs(parts.query, keep_blank_values=True).get("socket", [None])[0]
    host = parts.hostname or ""
    if host and socket is not None:
        raise ValueError(f"{arg}: cannot have both a server name and a socket query parameter")
    server: list[str] | None = None
    if host:
        server = [f"tcp:{host}:{parts.port}" if parts.port else f"tcp:{host}"]
    elif socket is not None:
        server = [f"unix:{socket}"]
    path = unquote(parts.path)
    if path.startswith("/") and parts.scheme in ("gluster", "iscsi", "nbd", "rbd", "sheepdog"):
        path = path[1:]
    out: dict[str, Any] = {"protocol": parts.scheme, "path": path}
    if server:
        out["server"] = server
    if parts.username:
        out["username"] = unquote(parts.username)
    if parts.password:
        out["secret"] = unquote(parts.password)
    return out


@dataclass
class MountSpec:
    device: str
    mountpoint: str = "/"
    options: str | None = None
    fstype: str | None = None


@dataclass
class Config:
    drives: list[Drive] = field(default_factory=list)
    mounts: list[MountSpec] = field(default_factory=list)
    file: str | None = None
    inspector: bool = False
    read_only: bool = False
    keys_from_stdin: bool = False
    echo_keys: bool = False
    libvirt_uri: str | None = None


def parse_mount(arg: str) -> MountSpec:
    """``-m dev[:mountpoint[:options[:fstype]]]``."""
    parts = arg.split(":", 3)
    spec = MountSpec(parts[0])
    if len(parts) > 1:
        spec.mountpoint = parts[1]
    if len(parts) > 2:
        spec.options = parts[2]
    if len(parts) > 3:
        spec.fstype = parts[3]
    return spec


def usage(prog: str) -> str:
    return f"""{prog}: guest filesystem shell (pyguestfs)
{prog} lets you edit virtual machine filesystems
Usage:
  {prog} [--options] cmd [: cmd : cmd ...]
Options:
  -h|--cmd-help        List available commands
  -h|--cmd-help cmd    Display detailed help on ‘cmd’
  -a|--add image       Add image
  --blocksize[=512|4096]
                       Set sector size of the disk for -a option
  -c|--connect uri     Specify libvirt URI for -d option
  -d|--domain guest    Add disks from libvirt guest
  --echo-keys          Don’t turn off echo for passphrases
  -f|--file file       Read commands from file
  --format[=raw|..]    Force disk format for -a option
  --help               Display brief help
  -i|--inspector       Automatically mount filesystems
  --keys-from-stdin    Read passphrases from stdin
  -m|--mount dev[:mnt[:opts[:fstype]]]
                       Mount dev on mnt (if omitted, /)
  --network            Enable network
  -N|--new [filename=]type
                       Create prepared disk (test<N>.img or filename)
  -n|--no-sync         Don’t autosync
  --no-dest-paths      Don’t tab-complete paths from guest fs
  --pipe-error         Pipe commands can detect write errors
  --progress-bars      Enable progress bars even when not interactive
  --no-progress-bars   Disable progress bars
  -r|--ro              Mount read-only
  --selinux            For backwards compat only, does nothing
  -v|--verbose         Verbose messages
  -V|--version         Display version and exit
  -w|--rw              Mount read-write
  -x                   Echo each command before executing it

To examine a disk image:
  {prog} [--ro|--rw] -i -a /path/to/disk.img
"""


def _die(prog: str, message: str) -> FishExit:
    """A fatal error printed as guestfish's ``fprintf (stderr, "%s: ...", getprogname ())``
    prints it."""
    sys.stdout.flush()
    sys.stderr.write(f"{prog}: {message}\n")
    return FishExit(1)


def _fatal(message: str) -> FishExit:
    """A fatal error printed as glibc's ``error()`` prints it: after the program's name
    as it was invoked (its whole path)."""
    return _die(sys.argv[0], message)


def _new_handle() -> Any:
    from ..host import GuestFS

    return GuestFS(python_return_dict=False)


def configure(g: Any, prog: str, args: list[str]) -> tuple[Config, list[str]]:
    """Apply the options to the handle and the configuration; the operands remain."""
    try:
        opts, operands = getopt_long(args)
    except UsageError as e:
        # getopt names the program as invoked; the hint uses the short name.
        sys.stderr.write(f"{sys.argv[0]}: {e}\nTry ‘{prog} --help’ for more information.\n")
        raise FishExit(1) from None
    cfg = Config()
    fmt: str | None = None
    format_consumed = True
    verbose = 0
    n_prepared = 0
    for opt, value in opts:
        if opt == "a":
            assert value is not None
            if is_uri(value):
                try:
                    uri = parse_uri(value)
                except ValueError as e:
                    raise _die(prog, str(e)) from None
                cfg.drives.append(Drive("uri", uri.pop("path"), fmt, uri=uri))
            else:
                if not os.access(value, os.R_OK):
                    err = os.strerror(2 if not os.path.lexists(value) else 13)
                    raise _fatal(f"access: {value}: {err}")
                cfg.drives.append(Drive("a", value, fmt))
            format_consumed = True
        elif opt == "c":
            cfg.libvirt_uri = value
        elif opt == "d":
            assert value is not None
            cfg.drives.append(Drive("d", value))
        elif opt == "D":
            sys.stderr.write(
                f"{prog}: warning: -D option is deprecated, use --no-dest-paths instead\n"
            )
        elif opt == "f":
            if cfg.file is not None:
                raise _fatal("only one -f parameter can be given")
            cfg.file = value
        elif opt == "h":
            if value is None and operands and not operands[0].startswith("-"):
                value = operands.pop(0)
            if value is None:
                sys.stdout.write(list_commands())
                raise FishExit(0)
            shell = Shell(g, prog=prog)
            raise FishExit(0 if display_command(shell, value) == 0 else 1)
        elif opt == "i":
            cfg.inspector = True
        elif opt == "m":
            assert value is not None
            cfg.mounts.append(parse_mount(value))
        elif opt == "n":
            g.set_autosync(False)
        elif opt == "N":
            assert value is not None
            if value.lower() in ("list", "help", "h", "?"):
                sys.stdout.write(list_prepared_drives(prog))
                raise FishExit(0)
            try:
                prepared = parse_prep(value, n_prepared + 1)
            except UnknownPrep:
                raise _fatal(
                    f"-N parameter ‘{value.partition('=')[2] or value}’: no such prepared "
                    "disk image known.\nUse 'guestfish -N help' to list possible values "
                    "for the -N parameter.",
                ) from None
            try:
                prepared.prelaunch()
            except PrepError as e:
                raise _die(prog, _prep_message(prepared, e)) from None
            cfg.drives.append(Drive("N", prepared.filename, "raw", prepared))
            n_prepared += 1
        elif opt == "r":
            cfg.read_only = True
        elif opt == "w":
            if cfg.read_only:
                raise _die(prog, "cannot mix --ro and --rw options")
        elif opt == "v":
            verbose += 1
            g.set_verbose(True)
        elif opt == "V":
            sys.stdout.write(f"{prog} {VERSION}\n")
            raise FishExit(0)
        elif opt == "x":
            g.set_trace(True)
        elif opt == "help":
            sys.stdout.write(usage(prog))
            raise FishExit(0)
        elif opt == "format":
            fmt = value or None
            format_consumed = False
        elif opt == "blocksize":
            pass  # the sector size is not settable on our drives (see compatibility.md)
        elif opt == "keys-from-stdin":
            cfg.keys_from_stdin = True
        elif opt == "echo-keys":
            cfg.echo_keys = True
        elif opt == "network":
            g.set_network(True)
        elif opt == "live":
            raise _fatal("libguestfs live support was removed in libguestfs 1.48")
        elif opt in ("listen", "remote", "csh", "key"):
            raise _die(prog, f"--{opt} is not supported by pyguestfish")
        elif opt == "long-options":
            sys.stdout.write(
                "".join(f"--{n}\n" for n in _LONG if n not in ("long-options", "short-options"))
            )
            raise FishExit(0)
        elif opt == "short-options":
            sys.stdout.write("".join(f"-{c}\n" for c in _SHORT))
            raise FishExit(0)
        # selinux, progress-bars, no-progress-bars, no-dest-paths, pipe-error: accepted.
    # guestfish's old syntax: "-i disk.img" or "-i domain" without -a/-d.
    if cfg.inspector and not cfg.drives and operands:
        for word in operands:
            kind = "a" if "/" in word or os.path.exists(word) else "d"
            cfg.drives.append(Drive(kind, word))
        operands = []
    if not format_consumed:
        raise _die(prog, "--format parameter must appear before -a parameter")
    return cfg, operands


def _prep_message(prepared: Prepared, e: PrepError) -> str:
    return f"error creating prepared disk image ‘{prepared.spec}’ on ‘{prepared.filename}’: {e}"


def add_drives(g: Any, cfg: Config) -> list[tuple[Drive, int]]:
    """Add every drive in order; returns each with its first drive index."""
    placed = []
    index = 0
    for d in cfg.drives:
        placed.append((d, index))
        if d.kind == "a":
            opts: dict[str, Any] = {}
            if cfg.read_only:
                opts["readonly"] = True
            if d.format:
                opts["format"] = d.format
            g.add_drive(d.arg, **opts)
            index += 1
        elif d.kind == "uri":
            opts = dict(d.uri)
            if cfg.read_only:
                opts["readonly"] = True
            if d.format:
                opts["format"] = d.format
            g.add_drive(d.arg, **opts)
            index += 1
        elif d.kind == "N":
            g.add_drive(d.arg, format="raw")  # -N disks are not affected by --ro
            index += 1
        else:
            opts = {"readonly": True} if cfg.read_only else {}
            if cfg.libvirt_uri:
                opts["libvirturi"] = cfg.libvirt_uri
            index += int(g.add_domain(d.arg, **opts))
    return placed


def drive_name(index: int) -> str:
    """The guest name of drive ``index``: sda ... sdz, sdaa ... (libguestfs's order)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("a") + rem) + name
    return "sd" + name


def inspect_mount(g: Any, prog: str, read_only: bool) -> None:
    """``-i``: find the one operating system and mount its filesystems, shortest
    mountpoint first."""
    roots = g.inspect_os()
    hint = (
        "\n\nIf using guestfish ‘-i’ option, remove this option and instead\n"
        "use the commands ‘run’ followed by ‘list-filesystems’.\n"
        "You can then mount filesystems you want by hand using the\n"
        "‘mount’ or ‘mount-ro’ command."
    )
    if not roots:
        raise _die(prog, "no operating system was found on this disk" + hint)
    if len(roots) > 1:
        raise _die(prog, "multi-boot operating systems are not supported" + hint)
    pairs = g.inspect_get_mountpoints(roots[0])
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    items.sort(key=lambda kv: len(kv[0]))
    errors = 0
    for mountpoint, device in items:
        try:
            (g.mount_ro if read_only else g.mount)(device, mountpoint)
        except GuestFSError as e:
            sys.stderr.write(f"libguestfs: error: {e}\n")
            if mountpoint == "/":
                raise FishExit(1) from None
            errors += 1
    if errors:
        sys.stderr.write(f"{prog}: some filesystems could not be mounted (ignored)\n")


def mount_all(g: Any, prog: str, cfg: Config) -> None:
    for m in cfg.mounts:
        options = m.options if m.options is not None else ("ro" if cfg.read_only else "")
        try:
            if m.fstype:
                g.mount_vfs(options, m.fstype, m.device, m.mountpoint)
            else:
                g.mount_options(options, m.device, m.mountpoint)
        except GuestFSError as e:
            sys.stderr.write(f"libguestfs: error: {e}\n")
            _explain_mount_failure(g, prog, m)
            raise FishExit(1) from None


def _explain_mount_failure(g: Any, prog: str, m: MountSpec) -> None:
    try:
        fses = g.list_filesystems()
    except GuestFSError:
        return
    items = list(fses.items()) if isinstance(fses, dict) else list(fses)
    if not items:
        return
    lines = [f"{prog}: ‘{m.device}’ could not be mounted."]
    if m.options is not None:
        lines.append(
            f"{prog}: Check mount(8) man page to ensure options ‘{m.options}’\n"
            f"{prog}: are supported by the filesystem that is being mounted."
        )
    lines.append(f"{prog}: Did you mean to mount one of these filesystems?")
    for name, fstype in items:
        shown = name
        if name.startswith("btrfsvol:"):
            dev, _, sub = name[len("btrfsvol:") :].partition("/")
            shown = f"/dev/{dev.removeprefix('/dev/')}:/:subvol={sub}"
        lines.append(f"{prog}: \t{shown} ({fstype})")
    sys.stderr.write("\n".join(lines) + "\n")


def run(args: list[str], prog: str) -> int:
    """The whole program; returns the exit status."""
    handles: list[Any] = []

    def make_handle() -> Any:
        handles.append(_new_handle())
        return handles[-1]

    try:
        return _run(make_handle(), args, prog, make_handle)
    except FishExit as e:
        return e.status
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        for g in handles:
            try:
                g.close()
            except ValueError:
                pass  # closed already (by reopen)
            except GuestFSError as e:
                sys.stderr.write(f"libguestfs: error: {e}\n")


def _run(g: Any, args: list[str], prog: str, make_handle: Any) -> int:
    cfg, operands = configure(g, prog, args)
    interactive = cfg.file is None and os.isatty(0)
    try:
        placed = add_drives(g, cfg)
    except GuestFSError as e:
        sys.stderr.write(f"libguestfs: error: {e}\n")
        return 1
    if any(d.kind == "N" for d in cfg.drives) or cfg.mounts or cfg.inspector:
        try:
            if g.is_config():
                g.launch()
            if cfg.inspector:
                inspect_mount(g, prog, cfg.read_only)
            for d, index in placed:
                if d.prepared is not None:
                    try:
                        d.prepared.postlaunch(g, "/dev/" + drive_name(index))
                    except PrepError as e:
                        raise _die(prog, _prep_message(d.prepared, e)) from None
            mount_all(g, prog, cfg)
        except GuestFSError as e:
            sys.stderr.write(f"libguestfs: error: {e}\n")
            return 1
    if cfg.file is not None:
        try:
            fd = os.open(cfg.file, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise _fatal(f"open: {cfg.file}: {e.strerror}") from None
        # guestfish reads the file as its standard input (here-documents and keys too).
        os.dup2(fd, 0)
        os.close(fd)
    shell = Shell(
        g,
        prog=prog,
        interactive=interactive,
        input_file=cfg.file if cfg.file is not None else "*stdin*",
        keys_from_stdin=cfg.keys_from_stdin,
        echo_keys=cfg.echo_keys,
        make_handle=make_handle,
        invoked=sys.argv[0],
    )
    if operands:
        shell.run_words(operands)
    elif interactive:
        from .interactive import interact

        interact(shell, inspector=cfg.inspector)
    else:
        shell.run_script()
    try:
        shell.g.shutdown()  # reopen may have replaced the handle
    except GuestFSError as e:
        shell.lib_error(str(e))
        return 1
    return 0


def main() -> None:
    """Console entry point ``pyguestfish``."""
    prog = os.path.basename(sys.argv[0]) or "pyguestfish"
    status = run(sys.argv[1:], prog)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(status)


if __name__ == "__main__":
    main()
