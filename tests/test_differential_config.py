"""Differential tests of the guest-configuration family and the small daemon families
(files, dirs, paths, daemon, content, acl, cap ...): the same calls to our agent and to
Debian's real guestfsd 1.48, replies and trees compared.

The machinery is ``test_differential``'s (one ``Side`` per daemon, ``run_case``, tree
snapshots re-synchronised after a difference); this module has its own table of cases
and its own list of known differences, so the two tables can grow apart.
"""

from __future__ import annotations

import bz2
import gzip
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from config_data import journal_file, rpm_guest_tar
from realdaemon import (
    RealDaemonUnavailable,
    check_can_confine,
    daemon_tarball,
    our_agent,
    real_guestfsd,
)
from test_differential import (
    OUT,
    Case,
    LocalIn,
    Outcome,
    Side,
    _case,
    _unavailable,
    describe,
    resync,
    run_case,
    snapshot,
    tree_difference,
)

from pyguestfs.host import GuestFSError

JOURNAL = journal_file()
RPM_GUEST = rpm_guest_tar()
GZ = gzip.compress(b"plain text inside gzip\n" * 20, mtime=0)
BZ = bz2.compress(b"#!/bin/sh\necho inside bzip2\n")

CASES: list[Case] = [
    # the tree the cases work on
    _case("setup-dir", "mkdir", "/c"),
    _case("setup-a", "write", "/c/a", "same contents\n"),
    _case("setup-b", "write", "/c/b", "same contents\n"),
    _case("setup-other", "write", "/c/other", "other contents\n"),
    _case("setup-sub", "mkdir_p", "/c/tree/sub"),
    _case("setup-tree-file", "write", "/c/tree/sub/f", "in the tree\n"),
    _case("setup-tree-link", "ln_s", "sub/f", "/c/tree/lnk"),
    _case("setup-gz", "upload", LocalIn(GZ), "/c/z.gz"),
    _case("setup-bz", "upload", LocalIn(BZ), "/c/z.bz2"),
    _case("setup-chmod", "chmod", 0o640, "/c/a"),
    _case("setup-xattr", "setxattr", "user.colour", "blue", 4, "/c/a"),
    _case("setup-xattr2", "setxattr", "user.shape", "round", 5, "/c/a"),
    # files: copy_attributes
    _case("copy_attributes-all", "copy_attributes", "/c/a", "/c/other", all=True),
    _case("copy_attributes-all-check", "getxattrs", "/c/other"),
    _case("copy_attributes-mode", "copy_attributes", "/c/a", "/c/b", mode=True),
    _case("copy_attributes-mode-check", "statns", "/c/b"),
    _case(
        "copy_attributes-all-but-mode", "copy_attributes", "/c/tree", "/c/b", all=True, mode=False
    ),
    _case("copy_attributes-none", "copy_attributes", "/c/tree", "/c/b"),
    _case("copy_attributes-missing-src", "copy_attributes", "/c/missing", "/c/b", all=True),
    _case("copy_attributes-missing-dest", "copy_attributes", "/c/a", "/c/missing", all=True),
    _case("copy_attributes-relative", "copy_attributes", "c/a", "/c/b"),
    # files: rm_f
    _case("rm_f", "rm_f", "/c/b"),
    _case("rm_f-missing", "rm_f", "/c/b"),
    _case("rm_f-dir", "rm_f", "/c/tree"),
    _case("rm_f-under-file", "rm_f", "/c/a/x"),
    _case("rm_f-missing-parent", "rm_f", "/c/nodir/x"),
    _case("rm_f-symlink", "rm_f", "/c/tree/lnk"),
    _case("rm_f-relative", "rm_f", "c/a"),
    # files: write_file
    _case("write_file", "write_file", "/c/wf", "written by write_file\n", 0),
    _case("write_file-size", "write_file", "/c/wf2", "abcdef", 3),
    _case("write_file-too-long", "write_file", "/c/wf3", "abc", 4),
    _case("write_file-negative", "write_file", "/c/wf3", "abc", -1),
    _case("write_file-onto-dir", "write_file", "/c/tree", "abc", 0),
    _case("write_file-no-parent", "write_file", "/c/nodir/f", "abc", 0),
    # files: zfile
    _case("zfile-gzip", "zfile", "gzip", "/c/z.gz"),
    _case("zfile-compress", "zfile", "compress", "/c/z.gz"),
    _case("zfile-bzip2", "zfile", "bzip2", "/c/z.bz2"),
    _case("zfile-wrong-method", "zfile", "bzip2", "/c/z.gz"),
    _case("zfile-unknown-method", "zfile", "xz", "/c/z.gz"),
    _case("zfile-missing", "zfile", "gzip", "/c/missing.gz"),
    # files: fill, fill_pattern, fill_dir
    _case("fill", "fill", 65, 20000, "/c/filled"),
    _case("fill-shorter-keeps-tail", "fill", 0x42, 10, "/c/filled"),
    _case("fill-zero", "fill", 0, 0, "/c/fill0"),
    _case("fill-byte-range", "fill", 256, 10, "/c/fillx"),
    _case("fill-negative-byte", "fill", -1, 10, "/c/fillx"),
    _case("fill-negative-length", "fill", 1, -1, "/c/fillx"),
    _case("fill-onto-dir", "fill", 1, 1, "/c/tree"),
    _case("fill_pattern", "fill_pattern", "abc", 10, "/c/pattern"),
    _case("fill_pattern-long", "fill_pattern", "0123456789", 100005, "/c/pattern2"),
    _case("fill_pattern-empty", "fill_pattern", "", 10, "/c/pattern3"),
    _case("fill_pattern-negative", "fill_pattern", "x", -5, "/c/pattern3"),
    _case("fill_pattern-no-parent", "fill_pattern", "x", 5, "/c/nodir/p"),
    _case("fill_dir-mkdir", "mkdir", "/c/fd"),
    _case("fill_dir", "fill_dir", "/c/fd", 12),
    _case("fill_dir-again", "fill_dir", "/c/fd", 2),
    _case("fill_dir-zero", "fill_dir", "/c/fd", 0),
    _case("fill_dir-missing", "fill_dir", "/c/nofd", 3),
    _case("fill_dir-file", "fill_dir", "/c/a", 1),
    # dirs: mkdir_mode, llz
    _case("mkdir_mode", "mkdir_mode", "/c/m700", 0o700),
    _case("mkdir_mode-sticky", "mkdir_mode", "/c/m1777", 0o1777),
    _case("mkdir_mode-check", "statns", "/c/m1777"),
    _case("mkdir_mode-exists", "mkdir_mode", "/c/m700", 0o755),
    _case("mkdir_mode-negative", "mkdir_mode", "/c/mneg", -1),
    _case("mkdir_mode-no-parent", "mkdir_mode", "/c/nodir/m", 0o755),
    _case("mkdir_mode-relative", "mkdir_mode", "c/m", 0o755),
    _case("llz", "llz", "/c/tree"),
    _case("llz-file", "llz", "/c/a"),
    _case("llz-missing", "llz", "/c/missing"),
    # paths: rename, cp_r
    _case("rename", "rename", "/c/wf", "/c/renamed"),
    _case("rename-onto-file", "rename", "/c/renamed", "/c/wf2"),
    _case("rename-missing", "rename", "/c/missing", "/c/x"),
    _case("rename-dir-into-itself", "rename", "/c/tree", "/c/tree/sub/t"),
    _case("rename-file-onto-dir", "rename", "/c/wf2", "/c/tree"),
    _case("rename-symlink", "rename", "/c/tree/lnk", "/c/tree/lnk2"),
    _case("rename-relative", "rename", "c/a", "/c/x"),
    _case("cp_r", "cp_r", "/c/tree", "/c/tree-copy"),
    _case("cp_r-into-dir", "cp_r", "/c/tree", "/c/tree-copy"),
    _case("cp_r-file", "cp_r", "/c/a", "/c/a-copy"),
    _case("cp_r-missing", "cp_r", "/c/missing", "/c/x"),
    _case("cp_r-dir-onto-file", "cp_r", "/c/tree", "/c/a"),
    # content: equal, checksums_out, checksum_device
    _case("equal-same", "equal", "/c/tree/sub/f", "/c/tree-copy/sub/f"),
    _case("equal-different", "equal", "/c/a", "/c/other"),
    _case("equal-itself", "equal", "/c/a", "/c/a"),
    _case("equal-missing", "equal", "/c/a", "/c/missing"),
    _case("equal-dir", "equal", "/c/a", "/c/tree"),
    _case("checksums_out-md5", "checksums_out", "md5", "/c/tree", OUT),
    _case("checksums_out-sha256", "checksums_out", "SHA256", "/c/tree-copy", OUT),
    _case("checksums_out-crc", "checksums_out", "crc", "/c/tree", OUT),
    _case("checksums_out-empty-dir", "checksums_out", "md5", "/c/m700", OUT),
    _case("checksums_out-bad-type", "checksums_out", "md4", "/c/tree", OUT),
    _case("checksums_out-missing", "checksums_out", "md5", "/c/missing", OUT),
    _case("checksums_out-file", "checksums_out", "md5", "/c/a", OUT),
    _case("checksum_device-no-device", "checksum_device", "md5", "/dev/sdz"),
    # acl
    _case("acl_get_file", "acl_get_file", "/c/a", "access"),
    _case("acl_get_file-default-dir", "acl_get_file", "/c/tree", "default"),
    _case("acl_get_file-default-file", "acl_get_file", "/c/a", "default"),
    _case("acl_get_file-bad-type", "acl_get_file", "/c/a", "mask"),
    _case("acl_get_file-missing", "acl_get_file", "/c/missing", "access"),
    _case(
        "acl_set_file", "acl_set_file", "/c/a", "access", "u::rw-,g::r--,o::---,u:1000:rw-,m::rw-"
    ),
    _case("acl_set_file-check", "acl_get_file", "/c/a", "access"),
    _case("acl_set_file-default", "acl_set_file", "/c/tree", "default", "u::rwx,g::r-x,o::r-x"),
    _case("acl_set_file-default-check", "acl_get_file", "/c/tree", "default"),
    _case("acl_set_file-unparsable", "acl_set_file", "/c/a", "access", "user:nobody-at-all:rwx"),
    _case("acl_set_file-bad-type", "acl_set_file", "/c/a", "both", "u::rw-,g::r--,o::---"),
    _case("acl_set_file-missing", "acl_set_file", "/c/missing", "access", "u::rw-,g::r--,o::---"),
    _case("acl_delete_def_file", "acl_delete_def_file", "/c/tree"),
    _case("acl_delete_def_file-check", "acl_get_file", "/c/tree", "default"),
    _case("acl_delete_def_file-file", "acl_delete_def_file", "/c/a"),
    _case("acl_delete_def_file-missing", "acl_delete_def_file", "/c/missing"),
    # cap
    _case("cap_get_file-none", "cap_get_file", "/c/a"),
    _case("cap_set_file", "cap_set_file", "/c/a", "cap_net_raw,cap_chown+ep"),
    _case("cap_get_file", "cap_get_file", "/c/a"),
    _case("cap_set_file-unparsable", "cap_set_file", "/c/a", "cap_no_such_thing+ep"),
    _case("cap_set_file-missing", "cap_set_file", "/c/missing", "cap_chown+ep"),
    _case("cap_get_file-missing", "cap_get_file", "/c/missing"),
    _case("cap_set_file-clear", "cap_set_file", "/c/a", "="),
    _case("cap_get_file-cleared", "cap_get_file", "/c/a"),
    # inotify
    _case("inotify_read-before-init", "inotify_read"),
    _case("inotify_add_watch-before-init", "inotify_add_watch", "/c", 0xFFF),
    _case("inotify_close-before-init", "inotify_close"),
    _case("inotify_init-negative", "inotify_init", -1),
    _case("inotify_init", "inotify_init", 0),
    _case("inotify_read-nothing", "inotify_read"),
    _case("inotify_add_watch", "inotify_add_watch", "/c", 0x100 | 0x200 | 0x8),
    _case("inotify_add_watch-missing", "inotify_add_watch", "/c/missing", 0xFFF),
    _case("inotify_add_watch-relative", "inotify_add_watch", "c", 0xFFF),
    _case("inotify-create", "touch", "/c/watched-1"),
    _case("inotify-create-2", "write", "/c/watched-2", "x"),
    _case("inotify-delete", "rm", "/c/watched-1"),
    _case("inotify_read", "inotify_read"),
    _case("inotify-more", "touch", "/c/watched-3"),
    _case("inotify-more-2", "rm", "/c/watched-2"),
    _case("inotify_files", "inotify_files"),
    _case("inotify_files-nothing", "inotify_files"),
    _case("inotify_rm_watch", "inotify_rm_watch", 1),
    _case("inotify_rm_watch-unknown", "inotify_rm_watch", 99),
    _case("inotify-after-rm", "touch", "/c/watched-4"),
    _case("inotify_read-after-rm", "inotify_read"),
    _case("inotify_init-again", "inotify_init", 0),
    _case("inotify_close", "inotify_close"),
    _case("inotify_close-twice", "inotify_close"),
    # journal
    _case("journal_next-before-open", "journal_next"),
    _case("journal_get-before-open", "journal_get"),
    _case("journal_close-before-open", "journal_close"),
    _case("journal-setup-dir", "mkdir", "/c/journal"),
    _case("journal-setup-file", "upload", LocalIn(JOURNAL), "/c/journal/system.journal"),
    _case("journal-setup-truncated", "mkdir", "/c/trunc"),
    _case(
        "journal-setup-truncated-file",
        "upload",
        LocalIn(JOURNAL[:4096]),
        "/c/trunc/system.journal",
    ),
    _case("journal_open-missing", "journal_open", "/c/missing"),
    _case("journal_open-file", "journal_open", "/c/a"),
    _case("journal_open", "journal_open", "/c/journal"),
    _case("journal_get_data_threshold", "journal_get_data_threshold"),
    _case("journal_next", "journal_next"),
    _case("journal_get", "journal_get"),
    _case("journal_get_realtime_usec", "journal_get_realtime_usec"),
    _case("journal_skip-0", "journal_skip", 0),
    _case("journal_skip-forward", "journal_skip", 1),
    _case("journal_get-second", "journal_get"),
    _case("journal_skip-past-end", "journal_skip", 10),
    _case("journal_next-at-end", "journal_next"),
    _case("journal_skip-back", "journal_skip", -2),
    _case("journal_get_realtime_usec-after-skip", "journal_get_realtime_usec"),
    _case("journal_set_data_threshold", "journal_set_data_threshold", 20),
    _case("journal_get_data_threshold-set", "journal_get_data_threshold"),
    _case("journal_get-cut-short", "journal_get"),
    _case("journal_set_data_threshold-none", "journal_set_data_threshold", 0),
    _case("journal_close", "journal_close"),
    _case("journal_close-twice", "journal_close"),
    _case("journal_open-truncated", "journal_open", "/c/trunc"),
    _case("journal_next-truncated", "journal_next"),
    _case("journal_get_realtime_usec-truncated", "journal_get_realtime_usec"),
    _case("journal_open-reopen", "journal_open", "/c/journal"),
    _case("journal_next-reopen", "journal_next"),
    _case("journal_close-reopen", "journal_close"),
    # selinux
    _case("getcon", "getcon"),
    _case("setcon-bad", "setcon", "not a context"),
    _case("selinux-setup-spec", "mkdir_p", "/c/etc/selinux"),
    _case(
        "selinux-setup-contexts",
        "write",
        "/c/etc/selinux/file_contexts",
        "/c(/.*)?    system_u:object_r:etc_t:s0\n",
    ),
    _case("selinux_relabel", "selinux_relabel", "/c/etc/selinux/file_contexts", "/c/tree"),
    _case("selinux_relabel-check", "lgetxattrs", "/c/tree/sub/f"),
    _case(
        "selinux_relabel-force",
        "selinux_relabel",
        "/c/etc/selinux/file_contexts",
        "/c/tree",
        force=True,
    ),
    _case("selinux_relabel-no-spec", "selinux_relabel", "/c/etc/selinux/missing", "/c/tree"),
    _case("selinux_relabel-missing", "selinux_relabel", "/c/etc/selinux/file_contexts", "/c/no"),
    # inspect: the RPM database of a guest, through librpm
    _case("rpm-no-database", "internal_list_rpm_applications"),
    _case("rpm-setup", "tar_in", LocalIn(RPM_GUEST), "/"),
    _case("rpm-applications", "internal_list_rpm_applications"),
    # feature groups of these families
    *(
        _case(f"feature-{group}", "feature_available", [group])
        for group in (
            "acl",
            "linuxcaps",
            "linuxmodules",
            "inotify",
            "selinux",
            "selinuxrelabel",
            "journal",
        )
    ),
    # daemon
    _case("echo_daemon", "echo_daemon", ["a", "b c", "", "d"]),
    _case("echo_daemon-empty", "echo_daemon", []),
    _case("utsname", "utsname"),
    _case("filesystem_available-bad-name", "filesystem_available", "ext4;x"),
    _case("filesystem_available-nodev", "filesystem_available", "proc"),
    _case("sleep", "sleep", 0),
    _case("debug-unknown", "debug", "no-such-subcommand", []),
    _case("debug-error", "debug", "error", ["12"]),
    _case("debug-error-big", "debug", "error", ["2000000"]),
    _case("debug-error-args", "debug", "error", []),
    _case("debug-setenv-args", "debug", "setenv", ["x"]),
    _case("debug-sh-no-command", "debug", "sh", []),
    _case("debug-progress-zero", "debug", "progress", ["0"]),
    _case("debug-progress-args", "debug", "progress", []),
    _case("debug-spew-args", "debug", "spew", []),
    _case("debug-ldd-args", "debug", "ldd", []),
    _case("debug-upper-case", "debug", "ERROR", ["3"]),
]

