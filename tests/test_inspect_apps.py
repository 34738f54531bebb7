"""inspect_list_applications2's parsers (host/inspect_apps.py), no VM: the host's own dpkg
database against dpkg-query, and 1.48's quirks on hand-made databases. The listing through
a launched appliance is checked by tests/test_fleet_boot.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyguestfs.host import GuestFS
from pyguestfs.host.inspect_apps import (
    InspectApps,
    parse_apk_installed,
    parse_dpkg_status,
    parse_pacman_desc,
    parse_unsigned_int,
    sort_applications,
)

DPKG_STATUS = Path("/var/lib/dpkg/status")


@pytest.mark.skipif(
    not DPKG_STATUS.exists() or shutil.which("dpkg-query") is None, reason="not a dpkg host"
)
def test_host_dpkg_database_matches_dpkg_query() -> None:
    apps = parse_dpkg_status(DPKG_STATUS.read_bytes())
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # 1.48 keeps every paragraph whose Status holds the word "installed" (so also
    # not-installed and half-installed).
    expected = {}
    for line in out.splitlines():
        status, name, version, arch = line.split("\t")
        if "installed" in status:
            expected[(name, arch)] = version
    got = {}
    for a in apps:
        full = a["app2_version"] + (f"-{a['app2_release']}" if a["app2_release"] else "")
        if a["app2_epoch"]:
            full = f"{a['app2_epoch']}:{full}"
        got[(a["app2_name"], a["app2_arch"])] = full
    assert len(apps) > 20
    assert got == expected


STATUS = b"""\
Package: zeta
Status: install ok installed
Architecture: amd64
Version: 2:1.2-3-4
Source: zeta-src (1.2-3)
Homepage: https://zeta.example
Description: the last letter
 first line
 .
 second line
Depends: libc6

Package: gone
Status: deinstall ok config-files
Version: 1.0-1

Package: alpha
Status: install ok not-installed
Version: 0.9

Package: badepoch
Status: install ok installed
Version: x:1.0-1

Package: noversion
Status: install ok installed

