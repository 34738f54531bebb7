"""Test data for the guest-configuration families, made by the real tools that make
them in guests: a systemd journal (systemd-journal-remote) and an RPM package database
(rpmbuild and rpm). Each builder returns b"" where its tool is missing, so the cases that
use it fail alike on every daemon (and say which tool to install: ci/setup.sh has them)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def journal_file() -> bytes:
    """A real systemd journal file of three entries, written by systemd-journal-remote
    from journal export format (b"" where that tool is missing: the journal cases then
    fail alike on both daemons)."""
    tool = JOURNAL_REMOTE
    if not os.path.exists(tool):
        return b""
    export = b"".join(
        b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n"
        b"_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=guest\nPRIORITY=6\n"
        b"MESSAGE=message number %d\nLONG_FIELD=%s\n\n"
        % (1_600_000_000_000_000 + i * 1_000_000, 1000 + i, i, b"x" * 100)
        for i in range(3)
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "system.journal")
        subprocess.run([tool, "-o", out, "-"], input=export, capture_output=True, check=True)
        with open(out, "rb") as f:
            return f.read()


_SPEC = """Name: {name}
Version: {version}
Release: 3
{epoch}Summary: The {name} package
License: MIT
URL: https://example.invalid/{name}
BuildArch: noarch
%description
{name}: a package without files, for tests.
%files
"""


def rpm_guest_tar() -> bytes:
    """A tar of the part of an RPM-based guest librpm reads: rpm's configuration
    (/usr/lib/rpm) and a sqlite package database with two packages, made by the real
    rpmbuild and rpm (b"" where they are missing: the cases then fail alike)."""
    if not (shutil.which("rpm") and shutil.which("rpmbuild")):
        return b""
    with tempfile.TemporaryDirectory() as tmp:
        top, root = Path(tmp, "build"), Path(tmp, "root")
        for name, version, epoch in (("zeta-tools", "1.2", "Epoch: 7\n"), ("alpha", "0.1", "")):
            spec = Path(tmp, f"{name}.spec")
            spec.write_text(_SPEC.format(name=name, version=version, epoch=epoch))
            subprocess.run(
                ["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec)],
                capture_output=True,
                check=True,
            )
        (root / "etc/rpm").mkdir(parents=True)
        (root / "etc/rpm/macros").write_text("%_dbpath /var/lib/rpm\n")
        (root / "usr/lib/rpm").mkdir(parents=True)
        for conf in ("rpmrc", "macros"):
            shutil.copy(f"/usr/lib/rpm/{conf}", root / "usr/lib/rpm" / conf)
        rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
        subprocess.run([*rpm, "--initdb"], capture_output=True, check=True)
        packages = sorted(str(p) for p in top.glob("RPMS/noarch/*.rpm"))
        subprocess.run(
            [*rpm, "-i", "--nodeps", "--justdb", *packages], capture_output=True, check=True
        )
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for part in ("etc", "usr", "var"):
                tf.add(root / part, arcname=part)
        return buf.getvalue()
