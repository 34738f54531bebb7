"""The ``ntfs`` family: probing, resizing, fixing, cloning and reading NTFS with the
ntfs-3g tools (``ntfs-3g.probe``, ``ntfsresize``, ``ntfsfix``, ``ntfsclone``,
``ntfscat``), as guestfsd's ``daemon/ntfs.c`` and ``ntfsclone.c`` run them."""

from __future__ import annotations

import subprocess
import tempfile

from .. import runner
from ..context import CallContext
from ..errors import AgentError, TransferCancelled
from ..registry import has_program, procedure, provides_group
from ..resolve import Device, Mountable

provides_group("ntfs3g", has_program("ntfs-3g.probe"))
provides_group("ntfsprogs", has_program("ntfsresize"))


def _command(call: CallContext, argv: list[str], prefix: str = "", fold: bool = False) -> str:
    """A program run as guestfsd's C ``command()`` runs it: on failure the message is
    ``prefix`` and the program's stderr exactly (empty if it printed nothing)."""
    done = call.run(argv, check=False, fold=fold)
    if done.status != 0:
        raise AgentError(prefix + done.err)
    return done.out


@procedure("ntfs_3g_probe")
def ntfs_3g_probe(call: CallContext, rw: bool, device: Device) -> int:
    # The exit status is the answer (0: mountable; 12, 14, 15 ... why not), not an error.
    done = call.run(["ntfs-3g.probe", "-w" if rw else "-r", device.node], check=False)
    return done.status


@procedure("ntfsresize")
def ntfsresize(
    call: CallContext, device: Device, size: int | None = None, force: bool | None = None
) -> None:
    argv = ["ntfsresize", "-P"]
    if size is not None:
        if size <= 0:
            raise AgentError("size is zero or negative")
        argv += ["--size", str(size)]
    if force:
        argv.append("--force")
    # ntfsresize explains a refusal on stdout.
    _command(call, [*argv, device.node], f"{device}: ", fold=True)


@procedure("ntfsresize_size")
def ntfsresize_size(call: CallContext, device: Device, size: int) -> None:
    ntfsresize(call, device, size=size)


@procedure("ntfsfix")
def ntfsfix(call: CallContext, device: Device, clearbadsectors: bool | None = None) -> None:
    argv = ["ntfsfix", *(["-b"] if clearbadsectors else []), device.node]
    _command(call, argv, f"{device}: ")


def _stream_out(call: CallContext, argv: list[str]) -> None:
    """Send a program's standard output as the call's FileOut. After the OK reply an
    error can only cancel the transfer, as in guestfsd (which logs the reason)."""
    with tempfile.TemporaryFile() as errors:
        proc = runner.start(argv, feed=False, stderr=errors)
        assert proc.stdout is not None
        try:
            call.begin_file_out()
            call.send_file(proc.stdout.read)
        finally:
            if proc.poll() is None and not proc.stdout.closed:
                proc.stdout.close()
            status = proc.wait()
        if status != 0:
            errors.seek(0)
            text = call.user_names(errors.read().decode("utf-8", "replace").strip())
            raise AgentError(f"{argv[0]}: {text or f'exit status {status}'}")


@procedure("ntfsclone_out")
def ntfsclone_out(
    call: CallContext,
    device: Device,
    metadataonly: bool | None = None,
    rescue: bool | None = None,
    ignorefscheck: bool | None = None,
    preservetimestamps: bool | None = None,
    force: bool | None = None,
) -> None:
    argv = ["ntfsclone", "-o", "-", "--save-image"]
    for flag, option in (
        (metadataonly, "--metadata"),
        (rescue, "--rescue"),
        (ignorefscheck, "--ignore-fs-check"),
        (preservetimestamps, "--preserve-timestamps"),
        (force, "--force"),
    ):
        if flag:
            argv.append(option)
    _stream_out(call, [*argv, device.node])


@procedure("ntfsclone_in")
def ntfsclone_in(call: CallContext, device: Device) -> None:
    with tempfile.TemporaryFile() as errors:

        def error_text() -> str:
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace").removesuffix("\n")
            return call.user_names(text) or "(no error)"

        proc = subprocess.Popen(
            ["ntfsclone", "-O", device.node, "--restore-image", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=runner.ENV,
        )
        assert proc.stdin is not None
        stdin = proc.stdin

        def sink(data: memoryview) -> None:
            try:
                stdin.write(data)
            except BrokenPipeError:
                proc.wait()
                raise AgentError(f"write error on device: {device}: {error_text()}") from None

        try:
            call.receive_file(sink)
            stdin.close()
        except TransferCancelled:
            # The library ignores this reply (it cancelled), but one must be sent.
            proc.kill()
            proc.wait()
            raise AgentError("ntfsclone cancelled") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.wait() != 0:
            raise AgentError(f"ntfsclone subcommand failed on device: {device}: {error_text()}")


@procedure("ntfscat_i")
def ntfscat_i(call: CallContext, device: Mountable, inode: int) -> None:
    if inode < 0:
        raise AgentError("inode must be >= 0")
    assert device.device is not None
    _stream_out(call, ["ntfscat", "-i", str(inode), device.device.node])