Package: lastone
Status: install ok installed
Version: 3
"""


def test_dpkg_status_keeps_148_quirks() -> None:
    apps = parse_dpkg_status(STATUS)
    by_name = {a["app2_name"]: a for a in apps}
    # lastone has no blank line after it: 1.48 never adds it. "not-installed" holds the
    # word "installed"; config-files does not; a bad epoch or no Version drops a package.
    assert sorted(by_name) == ["alpha", "zeta"]
    z = by_name["zeta"]
    assert (z["app2_epoch"], z["app2_version"], z["app2_release"]) == (2, "1.2", "3-4")
    assert z["app2_source_package"] == "zeta-src"
    assert z["app2_url"] == "https://zeta.example"
    assert z["app2_summary"] == "the last letter"
    assert z["app2_description"] == "first line\n.\nsecond line"
    assert z["app2_arch"] == "amd64"
    a = by_name["alpha"]
    assert (a["app2_epoch"], a["app2_version"], a["app2_release"]) == (0, "0.9", "")
    assert [x["app2_name"] for x in sort_applications(apps)] == ["alpha", "zeta"]


def test_dpkg_long_line_is_read_in_fgets_pieces() -> None:
    # A 1023-byte line fills fgets's buffer; its newline comes back as an empty line,
    # which ends the paragraph early: 1.48 then adds the package without its Homepage.
    long_summary = b"Description: " + b"x" * (1023 - 13)
    text = b"Package: p\nStatus: install ok installed\nVersion: 1-2\n" + long_summary + b"\n"
    text += b"Homepage: h\n\n"
    (app,) = parse_dpkg_status(text)
    assert app["app2_summary"] == "x" * 1010
    assert app["app2_url"] == ""


def test_unsigned_int_parses_as_strtol() -> None:
    assert parse_unsigned_int(b"12") == 12
    assert parse_unsigned_int(b" 7") == 7
    assert parse_unsigned_int(b"-3") == -3
    assert parse_unsigned_int(b"") == -1
    assert parse_unsigned_int(b"1a") == -1
    assert parse_unsigned_int(b"99999999999999999999") == -1


def test_apk_database() -> None:
    db = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nT:the C library\nU:https://musl.libc.org\n\n"
    db += b"P:busybox\nV:1:1.36.1-r5\nA:x86_64\nbad line\n\nP:tail\nV:1-r1\n"
    apps = parse_apk_installed(db)
    assert [
        (a["app2_name"], a["app2_epoch"], a["app2_version"], a["app2_release"]) for a in apps
    ] == [
        ("musl", 0, "1.2.4", "2"),
        ("busybox", 1, "1.36.1", "5"),
    ]
    assert apps[0]["app2_description"] == "the C library"
    assert apps[0]["app2_url"] == "https://musl.libc.org"


def test_pacman_desc() -> None:
    desc = b"%NAME%\nbash\n\n%VERSION%\n1:5.2.015-1\n\n%DESC%\nThe GNU shell\n\n%ARCH%\nx86_64\n"
    app = parse_pacman_desc(desc)
    assert app is not None
    assert (app["app2_name"], app["app2_epoch"], app["app2_version"], app["app2_release"]) == (
        "bash",
        1,
        "5.2.015",
        "1",
    )
    assert app["app2_description"] == "The GNU shell"
    # The release is mandatory, and so is the architecture.
    assert parse_pacman_desc(desc.replace(b"5.2.015-1", b"5.2.015")) is None
    assert parse_pacman_desc(desc.replace(b"%ARCH%\nx86_64\n", b"")) is None


class FakeGuest(InspectApps[dict[str, str]]):
    """The daemon calls inspect_list_applications2 makes, answered from a dict of files
    (the rest of the handle is not needed to test what the library does with them)."""

    def __init__(self, os_type: str, package_format: str, files: dict[str, bytes]) -> None:
        self.os_type, self.package_format, self.files = os_type, package_format, files
        self.calls: list[str] = []

    def _call(self, name: str, args: dict[str, Any], optargs: dict[str, Any], **kw: Any) -> Any:
        self.calls.append(name)
        if name == "inspect_get_type":
            return self.os_type
        if name == "inspect_get_package_format":
            return self.package_format
        if name == "filesize":
            return len(self.files[args["file"]])
        if name == "download":
            Path(kw["file_out"]).write_bytes(self.files[args["remotefilename"]])
            return None
        raise AssertionError(f"unexpected call {name}")


def test_list_applications_reads_dpkg_status_through_calls() -> None:
    g = FakeGuest("linux", "deb", {"/var/lib/dpkg/status": STATUS})
    apps = g.inspect_list_applications2("/dev/sda1")
    assert [a["app2_name"] for a in apps] == ["alpha", "zeta"]
    assert g.calls == ["inspect_get_type", "inspect_get_package_format", "filesize", "download"]
    old = g.inspect_list_applications("/dev/sda1")
    assert [(a["app_name"], a["app_version"]) for a in old] == [("alpha", "0.9"), ("zeta", "1.2")]
    assert "app_arch" not in old[0]


def test_unknown_package_format_is_an_empty_list() -> None:
    g = FakeGuest("linux", "unknown", {})
    assert g.inspect_list_applications2("/dev/sda1") == []
    g = FakeGuest("freebsd", "deb", {})
    assert g.inspect_list_applications2("/dev/sda1") == []


def test_oversized_database_is_refused_as_148_words_it() -> None:
    g = FakeGuest("linux", "deb", {})
    g.files = _Huge()  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match=r"size of /var/lib/dpkg/status is unreasonably large"):
        g.inspect_list_applications2("/dev/sda1")


class _Huge(dict[str, bytes]):
    def __getitem__(self, key: str) -> bytes:
        return b"x" * 50_000_001


def test_guestfs_serves_both_calls() -> None:
    # The handle's methods are the library's (wrapped to fire EVENT_ENTER, as every
    # 1.48 call does), no longer the ENOTSUP stubs.
    served = GuestFS.inspect_list_applications2
    assert served.__wrapped__ is InspectApps.inspect_list_applications2  # type: ignore[attr-defined]
    assert GuestFS.inspect_list_applications.__wrapped__ is InspectApps.inspect_list_applications  # type: ignore[attr-defined]
