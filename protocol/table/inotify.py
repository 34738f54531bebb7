"""Watching files with inotify."""

from __future__ import annotations

from ..tabledef import Procedure
from ..tabledef import define as _def

PROCEDURES: tuple[Procedure, ...] = (
    _def(
        "inotify_init",
        179,
        "Int maxevents",
        "RErr",
        "start watching with inotify, queueing up to maxevents events",
        group="inotify",
    ),
    _def(
        "inotify_add_watch",
        180,
        "Pathname path, Int mask",
        "RInt64",
        "watch a path for the events of a mask; returns the watch",
        group="inotify",
    ),
    _def("inotify_rm_watch", 181, "Int wd", "RErr", "stop a watch", group="inotify"),
    _def(
        "inotify_read",
        182,
        "",
        "RStructList inotify_event",
        "the events queued so far (none when nothing happened)",
        group="inotify",
    ),
    _def(
        "inotify_files",
        183,
        "",
        "RStringList",
        "the names of the files that had events, each once",
        group="inotify",
    ),
    _def(
        "inotify_close",
        184,
        "",
        "RErr",
        "stop watching and drop the inotify handle",
        group="inotify",
    ),
)
