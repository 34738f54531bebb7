"""The ``hivex`` family: Windows Registry hives, as guestfsd's ``daemon/hivex.c`` of
1.48 serves them.

One open hive per connection (guestfsd keeps one per daemon), opened by ``hivex_open``
on a guest file and used by every other ``hivex_*`` call. Failures are guestfsd's
``reply_with_perror`` texts ("failed: <strerror>" with the errno libhivex set).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..libhivex import (
    OPEN_DEBUG,
    OPEN_UNSAFE,
    OPEN_VERBOSE,
    OPEN_WRITE,
    Hive,
    HivexError,
    HivexUnavailable,
    available,
)
from ..registry import procedure, provides_group
from ..resolve import GuestPath

if TYPE_CHECKING:
    pass

provides_group("hivex", available)

_HIVES: PerConnection[Hive] = PerConnection("hivex")


def _need(call: CallContext, api: str) -> Hive:
    """guestfsd's NEED_HANDLE (its message names the C function, ``do_<api>``)."""
    hive = _HIVES.get(call.agent)
    if hive is None:
        raise AgentError(
            f"do_{api}: you must call 'hivex-open' first to initialize the hivex handle"
        )
    return hive


def _perror(e: OSError, what: str = "failed") -> AgentError:
    return AgentError.from_errno(e.errno or errno.EINVAL, what)


def _close(call: CallContext) -> None:
    hive = _HIVES.pop(call.agent, None)
    if hive is not None:
        hive.close()


@procedure("hivex_open")
def hivex_open(
    call: CallContext,
    filename: GuestPath,
    verbose: bool = False,
    debug: bool = False,
    write: bool = False,
    unsafe: bool = False,
) -> None:
    _close(call)
    flags = (
        (OPEN_VERBOSE if verbose else 0)
        | (OPEN_DEBUG if debug else 0)
        | (OPEN_WRITE if write else 0)
        | (OPEN_UNSAFE if unsafe else 0)
    )
    try:
        _HIVES[call.agent] = Hive(filename.host(), flags)
    except HivexUnavailable as e:
        raise AgentError(f"hivex is not available in the appliance: {e}") from None
    except OSError as e:
        raise _perror(e, f"hivex failed to open {filename}") from None


@procedure("hivex_close")
def hivex_close(call: CallContext) -> None:
    _need(call, "hivex_close")
    _close(call)


@procedure("hivex_root")
def hivex_root(call: CallContext) -> int:
    try:
        return _need(call, "hivex_root").root()
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_name")
def hivex_node_name(call: CallContext, nodeh: int) -> str:
    try:
        return _need(call, "hivex_node_name").node_name(nodeh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_children")
def hivex_node_children(call: CallContext, nodeh: int) -> list[dict[str, int]]:
    try:
        children = _need(call, "hivex_node_children").node_children(nodeh)
    except HivexError as e:
        raise _perror(e) from None
    return [{"hivex_node_h": c} for c in children]


@procedure("hivex_node_get_child")
def hivex_node_get_child(call: CallContext, nodeh: int, name: str) -> int:
    try:
        return _need(call, "hivex_node_get_child").node_get_child(nodeh, name)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_parent")
def hivex_node_parent(call: CallContext, nodeh: int) -> int:
    try:
        return _need(call, "hivex_node_parent").node_parent(nodeh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_values")
def hivex_node_values(call: CallContext, nodeh: int) -> list[dict[str, int]]:
    try:
        values = _need(call, "hivex_node_values").node_values(nodeh)
    except HivexError as e:
        raise _perror(e) from None
    return [{"hivex_value_h": v} for v in values]


@procedure("hivex_node_get_value")
def hivex_node_get_value(call: CallContext, nodeh: int, key: str) -> int:
    try:
        return _need(call, "hivex_node_get_value").node_get_value(nodeh, key)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_value_key")
def hivex_value_key(call: CallContext, valueh: int) -> str:
    try:
        return _need(call, "hivex_value_key").value_key(valueh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_value_type")
def hivex_value_type(call: CallContext, valueh: int) -> int:
    try:
        return _need(call, "hivex_value_type").value_type(valueh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_value_value")
def hivex_value_value(call: CallContext, valueh: int) -> bytes:
    try:
        return _need(call, "hivex_value_value").value_value(valueh)[1]
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_value_string")
def hivex_value_string(call: CallContext, valueh: int) -> str:
    return _value_string(call, "hivex_value_string", valueh)


@procedure("hivex_value_utf8")
def hivex_value_utf8(call: CallContext, valueh: int) -> str:
    """The deprecated alias of hivex_value_string (its NEED_HANDLE names the latter)."""
    return _value_string(call, "hivex_value_string", valueh)


def _value_string(call: CallContext, api: str, valueh: int) -> str:
    try:
        return _need(call, api).value_string(valueh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_commit")
def hivex_commit(call: CallContext, filename: str | None) -> None:
    hive = _need(call, "hivex_commit")
    if filename is None:
        try:
            hive.commit(None)
        except HivexError as e:
            raise _perror(e, "commit failed") from None
        return
    # An OptString, not a Pathname: guestfsd checks it in do_hivex_commit itself
    # (RHBZ#981683), so its messages name that function.
    if not filename.startswith("/"):
        raise AgentError("do_hivex_commit: path must start with a / character")
    sysroot = call.sysroot
    if sysroot.mount_required and not os.path.ismount(sysroot.root):
        raise AgentError(
            "do_hivex_commit: you must call 'mount' first to mount the root filesystem"
        )
    try:
        hive.commit(sysroot.resolve(filename))
    except HivexError as e:
        raise _perror(e, f"{filename}: commit failed") from None


@procedure("hivex_node_add_child")
def hivex_node_add_child(call: CallContext, parent: int, name: str) -> int:
    try:
        return _need(call, "hivex_node_add_child").node_add_child(parent, name)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_delete_child")
def hivex_node_delete_child(call: CallContext, nodeh: int) -> None:
    try:
        _need(call, "hivex_node_delete_child").node_delete_child(nodeh)
    except HivexError as e:
        raise _perror(e) from None


@procedure("hivex_node_set_value")
def hivex_node_set_value(call: CallContext, nodeh: int, key: str, t: int, val: bytes) -> None:
    try:
        _need(call, "hivex_node_set_value").node_set_value(nodeh, key, t, val)
    except HivexError as e:
        raise _perror(e) from None
