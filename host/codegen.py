"""Writes ``host/calls.py``: every API of the table as a typed method of :class:`Calls`,
and ``host/async_calls.py``: the same APIs as coroutines of :class:`AsyncCalls`.

The procedure table (``protocol/table/``) declares each API once; this module turns that
declaration into Python source, so type checkers and editors see every method with its
argument and return types (a method made at run time with ``setattr`` is invisible to
them). The source is checked in; ``tests/test_typed_handle.py`` fails when it is stale.

    python -m pyguestfs.host.codegen          # rewrite both files
    python -m pyguestfs.host.codegen --check  # exit 1 if either is stale

Daemon procedures become methods that send the call; library-side actions (``launch``,
``add_drive``, ``cat`` ...) become methods that raise ``ENOTSUP`` unless
:class:`~pyguestfs.host.handle.GuestFS` overrides them with an implementation, which
mypy then checks against 1.48's signature.
"""

from __future__ import annotations

import argparse
import keyword
import sys
from collections.abc import Iterable
from pathlib import Path

from ..protocol.procedures import LIBRARY_ACTIONS, PROCEDURES
from ..protocol.tabledef import LibraryAction, Procedure
from ..protocol.types import STRUCTS, ArgType, FieldType, OptType, RetType

TARGET = Path(__file__).with_name("calls.py")
ASYNC_TARGET = Path(__file__).with_name("async_calls.py")

#: Python types of the argument kinds, as python3-guestfs accepts them.
_ARG_TYPES = {
    ArgType.OPTSTRING: "str | None",
    ArgType.STRINGLIST: "Sequence[str]",
    ArgType.DEVICELIST: "Sequence[str]",
    ArgType.FILENAMELIST: "Sequence[str]",
    ArgType.BOOL: "bool",
    ArgType.INT: "int",
    ArgType.INT64: "int",
    ArgType.BUFFER: "bytes",
    ArgType.FILEIN: "StrPath",
    ArgType.FILEOUT: "StrPath",
    ArgType.POINTER: "Any",
}
_OPT_TYPES = {
    OptType.BOOL: "bool | None",
    OptType.INT: "int | None",
    OptType.INT64: "int | None",
    OptType.STRING: "str | None",
    OptType.STRINGLIST: "Sequence[str] | None",
}
_FIELD_TYPES = {
    FieldType.CHAR: "str",
    FieldType.STRING: "str",
    FieldType.BUFFER: "bytes",
    FieldType.UUID: "str",
    FieldType.OPTPERCENT: "float",
}


def struct_class(name: str) -> str:
    """``lvm_pv`` → ``LvmPv``: the TypedDict of a struct."""
    return "".join(part.capitalize() for part in name.split("_"))


def _arg_type(t: ArgType) -> str:
    return _ARG_TYPES.get(t, "str")


def _ret_type(api: Procedure | LibraryAction) -> str:
    r = api.ret
    if r in (RetType.STRUCT, RetType.STRUCTLIST):
        assert api.ret_struct is not None
        cls = struct_class(api.ret_struct)
        return cls if r is RetType.STRUCT else f"list[{cls}]"
    return {
        RetType.ERR: "None",
        RetType.BOOL: "bool",
        RetType.INT: "int",
        RetType.INT64: "int",
        RetType.STRING: "str",
        RetType.CONST_STRING: "str",
        RetType.CONST_OPT_STRING: "str | None",
        RetType.STRINGLIST: "list[str]",
        RetType.HASHTABLE: "_H",
        RetType.BUFFER: "bytes",
    }[r]


