"""Inspect images with the real libguestfs 1.48 (python3-guestfs), one handle per image,
and print one JSON line per image in the shape of ``guestfs-fleet inspect``'s lines.

Run by Debian's own interpreter (``/usr/bin/python3 bench/libguestfs_inspect.py
IMAGE...``): it imports nothing of pyguestfs. bench/fleet.py runs K of these at once (as
virt-df sizes its pool) for the comparison, and tests/test_fleet.py runs it on one image
to check that the fleet's inspection says what libguestfs says.
"""

from __future__ import annotations

import json
import sys
import time

import guestfs  # type: ignore[import-not-found]

FIELDS = (
    ("type", "inspect_get_type"),
    ("distro", "inspect_get_distro"),
    ("product_name", "inspect_get_product_name"),
    ("product_variant", "inspect_get_product_variant"),
    ("major_version", "inspect_get_major_version"),
    ("minor_version", "inspect_get_minor_version"),
    ("arch", "inspect_get_arch"),
    ("hostname", "inspect_get_hostname"),
    ("package_format", "inspect_get_package_format"),
    ("package_management", "inspect_get_package_management"),
    ("mountpoints", "inspect_get_mountpoints"),
)


def _maybe(f, *args):  # type: ignore[no-untyped-def]
    try:
        return f(*args) or None
    except RuntimeError:
        return None


def inspect_image(path: str) -> dict[str, object]:
    g = guestfs.GuestFS(python_return_dict=True)
    try:
        g.add_drive_opts(path, readonly=1, format="raw")
        g.launch()
        roots = g.inspect_os()
        if not roots:
            raise RuntimeError("no operating system could be detected inside this disk image")
        out = []
        for root in roots:
            info: dict[str, object] = {"root": root}
            for key, call in FIELDS:
                info[key] = getattr(g, call)(root)
            devices = g.inspect_get_filesystems(root)
            info["filesystems"] = [
                {
                    "device": d,
                    "type": _maybe(g.vfs_type, d),
                    "label": _maybe(g.vfs_label, d),
                    "uuid": _maybe(g.vfs_uuid, d),
                }
                for d in devices
            ]
            mps = info["mountpoints"]
            assert isinstance(mps, dict)
            for mp, dev in sorted(mps.items(), key=lambda kv: (len(kv[0]), kv[0])):
                try:
                    g.mount_ro(dev, mp)
                except RuntimeError:
                    pass
            info["applications"] = [
                {
                    "name": a["app2_name"],
                    "version": a["app2_version"],
                    "release": a["app2_release"],
                    "epoch": a["app2_epoch"],
                    "arch": a["app2_arch"],
                }
                for a in g.inspect_list_applications2(root)
            ]
            g.umount_all()
            out.append(info)
        return {"roots": out}
    finally:
        g.close()


def main() -> int:
    for path in sys.argv[1:]:
        started = time.monotonic()
        line: dict[str, object] = {"image": path, "ok": True, "error": None}
        try:
            line.update(inspect_image(path))
        except RuntimeError as e:
            line["ok"], line["error"] = False, str(e)
        line["seconds"] = round(time.monotonic() - started, 3)
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
