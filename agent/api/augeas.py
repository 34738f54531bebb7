"""The ``augeas`` family: editing configuration files with Augeas, as guestfsd's
``daemon/augeas.c`` of 1.48 does.

One Augeas handle per connection (guestfsd keeps one per daemon), opened by ``aug_init``
on a directory of the guest and used by every other ``aug_*`` call. Errors carry
Augeas's own message, minor message and details. ``aug_save`` writes through the
sysroot: the handle's root is the guest directory, resolved inside the sysroot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..connstate import PerConnection
from ..context import CallContext
from ..errors import AgentError
from ..libaugeas import INIT_FAILED, Augeas, AugeasError, AugeasUnavailable, available
from ..registry import procedure, provides_group
from ..resolve import GuestPath

if TYPE_CHECKING:
    pass

provides_group("augeas", available)

_HANDLES: PerConnection[Augeas] = PerConnection("augeas")


def _need(call: CallContext, api: str) -> Augeas:
    """guestfsd's NEED_AUG (its message names the C function, ``do_<api>``)."""
    aug = _HANDLES.get(call.agent)
    if aug is None:
        raise AgentError(f"do_{api}: you must call 'aug-init' first to initialize Augeas")
    return aug


def _error(err: AugeasError, what: str) -> AgentError:
    """guestfsd's AUGEAS_ERROR: ``what: message[: minor][: details]``."""
    if err.code == 1:  # AUG_ENOMEM
        return AgentError(f"{what}: augeas out of memory")
    return AgentError(f"{what}: {err.describe()}")


def _close(call: CallContext) -> None:
    aug = _HANDLES.pop(call.agent, None)
    if aug is not None:
        aug.close()


@procedure("aug_init")
def aug_init(call: CallContext, root: GuestPath, flags: int) -> None:
    _close(call)
    try:
        aug = Augeas(root.host(), None, flags & 0xFFFFFFFF)
    except AugeasUnavailable as e:
        raise AgentError(f"augeas is not available in the appliance: {e}") from None
    except AugeasError as e:
        if e.code == INIT_FAILED:
            raise AgentError("augeas initialization failed") from None
        raise _error(e, f"aug_init: {root} (flags {flags})") from None
    _HANDLES[call.agent] = aug


@procedure("aug_close")
def aug_close(call: CallContext) -> None:
    _need(call, "aug_close")
    _close(call)


def _run(call: CallContext, api: str, what: str, fn: Any, *args: Any) -> Any:
    aug = _need(call, api)
    try:
        return fn(aug, *args)
    except AugeasError as e:
        raise _error(e, what) from None


@procedure("aug_defvar")
def aug_defvar(call: CallContext, name: str, expr: str | None) -> int:
    # guestfsd prints a NULL expression with glibc's "(null)".
    what = f"aug_defvar: {name}: {expr if expr is not None else '(null)'}"
    return int(_run(call, "aug_defvar", what, Augeas.defvar, name, expr))


@procedure("aug_defnode")
def aug_defnode(call: CallContext, name: str, expr: str, val: str) -> dict[str, int]:
    i, created = _run(
        call, "aug_defnode", f"aug_defnode: {name}: {expr}: {val}", Augeas.defnode, name, expr, val
    )
    return {"i": i, "b": int(created)}


@procedure("aug_get")
def aug_get(call: CallContext, augpath: str) -> str:
    n, value = _run(call, "aug_get", f"aug_get: {augpath}", Augeas.get, augpath)
    if n == 0:
        raise AgentError("no matching node")
    # (More than one match is an error of Augeas's own, AUG_EMMATCH, raised above.)
    if value is None:
        raise AgentError("Augeas returned NULL match")
    return str(value)


@procedure("aug_set")
def aug_set(call: CallContext, augpath: str, val: str) -> None:
    _run(call, "aug_set", f"aug_set: {augpath}: {val}", Augeas.set, augpath, val)


@procedure("aug_clear")
def aug_clear(call: CallContext, augpath: str) -> None:
    _run(call, "aug_clear", f"aug_clear: {augpath}", Augeas.set, augpath, None)


@procedure("aug_insert")
def aug_insert(call: CallContext, augpath: str, label: str, before: bool) -> None:
    what = f"aug_insert: {augpath}: {label} [before={int(before)}]"
    _run(call, "aug_insert", what, Augeas.insert, augpath, label, before)


@procedure("aug_rm")
def aug_rm(call: CallContext, augpath: str) -> int:
    return int(_run(call, "aug_rm", f"aug_rm: {augpath}", Augeas.rm, augpath))


@procedure("aug_mv")
def aug_mv(call: CallContext, src: str, dest: str) -> None:
    _run(call, "aug_mv", f"aug_mv: {src}: {dest}", Augeas.mv, src, dest)


@procedure("aug_match")
def aug_match(call: CallContext, augpath: str) -> list[str]:
    return list(_run(call, "aug_match", f"aug_match: {augpath}", Augeas.match, augpath))


@procedure("aug_save")
def aug_save(call: CallContext) -> None:
    _run(call, "aug_save", "aug_save", Augeas.save)


@procedure("aug_load")
def aug_load(call: CallContext) -> None:
    _run(call, "aug_load", "aug_load", Augeas.load)


@procedure("aug_ls")
def aug_ls(call: CallContext, augpath: str) -> list[str]:
    """aug_match of ``augpath/*``, sorted (byte order, as guestfsd's sort_strings).
    ``augpath`` may also be a variable defined with aug_defvar (RHBZ#580016)."""
    _need(call, "aug_ls")
    if len(augpath) > 1 and augpath[-1] in "/]*":
        raise AgentError("don't use aug-ls with a path that ends with / ] *")
    pattern = "/*" if augpath == "/" else f"{augpath}/*"
    matches = aug_match(call, pattern)
    return sorted(matches, key=lambda s: s.encode("utf-8", "surrogateescape"))


@procedure("aug_setm")
def aug_setm(call: CallContext, base: str, sub: str | None, val: str) -> int:
    what = f"aug_setm: {base}: {sub if sub is not None else '(null)'}: {val}"
    return int(_run(call, "aug_setm", what, Augeas.setm, base, sub, val))


@procedure("aug_label")
def aug_label(call: CallContext, augpath: str) -> str:
    n, label = _run(call, "aug_label", f"aug_label: {augpath}", Augeas.label, augpath)
    if n == 0:
        raise AgentError("no matching nodes found")
    if label is None:
        raise AgentError(f"internal error: expected label != NULL (r = {n})")
    return str(label)


@procedure("aug_transform")
def aug_transform(call: CallContext, lens: str, file: str, remove: bool = False) -> None:
    what = f"aug_transform: {lens}: {file}: {'excl' if remove else 'incl'}"
    _run(call, "aug_transform", what, Augeas.transform, lens, file, remove)
