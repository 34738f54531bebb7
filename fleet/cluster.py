"""Running a job over many images on Dask distributed: a local pool or a cluster.

The client submits one task per image (:func:`pyguestfs.fleet.worker.run_task`) and
takes the results as they complete. Dask's scheduler already gives the task of a worker
that dies to another worker; on top of that:

* every image is written exactly once: a result is taken only for an image that has none
  yet, whatever Dask does underneath;
* a task that fails because its worker was lost too often (Dask's ``KilledWorker``), or
  whose failure comes from outside the image (the worker's appliance, a launch), is
  submitted again, up to ``retries`` more times; then it is an ``ok: false`` line;
* workers are prepared by a worker plugin (appliance from the image cache, warm-launch
  snapshot), run again by Dask on every worker that joins or restarts later.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from .worker import Task, WorkerOptions, prepare, run_task

#: libguestfs's estimate of the memory one appliance needs (virt-df sizes its pool by it).
APPLIANCE_MEMORY = 650 * 1000 * 1000


def default_workers(meminfo: str = "/proc/meminfo", cores: int | None = None) -> int:
    """How many appliances this machine runs at once, sized as virt-df sizes its pool:
    free memory / 650 MB, but no more than there are cores (under TCG each appliance
    keeps a core busy), and at least one."""
    available = None
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    by_memory = available // APPLIANCE_MEMORY if available is not None else 1
    by_cores = cores if cores is not None else (len(os.sched_getaffinity(0)) or 1)
    return max(1, min(by_memory, by_cores))


@dataclass(frozen=True)
class RunSpec:
    """Everything one run does to each image."""

    job: str
    params: dict[str, Any] = field(default_factory=dict)
    write: bool = False
    timeout: float = 600.0
    retries: int = 1
    format: str = "auto"
    options: WorkerOptions = field(default_factory=WorkerOptions)

    def task(self, image: str) -> Task:
        return Task(
            image=image,
            job=self.job,
            params=self.params,
            write=self.write,
            timeout=self.timeout,
            format=self.format,
            options=self.options,
        )


class FleetPlugin(WorkerPlugin):
    """A Dask worker plugin: prepares each worker (appliance, snapshot) when it starts,
    in a thread so that the worker keeps answering the scheduler meanwhile."""

    name = "pyguestfs-fleet"

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options

    async def setup(self, worker: Any) -> None:
        log = logging.getLogger("pyguestfs.fleet")
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: prepare(self.options, log=log.info)
        )

    def teardown(self, worker: Any) -> None:
        pass

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def connect(
    *, local: int | None = None, scheduler: str | None = None, connect_timeout: float = 60.0
) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler`` (tcp://HOST:PORT), or of a local
    pool of ``local`` worker processes (default: :func:`default_workers`), one thread
    each, closed on exit."""
    if scheduler:
        client = Client(scheduler, timeout=connect_timeout)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=local or default_workers(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # A worker's own memory is small; its appliances are qemu processes, which the
        # memory monitor does not count, so it must never pause or restart a worker.
        memory_limit=0,
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run(
    client: Any,
    images: Iterable[str],
    spec: RunSpec,
    on_result: Callable[[dict[str, Any]], None],
    *,
    prepare_workers: bool = True,
) -> None:
    """Run ``spec`` on each image on ``client``'s workers, calling ``on_result(line)``
    exactly once per image, in the order they finish."""
    if prepare_workers:
        client.register_plugin(FleetPlugin(spec.options), name=FleetPlugin.name)
    run_id = uuid.uuid4().hex[:12]
    numbers = itertools.count()
    pending: dict[str, tuple[str, int]] = {}  # future key -> (image, attempt)
    written: set[str] = set()

    def submit(image: str, attempt: int) -> Any:
        key = f"guestfs-fleet-{run_id}-{next(numbers)}"
        pending[key] = (image, attempt)
        return client.submit(run_task, spec.task(image), key=key, pure=False)

    unique = list(dict.fromkeys(images))
    queue = as_completed([submit(image, 0) for image in unique])
    for future in queue:
        image, attempt = pending.pop(future.key)
        try:
            line = future.result()
        except Exception as e:  # the task itself failed: KilledWorker, a lost connection
            line = {
                "image": image,
                "ok": False,
                "error": f"the worker running it was lost: {type(e).__name__}: {e}",
                "seconds": None,
                "worker": None,
                "retry": True,
            }
        finally:
            future.release()
        if not line.get("ok") and line.get("retry") and attempt < spec.retries:
            queue.add(submit(image, attempt + 1))
            continue
        line.pop("retry", None)
        if image in written:
            continue
        written.add(image)
        on_result(line)
