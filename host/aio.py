"""An asyncio face of the handle: :class:`AsyncGuestFS`.

Every libguestfs API is a coroutine with the sync handle's arguments and result types
(``await g.inspect_os()``), so one event loop can drive many appliances at once -- a
fleet worker inspecting several images side by side, a service answering requests
about several VMs -- without a thread per handle in the caller's code.

Each async handle owns one :class:`~pyguestfs.host.handle.GuestFS` (``g.handle``) and
one thread in which its calls run, one after another in the order they were awaited:
a handle's calls never overlap, as with python3-guestfs, while calls on different
handles do. The wire, the appliance and the errors are the sync handle's
(:class:`~pyguestfs.host.errors.GuestFSError`, a RuntimeError). Cancelling the task
that awaits a call does not stop the call in the appliance: it runs to its end, and the
handle's next call waits for it; :meth:`AsyncGuestFS.kill` ends the appliance at once.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar, overload

from .async_calls import AsyncCalls
from .calls import _H
from .errors import GuestFSError
from .handle import GuestFS

_T = TypeVar("_T")


class AsyncGuestFS(AsyncCalls[_H]):
    """A libguestfs handle whose calls are coroutines (pyguestfs extension).

    ``AsyncGuestFS(python_return_dict=True)`` as ``GuestFS(...)``; use it as an async
    context manager, or ``await g.close()``::

        async with AsyncGuestFS(python_return_dict=True) as g:
            await g.add_drive_opts("disk.img", readonly=True)
            await g.launch()
            roots = await g.inspect_os()
    """

    @overload
    def __init__(
        self: AsyncGuestFS[dict[str, str]],
        python_return_dict: Literal[True],
        environment: bool = True,
        close_on_exit: bool = True,
    ) -> None: ...

    @overload
    def __init__(
        self: AsyncGuestFS[list[tuple[str, str]]],
        python_return_dict: Literal[False] = False,
        environment: bool = True,
        close_on_exit: bool = True,
    ) -> None: ...

    def __init__(
        self, python_return_dict: bool = False, environment: bool = True, close_on_exit: bool = True
    ) -> None:
        #: The sync handle the calls are made on (for what has no coroutine: events,
        #: settings read without a call ...). Calling it directly while a coroutine of
        #: this handle runs would interleave two calls on one connection: don't.
        self.handle: GuestFS[_H] = GuestFS(  # type: ignore[call-overload]
            python_return_dict, environment=environment, close_on_exit=close_on_exit
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guestfs")
        self._thread_done = False

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``fn(*args, **kwargs)`` in this handle's thread, after its earlier calls."""
        if self._thread_done:
            return fn(*args, **kwargs)  # closed: the handle answers at once (ClosedHandle)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Shut the appliance down (after the calls already queued) and close the
        handle; later calls raise ClosedHandle."""
        try:
            await self._run(self.handle.close)
        finally:
            self._thread_done = True
            self._thread.shutdown(wait=False)

    def kill(self) -> None:
        """Kill the appliance's qemu now (SIGKILL), from any thread or task: the call in
        progress fails with an error, and so do later ones until the handle is closed.
        For a call that must not outlive a deadline (``asyncio.timeout`` alone cannot
        stop it in the appliance). Does nothing before launch or after close."""
        try:
            # The sync get_pid reads the handle's own state: no call on the wire, so it
            # does not wait behind the call in progress as the coroutine would.
            os.kill(self.handle.get_pid(), signal.SIGKILL)
        except (GuestFSError, ProcessLookupError):
            pass

    async def pipeline(
        self,
        calls: Iterable[tuple[Any, ...]],
        *,
        window: int = 64,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """:meth:`GuestFS.pipeline <pyguestfs.host.handle.GuestFS.pipeline>` as a
        coroutine: many calls without a round trip each."""
        return await self._run(
            self.handle.pipeline, list(calls), window=window, return_exceptions=return_exceptions
        )

    async def __aenter__(self) -> AsyncGuestFS[_H]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.handle._closed:
            await self.close()
