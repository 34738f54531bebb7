"""YARA and The Sleuth Kit (its walk, icat and blkls), our agent beside Debian's real
guestfsd 1.48, and the library calls beside python3-guestfs on libguestfs's own
appliance.

The disks are made on the host: ``/dev/sda`` a 16 MiB ext4 filesystem (``mke2fs -d``)
holding a directory with a file (its times given nanoseconds with debugfs), another
file, a symlink and a file deleted with debugfs (its inode and name stay, unallocated);
``/dev/sdb`` empty. Two appliances boot once for the module, under TCG, each on its own
copy: one runs our agent, the other the real guestfsd (``--daemon guestfsd``). The same
calls (``CASES``, in order) run through both and every reply is compared whole: the walk
and find_inode records field by field (the disks are the same bytes, so times and inode
numbers are too), errno names and error messages. Then a third boot: Debian's
python3-guestfs with its own appliance makes the library calls ``filesystem_walk``,
``find_inode`` and ``yara_scan`` on another copy, and ours must return the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paired_appliances as paired
import pytest
from conftest import RunningAgent
from paired_appliances import Case, Outcome

from pyguestfs.builder.guestfsd import DAEMON_TARBALL
from pyguestfs.host import GuestFS, GuestFSError

MiB = 1024 * 1024
REAL_PYTHON = "/usr/bin/python3"

RULES = """\
rule Greeting { strings: $a = "hello from" condition: $a }
rule NeverHere { strings: $a = "zzzqqq-not-in-any-file" condition: $a }
rule GuestWord { strings: $a = "guest" nocase condition: $a }
"""
#: A rule that does not compile (an undefined identifier).
BAD_RULES = "rule Broken { condition: no_such_thing }\n"

#: Nanoseconds given to /dir/file's times (ext4 keeps them in the inode's *_extra words,
#: shifted left by 2 above the epoch bits).
NSEC = {"atime": 123456789, "mtime": 987654321, "ctime": 5, "crtime": 999999999}


FILE_DATA = b"hello from a Guest filesystem\n"
GONE_DATA = b"deleted, still in its inode\n"


def _cases(files: dict[str, str], inodes: dict[str, int]) -> list[Case]:
    c = Case
    return [
        c("tsk-available", "feature_available", (["libtsk"],)),
        c("yara-available", "feature_available", (["libyara"],)),
        # -- The Sleuth Kit: before anything mounts the filesystem (no atime changes)
        c("tsk-walk", "filesystem_walk", ("/dev/sda",)),
        c("tsk-find-file", "find_inode", ("/dev/sda", inodes["/dir/file"])),
        c("tsk-find-deleted", "find_inode", ("/dev/sda", inodes["/gone"])),
        c("tsk-find-root", "find_inode", ("/dev/sda", 2)),
        c("tsk-find-none", "find_inode", ("/dev/sda", 99999)),
        c("tsk-find-negative", "find_inode", ("/dev/sda", -1)),
        c("tsk-walk-not-fs", "filesystem_walk", ("/dev/sdb",)),
        c("tsk-find-not-fs", "find_inode", ("/dev/sdb", 2)),
        c("tsk-walk-no-device", "filesystem_walk", ("/dev/sdz",)),
        c("tsk-available-sleuthkit", "feature_available", (["sleuthkit"],)),
        c("tsk-icat-file", "download_inode", ("/dev/sda", inodes["/dir/file"], OUT)),
        c("tsk-icat-deleted", "download_inode", ("/dev/sda", inodes["/gone"], OUT)),
        c("tsk-icat-negative", "download_inode", ("/dev/sda", -1, OUT)),
        c("tsk-icat-not-fs", "download_inode", ("/dev/sdb", 2, OUT)),
        c("tsk-blkls", "download_blocks", ("/dev/sda", 0, 3, OUT)),
        c("tsk-blkls-unalloc", "download_blocks", ("/dev/sda", 0, 40, OUT), {"unallocated": True}),
        c("tsk-blkls-backwards", "download_blocks", ("/dev/sda", 5, 5, OUT)),
        c("tsk-blkls-negative", "download_blocks", ("/dev/sda", -1, 5, OUT)),
        c("tsk-blkls-not-fs", "download_blocks", ("/dev/sdb", 0, 3, OUT)),
        # -- YARA
        c("yara-destroy-none", "yara_destroy"),
        c("mount", "mount_ro", ("/dev/sda", "/")),
        c("yara-scan-none", "yara_scan", ("/dir/file",)),
        c("yara-load-bad", "yara_load", (files["bad"],)),
        c("yara-scan-after-bad", "yara_scan", ("/dir/file",)),
        c("yara-load", "yara_load", (files["rules"],)),
        c("yara-scan-match", "yara_scan", ("/dir/file",)),
        c("yara-scan-link", "yara_scan", ("/link",)),
        c("yara-scan-nomatch", "yara_scan", ("/other",)),
        c("yara-scan-missing", "yara_scan", ("/missing",)),
        c("yara-scan-relative", "yara_scan", ("dir/file",)),
        c("yara-scan-dir", "yara_scan", ("/dir",)),
        c("yara-scan-still", "yara_scan", ("/dir/file",)),
        c("yara-load-bad-drops", "yara_load", (files["bad"],)),
        c("yara-scan-dropped", "yara_scan", ("/dir/file",)),
        c("yara-load-compiled", "yara_load", (files["compiled"],)),
        c("yara-scan-compiled", "yara_scan", ("/dir/file",)),
        c("yara-load-missing-file", "yara_load", (files["missing"],)),
        c("yara-destroy", "yara_destroy"),
        c("yara-destroy-again", "yara_destroy"),
        c("yara-scan-destroyed", "yara_scan", ("/dir/file",)),
        c("umount", "umount", ("/",)),
    ]


#: A FileOut argument: a fresh local file, whose size and digest become the case's value.
OUT = "<local file>"


def _run(g: GuestFS, case: Case, local: Path) -> Outcome:
    out = local / case.id
    args = [str(out) if a == OUT else a for a in case.args]
    try:
        value = getattr(g, case.api)(*args, **case.kwargs)
    except GuestFSError as e:
        return Outcome("error", errno=e.errno_name or "", message=str(e))
    if isinstance(value, list):
        value = [dict(v) for v in value]
    if OUT in case.args:
        data = out.read_bytes()
        value = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return Outcome("ok", value=value)


# -- the disks ----------------------------------------------------------------------------


def _debugfs(image: Path, *requests: str, write: bool = False) -> str:
    argv = ["debugfs", *(["-w"] if write else []), str(image)]
    done = subprocess.run(
        argv, input="\n".join(requests) + "\n", capture_output=True, text=True, check=True
    )
    return done.stdout


def _make_disks(where: Path) -> dict[str, int]:
    """The ext4 image (a.img) and the empty disk (b.img); returns the inode numbers."""
    src = where / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "file").write_bytes(FILE_DATA)
    (src / "other").write_bytes(b"nothing to see\n")
    (src / "gone").write_bytes(GONE_DATA)
    os.symlink("dir/file", src / "link")
    # Enough entries for the walk's records to span many 8 KiB chunks.
    (src / "many").mkdir()
    for i in range(300):
        (src / "many" / f"entry-{i:03d}-{'y' * 60}").write_bytes(b"%d\n" % i)
    image = where / "a.img"
    subprocess.run(
        ["mke2fs", "-q", "-t", "ext4", "-I", "256", "-d", str(src), str(image), "16M"],
        check=True, capture_output=True,
    )  # fmt: skip
    inodes = {}
    for path in ("/dir/file", "/gone"):
        m = re.search(r"Inode: (\d+)", _debugfs(image, f"stat {path}"))
        assert m, f"debugfs found no inode for {path}"
        inodes[path] = int(m.group(1))
    _debugfs(
        image,
        *(f"set_inode_field /dir/file {t}_extra {ns << 2}" for t, ns in NSEC.items()),
        "rm /gone",
        write=True,
    )
    with open(where / "b.img", "wb") as f:
        f.truncate(8 * MiB)
    return inodes


def _rule_files(where: Path) -> dict[str, str]:
    (where / "rules.yar").write_text(RULES)
    (where / "bad.yar").write_text(BAD_RULES)
    subprocess.run(
        ["yarac", str(where / "rules.yar"), str(where / "rules.yarc")],
        check=True, capture_output=True,
    )  # fmt: skip
    return {
        "rules": str(where / "rules.yar"),
        "bad": str(where / "bad.yar"),
        "compiled": str(where / "rules.yarc"),
        "missing": str(where / "no-such-rules.yar"),
    }


def _copy_disks(master: Path, where: Path) -> tuple[str, str]:
    where.mkdir()
    for name in ("a.img", "b.img"):
        shutil.copyfile(master / name, where / name)
    return str(where / "a.img"), str(where / "b.img")


# -- the library calls through python3-guestfs ----------------------------------------------

#: Run by /usr/bin/python3: the real library on its own appliance; prints JSON.
_REAL_LIBRARY_SCRIPT = """
import json, sys, guestfs
disk, rules, inode = sys.argv[1], sys.argv[2], int(sys.argv[3])
g = guestfs.GuestFS(python_return_dict=True)
g.add_drive_opts(disk, format="raw", readonly=1)
g.launch()
out = {"walk": g.filesystem_walk("/dev/sda"), "find": g.find_inode("/dev/sda", inode)}
g.mount_ro("/dev/sda", "/")
g.yara_load(rules)
out["scan"] = g.yara_scan("/dir/file")
out["scan_link"] = g.yara_scan("/link")
g.close()
print(json.dumps(out))
"""


def _library_calls(g: GuestFS, rules: str, inode: int) -> dict[str, Any]:
    """The script's calls, in its order, through our library on our appliance."""
    out: dict[str, Any] = {
        "walk": [dict(d) for d in g.filesystem_walk("/dev/sda")],
        "find": [dict(d) for d in g.find_inode("/dev/sda", inode)],
    }
    g.mount_ro("/dev/sda", "/")
    g.yara_load(rules)
    out["scan"] = [dict(d) for d in g.yara_scan("/dir/file")]
    out["scan_link"] = [dict(d) for d in g.yara_scan("/link")]
    return out


