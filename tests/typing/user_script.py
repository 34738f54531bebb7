"""A user's script, type-checked with ``mypy --strict`` by ci/lint.sh: every call below
must be known to mypy with its argument and return types (host/calls.py)."""

from __future__ import annotations

import asyncio

from pyguestfs.host import AsyncGuestFS, GuestFS, GuestFSError


def inspect_disk(image: str) -> dict[str, str]:
    g = GuestFS(python_return_dict=True)
    g.add_drive_opts(image, format="raw", readonly=True)
    g.launch()
    found: dict[str, str] = {}
    for root in g.inspect_os():
        mountpoints = g.inspect_get_mountpoints(root)  # dict[str, str] with python_return_dict
        for mountpoint in sorted(mountpoints, key=len):
            g.mount_ro(mountpoints[mountpoint], mountpoint)
        found[root] = g.inspect_get_product_name(root)
        version: int = g.inspect_get_major_version(root)
        found[root] += f" {version}"
        if g.is_file("/etc/hostname", followsymlinks=True):
            found[root] += " " + g.cat("/etc/hostname").strip()
        st = g.statns("/etc")
        mode: int = st["st_mode"]
        found[root] += f" {mode:o}"
        g.umount_all()
    try:
        g.aug_init("/", 0)
    except GuestFSError as e:  # a RuntimeError, with the daemon's errno name
        found["augeas"] = e.errno_name or ""
    g.close()
    return found


def legacy_pairs(image: str) -> list[tuple[str, str]]:
    g = GuestFS()  # python_return_dict=False: hashtables are lists of pairs
    g.add_drive_ro(image)
    g.launch()
    pairs = g.list_filesystems()
    g.close()
    return pairs


async def hostnames(images: list[str]) -> list[str]:
    """Many appliances side by side in one event loop (host/async_calls.py)."""

    async def one(image: str) -> str:
        async with AsyncGuestFS(python_return_dict=True) as g:
            await g.add_drive_opts(image, readonly=True)
            await g.launch()
            root = (await g.inspect_os())[0]
            mountpoints: dict[str, str] = await g.inspect_get_mountpoints(root)
            return f"{await g.inspect_get_hostname(root)} {len(mountpoints)}"

    return list(await asyncio.gather(*(one(image) for image in images)))
