"""``inspect_list_applications2`` (and the deprecated ``inspect_list_applications``): the
applications installed in an inspected guest, as libguestfs 1.48's library finds them.

In 1.48 this runs in the library, not the daemon (lib/inspect-apps.c): it asks the daemon
for the root's type and package format, then reads the package database through ordinary
calls on the guest's *mounted* filesystems (the caller mounts them first, as with
libguestfs):

* deb: ``/var/lib/dpkg/status`` (at most 50,000,000 bytes), one paragraph per package,
  kept when its ``Status`` mentions "installed";
* pacman: ``/var/lib/pacman/local/*/desc`` (8192 bytes each; a bad one is skipped);
* apk: ``/lib/apk/db/installed`` (at most 50,000,000 bytes);
* rpm: the daemon's ``internal_list_rpm_applications`` (librpm runs in the appliance);
* Windows: the SOFTWARE hive's ``Uninstall`` keys, through the daemon's hivex calls.

The parsers keep 1.48's quirks on purpose, because callers compare results with
libguestfs's: ``Version`` is split at its *first* ``-`` (upstream ``1.2-3-4`` gives version
``1.2``, release ``3-4``), "not-installed" counts as installed (1.48 searches for the
word), a paragraph is only taken at the blank line that ends it, and dpkg lines are read
in pieces of at most 1023 bytes (``fgets`` into a 1024-byte buffer). Results are sorted by
name, byte-wise.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator

from .calls import _H, Application, Application2, Calls
from .errors import GuestFSError

#: The largest dpkg status and apk database 1.48 agrees to download.
MAX_DPKG_STATUS_SIZE = 50 * 1000 * 1000
MAX_APK_INSTALLED_SIZE = 50 * 1000 * 1000
#: The largest pacman ``desc`` file; a larger one is taken for a corrupt database.
MAX_PACMAN_DESC_SIZE = 8192
#: fgets(line, 1024, fp) returns at most this many bytes of a line at a time.
_FGETS_MAX = 1023
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INTEGER = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")


class InspectApps(Calls[_H]):
    """The library-side application listing of a handle (mixed into ``GuestFS``)."""

    def inspect_list_applications2(self, root: str) -> list[Application2]:
        """The applications installed in the inspected operating system ``root``.

        The guest's filesystems must be mounted (as ``inspect_get_mountpoints`` says), as
        with libguestfs. An unknown package format gives an empty list, not an error."""
        os_type = self.inspect_get_type(root)
        package_format = self.inspect_get_package_format(root)
        apps: list[Application2] | None = None
        if os_type in ("linux", "hurd"):
            if package_format == "rpm":
                # An internal daemon procedure: no public method of its own.
                apps = list(self._call("internal_list_rpm_applications", {}, {}))
            elif package_format == "deb":
                data = _download(self, "/var/lib/dpkg/status", MAX_DPKG_STATUS_SIZE)
                apps = parse_dpkg_status(data)
            elif package_format == "pacman":
                apps = _pacman_applications(self)
            elif package_format == "apk":
                data = _download(self, "/lib/apk/db/installed", MAX_APK_INSTALLED_SIZE)
                apps = parse_apk_installed(data)
        elif os_type == "windows":
            apps = _windows_applications(self, root)
        return sort_applications(apps or [])

    def inspect_list_applications(self, root: str) -> list[Application]:
        """Deprecated form of :meth:`inspect_list_applications2`: the same list in the old
        struct (no ``arch``, no spare fields)."""
        return [
            Application(
                app_name=a["app2_name"],
                app_display_name=a["app2_display_name"],
                app_epoch=a["app2_epoch"],
                app_version=a["app2_version"],
                app_release=a["app2_release"],
                app_install_path=a["app2_install_path"],
                app_trans_path=a["app2_trans_path"],
                app_publisher=a["app2_publisher"],
                app_url=a["app2_url"],
                app_source_package=a["app2_source_package"],
                app_summary=a["app2_summary"],
                app_description=a["app2_description"],
            )
            for a in self.inspect_list_applications2(root)
        ]


# -- shared helpers ----------------------------------------------------------------------------


def application2(
    name: bytes | str,
    *,
    display_name: bytes | str = "",
    epoch: int = 0,
    version: bytes | str = "",
    release: bytes | str = "",
    arch: bytes | str = "",
    install_path: bytes | str = "",
    publisher: bytes | str = "",
    url: bytes | str = "",
    source: bytes | str = "",
    summary: bytes | str = "",
    description: bytes | str = "",
) -> Application2:
    """One ``application2`` struct, filled as 1.48's add_application fills it (the
    translated path and the spare fields are always empty)."""
    return Application2(
        app2_name=_text(name),
        app2_display_name=_text(display_name),
        app2_epoch=epoch,
        app2_version=_text(version),
        app2_release=_text(release),
        app2_arch=_text(arch),
        app2_install_path=_text(install_path),
        app2_trans_path="",
        app2_publisher=_text(publisher),
        app2_url=_text(url),
        app2_source_package=_text(source),
        app2_summary=_text(summary),
        app2_description=_text(description),
        app2_spare1="",
        app2_spare2="",
        app2_spare3="",
        app2_spare4="",
    )


def _text(value: bytes | str) -> str:
    # The guest's bytes are not trusted to be UTF-8; keep them round-trippable.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def sort_applications(apps: list[Application2]) -> list[Application2]:
    """Sorted by name as strcmp orders them (byte-wise)."""
    return sorted(apps, key=lambda a: a["app2_name"].encode("utf-8", "surrogateescape"))


def parse_unsigned_int(text: bytes) -> int:
    """An epoch as 1.48 reads it (``guestfs_int_parse_unsigned_int``: strtol in base 10,
    nothing may follow the digits): the value, or -1 when it is not a number."""
    m = _INTEGER.fullmatch(text)
    if m is None:
        return -1
    value = int(m.group(1))
    if not _LONG_MIN <= value <= _LONG_MAX:
        return -1
    # The C function returns the long as an int: keep its low 32 bits, signed.
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _split_version(text: bytes) -> tuple[int, bytes, bytes | None]:
    """``[epoch:]version[-release]`` split at the first ``:`` and the first ``-`` after it."""
    epoch_text, colon, rest = text.partition(b":")
    if colon:
        epoch = parse_unsigned_int(epoch_text)
    else:
        epoch, rest = 0, text
    version, dash, release = rest.partition(b"-")
    return epoch, version, release if dash else None


def _download(g: Calls[_H], path: str, max_size: int) -> bytes:
    """A guest file's bytes, refused above ``max_size`` (guestfs_int_download_to_tmp)."""
    size = g.filesize(path)
    if size > max_size:
        raise GuestFSError(f"size of {path} is unreasonably large ({size} bytes)")
    fd, local = tempfile.mkstemp(prefix="pyguestfs-apps-")
    os.close(fd)
    try:
        g.download(path, local)
        with open(local, "rb") as f:
            return f.read()
    finally:
        os.unlink(local)


