"""The 18 ``hivex_*`` procedures: our agent against Debian's real guestfsd 1.48.

Both daemons serve a scratch directory holding the same hive (an empty hive with keys and
values merged in by ``hivexregedit``, as libguestfs's test data makes them), a corrupt
copy of it and a file that is no hive, and get the same sequence of calls: every
``hivex_*`` procedure, reads, writes and commits, and the errors of bad input. The replies
(values, errno names, complete messages) and the hives left behind (exported with
``hivexregedit``) must be identical.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from guest_images import empty_hive, make_hive
from realdaemon import (
    RealDaemonUnavailable,
    check_can_confine,
    daemon_tarball,
    our_agent,
    real_guestfsd,
    require_real_daemon,
)

from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol.procedures import BY_NAME

pytestmark = pytest.mark.skipif(
    shutil.which("hivexregedit") is None,
    reason="hivexregedit is not installed (Debian's libwin-hivex-perl; ci/setup.sh installs it)",
)

REG = r"""[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor]
"Name"=str(1):"Example Vendor"
"Count"=dword:0000002a
"Blob"=hex(3):de,ad,be,ef
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00
"Big"=hex(b):01,00,00,00,00,00,00,00

[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor\Product]
@=str(1):"default value"
"Version"=str(2):"%SystemRoot%\\v1"

[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor\Other]
"""

REG_SZ, REG_DWORD, REG_BINARY = 1, 4, 3


class Ref:
    """A value computed from an earlier reply: ``Ref(i)`` is step i's result,
    ``Ref(i, j, key)`` its j-th struct's ``key``."""

    def __init__(self, step: int, index: int | None = None, key: str | None = None) -> None:
        self.step, self.index, self.key = step, index, key

    def resolve(self, replies: list[tuple[Any, ...]]) -> Any:
        value = replies[self.step][1]
        if self.index is not None:
            value = value[self.index]
        if self.key is not None:
            value = value[self.key]
        return value

    def __repr__(self) -> str:
        return f"Ref({self.step}, {self.index}, {self.key})"


Step = tuple[str, tuple[Any, ...], dict[str, Any]]


def _s(api: str, *args: Any, **kwargs: Any) -> Step:
    return (api, args, kwargs)


STEPS: list[Step] = [
    _s("hivex_root"),  # 0: nothing open yet
    _s("hivex_close"),
    _s("hivex_open", "/nonexistent"),
    _s("hivex_open", "/notahive"),
    _s("hivex_open", "/corrupt"),
    _s("hivex_open", "/small"),
    _s("hivex_open", "relative"),
    _s("hivex_open", "/software"),  # 7
    _s("hivex_root"),  # 8
    _s("hivex_node_name", Ref(8)),
    _s("hivex_node_children", Ref(8)),  # 10
    _s("hivex_node_get_child", Ref(8), "vendor"),  # 11: names ignore case
    _s("hivex_node_get_child", Ref(8), "Missing"),
    _s("hivex_node_name", Ref(11)),
    _s("hivex_node_children", Ref(11)),  # 14
    _s("hivex_node_values", Ref(11)),  # 15
    _s("hivex_node_parent", Ref(11)),
    _s("hivex_node_parent", Ref(8)),  # the root has none
    _s("hivex_value_key", Ref(15, 0, "hivex_value_h")),
    _s("hivex_value_type", Ref(15, 0, "hivex_value_h")),
    _s("hivex_value_value", Ref(15, 0, "hivex_value_h")),
    _s("hivex_value_key", Ref(15, 1, "hivex_value_h")),
    _s("hivex_value_value", Ref(15, 1, "hivex_value_h")),
    _s("hivex_value_key", Ref(15, 2, "hivex_value_h")),
    _s("hivex_value_type", Ref(15, 2, "hivex_value_h")),
    _s("hivex_value_key", Ref(15, 3, "hivex_value_h")),
    _s("hivex_value_key", Ref(15, 4, "hivex_value_h")),
    _s("hivex_node_get_value", Ref(11), "name"),  # 27
    _s("hivex_node_get_value", Ref(11), "nothing"),
    _s("hivex_value_string", Ref(27)),
    _s("hivex_value_utf8", Ref(27)),
    _s("hivex_value_string", Ref(15, 1, "hivex_value_h")),  # a DWORD is not a string
    _s("hivex_node_get_child", Ref(11), "Product"),  # 32
    _s("hivex_node_values", Ref(32)),  # 33
    _s("hivex_value_key", Ref(33, 0, "hivex_value_h")),  # the default value: ""
    _s("hivex_value_string", Ref(33, 1, "hivex_value_h")),
    _s("hivex_node_name", 12345),  # not a node
    _s("hivex_node_children", -1),
    _s("hivex_value_key", 7),
    _s("hivex_value_value", 0),
    # Writes on a hive opened read-only fail.
    _s("hivex_node_add_child", Ref(11), "New"),
    _s("hivex_commit", None),
    # Now writable.
    _s("hivex_open", "/software", write=True),  # 42
    _s("hivex_root"),  # 43
    _s("hivex_node_get_child", Ref(43), "Vendor"),  # 44
    _s("hivex_node_add_child", Ref(44), "Added"),  # 45
    _s("hivex_node_add_child", Ref(44), "added"),  # exists (case is ignored)
    _s("hivex_node_add_child", Ref(44), ""),
    _s("hivex_node_set_value", Ref(45), "Text", REG_SZ, "h\0i\0\0\0".encode("latin-1")),
    _s("hivex_node_set_value", Ref(45), "Number", REG_DWORD, b"\x07\x00\x00\x00"),
    _s("hivex_node_set_value", Ref(45), "Number", REG_BINARY, b"\x01\x02"),  # replaced
    _s("hivex_node_set_value", 99999, "x", REG_SZ, b""),
    _s("hivex_node_values", Ref(45)),
    _s("hivex_node_get_child", Ref(44), "Other"),  # 53
    _s("hivex_node_delete_child", Ref(53)),
    _s("hivex_node_delete_child", Ref(43)),  # not the root
    _s("hivex_node_children", Ref(44)),
    _s("hivex_commit", "relative"),
    _s("hivex_commit", "/copy"),
    _s("hivex_commit", "/no/such/dir/hive"),
    _s("hivex_commit", None),
    _s("hivex_close"),
    _s("hivex_close"),
    # Read back what was committed, in place and in the copy.
    _s("hivex_open", "/copy", verbose=False, debug=False, unsafe=True),
    _s("hivex_root"),  # 64
    _s("hivex_node_get_child", Ref(64), "Vendor"),  # 65
    _s("hivex_node_get_child", Ref(65), "Added"),  # 66
    _s("hivex_node_values", Ref(66)),
    _s("hivex_node_get_child", Ref(65), "Other"),
    _s("hivex_close"),
]