def _real_library(disk: str, rules: str, inode: int, tmp: Path) -> dict[str, Any] | str:
    """python3-guestfs's answers, or why they cannot be had."""
    if subprocess.run([REAL_PYTHON, "-c", "import guestfs"], capture_output=True).returncode:
        return "python3-guestfs is not installed"
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    env.pop("LIBGUESTFS_PATH", None)
    env["TMPDIR"] = str(tmp)
    done = subprocess.run(
        [REAL_PYTHON, "-c", _REAL_LIBRARY_SCRIPT, disk, rules, str(inode)],
        env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    if done.returncode:
        raise AssertionError(f"python3-guestfs failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the module's boots ----------------------------------------------------------------------


@dataclass
class Results:
    cases: list[Case]
    ours: dict[str, Outcome]
    real: dict[str, Outcome] | None
    why_no_real: str
    library_ours: dict[str, Any]
    library_real: dict[str, Any] | str
    inodes: dict[str, int]


#: Three boots under TCG on a shared machine.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def res(cachedir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Results]:
    for tool in ("debugfs", "yarac"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed on the host (ci/setup.sh installs it)")
    tmp = tmp_path_factory.mktemp("yaratsk")
    master = tmp / "master"
    master.mkdir()
    inodes = _make_disks(master)
    files = _rule_files(master)
    cases = _cases(files, inodes)
    ours = paired.boot(cachedir, _copy_disks(master, tmp / "ours"), "pyguestfs")
    try:
        (tmp / "ours-out").mkdir()
        mine = {case.id: _run(ours, case, tmp / "ours-out") for case in cases}
        library_ours = _library_calls(ours, files["rules"], inodes["/dir/file"])
    finally:
        ours.close()
    real: dict[str, Outcome] | None = None
    why = ""
    if not DAEMON_TARBALL.is_file():
        why = f"{DAEMON_TARBALL} is missing (apt-get install libguestfs-tools)"
    else:
        g = paired.boot(cachedir, _copy_disks(master, tmp / "real"), "guestfsd")
        try:
            (tmp / "real-out").mkdir()
            real = {case.id: _run(g, case, tmp / "real-out") for case in cases}
        finally:
            g.close()
    (tmp / "library").mkdir()
    disk, _ = _copy_disks(master, tmp / "library" / "disks")
    library_real = _real_library(disk, files["rules"], inodes["/dir/file"], tmp / "library")
    yield Results(cases, mine, real, why, library_ours, library_real, inodes)


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["tsk", "yara"])
def test_same_replies_as_guestfsd(res: Results, family: str) -> None:
    if res.real is None:
        pytest.skip(f"no real guestfsd appliance: {res.why_no_real}")
    diffs = [
        f"{c.id}: ours {res.ours[c.id]!r}\n   real {res.real[c.id]!r}"
        for c in res.cases
        if c.id.startswith(family) and res.ours[c.id] != res.real[c.id]
    ]
    assert diffs == [], "\n".join(diffs)


def test_walk_reports_files_dir_symlink_and_deleted_file(res: Results) -> None:
    walk = res.ours["tsk-walk"]
    assert walk.kind == "ok", walk
    by_name = {d["tsk_name"]: d for d in walk.value}
    assert by_name["."]["tsk_inode"] == 2 and by_name["."]["tsk_type"] == "d"
    assert by_name["dir"]["tsk_type"] == "d"
    f = by_name["dir/file"]
    assert (f["tsk_type"], f["tsk_size"], f["tsk_flags"]) == ("r", 30, 1)
    assert f["tsk_inode"] == res.inodes["/dir/file"]
    assert [f[f"tsk_{t}_nsec"] for t in NSEC] == list(NSEC.values())
    assert (by_name["link"]["tsk_type"], by_name["link"]["tsk_link"]) == ("l", "dir/file")
    gone = by_name["gone"]
    assert gone["tsk_inode"] == res.inodes["/gone"]
    assert gone["tsk_flags"] & 1 == 0  # not allocated: a deleted file
    assert res.ours["tsk-find-file"].value == [f]
    assert res.ours["tsk-find-none"].value == []


def test_download_inode_reads_files_and_deleted_ones(res: Results) -> None:
    def digest(data: bytes) -> dict[str, Any]:
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    assert res.ours["tsk-icat-file"].value == digest(FILE_DATA)
    assert res.ours["tsk-icat-deleted"].value == digest(GONE_DATA)  # -r: recovered
    assert res.ours["tsk-blkls"].kind == "ok" and res.ours["tsk-blkls"].value["size"] > 0


def test_yara_matches_and_errors(res: Results) -> None:
    hit = res.ours["yara-scan-match"]
    assert hit.value == [
        {"yara_name": "/dir/file", "yara_rule": "Greeting"},
        {"yara_name": "/dir/file", "yara_rule": "GuestWord"},
    ]
    assert res.ours["yara-scan-nomatch"].value == []
    assert res.ours["yara-scan-compiled"].value == hit.value
    bad = res.ours["yara-load-bad"]
    assert (bad.kind, bad.message) == (
        "error",
        "yara_load: found 1 errors when compiling the rules",
    )
    # the agent kept serving, and a failed load leaves no rules loaded, as in 1.48
    no_rules = "internal_yara_scan: no yara rules loaded"
    for case_id in ("yara-scan-none", "yara-scan-after-bad", "yara-scan-dropped"):
        assert res.ours[case_id].message == no_rules, case_id
    assert res.ours["yara-scan-still"].value == hit.value


def test_library_calls_same_as_python3_guestfs(res: Results) -> None:
    if isinstance(res.library_real, str):
        pytest.skip(res.library_real)
    assert res.library_ours == res.library_real
    assert res.library_ours["scan"], "the rules matched nothing"


# -- the ctypes layers on the host (no appliance) ---------------------------------------------

_OFFSETS_C = r"""
#include <stdio.h>
#include <stddef.h>
#include <yara.h>
#include <tsk/libtsk.h>
#define O(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(t, f))
int main(void) {
  O(YR_RULE, identifier);
  O(TSK_FS_FILE, name); O(TSK_FS_FILE, meta); O(TSK_FS_FILE, fs_info);
  O(TSK_FS_NAME, name); O(TSK_FS_NAME, meta_addr); O(TSK_FS_NAME, type);
  O(TSK_FS_NAME, flags); O(TSK_FS_INFO, root_inum);
  O(TSK_FS_META, flags); O(TSK_FS_META, nlink); O(TSK_FS_META, size);
  O(TSK_FS_META, atime); O(TSK_FS_META, atime_nano); O(TSK_FS_META, mtime);
  O(TSK_FS_META, mtime_nano); O(TSK_FS_META, ctime); O(TSK_FS_META, ctime_nano);
  O(TSK_FS_META, crtime); O(TSK_FS_META, crtime_nano); O(TSK_FS_META, link);
  printf("ERROR_INVALID_FILE %d\nCALLBACK_MSG_RULE_MATCHING %d\n",
         ERROR_INVALID_FILE, CALLBACK_MSG_RULE_MATCHING);
  printf("WALK_FLAGS %d\nNAME_FLAG_UNALLOC %d\nMETA_FLAG_COMP %d\nNAME_TYPE_STR_MAX %d\n",
         TSK_FS_DIR_WALK_FLAG_ALLOC | TSK_FS_DIR_WALK_FLAG_UNALLOC |
         TSK_FS_DIR_WALK_FLAG_RECURSE | TSK_FS_DIR_WALK_FLAG_NOORPHAN,
         TSK_FS_NAME_FLAG_UNALLOC, TSK_FS_META_FLAG_COMP, TSK_FS_NAME_TYPE_STR_MAX);
  return 0;
}
"""


def test_offsets_and_numbers_are_the_headers(tmp_path: Path) -> None:
    """The layouts the ctypes layers read are those of the installed libraries' headers."""
    from pyguestfs.agent import libtsk, libyara

    if shutil.which("gcc") is None or not Path("/usr/include/tsk/libtsk.h").is_file():
        pytest.skip("gcc, libyara-dev or libtsk-dev is missing (ci/setup.sh installs them)")
    src = tmp_path / "offsets.c"
    src.write_text(_OFFSETS_C)
    exe = tmp_path / "offsets"
    subprocess.run(["gcc", str(src), "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    got = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    t = libtsk
    assert got == {
        "YR_RULE.identifier": libyara._RULE_IDENTIFIER_OFFSET,
        "TSK_FS_FILE.name": t._FILE_NAME,
        "TSK_FS_FILE.meta": t._FILE_META,
        "TSK_FS_FILE.fs_info": t._FILE_FS,
        "TSK_FS_NAME.name": t._NAME_NAME,
        "TSK_FS_NAME.meta_addr": t._NAME_META_ADDR,
        "TSK_FS_NAME.type": t._NAME_TYPE,
        "TSK_FS_NAME.flags": t._NAME_FLAGS,
        "TSK_FS_INFO.root_inum": t._FS_ROOT_INUM,
        "TSK_FS_META.flags": t._META_FLAGS,
        "TSK_FS_META.nlink": t._META_NLINK,
        "TSK_FS_META.size": t._META_SIZE,
        "TSK_FS_META.atime": t._META_ATIME,
        "TSK_FS_META.atime_nano": t._META_ATIME + 8,
        "TSK_FS_META.mtime": t._META_MTIME,
        "TSK_FS_META.mtime_nano": t._META_MTIME + 8,
        "TSK_FS_META.ctime": t._META_CTIME,
        "TSK_FS_META.ctime_nano": t._META_CTIME + 8,
        "TSK_FS_META.crtime": t._META_CRTIME,
        "TSK_FS_META.crtime_nano": t._META_CRTIME + 8,
        "TSK_FS_META.link": t._META_LINK,
        "ERROR_INVALID_FILE": libyara.ERROR_INVALID_FILE,
        "CALLBACK_MSG_RULE_MATCHING": libyara.CALLBACK_MSG_RULE_MATCHING,
        "WALK_FLAGS": t.WALK_FLAGS,
        "NAME_FLAG_UNALLOC": t.NAME_FLAG_UNALLOC,
        "META_FLAG_COMP": t.META_FLAG_COMP,
        "NAME_TYPE_STR_MAX": t.NAME_TYPE_STR_MAX,
    }


def test_libyara_layer_on_the_host(tmp_path: Path) -> None:
    from pyguestfs.agent import libyara

    if not libyara.available() or shutil.which("yarac") is None:
        pytest.skip("libyara9 or yarac is not installed on the host")
    files = _rule_files(tmp_path)
    (tmp_path / "two-bad.yar").write_text(BAD_RULES + "rule Also { condition: nor_this }\n")
    target = tmp_path / "target"
    target.write_bytes(b"xx hello from a GUEST xx")
    libyara.initialize()

    def scan(rules: libyara.Rules) -> list[bytes]:
        found: list[bytes] = []
        fd = os.open(target, os.O_RDONLY)
        try:
            assert rules.scan_fd(fd, found.append) == libyara.ERROR_SUCCESS
        finally:
            os.close(fd)
            rules.destroy()
        return found

    with pytest.raises(libyara.YaraError) as not_compiled:
        libyara.Rules.load_compiled(files["rules"])
    assert not_compiled.value.code == libyara.ERROR_INVALID_FILE
    with open(files["rules"], "rb") as f:
        source = libyara.Rules.compile_source(f.fileno(), lambda *_: None)
    assert scan(source) == [b"Greeting", b"GuestWord"]
    assert scan(libyara.Rules.load_compiled(files["compiled"])) == [b"Greeting", b"GuestWord"]
    errors: list[tuple[int, str]] = []
    with open(tmp_path / "two-bad.yar", "rb") as f, pytest.raises(libyara.YaraCompileError) as e:
        libyara.Rules.compile_source(f.fileno(), lambda line, msg: errors.append((line, msg)))
    assert e.value.code == 2 and str(e.value) == "found 2 errors when compiling the rules"
    assert [line for line, _ in errors] == [1, 2]
    assert "no_such_thing" in errors[0][1]


def test_libtsk_layer_on_the_host(tmp_path: Path) -> None:
    from pyguestfs.agent import libtsk

    if not libtsk.available() or shutil.which("debugfs") is None:
        pytest.skip("libtsk19 or debugfs is not installed on the host")
    inodes = _make_disks(tmp_path)
    entries: list[libtsk.Entry] = []
    opened: list[bool] = []
    libtsk.walk(str(tmp_path / "a.img"), entries.append, on_open=lambda: opened.append(True))
    assert opened == [True]
    by_name = {e.name: e for e in entries}
    f = by_name[b"dir/file"]
    assert (f.inode, f.type, f.size, f.flags, f.nlink) == (inodes["/dir/file"], "r", 30, 1, 1)
    assert f.times[1::2] == tuple(NSEC.values())
    assert by_name[b"gone"].flags == 0 and by_name[b"link"].link == b"dir/file"
    assert b".." not in by_name and b"dir/." not in by_name
    only: list[libtsk.Entry] = []
    libtsk.walk(str(tmp_path / "a.img"), only.append, inode=inodes["/dir/file"])
    assert only == [f]
    with pytest.raises(libtsk.TskError, match=r"^tsk_fs_open_img: Cannot determine file"):
        libtsk.walk(str(tmp_path / "b.img"), entries.append, on_open=lambda: opened.append(False))
    with pytest.raises(libtsk.TskError, match=r"^tsk_image_open: .*No such file"):
        libtsk.walk(str(tmp_path / "none.img"), entries.append)
    assert opened == [True]


def test_yara_through_a_local_agent_many_detections(
    g: GuestFS, agent: RunningAgent, tmp_path: Path
) -> None:
    """Hundreds of matching rules: the detections span many 8 KiB chunks and come back
    in the rules' order; a rule file that does not compile leaves the agent serving."""
    from pyguestfs.agent import libyara

    if not libyara.available():
        pytest.skip("libyara9 is not installed on the host")
    (agent.sysroot / "target").write_bytes(FILE_DATA)
    names = [f"Rule_{i:04d}_{'x' * 40}" for i in range(600)]
    rules = tmp_path / "many.yar"
    rules.write_text(
        "".join(f'rule {n} {{ strings: $a = "hello" condition: $a }}\n' for n in names)
    )
    (tmp_path / "bad.yar").write_text(BAD_RULES)
    with pytest.raises(GuestFSError, match=r"^yara_load: found 1 errors when compiling"):
        g.yara_load(str(tmp_path / "bad.yar"))
    g.yara_load(str(rules))
    found = g.yara_scan("/target")
    assert [d["yara_rule"] for d in found] == names
    assert {d["yara_name"] for d in found} == {"/target"}
    with pytest.raises(
        GuestFSError, match=r"^internal_yara_scan: /missing: No such file or directory$"
    ):
        g.yara_scan("/missing")
    g.yara_destroy()
    with pytest.raises(GuestFSError, match=r"^yara_destroy: no yara rules loaded$"):
        g.yara_destroy()