def _param(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def _signature(api: Procedure | LibraryAction, prefix: str = "def") -> str:
    params = ["self"]
    params += [f"{_param(a.name)}: {_arg_type(a.type)}" for a in api.args]
    params += [f"{_param(o.name)}: {_OPT_TYPES[o.type]} = None" for o in api.optargs]
    return f"    {prefix} {api.name}({', '.join(params)}) -> {_ret_type(api)}:"


def _docstring(api: Procedure | LibraryAction) -> str:
    text = api.doc[:1].upper() + api.doc[1:]
    if not text.endswith("."):
        text += "."
    if api.deprecated_by is not None:
        text += (
            f" Deprecated: use {api.deprecated_by} instead."
            if api.deprecated_by
            else " Deprecated, with nothing to use instead."
        )
    return f'        """{text}"""'


def _dict(items: Iterable[tuple[str, str]]) -> str:
    body = ", ".join(f'"{k}": {v}' for k, v in items)
    return "{" + body + "}"


def _daemon_method(proc: Procedure) -> str:
    args = _dict((a.name, _param(a.name)) for a in proc.wire_args)
    optargs = ", ".join(f"{o.name}={_param(o.name)}" for o in proc.optargs)
    extra = ""
    for a in proc.args:
        if a.type is ArgType.FILEIN:
            extra += f", file_in={_param(a.name)}"
        elif a.type is ArgType.FILEOUT:
            extra += f", file_out={_param(a.name)}"
    call = f'self._call("{proc.name}", {args}, _set({optargs}){extra})'
    if proc.ret is RetType.HASHTABLE:
        body = f"return self._hashtable({call})"
    elif proc.ret is RetType.ERR:
        body = call
    else:
        body = f'return cast("{_ret_type(proc)}", {call})'
    return f"{_signature(proc)}\n{_docstring(proc)}\n        {body}\n"


def _library_method(action: LibraryAction) -> str:
    body = f'raise self._unsupported("{action.name}")'
    return f"{_signature(action)}\n{_docstring(action)}\n        {body}\n"


def _async_method(api: Procedure | LibraryAction) -> str:
    """The coroutine: the same call made by the sync handle in the handle's own thread."""
    passed = ["self.handle." + api.name]
    passed += [_param(a.name) for a in api.args]
    passed += [f"{_param(o.name)}={_param(o.name)}" for o in api.optargs]
    call = f"await self._run({', '.join(passed)})"
    body = call if api.ret is RetType.ERR else f"return {call}"
    return f"{_signature(api, 'async def')}\n{_docstring(api)}\n        {body}\n"


def _struct_defs() -> str:
    out = []
    for name in sorted(STRUCTS):
        fields = STRUCTS[name].fields
        lines = [f"class {struct_class(name)}(TypedDict):", f'    """The ``{name}`` struct."""', ""]
        lines += [f"    {f}: {_FIELD_TYPES.get(t, 'int')}" for f, t in fields]
        out.append("\n".join(lines))
    return "\n\n\n".join(out)


_HEADER = '''# ruff: noqa: E501  (generated: one line a call, never reformatted)
"""Every API of libguestfs 1.48 as a typed method: GENERATED by
``python -m pyguestfs.host.codegen`` from the procedure table. Do not edit.

:class:`Calls` is the base of :class:`~pyguestfs.host.handle.GuestFS`. Daemon procedures
send their call; library-side actions raise ``ENOTSUP`` here and are implemented by the
handle. ``_H`` is the type of hashtable results: ``dict[str, str]`` for a handle made
with ``python_return_dict=True``, else a list of ``(key, value)`` pairs, as in
python3-guestfs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Generic, TypedDict, TypeVar, cast

from .errors import GuestFSError

StrPath = str | os.PathLike[str]
_H = TypeVar("_H", dict[str, str], list[tuple[str, str]])


def _set(**optargs: Any) -> dict[str, Any]:
    """The optional arguments the caller gave (None means not given)."""
    return {k: v for k, v in optargs.items() if v is not None}


'''

_BASE = '''class Calls(Generic[_H]):
    """The methods of every libguestfs 1.48 API, with their types."""

    def _call(
        self,
        name: str,
        args: dict[str, Any],
        optargs: dict[str, Any],
        *,
        file_in: StrPath | None = None,
        file_out: StrPath | None = None,
    ) -> Any:
        raise NotImplementedError

    def _hashtable(self, pairs: list[tuple[str, str]]) -> _H:
        raise NotImplementedError

    def _unsupported(self, name: str) -> GuestFSError:
        return GuestFSError(f"{name}: not supported by pyguestfs", "ENOTSUP")
'''


_ASYNC_HEADER = '''# ruff: noqa: E501  (generated: one line a call, never reformatted)
"""Every API of libguestfs 1.48 as a typed coroutine: GENERATED by
``python -m pyguestfs.host.codegen`` from the procedure table. Do not edit.

:class:`AsyncCalls` is the base of :class:`~pyguestfs.host.aio.AsyncGuestFS`: each
coroutine makes the same call on the handle's :class:`~pyguestfs.host.handle.GuestFS`
(``self.handle``), in the thread that the async handle keeps for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from .calls import (  # the hashtable type, and the struct TypedDicts of results
    _H,
{structs}
)
from .handle import GuestFS

_T = TypeVar("_T")


class AsyncCalls(Generic[_H]):
    """The coroutines of every libguestfs 1.48 API, with their types."""

    handle: GuestFS[_H]

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        raise NotImplementedError
'''


def _apis() -> list[Procedure | LibraryAction]:
    apis: list[Procedure | LibraryAction] = [p for p in PROCEDURES if not p.internal]
    apis += [a for a in LIBRARY_ACTIONS if not a.internal]
    return sorted(apis, key=lambda a: a.name)


def render_async() -> str:
    """The whole source of ``host/async_calls.py``."""
    used = {api.ret_struct for api in _apis() if api.ret_struct is not None}
    names = sorted([*(struct_class(name) for name in used), "StrPath"])
    structs = "\n".join(f"    {name}," for name in names)
    parts = [_ASYNC_HEADER.replace("{structs}", structs)]
    for api in _apis():
        parts.append("\n" + _async_method(api))
        for alias in api.aliases:
            parts.append(f"\n    {alias} = {api.name}\n")
    return "".join(parts)


def render() -> str:
    """The whole source of ``host/calls.py``."""
    parts = [_HEADER, _struct_defs(), "\n\n\n", _BASE]
    for api in _apis():
        if isinstance(api, Procedure):
            parts.append("\n" + _daemon_method(api))
        else:
            parts.append("\n" + _library_method(api))
        for alias in api.aliases:
            parts.append(f"\n    {alias} = {api.name}\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    opts = parser.parse_args(argv)
    stale = 0
    for target, source in ((TARGET, render()), (ASYNC_TARGET, render_async())):
        if not opts.check:
            target.write_text(source)
        elif (target.read_text() if target.exists() else "") != source:
            print(f"{target.name} is stale: run python -m pyguestfs.host.codegen", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main())