def _run(g: GuestFS, step: Step, replies: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    api, args, kwargs = step
    args = tuple(a.resolve(replies) if isinstance(a, Ref) else a for a in args)
    try:
        return ("ok", getattr(g, api)(*args, **kwargs))
    except GuestFSError as e:
        return ("error", e.errno_name, str(e))


def _export(hive: Path) -> str:
    return subprocess.run(
        ["hivexregedit", "--export", str(hive), "\\"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _populate(root: Path) -> None:
    make_hive(root / "software", r"HKEY_LOCAL_MACHINE\SOFTWARE", REG)
    data = bytearray((root / "software").read_bytes())
    data[0x30] ^= 0xFF  # a byte the header checksum covers
    (root / "corrupt").write_bytes(bytes(data))
    (root / "notahive").write_bytes(b"regf? no: " + bytes(9000))
    (root / "small").write_bytes(empty_hive()[:4096])


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every step run on our agent and on the real guestfsd: replies and final hives."""
    try:
        check_can_confine()
        daemon_tarball()
    except RealDaemonUnavailable as e:
        if require_real_daemon():
            pytest.fail(f"the real guestfsd is required but cannot run: {e}")
        pytest.skip(f"the real guestfsd cannot run here: {e}")
    base = tmp_path_factory.mktemp("hivex")
    result: dict[str, Any] = {}
    for name, start in (("ours", our_agent), ("real", real_guestfsd)):
        scratch = base / name
        scratch.mkdir()
        _populate(scratch)
        with start(scratch) as daemon:
            g = daemon.handle()
            replies: list[tuple[Any, ...]] = []
            for step in STEPS:
                replies.append(_run(g, step, replies))
            result[name] = replies
            g.close()
        result[f"{name}-hives"] = {h: _export(scratch / h) for h in ("software", "copy")}
    yield result


@pytest.mark.parametrize(
    "index", range(len(STEPS)), ids=[f"{i:02d}-{s[0]}" for i, s in enumerate(STEPS)]
)
def test_same_reply_as_guestfsd(both: dict[str, Any], index: int) -> None:
    assert both["ours"][index] == both["real"][index], STEPS[index]


def test_same_hives_as_guestfsd(both: dict[str, Any]) -> None:
    assert both["ours-hives"] == both["real-hives"]
    # The writes reached both files (the comparison is not of two unchanged hives).
    for text in both["ours-hives"].values():
        assert "[\\Vendor\\Added]" in text
        assert "[\\Vendor\\Other]" not in text
        assert '"Number"=hex(3):01,02' in text


def test_reads_give_the_merged_registry(both: dict[str, Any]) -> None:
    ours = both["ours"]
    assert ours[9] == ("ok", "ROOT")
    assert ours[13] == ("ok", "Vendor")
    assert ours[29] == ("ok", "Example Vendor")
    assert ours[12] == ("ok", 0)  # no such child: 0, not an error
    assert ours[0][0] == "error" and "hivex-open" in ours[0][2]
    assert ours[4][0] == "error" and ours[4][2].startswith("hivex_open: hivex failed to open")


def test_the_sequence_exercises_every_hivex_procedure() -> None:
    apis = {name for name in BY_NAME if name.startswith("hivex_")}
    assert len(apis) == 18
    assert apis == {api for api, _, _ in STEPS}