# -- deb ---------------------------------------------------------------------------------------


def _fgets_lines(data: bytes) -> Iterator[bytes]:
    """The lines fgets(buf, 1024) returns, with the newline removed as 1.48 removes it:
    a longer line comes in pieces of 1023 bytes (and its newline alone, as an empty line),
    and a NUL ends what strlen sees of a piece."""
    pos, end = 0, len(data)
    while pos < end:
        nl = data.find(b"\n", pos, pos + _FGETS_MAX)
        stop = nl + 1 if nl >= 0 else min(pos + _FGETS_MAX, end)
        piece = data[pos:stop]
        pos = stop
        piece = piece.split(b"\0", 1)[0]
        if piece.endswith(b"\n"):
            piece = piece[:-1]
        yield piece


def parse_dpkg_status(data: bytes) -> list[Application2]:
    """The installed packages of a dpkg ``status`` file, in file order."""
    apps: list[Application2] = []
    fields: dict[str, bytes] = {}
    epoch = 0
    installed = False
    continuing = False  # the previous line was Description: or one of its continuations
    for line in _fgets_lines(data):
        if line.startswith(b" ") and continuing:
            old = fields.get("description")
            fields["description"] = line[1:] if old is None else old + b"\n" + line[1:]
        else:
            continuing = False
        if line.startswith(b"Package: "):
            fields["name"] = line[9:]
        elif line.startswith(b"Status: "):
            installed = b"installed" in line[8:]
        elif line.startswith(b"Version: "):
            epoch, version, release = _split_version(line[9:])
            fields["version"] = version
            if release is None:
                fields.pop("release", None)
            else:
                fields["release"] = release
        elif line.startswith(b"Architecture: "):
            fields["arch"] = line[14:]
        elif line.startswith(b"Homepage: "):
            fields["url"] = line[10:]
        elif line.startswith(b"Source: "):
            # "Source: foo (1.0)" names the source package foo.
            fields["source"] = line[8:].split(b" ", 1)[0]
        elif line.startswith(b"Description: "):
            fields["summary"] = line[13:]
            continuing = True
        elif line == b"":
            if installed and "name" in fields and "version" in fields and epoch >= 0:
                apps.append(
                    application2(
                        fields["name"],
                        epoch=epoch,
                        version=fields["version"],
                        release=fields.get("release", b""),
                        arch=fields.get("arch", b""),
                        url=fields.get("url", b""),
                        source=fields.get("source", b""),
                        summary=fields.get("summary", b""),
                        description=fields.get("description", b""),
                    )
                )
            fields = {}
            installed = False
    return apps


# -- apk ---------------------------------------------------------------------------------------


