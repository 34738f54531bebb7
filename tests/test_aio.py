"""AsyncGuestFS: every API as a coroutine of the sync handle's types (host/async_calls.py,
generated from the table), calls of one handle in order and never overlapping, handles
side by side in one event loop, and kill() ending a call that would not end."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from pathlib import Path

import pytest
from guest_images import tiny_debian_guest

from pyguestfs.host import AsyncGuestFS, ClosedHandle, GuestFS, GuestFSError, codegen
from pyguestfs.protocol.procedures import LIBRARY_ACTIONS, PROCEDURES


def test_generated_coroutines_are_current() -> None:
    assert codegen.ASYNC_TARGET.read_text() == codegen.render_async(), (
        "host/async_calls.py is stale: run python -m pyguestfs.host.codegen"
    )


def test_every_method_of_the_sync_handle_has_its_coroutine() -> None:
    apis = [*PROCEDURES, *LIBRARY_ACTIONS]
    names = [n for api in apis if not api.internal for n in (api.name, *api.aliases)]
    assert len(names) > 500
    for name in names:
        method = getattr(AsyncGuestFS, name)
        assert inspect.iscoroutinefunction(method), name
        # Same parameters, in the same order, as the sync handle's generated method.
        sync = [p for p in inspect.signature(getattr(GuestFS, name)).parameters]
        assert [p for p in inspect.signature(method).parameters] == sync, name


def test_calls_run_in_order_with_the_sync_handles_results_and_errors() -> None:
    async def session() -> None:
        g = AsyncGuestFS(python_return_dict=True)
        # Queued at once, they still run one after another, in the order made.
        await asyncio.gather(*(g.set_memsize(500 + i) for i in range(20)))
        assert await g.get_memsize() == 519
        await g.set_backend_settings(["force_tcg", "a=b"])
        assert await g.get_backend_setting("a") == "b"
        with pytest.raises(GuestFSError, match="no qemu subprocess"):
            await g.get_pid()  # not launched: the sync handle's error, unchanged
        with pytest.raises(GuestFSError) as e:
            await g.mkdir("/x")  # a daemon call before launch
        assert isinstance(e.value, RuntimeError)
        await g.close()
        with pytest.raises(ClosedHandle):
            await g.set_memsize(600)

    asyncio.run(session())


def test_async_with_closes_the_handle() -> None:
    async def session() -> AsyncGuestFS[list[tuple[str, str]]]:
        async with AsyncGuestFS() as g:
            assert await g.get_autosync() is True
        return g

    g = asyncio.run(session())
    with pytest.raises(ClosedHandle):
        g.handle.set_memsize(600)


async def _launch(cachedir: str, image: Path) -> AsyncGuestFS[dict[str, str]]:
    g = AsyncGuestFS(python_return_dict=True)
    await g.set_cachedir(cachedir)
    await g.set_backend_settings(["force_tcg"])
    await g.add_drive_opts(str(image), format="raw", readonly=True)
    await g.launch()
    return g


@pytest.mark.boot
def test_two_appliances_side_by_side_in_one_loop(
    appliance: Path, cachedir: str, tmp_path: Path
) -> None:
    guests = [
        tiny_debian_guest(tmp_path / f"g{i}.img", f"async-host-{i}", {"pkg": f"1.{i}"})
        for i in range(2)
    ]

    async def inspect_one(g: AsyncGuestFS[dict[str, str]]) -> str:
        (root,) = await g.inspect_os()
        return await g.inspect_get_hostname(root)

    async def session() -> list[str]:
        handles = await asyncio.gather(*(_launch(cachedir, x.path) for x in guests))
        try:
            # Both appliances are up at once: two qemu processes of this loop.
            pids = [g.handle.get_pid() for g in handles]
            assert len(set(pids)) == 2
            for pid in pids:
                os.kill(pid, 0)
            return list(await asyncio.gather(*(inspect_one(g) for g in handles)))
        finally:
            await asyncio.gather(*(g.close() for g in handles))

    assert asyncio.run(session()) == ["async-host-0", "async-host-1"]


@pytest.mark.boot
def test_kill_ends_a_call_that_would_not_end(
    appliance: Path, cachedir: str, tmp_path: Path
) -> None:
    guest = tiny_debian_guest(tmp_path / "g.img", "async-kill", {})

    async def session() -> float:
        g = await _launch(cachedir, guest.path)
        try:
            call = asyncio.create_task(g.sleep(3600))
            await asyncio.sleep(1.0)
            assert not call.done()
            started = time.monotonic()
            g.kill()
            with pytest.raises(GuestFSError):
                await call
            return time.monotonic() - started
        finally:
            await g.close()

    # Well before the hour the call asked for: the kill ended it, not its end.
    assert asyncio.run(session()) < 600