#: Case id -> what differs and why (each also in docs/compatibility.md where it matters).
KNOWN_DIFFERENCES: dict[str, str] = {
    "setcon-bad": "the confined guestfsd's /proc is mounted read-only, so its write to "
    "/proc/self/attr/current fails (EROFS) before the kernel judges the context (EINVAL); "
    "an artefact of the confinement, not of either daemon",
}

# ls -la dates: "Nov 25 13:59" or "Nov 25  2024".
_LS_DATE = re.compile(r"\b[A-Z][a-z]{2} [ \d]\d (?:\d\d:\d\d| \d{4})\b")


def _normalise(case: Case, outcome: Outcome, local: Path) -> Outcome:
    """Times out of listings; a FileOut's lines (in find's order, which is the
    directory's order on disk) sorted."""
    if outcome.kind != "ok":
        return outcome
    value: Any = outcome.value
    if case.api == "llz":
        value = _LS_DATE.sub("DATE", value)
    elif case.api == "utsname":
        value = dict(value)
    elif case.api == "checksums_out":
        out = local / "out-2"
        value = sorted(out.read_bytes().splitlines()) if out.exists() else None
    return replace(outcome, value=value)


@dataclass
class ConfigRun:
    outcomes: dict[str, tuple[Outcome, Outcome]]
    trees: dict[str, str]
    seconds: float

    def differs(self, case_id: str) -> bool:
        ours, real = self.outcomes[case_id]
        return ours != real or case_id in self.trees

    def detail(self, case_id: str) -> str:
        ours, real = self.outcomes[case_id]
        text = describe(ours, real) if ours != real else f"same reply: {ours.show()}"
        if case_id in self.trees:
            text += " | " + self.trees[case_id]
        return text


