"""How an entry of the procedure table is declared: :class:`Procedure` and :func:`define`
for the daemon's procedures, :class:`LibraryAction` and :func:`define_library` for the
actions the library serves itself.

Signatures are written as ``"Type name, Type name"`` with libguestfs's type names, so an
entry can be compared with the original (``generator/actions_*.ml``) by eye. Return types
carry what qualifies them: ``"RStruct statns"``, ``"RStringList Device"``,
``"RHashtable Mountable String"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, TypeVar

from .types import (
    STRUCTS,
    WIRE_ARG_TYPES,
    WIRE_RET_TYPES,
    Arg,
    ArgType,
    FishOutput,
    OptArg,
    OptType,
    RetType,
    StrKind,
    StructDef,
)

#: ``deprecated_by`` of an API that is deprecated with nothing to use instead
#: (``Deprecated_no_replacement`` of 1.48). Test with ``.deprecated``, not truth.
NO_REPLACEMENT: Final = ""


@dataclass(frozen=True)
class Procedure:
    """One procedure of the libguestfs protocol: the daemon serves it by its number."""

    name: str
    proc_nr: int
    args: tuple[Arg, ...]
    optargs: tuple[OptArg, ...]
    ret: RetType
    doc: str
    #: Name of the struct for RStruct / RStructList.
    ret_struct: str | None = None
    #: What the strings of an RString / RStringList reply (or a hashtable's keys) are:
    #: device names are translated back to the user's names in the daemon's dispatch.
    ret_kind: StrKind = StrKind.PLAIN
    #: The same for the values of an RHashtable.
    ret_value_kind: StrKind = StrKind.PLAIN
    #: Not meant to be called by users directly (a library helper calls it): 1.48's
    #: ``VInternal``. The bindings have no method for it.
    internal: bool = False
    #: 1.48's ``VDebug``: exported everywhere (the bindings have a method) but not
    #: documented: debugging aids such as ``debug`` and ``internal_exit``.
    debug: bool = False
    #: The daemon may send progress messages while it runs: 1.48's flag, and every
    #: FileIn/FileOut transfer (this agent reports progress on each one).
    progress: bool = False
    #: Either side can cancel the call while it runs: every FileIn/FileOut transfer,
    #: and what 1.48 flags ``cancellable`` besides.
    cancellable: bool = False
    #: Optional feature group the API belongs to (``available``).
    group: str | None = None
    #: Other methods of the Python bindings that are the same call (``is_file_opts``).
    aliases: tuple[str, ...] = field(default=())
    #: The API to use instead, when deprecated; :data:`NO_REPLACEMENT` when deprecated
    #: with nothing to use instead; None when not deprecated.
    deprecated_by: str | None = None
    #: Other guestfish command names of the API (``unmount`` for ``umount``).
    fish_aliases: tuple[str, ...] = field(default=())
    #: How guestfish prints the integer result (``umask`` in octal), if not in decimal.
    fish_output: FishOutput | None = None

    # Computed once per procedure, not per call: the agent asks them for every request.
    @cached_property
    def wire_args(self) -> tuple[Arg, ...]:
        """The required arguments that travel in the args struct (no FileIn/FileOut)."""
        return tuple(a for a in self.args if a.type not in (ArgType.FILEIN, ArgType.FILEOUT))

    @cached_property
    def file_in(self) -> bool:
        return any(a.type is ArgType.FILEIN for a in self.args)

    @cached_property
    def file_out(self) -> bool:
        return any(a.type is ArgType.FILEOUT for a in self.args)

    @cached_property
    def has_args_struct(self) -> bool:
        return bool(self.wire_args or self.optargs)

    @property
    def struct(self) -> StructDef | None:
        return STRUCTS[self.ret_struct] if self.ret_struct else None

    @property
    def deprecated(self) -> bool:
        return self.deprecated_by is not None


@dataclass(frozen=True)
class LibraryAction:
    """One action of libguestfs 1.48 that the library serves itself, with no procedure
    number (``launch``, ``add_drive``, ``set_memsize``, ``cat``, ``inspect_get_icon``...).
    It never goes on the wire; the host implements it, the typed handle declares it.

    The fields mean what :class:`Procedure`'s do, plus the visibility and state flags of
    the library. An argument may be of kind ``Pointer`` (``add_libvirt_dom``'s ``dom``,
    a libvirt domain object of the caller's), and the return may be ``RConstString`` or
    ``RConstOptString`` (a string, or a string or None)."""

    name: str
    args: tuple[Arg, ...]
    optargs: tuple[OptArg, ...]
    ret: RetType
    doc: str
    ret_struct: str | None = None
    ret_kind: StrKind = StrKind.PLAIN
    ret_value_kind: StrKind = StrKind.PLAIN
    #: 1.48's ``VInternal``: no binding has a method for it.
    internal: bool = False
    #: 1.48's ``VDebug``: a method everywhere, not documented.
    debug: bool = False
    #: 1.48's ``VStateTest``: a test of the handle's state (``is_ready``); the bindings
    #: have it, guestfish does not.
    state_test: bool = False
    #: False for 1.48's ``VPublicNoFish`` (``copy_in``, ``copy_out``): guestfish has
    #: its own command of that name.
    in_fish: bool = True
    #: Only allowed before ``launch`` (1.48's ``config_only``).
    config_only: bool = False
    progress: bool = False
    cancellable: bool = False
    group: str | None = None
    aliases: tuple[str, ...] = field(default=())
    deprecated_by: str | None = None
    fish_aliases: tuple[str, ...] = field(default=())
    fish_output: FishOutput | None = None

    @property
    def struct(self) -> StructDef | None:
        return STRUCTS[self.ret_struct] if self.ret_struct else None

    @property
    def deprecated(self) -> bool:
        return self.deprecated_by is not None


_Kind = TypeVar("_Kind", ArgType, OptType)

_ARG_TYPES = {t.value: t for t in ArgType}
_OPT_TYPES = {t.value: t for t in OptType}
_RET_TYPES = {t.value: t for t in RetType}
_STR_KINDS = {k.value: k for k in StrKind}
_FISH_OUTPUTS = {f.value: f for f in FishOutput}


def _parse_params(spec: str, table: dict[str, _Kind]) -> list[tuple[str, _Kind]]:
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        tname, _, pname = part.partition(" ")
        if tname not in table or not pname.isidentifier():
            raise ValueError(f"bad parameter {part!r}")
        out.append((pname, table[tname]))
    return out


def _parse_ret(ret: str) -> tuple[RetType, str | None, StrKind, StrKind]:
    rtype, *qualifiers = ret.split()
    rettype = _RET_TYPES[rtype]
    rstruct = None
    kinds = [StrKind.PLAIN, StrKind.PLAIN]
    if rettype in (RetType.STRUCT, RetType.STRUCTLIST):
        (rstruct,) = qualifiers
        if rstruct not in STRUCTS:
            raise ValueError(f"unknown struct {rstruct!r}")
    else:
        for i, q in enumerate(qualifiers):
            kinds[i] = _STR_KINDS[q]
    return rettype, rstruct, kinds[0], kinds[1]


def _common_flags(args: tuple[Arg, ...], flags: dict[str, object]) -> dict[str, object]:
    """Flags every entry derives the same way: transfers are cancellable and report
    progress; ``fish_output`` is given by its name ("octal", "hexadecimal")."""
    transfer = any(a.type in (ArgType.FILEIN, ArgType.FILEOUT) for a in args)
    flags["cancellable"] = bool(flags.get("cancellable", False)) or transfer
    flags["progress"] = bool(flags.get("progress", False)) or transfer
    output = flags.get("fish_output")
    if isinstance(output, str):
        flags["fish_output"] = _FISH_OUTPUTS[output]
    return flags


def define(
    name: str, nr: int, args: str, ret: str, doc: str, *, optargs: str = "", **flags: object
) -> Procedure:
    """Declare one procedure; ``flags`` are :class:`Procedure`'s other fields.

    ``ret`` is the return type with what qualifies it: ``"RStruct statns"`` (the struct),
    ``"RStringList Device"`` (device names, translated back for the user),
    ``"RHashtable Mountable String"`` (the kinds of keys and values)."""
    rettype, rstruct, kind, vkind = _parse_ret(ret)
    if rettype not in WIRE_RET_TYPES:
        raise ValueError(f"{name}: {rettype.value} is for library actions only")
    params = tuple(Arg(n, t) for n, t in _parse_params(args, _ARG_TYPES))
    if any(a.type not in WIRE_ARG_TYPES for a in params):
        raise ValueError(f"{name}: a Pointer argument cannot go on the wire")
    return Procedure(
        name=name,
        proc_nr=nr,
        args=params,
        optargs=tuple(OptArg(n, t) for n, t in _parse_params(optargs, _OPT_TYPES)),
        ret=rettype,
        ret_struct=rstruct,
        ret_kind=kind,
        ret_value_kind=vkind,
        doc=doc,
        **_common_flags(params, flags),  # type: ignore[arg-type]
    )


def define_library(
    name: str, args: str, ret: str, doc: str, *, optargs: str = "", **flags: object
) -> LibraryAction:
    """Declare one library-side action; ``flags`` are :class:`LibraryAction`'s fields."""
    rettype, rstruct, kind, vkind = _parse_ret(ret)
    params = tuple(Arg(n, t) for n, t in _parse_params(args, _ARG_TYPES))
    return LibraryAction(
        name=name,
        args=params,
        optargs=tuple(OptArg(n, t) for n, t in _parse_params(optargs, _OPT_TYPES)),
        ret=rettype,
        ret_struct=rstruct,
        ret_kind=kind,
        ret_value_kind=vkind,
        doc=doc,
        **_common_flags(params, flags),  # type: ignore[arg-type]
    )
