"""Jobs of a user, for tests/test_fleet.py (``guestfs-fleet run fleet_jobs:NAME``; the
test's Dask workers have this directory on their PYTHONPATH)."""

from __future__ import annotations

from typing import Any

from pyguestfs.host import GuestFS


def sleepy(g: GuestFS[dict[str, str]], image: str) -> dict[str, Any]:
    """Hangs in the guest: the daemon's ``sleep`` call never returns in time, so only the
    fleet's timeout (which kills the appliance) ends it."""
    g.sleep(3600)
    return {"slept": True}


def hostname_file(
    g: GuestFS[dict[str, str]], image: str, path: str = "/etc/hostname"
) -> dict[str, Any]:
    """Reads one file of the first partition: a job with a parameter."""
    g.mount_ro("/dev/sda1", "/")
    return {"content": g.cat(path).strip()}