@pytest.fixture(scope="module")
def config_run(real_daemon_ready: None, tmp_path_factory: pytest.TempPathFactory) -> ConfigRun:
    started = time.monotonic()
    base = tmp_path_factory.mktemp("differential-config")
    ours_scratch, real_scratch, local = base / "ours", base / "real", base / "local"
    for d in (ours_scratch, real_scratch, local):
        d.mkdir()
    outcomes: dict[str, tuple[Outcome, Outcome]] = {}
    trees: dict[str, str] = {}
    ours = Side(our_agent, ours_scratch)
    try:
        real = Side(lambda s: real_guestfsd(s, verbose=True), real_scratch)
    except BaseException:
        ours.close()
        raise
    try:
        for c in CASES:
            pair = []
            for side in (ours, real):
                outcome = _normalise(c, run_case(side.g, c, local), local)
                if outcome.kind != "ok" and not side.alive():
                    side.restart()
                    outcome = replace(outcome, connection_lost=True)
                pair.append(outcome)
            outcomes[c.id] = (pair[0], pair[1])
            tree_ours, tree_real = snapshot(ours_scratch), snapshot(real_scratch)
            if tree_ours != tree_real:
                trees[c.id] = tree_difference(tree_ours, tree_real)
                resync(real_scratch, ours_scratch)
    finally:
        ours.close()
        real.close()
    return ConfigRun(outcomes, trees, time.monotonic() - started)


