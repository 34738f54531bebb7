"""Security properties, each checked on the real code: the socket directory and the cache
are private, message sizes are bounded both ways, no network device unless asked, qemu
runs under its seccomp sandbox, no shell strings anywhere, and the host never interprets
guest data. (Path confinement in the agent: tests/test_confinement.py.)"""

from __future__ import annotations

import ast
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import RunningAgent, needs_qemu

from pyguestfs.builder.appliance import Appliance, locate_appliance
from pyguestfs.builder.cache import check_owned
from pyguestfs.builder.errors import BuildError
from pyguestfs.host import GuestFS, GuestFSError
from pyguestfs.protocol import constants as C
from pyguestfs.vm.machine import Machine
from pyguestfs.vm.qemu import COLD_BOOT, LaunchPlan, MachineConfig, qemu_argv, qemu_has_sandbox
from pyguestfs.vm.qmp import QMP

SOURCE = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "core", "vm", "host", "builder", "initrd", "protocol")
SHELL_RUNNERS = ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput")


def _config(**kw: object) -> MachineConfig:
    return MachineConfig(
        qemu="qemu-system-x86_64",
        kernel="/k",
        initrd="/i",
        root="/r",
        root_uuid=None,
        **kw,  # type: ignore[arg-type]
    )


# -- private places ---------------------------------------------------------------------------


def test_socket_directory_is_private(tmp_path: Path) -> None:
    m = Machine(_config(), tmpdir=str(tmp_path))
    try:
        st = os.lstat(m.sockdir)
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == os.geteuid()
        assert os.path.dirname(m.socket_path) == m.sockdir
    finally:
        m.stop()
    assert not os.path.exists(m.sockdir)  # removed with the machine


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_cache_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    os.chown(root, 65534, 65534)  # nobody
    with pytest.raises(BuildError, match="owned by uid 65534"):
        check_owned(root)


# -- bounded messages, both ways -------------------------------------------------------------


def test_host_refuses_to_send_over_4_mib(g: GuestFS) -> None:
    with pytest.raises(GuestFSError, match="message too long"):
        g.mkdir_p("/" + "x" * C.MESSAGE_MAX)
    g.ping_daemon()  # nothing was sent: still in sync


