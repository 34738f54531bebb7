"""Library-side calls of libguestfs 1.48 that need no appliance, run one by one; prints
one JSON line per case: its name and the result, or the error text.

Run by /usr/bin/python3 with python3-guestfs (``import guestfs``) and by pyguestfs's
venv with ``--pyguestfs`` (``import pyguestfs.host as guestfs``); the outputs must match
(tests/test_library_differential.py). The first argument is a scratch directory.
"""

import json
import os
import sys

if "--pyguestfs" in sys.argv:
    import pyguestfs.host as guestfs
else:
    import guestfs

WORK = sys.argv[1]
DOMAIN_URI = "test://" + os.path.join(WORK, "domain.xml")


def fresh():
    return guestfs.GuestFS(python_return_dict=True)


def shown(value):
    """Booleans as ints (python3-guestfs returns 1/0), bytes as text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    return value


def case(name, fn):
    g = fresh()
    try:
        out = {"ok": shown(fn(g))}
    except RuntimeError as e:
        out = {"error": str(e)}
    except TypeError as e:
        out = {"type_error": type(e).__name__}
    print(json.dumps({"case": name, **out}, sort_keys=True))
    g.close()


def w(*parts):
    return os.path.join(WORK, *parts)


def drives(g, *adds):
    for args, kwargs in adds:
        g.add_drive(*args, **kwargs)
    return g.debug_drives()


raw = w("disk.raw")
qcow = w("disk.qcow2")
over = w("over.qcow2")
CASES = [
    ("add_drive missing", lambda g: g.add_drive(w("missing.img"))),
    ("add_drive devnull bad format", lambda g: g.add_drive("/dev/null", format="qcow2")),
    ("add_drive bad discard", lambda g: g.add_drive(raw, discard="sometimes")),
    ("add_drive ro discard enable", lambda g: g.add_drive(raw, readonly=True, discard="enable")),
    ("add_drive bad format chars", lambda g: g.add_drive(raw, format="ra w")),
    ("add_drive bad iface", lambda g: g.add_drive(raw, iface="")),
    ("add_drive bad label", lambda g: g.add_drive(raw, label="abc1")),
    ("add_drive bad cachemode", lambda g: g.add_drive(raw, cachemode="none")),
    ("add_drive bad blocksize", lambda g: g.add_drive(raw, blocksize=1024)),
    ("add_drive unknown protocol", lambda g: g.add_drive(raw, protocol="foo")),
    ("add_drive file with server", lambda g: g.add_drive(raw, server=["h"])),
    ("add_drive file with username", lambda g: g.add_drive(raw, username="u")),
    ("add_drive nbd no server", lambda g: g.add_drive("exp", protocol="nbd")),
    ("add_drive nbd two servers", lambda g: g.add_drive("x", protocol="nbd", server=["a", "b"])),
    (
        "add_drive nbd username",
        lambda g: g.add_drive("x", protocol="nbd", server=["a"], username="u"),
    ),
    ("add_drive nbd empty unix", lambda g: g.add_drive("", protocol="nbd", server=["unix:"])),
    ("add_drive nbd bad port", lambda g: g.add_drive("", protocol="nbd", server=["h:99999"])),
    ("add_drive nbd bad host", lambda g: g.add_drive("", protocol="nbd", server=["h h"])),
    (
        "debug_drives",
        lambda g: drives(
            g,
            ((raw,), {}),
            (
                (raw,),
                {
                    "readonly": True,
                    "format": "raw",
                    "iface": "virtio",
                    "name": "n",
                    "label": "lab",
                    "cachemode": "unsafe",
                    "discard": "besteffort",
                    "copyonread": True,
                    "blocksize": 4096,
                },
            ),
            (("exp",), {"protocol": "nbd", "server": ["unix:/tmp/nbd.sock"], "format": "raw"}),
            (("",), {"protocol": "nbd", "server": ["tcp:localhost:10810"]}),
        ),
    ),
    ("add_cdrom", lambda g: drives(g) if g.add_cdrom(raw) is None else None),
    (
        "add_drive_ro_with_if",
        lambda g: drives(g) if g.add_drive_ro_with_if(raw, "ide") is None else None,
    ),
    ("remove_drive", lambda g: g.remove_drive("lab")),
    ("max_disks", lambda g: g.max_disks()),
    (
        "device_index",
        lambda g: [
            g.device_index(d)
            for d in ("/dev/sda", "/dev/vdb", "/dev/hdc", "/dev/sdaa", "/dev/xvdb")
        ],
    ),
    ("device_index bad", lambda g: g.device_index("/dev/md0")),
    (
        "canonical_device_name",
        lambda g: [
            g.canonical_device_name(d)
            for d in ("/dev/hda1", "/dev/vdb", "/dev/xvdc3", "/dev/md0", "/dev/VG/LV", "/dev/sda")
        ],
    ),
    (
        "backend settings",
        lambda g: (
            g.set_backend_settings(["a", "b=1", "a=2"]),
            g.set_backend_setting("c", "3"),
            g.get_backend_setting("a"),
            g.get_backend_setting("b"),
            g.clear_backend_setting("a"),
            g.get_backend_settings(),
        )[2:],
    ),
    ("backend setting missing", lambda g: g.get_backend_setting("nope")),
    (
        "set_backend appliance",
        lambda g: (g.set_backend("appliance"), g.get_backend(), g.get_attach_method())[1:],
    ),
    ("set_backend libvirt:uri", lambda g: (g.set_backend("libvirt:qemu:///x"), g.get_backend())[1]),
    ("set_backend bad", lambda g: g.set_backend("uml")),
    ("identifier", lambda g: (g.set_identifier("my-id_1"), g.get_identifier())[1]),
    ("identifier bad", lambda g: g.set_identifier("a b")),
    ("program", lambda g: (g.set_program("prog"), g.get_program())[1]),
    (
        "pgroup recovery",
        lambda g: (g.get_pgroup(), g.get_recovery_proc(), g.set_pgroup(True), g.get_pgroup()),
    ),
    ("selinux direct defaults", lambda g: (g.get_selinux(), g.get_direct())),
    ("set_smp too many", lambda g: g.set_smp(300)),
    (
        "parse_environment_list",
        lambda g: (
            g.parse_environment_list(
                [
                    "LIBGUESTFS_TRACE=0",
                    "LIBGUESTFS_DEBUG=0",
                    "LIBGUESTFS_BACKEND=direct",
                    "LIBGUESTFS_APPEND=x=1",
                    "LIBGUESTFS_BACKEND_SETTINGS=force_tcg:y",
                    "LIBGUESTFS_HV=/usr/bin/true",
                ]
            ),
            g.get_trace(),
            g.get_verbose(),
            g.get_backend(),
            g.get_append(),
            g.get_backend_settings(),
            g.get_hv(),
        )[1:],
    ),
    (
        "parse_environment_list bad bool",
        lambda g: g.parse_environment_list(["LIBGUESTFS_TRACE=maybe"]),
    ),
    (
        "parse_environment_list bad memsize",
        lambda g: g.parse_environment_list(["LIBGUESTFS_MEMSIZE=lots"]),
    ),
    ("set_tmpdir missing", lambda g: g.set_tmpdir(w("no", "such"))),
    ("set_tmpdir file", lambda g: g.set_tmpdir(raw)),
    ("set_tmpdir ok", lambda g: (g.set_tmpdir(WORK), g.get_tmpdir())[1]),
    (
        "disk_create raw",
        lambda g: (
            g.disk_create(raw, "raw", 3 << 20),
            os.path.getsize(raw),
            g.disk_format(raw),
            g.disk_virtual_size(raw),
            g.disk_has_backing_file(raw),
        )[1:],
    ),
    (
        "disk_create qcow2",
        lambda g: (
            g.disk_create(
                qcow, "qcow2", 5 << 20, compat="1.1", clustersize=65536, preallocation="metadata"
            ),
            g.disk_format(qcow),
            g.disk_virtual_size(qcow),
            g.disk_has_backing_file(qcow),
        )[1:],
    ),
    (
        "disk_create overlay",
        lambda g: (
            g.disk_create(over, "qcow2", -1, backingfile=qcow),
            g.disk_format(over),
            g.disk_virtual_size(over),
            g.disk_has_backing_file(over),
        )[1:],
    ),
    ("disk_create bad size", lambda g: g.disk_create(raw, "raw", 0)),
    ("disk_create backing size", lambda g: g.disk_create(over, "qcow2", 10, backingfile=qcow)),
    ("disk_create raw backing", lambda g: g.disk_create(raw, "raw", -1, backingfile=qcow)),
    ("disk_create bad format", lambda g: g.disk_create(raw, "vmdk", 1024)),
    ("disk_create raw compat", lambda g: g.disk_create(raw, "raw", 1024, compat="1.1")),
    ("disk_create bad prealloc", lambda g: g.disk_create(raw, "raw", 1024, preallocation="most")),
    ("disk_create bad cluster", lambda g: g.disk_create(qcow, "qcow2", 1024, clustersize=1000)),
    ("disk_create bad compat", lambda g: g.disk_create(qcow, "qcow2", 1024, compat="2")),
    (
        "disk_create raw full",
        lambda g: (
            g.disk_create(w("full.raw"), "raw", 1 << 20, preallocation="full"),
            os.stat(w("full.raw")).st_blocks * 512 >= 1 << 20,
        )[1],
    ),
    (
        "add_domain ro",
        lambda g: (g.add_domain("guest1", libvirturi=DOMAIN_URI, readonly=True), g.debug_drives()),
    ),
    (
        "add_domain ignore",
        lambda g: (
            g.add_domain("guest1", libvirturi=DOMAIN_URI, readonly=True, readonlydisk="ignore"),
            g.debug_drives(),
        ),
    ),
    (
        "add_domain uuid",
        lambda g: g.add_domain(
            "11111111-2222-3333-4444-555555555555",
            libvirturi=DOMAIN_URI,
            readonly=True,
            allowuuid=True,
        ),
    ),
    ("add_domain running rw", lambda g: g.add_domain("guest1", libvirturi=DOMAIN_URI)),
    ("add_domain missing", lambda g: g.add_domain("nope", libvirturi=DOMAIN_URI)),
    ("add_domain live", lambda g: g.add_domain("guest1", libvirturi=DOMAIN_URI, live=True)),
    (
        "add_domain bad readonlydisk",
        lambda g: g.add_domain(
            "guest1", libvirturi=DOMAIN_URI, readonly=True, readonlydisk="maybe"
        ),
    ),
    ("add_domain no disks", lambda g: g.add_domain("nodisk", libvirturi=DOMAIN_URI, readonly=True)),
    (
        "add_domain bad disk rollback",
        lambda g: (
            _try(lambda: g.add_domain("baddisk", libvirturi=DOMAIN_URI, readonly=True)),
            g.debug_drives(),
        ),
    ),
    ("mountable_device unlaunched", lambda g: g.mountable_device("/dev/sda1")),
    ("lstatnslist unlaunched", lambda g: g.lstatnslist("/", ["a"])),
    ("umount_local none", lambda g: g.umount_local()),
    ("mount_local_run none", lambda g: g.mount_local_run()),
    ("copy_in missing source", lambda g: g.copy_in(w("missing"), "/")),
    ("copy_out unlaunched", lambda g: g.copy_out("/x", WORK)),
    ("user_cancel idle", lambda g: g.user_cancel()),
    (
        "is_busy is_launching",
        lambda g: (g.is_busy(), g.is_launching(), g.is_config(), g.get_state()),
    ),
    ("version", lambda g: {k: v for k, v in g.version().items() if k != "extra"}),
    ("launch twice state", lambda g: g.wait_ready()),
]


def _try(fn):
    try:
        return fn()
    except RuntimeError as e:
        return str(e)


for name, fn in CASES:
    case(name, fn)