@pytest.fixture(scope="module")
def real_daemon_ready() -> None:
    try:
        check_can_confine()
        daemon_tarball()
    except RealDaemonUnavailable as e:
        _unavailable(str(e))


def test_case_table() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert set(KNOWN_DIFFERENCES) <= set(ids)


@pytest.mark.parametrize("api", sorted({c.api for c in CASES}))
def test_same_replies(config_run: ConfigRun, api: str) -> None:
    """Every case of one API agrees with the real guestfsd, or is a listed difference."""
    cases = [c for c in CASES if c.api == api]
    new = [c for c in cases if config_run.differs(c.id) and c.id not in KNOWN_DIFFERENCES]
    stale = [c for c in cases if not config_run.differs(c.id) and c.id in KNOWN_DIFFERENCES]
    problems = [f"{c.id}: the daemons differ -- {config_run.detail(c.id)}" for c in new]
    problems += [f"{c.id}: listed in KNOWN_DIFFERENCES but both agree" for c in stale]
    assert not problems, "\n".join(problems)
    known = [c for c in cases if config_run.differs(c.id)]
    if known:
        pytest.xfail("; ".join(f"{c.id}: {KNOWN_DIFFERENCES[c.id]}" for c in known))


def test_cases_did_something(config_run: ConfigRun) -> None:
    """The table is not vacuous: most cases succeeded on the real daemon, and the ones
    that create files left them."""
    ok = [cid for cid, (_o, real) in config_run.outcomes.items() if real.kind == "ok"]
    assert len(ok) > len(CASES) // 2
    assert config_run.outcomes["fill_dir"][1].kind == "ok"
    assert config_run.outcomes["equal-same"] == (Outcome("ok", True), Outcome("ok", True))