def test_agent_refuses_to_send_over_4_mib(g: GuestFS, agent: RunningAgent) -> None:
    # A directory whose listing cannot fit in one reply.
    d = agent.sysroot / "many"
    d.mkdir()
    name = "n" * 200
    for i in range(C.MESSAGE_MAX // 200 + 100):
        (d / f"{name}{i}").touch()
    with pytest.raises(GuestFSError, match="maximum message size"):
        g.readdir("/many")
    g.ping_daemon()
    assert len(g.ls("/many")) > C.MESSAGE_MAX // 220  # FileOut-based ls has no such limit


def test_paths_longer_than_path_max_are_refused(g: GuestFS) -> None:
    with pytest.raises(GuestFSError) as info:
        g.mkdir_p("/" + "d/" * 2100)  # 4201 bytes
    assert info.value.errno_name == "ENAMETOOLONG"
    # 3616 bytes in 16 long components: fine. Not right at the limit, since this agent's
    # sysroot is a temporary directory whose own path counts against the host's PATH_MAX;
    # and not thousands of levels deep, which no recursive tree removal survives.
    long_path = "/" + "/".join(["n" * 225] * 16)
    g.mkdir_p(long_path)
    assert g.is_dir(long_path)


# -- qemu ------------------------------------------------------------------------------------


def test_no_network_device_unless_asked() -> None:
    argv = qemu_argv(_config(), COLD_BOOT, "/s")
    assert "-nodefaults" in argv  # no default NIC either
    assert not {"-net", "-netdev", "-nic"} & set(argv)
    assert not any("net" in a and a.startswith("virtio-net") for a in argv)
    asked = qemu_argv(_config(network=True), COLD_BOOT, "/s")
    assert "-netdev" in asked and "virtio-net-pci,netdev=usernet" in asked


def test_sandbox_in_the_command_line() -> None:
    assert "-sandbox" not in qemu_argv(_config(), COLD_BOOT, "/s")
    argv = qemu_argv(_config(sandbox=True), COLD_BOOT, "/s")
    value = argv[argv.index("-sandbox") + 1]
    assert value.startswith("on,") and "spawn=deny" in value


@pytest.fixture
def paused_qemu(appliance: Path, cachedir: str, sockdir: Path):  # type: ignore[no-untyped-def]
    """The appliance's real qemu command line, paused before the guest runs (-S), with a QMP
    monitor on a socket (structured answers: the human monitor on stdio echoes keystrokes
    with terminal escapes, which no test should have to parse)."""
    app: Appliance = locate_appliance(cachedir=cachedir)
    config = MachineConfig(
        qemu="qemu-system-x86_64",
        kernel=app.kernel,
        initrd=app.initrd,
        root=app.root,
        root_uuid=app.root_uuid,
        sandbox=qemu_has_sandbox("qemu-system-x86_64"),
    )
    sock, qmp = str(sockdir / "s"), str(sockdir / "qmp")
    listeners = []
    for path in (sock, qmp):  # qemu connects to both as it starts
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listeners.append(listener)
    argv = qemu_argv(config, LaunchPlan(monitor=True), sock, qmp)
    argv[argv.index("-serial") + 1] = "null"
    argv += ["-S"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    listeners[1].settimeout(120)
    try:
        monitor_sock, _ = listeners[1].accept()
    except TimeoutError:
        proc.kill()
        raise
    yield proc, config, QMP(monitor_sock, timeout=120)  # answers once qemu is set up
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for listener in listeners:
        listener.close()


@needs_qemu
def test_qemu_runs_sandboxed_without_a_nic(paused_qemu) -> None:  # type: ignore[no-untyped-def]
    proc, config, monitor = paused_qemu
    if not config.sandbox:
        pytest.skip("this qemu was built without seccomp (-sandbox)")
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            status = f.read()
        assert "Seccomp:\t2" in status  # filter mode: the sandbox is on
        assert "NoNewPrivs:\t1" in status
        network = monitor.hmp("info network")
        pci = monitor.execute("query-pci")
    finally:
        monitor.close()
    assert network.strip() == "", f"unexpected network devices: {network!r}"
    classes = [dev["class_info"].get("desc", "") for bus in pci for dev in bus["devices"]]
    assert "SCSI controller" in classes  # the query did list the machine's devices
    assert not [c for c in classes if "Ethernet" in c or "Network" in c], classes


# -- no shell strings; the host never interprets guest data ----------------------------------


def _python_files() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((SOURCE / pkg).rglob("*.py"))]


#: Functions whose contract *is* a shell command line: libguestfs's ``sh`` and ``sh_lines``
#: hand the caller's string to ``/bin/sh -c`` inside the guest's chroot, in the appliance;
#: ``debug sh`` to one in the appliance itself.
#: Nothing else may build one.
SHELL_BY_CONTRACT = {
    ("agent/api/commands.py", "sh"),
    ("agent/api/commands.py", "sh_lines"),
    # guestfsd's "debug sh": a shell in the appliance (refused when standalone on a host).
    ("agent/api/daemon.py", "_debug_sh"),
}


def _allowed_lines(path: Path, tree: ast.Module) -> set[int]:
    rel = str(path.relative_to(SOURCE))
    lines: set[int] = set()
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and (rel, fn.name) in SHELL_BY_CONTRACT:
            lines.update(range(fn.lineno, (fn.end_lineno or fn.lineno) + 1))
    return lines


def test_no_shell_anywhere() -> None:
    """No shell=True, os.system, os.popen, commands run through ``sh -c``, or argv built by
    splitting a string, in any source of the project (bar the ``sh`` APIs themselves)."""
    found = []
    for path in _python_files():
        tree = ast.parse(path.read_text(), str(path))
        allowed = _allowed_lines(path, tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or node.lineno in allowed:
                continue
            fn = ast.unparse(node.func)
            where = f"{path.relative_to(SOURCE)}:{node.lineno}: {fn}"
            for kw in node.keywords:
                if kw.arg == "shell" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    found.append(where + " shell=")
            if fn in SHELL_RUNNERS:
                found.append(where)
            if fn in ("shlex.split",):
                found.append(where + " (argv from a string)")
            for arg in node.args:
                if isinstance(arg, ast.List | ast.Tuple) and len(arg.elts) >= 2:
                    first, second = arg.elts[0], arg.elts[1]
                    if (
                        isinstance(first, ast.Constant)
                        and str(first.value).rsplit("/", 1)[-1] in ("sh", "bash", "dash")
                        and isinstance(second, ast.Constant)
                        and second.value == "-c"
                    ):
                        found.append(where + " (sh -c)")
    assert found == []


def test_host_never_unpacks_guest_data() -> None:
    """The host library hands guest bytes to the caller as bytes or decoded XDR values:
    it imports no unpacker, deserialiser or evaluator."""
    forbidden = {"pickle", "marshal", "tarfile", "zipfile", "shelve", "yaml", "xml", "ctypes.util"}
    found = []
    for path in sorted((SOURCE / "host").rglob("*.py")) + sorted(
        (SOURCE / "protocol").rglob("*.py")
    ):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            names = [n for n in names if n.split(".")[0] in forbidden or n in forbidden]
            if path.relative_to(SOURCE).as_posix() == "host/library/libvirt_dom.py":
                # libvirt's domain XML is the host's own configuration (from libvirt),
                # never bytes from a guest: it is parsed with ElementTree.
                names = [n for n in names if n != "xml.etree.ElementTree"]
            if names:
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}: import {names}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "eval",
                "exec",
                "shutil.unpack_archive",
            ):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_hostile_guest_content_reaches_the_caller_untouched(
    g: GuestFS, agent: RunningAgent, tmp_path: Path
) -> None:
    """A tar archive with ``..`` members, terminal escapes and odd names: tar_out and
    download write exactly the bytes to the named file and nothing else on the host."""
    evil = agent.sysroot / "evil"
    evil.mkdir()
    (evil / "\x1b]0;pwned\x07name").write_bytes(b"\x1b[2J")
    os.symlink("/etc/passwd", evil / "link")
    out = tmp_path / "out"
    out.mkdir()
    g.tar_out("/evil", str(out / "evil.tar"))
    g.download("/evil/\x1b]0;pwned\x07name", str(out / "plain"))
    assert sorted(p.name for p in out.iterdir()) == ["evil.tar", "plain"]
    assert (out / "plain").read_bytes() == b"\x1b[2J"
    assert "\x1b]0;pwned\x07name" in g.ls("/evil")
    assert g.readlink("/evil/link") == "/etc/passwd"  # a string, never followed on the host