def parse_apk_installed(data: bytes) -> list[Application2]:
    """The packages of an Alpine ``/lib/apk/db/installed`` (``X:value`` lines, blank
    lines between packages)."""
    apps: list[Application2] = []
    fields: dict[str, bytes] = {}
    epoch = 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break  # getline's last piece without a newline: no blank line ends it
        line = raw[:-1]
        if len(line) > 1 and line[1:2] != b":":
            continue  # not a "X:value" line
        key = line[:1]
        value = line[2:].split(b"\0", 1)[0]  # what strdup copies
        if key in (b"", b"\0"):
            if "name" in fields and "version" in fields and epoch >= 0:
                apps.append(
                    application2(
                        fields["name"],
                        epoch=epoch,
                        version=fields["version"],
                        release=fields.get("release", b""),
                        arch=fields.get("arch", b""),
                        url=fields.get("url", b""),
                        description=fields.get("description", b""),
                    )
                )
            fields = {}
        elif key == b"A":
            fields["arch"] = value
        elif key == b"P":
            fields["name"] = value
        elif key == b"T":
            fields["description"] = value
        elif key == b"U":
            fields["url"] = value
        elif key == b"V":
            epoch, version, release = _split_version(value)
            fields["version"] = version
            if release is None:
                fields.pop("release", None)
            else:
                # Alpine's revisions are "r<N>": the r is dropped.
                fields["release"] = release[1:] if release.startswith(b"r") else release
    return apps


# -- pacman ------------------------------------------------------------------------------------


def parse_pacman_desc(data: bytes) -> Application2 | None:
    """One package of a pacman ``desc`` file (``%NAME%`` then the value on the next line),
    or None when a mandatory field (name, version with a release, arch) is missing."""
    wanted = {b"%NAME%": "name", b"%VERSION%": "version", b"%DESC%": "desc", b"%URL%": "url"}
    wanted[b"%ARCH%"] = "arch"
    fields: dict[str, bytes] = {}
    key: str | None = None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        if not raw:
            key = None
            continue
        line = raw.split(b"\0", 1)[0]  # what strdup and strcmp see
        if key is not None:
            fields[key] = line
            key = None
            continue
        key = wanted.get(line)
    if not all(k in fields for k in ("name", "version", "arch")):
        return None
    epoch, version, release = _split_version(fields["version"])
    if release is None or epoch < 0 or not version or not release:
        return None
    return application2(
        fields["name"],
        epoch=epoch,
        version=version,
        release=release,
        arch=fields["arch"],
        url=fields.get("url", b""),
        description=fields.get("desc", b""),
    )


def _pacman_applications(g: Calls[_H]) -> list[Application2]:
    apps: list[Application2] = []
    for entry in g.readdir("/var/lib/pacman/local"):
        if entry["ftyp"] != "d" or entry["name"] in (".", ".."):
            continue
        try:
            desc = _download(g, f"/var/lib/pacman/local/{entry['name']}/desc", MAX_PACMAN_DESC_SIZE)
        except GuestFSError:
            continue  # a missing or oversized desc: 1.48 goes on with the next package
        app = parse_pacman_desc(desc)
        if app is not None:
            apps.append(app)
    return apps


# -- Windows -----------------------------------------------------------------------------------

_UNINSTALL_PATHS = (
    ("Microsoft", "Windows", "CurrentVersion", "Uninstall"),
    # 32-bit programs on 64-bit Windows (WOW64) register here.
    ("WOW6432node", "Microsoft", "Windows", "CurrentVersion", "Uninstall"),
)


def _windows_applications(g: Calls[_H], root: str) -> list[Application2]:
    hive = g.inspect_get_windows_software_hive(root)
    g.hivex_open(hive, unsafe=True)
    apps: list[Application2] = []
    try:
        for path in _UNINSTALL_PATHS:
            apps += _windows_uninstall_keys(g, path)
    finally:
        g.hivex_close()
    return apps


def _windows_uninstall_keys(g: Calls[_H], path: tuple[str, ...]) -> list[Application2]:
    """Every child key of ``path`` that has a DisplayName (the key's name stands for the
    package name: the display name depends on the language)."""
    try:
        node = g.hivex_root()
        for name in path:
            if node == 0:
                break
            node = g.hivex_node_get_child(node, name)
        if node == 0:
            return []
        children = g.hivex_node_children(node)
    except GuestFSError:
        return []

    def value(child: int, key: str) -> str | None:
        try:
            v = g.hivex_node_get_value(child, key)
            return g.hivex_value_string(v) if v else None
        except GuestFSError:
            return None

    apps: list[Application2] = []
    for c in children:
        child = c["hivex_node_h"]
        try:
            name = g.hivex_node_name(child)
        except GuestFSError:
            continue
        display_name = value(child, "DisplayName")
        if display_name is None:
            continue
        apps.append(
            application2(
                name,
                display_name=display_name,
                version=value(child, "DisplayVersion") or "",
                install_path=value(child, "InstallLocation") or "",
                publisher=value(child, "Publisher") or "",
                url=value(child, "URLInfoAbout") or "",
                description=value(child, "Comments") or "",
            )
        )
    return apps
