"""How an entry of the procedure table is declared: :class:`Procedure` and :func:`define`.

Signatures are written as ``"Type name, Type name"`` with libguestfs's type names, so an
entry can be compared with the original (``generator/actions_*.ml``) by eye.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .types import STRUCTS, Arg, ArgType, OptArg, OptType, RetType, StrKind, StructDef


@dataclass(frozen=True)
class Procedure:
    """One API of the libguestfs protocol."""

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
    #: Not meant to be called by users directly (a library helper calls it).
    internal: bool = False
    #: The daemon sends progress messages while it runs.
    progress: bool = False
    #: A FileIn/FileOut transfer that either side can cancel.
    cancellable: bool = False
    #: Optional feature group the API belongs to (``available``).
    group: str | None = None
    #: Other methods of the Python bindings that are the same call (``is_file_opts``).
    aliases: tuple[str, ...] = field(default=())

    @property
    def wire_args(self) -> tuple[Arg, ...]:
        """The required arguments that travel in the args struct (no FileIn/FileOut)."""
        return tuple(a for a in self.args if a.type not in (ArgType.FILEIN, ArgType.FILEOUT))

    @property
    def file_in(self) -> bool:
        return any(a.type is ArgType.FILEIN for a in self.args)

    @property
    def file_out(self) -> bool:
        return any(a.type is ArgType.FILEOUT for a in self.args)

    @property
    def has_args_struct(self) -> bool:
        return bool(self.wire_args or self.optargs)

    @property
    def struct(self) -> StructDef | None:
        return STRUCTS[self.ret_struct] if self.ret_struct else None


_ARG_TYPES = {t.value: t for t in ArgType}
_OPT_TYPES = {t.value: t for t in OptType}
_RET_TYPES = {t.value: t for t in RetType}
_STR_KINDS = {k.value: k for k in StrKind}


def _parse_params(spec: str, table: dict[str, ArgType] | dict[str, OptType]) -> list[tuple]:
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        tname, _, pname = part.partition(" ")
        if tname not in table or not pname.isidentifier():
            raise ValueError(f"bad parameter {part!r}")
        out.append((pname, table[tname]))
    return out


def define(
    name: str, nr: int, args: str, ret: str, doc: str, *, optargs: str = "", **flags: object
) -> Procedure:
    """Declare one procedure; ``flags`` are :class:`Procedure`'s other fields.

    ``ret`` is the return type with what qualifies it: ``"RStruct statns"`` (the struct),
    ``"RStringList Device"`` (device names, translated back for the user),
    ``"RHashtable Mountable String"`` (the kinds of keys and values)."""
    rtype, *qualifiers = ret.split()
    rettype = _RET_TYPES[rtype]
    rstruct = None
    kinds = [StrKind.PLAIN, StrKind.PLAIN]
    if rettype in (RetType.STRUCT, RetType.STRUCTLIST):
        (rstruct,) = qualifiers
    else:
        for i, q in enumerate(qualifiers):
            kinds[i] = _STR_KINDS[q]
    cancellable = "FileIn" in args or "FileOut" in args
    return Procedure(
        name=name,
        proc_nr=nr,
        args=tuple(Arg(n, t) for n, t in _parse_params(args, _ARG_TYPES)),
        optargs=tuple(OptArg(n, t) for n, t in _parse_params(optargs, _OPT_TYPES)),
        ret=rettype,
        ret_struct=rstruct,
        ret_kind=kinds[0],
        ret_value_kind=kinds[1],
        doc=doc,
        cancellable=cancellable,
        progress=bool(flags.pop("progress", cancellable)),
        **flags,  # type: ignore[arg-type]
    )
