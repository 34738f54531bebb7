"""Fleets of images: run a job over many disk images, each in its own appliance, on a
local Dask pool or a Dask cluster, and stream the results back as they finish.

``guestfs-fleet`` (:mod:`.cli`) is the command. From Python::

    from pyguestfs.fleet import RunSpec, connect, run

    with connect(local=2) as client:
        run(client, ["/srv/a.img", "/srv/b.qcow2"], RunSpec(job="pyguestfs.fleet.jobs:inspect"),
            on_result=print)

A job is ``job(g, image, **params) -> dict`` (:mod:`.jobs`); a worker runs it with ``g``
launched from the warm-launch snapshot and the image added read-only (:mod:`.worker`).
Only :mod:`.cluster` needs Dask (the ``fleet`` extra); the rest imports without it.
The fleet sits on top of the host library: it imports the host, never the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .jobs import Job, JobError, checksum, inspect, mount_os
from .worker import Task, WorkerOptions, run_task

if TYPE_CHECKING:
    from .cluster import RunSpec, connect, run

__all__ = [
    "Job",
    "JobError",
    "RunSpec",
    "Task",
    "WorkerOptions",
    "checksum",
    "connect",
    "inspect",
    "mount_os",
    "run",
    "run_task",
]


def __getattr__(name: str) -> Any:
    # The Dask side is imported on first use, so that jobs and workers need no Dask.
    if name in ("RunSpec", "connect", "run"):
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(name)