def test_report(config_run: ConfigRun) -> None:
    """Print each case's replies (run with -s to see them)."""
    for c in CASES:
        print(f"{c.id}: {config_run.detail(c.id)}")


def test_standalone_agent_keeps_to_its_sysroot(tmp_path: Path) -> None:
    """Run standalone on a host, the agent refuses what 1.48 does to the appliance
    outside the sysroot (there it would be the host): a shell, uploads to any path,
    kernel settings. guestfsd -r would do them all on the host."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    target = tmp_path / "uploaded"
    with our_agent(scratch) as daemon:
        g = daemon.handle()
        refused = {
            "debug sh": lambda: g.debug("sh", ["touch", str(tmp_path / "shell-ran")]),
            "debug ls": lambda: g.debug("ls", [str(tmp_path)]),
            "debug_upload": lambda: g.debug_upload(str(script), str(target), 0o755),
            "drop_caches": lambda: g.drop_caches(1),
            "dmesg": g.dmesg,
            "inotify_init": lambda: g.inotify_init(100),
        }
        for what, call in refused.items():
            with pytest.raises(GuestFSError) as e:
                call()
            assert e.value.errno_name == "EPERM", what
            assert "standalone" in str(e.value), what
        assert g.echo_daemon(["still", "serving"]) == "still serving"
    assert not (tmp_path / "shell-ran").exists() and not target.exists()
