"""The daemon itself and the appliance around it: probes, feature groups, the kernel, debugging
aids."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def("sync", 2, "", "RErr", "flush every write to the disks"),
    _def(
        "debug",
        76,
        "String subcmd, StringList extraargs",
        "RString",
        "run one of the daemon's debugging subcommands",
        debug=True,
    ),
    _def(
        "drop_caches",
        90,
        "Int whattodrop",
        "RErr",
        "make the appliance kernel drop its page cache, dentries or inodes",
    ),
    _def("dmesg", 91, "", "RString", "the appliance kernel's message buffer"),
    _def("ping_daemon", 92, "", "RErr", "test if the daemon is alive and answering"),
    _def("sleep", 109, "Int secs", "RErr", "wait a number of seconds in the daemon"),
    _def(
        "umask",
        137,
        "Int mask",
        "RInt",
        "set the daemon's umask; returns the old one",
        fish_output="octal",
    ),
    _def(
        "modprobe",
        194,
        "String modulename",
        "RErr",
        "load a kernel module into the appliance kernel",
        group="linuxmodules",
    ),
    _def(
        "echo_daemon",
        195,
        "StringList words",
        "RString",
        "the words given, joined by spaces, back from the daemon",
    ),
    _def("get_umask", 240, "", "RInt", "the daemon's current umask", fish_output="octal"),
    _def(
        "debug_upload",
        241,
        "FileIn filename, String tmpname, Int mode",
        "RErr",
        "copy a local file to a path of the appliance, with a mode (debugging)",
        debug=True,
    ),
    _def(
        "available_all_groups",
        251,
        "",
        "RStringList",
        "list every optional feature group this daemon knows",
    ),
    _def(
        "internal_autosync",
        282,
        "",
        "RErr",
        "unmount everything and sync the disks before the appliance stops",
        internal=True,
    ),
    _def(
        "filesystem_available",
        333,
        "String filesystem",
        "RBool",
        "test if the appliance kernel can mount a filesystem type",
    ),
    _def(
        "utsname",
        342,
        "",
        "RStruct utsname",
        "the appliance kernel's name, release, version and machine",
    ),
    _def(
        "internal_rhbz914931",
        397,
        "FileIn filename, Int count",
        "RErr",
        "a testing aid for an old upload bug (Red Hat bug 914931)",
        internal=True,
    ),
    _def(
        "internal_upload",
        413,
        "FileIn filename, String tmpname, Int mode",
        "RErr",
        "copy a local file to a path of the appliance, with a mode",
        internal=True,
    ),
    _def(
        "internal_exit",
        414,
        "",
        "RErr",
        "make the daemon reply, then exit",
        debug=True,
        cancellable=True,
    ),
    _def(
        "internal_feature_available",
        458,
        "String group",
        "RInt",
        "probe one optional feature group: 0 available, 1 not, 2 unknown group",
        internal=True,
    ),
)
