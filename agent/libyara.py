"""A small ctypes binding of the system's libyara (``libyara.so.9``, YARA 4.2), the
library guestfsd 1.48 links for ``yara_load`` and ``internal_yara_scan``.

Only what those two need: initialise once, load compiled rules or compile source rules,
scan an open file descriptor and report the identifier of each matching rule. The
numbers and the one struct offset below are libyara 4.2's (``yara/error.h``,
``yara/types.h``, ``yara/rules.h``, ``yara/compiler.h``), checked against the headers of
the libyara-dev that matches Debian 12's libyara9.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from ctypes import CFUNCTYPE, POINTER, byref, c_char_p, c_int, c_void_p

from .guest import declare_functions, load_library

SONAME = "libyara.so.9"

#: Return codes (yara/error.h).
ERROR_SUCCESS = 0
ERROR_INSUFFICIENT_MEMORY = 1  # spelt ERROR_INSUFICIENT_MEMORY by libyara
ERROR_COULD_NOT_OPEN_FILE = 3
ERROR_INVALID_FILE = 6

#: Scan callback messages and answers (yara/types.h).
CALLBACK_MSG_RULE_MATCHING = 1
CALLBACK_CONTINUE = 0
CALLBACK_ERROR = 2

#: Compiler message levels (yara/compiler.h).
YARA_ERROR_LEVEL_ERROR = 0

#: Offset of ``identifier`` in ``YR_RULE``: after ``int32_t flags`` and ``int32_t
#: num_atoms``; it is a union of the pointer with an 8-byte arena reference.
_RULE_IDENTIFIER_OFFSET = 8

#: int callback(YR_SCAN_CONTEXT*, int message, void* message_data, void* user_data)
_SCAN_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_int, c_void_p, c_void_p)
#: void callback(int level, const char* file, int line, const YR_RULE*, const char*
#: message, void* user_data)
_COMPILER_CALLBACK = CFUNCTYPE(None, c_int, c_char_p, c_int, c_void_p, c_char_p, c_void_p)


class YaraUnavailable(Exception):
    """The library cannot be loaded (not installed in the appliance)."""


class YaraError(Exception):
    """A libyara call that failed; ``code`` is its ``ERROR_*`` number."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class YaraCompileError(YaraError):
    """Rule source that does not compile; ``code`` is the number of errors."""


_lib: ctypes.CDLL | None = None
_initialized = False


def _load() -> ctypes.CDLL:
    global _lib
    if _lib is not None:
        return _lib
    lib = load_library(SONAME)
    if lib is None:
        raise YaraUnavailable(f"{SONAME}: cannot be loaded")
    p = c_void_p
    sigs: dict[str, tuple[object, list[object]]] = {
        "yr_initialize": (c_int, []),
        "yr_rules_load": (c_int, [c_char_p, POINTER(p)]),
        "yr_rules_destroy": (c_int, [p]),
        "yr_rules_scan_fd": (c_int, [p, c_int, c_int, _SCAN_CALLBACK, p, c_int]),
        "yr_compiler_create": (c_int, [POINTER(p)]),
        "yr_compiler_destroy": (None, [p]),
        "yr_compiler_set_callback": (None, [p, _COMPILER_CALLBACK, p]),
        "yr_compiler_add_fd": (c_int, [p, c_int, c_char_p, c_char_p]),
        "yr_compiler_get_rules": (c_int, [p, POINTER(p)]),
    }
    declare_functions(lib, sigs)
    _lib = lib
    return lib


def available() -> bool:
    """Whether libyara can be loaded here (the ``libyara`` feature group)."""
    try:
        _load()
    except YaraUnavailable:
        return False
    return True


def initialize() -> None:
    """``yr_initialize`` once per process, as guestfsd does on its first load."""
    global _initialized
    if _initialized:
        return
    if _load().yr_initialize() != ERROR_SUCCESS:
        raise YaraError(-1, "failed initializing yara")
    _initialized = True


class Rules:
    """A set of loaded rules (``YR_RULES *``); :meth:`destroy` frees it."""

    def __init__(self, handle: int) -> None:
        self._handle: int | None = handle

    @classmethod
    def load_compiled(cls, path: str) -> Rules:
        """``yr_rules_load``: rules saved by ``yarac``. Raises YaraError with
        ERROR_INVALID_FILE when the file is not compiled rules (source, say)."""
        out = c_void_p()
        r = _load().yr_rules_load(path.encode("utf-8", "surrogateescape"), byref(out))
        if r != ERROR_SUCCESS or not out.value:
            raise YaraError(r, f"yr_rules_load: error {r}")
        return cls(out.value)

    @classmethod
    def compile_source(cls, fd: int, on_error: Callable[[int, str], None]) -> Rules:
        """Compile the rule source read from ``fd``. ``on_error(line, message)`` gets
        each compiler error; raises YaraCompileError when the source has errors, and
        YaraError with libyara's ``ERROR_*`` code when creating or finishing fails."""
        lib = _load()
        compiler = c_void_p()
        r = lib.yr_compiler_create(byref(compiler))
        if r != ERROR_SUCCESS:
            raise YaraError(r, "yr_compiler_create")

        def report(
            level: int,
            _file: bytes | None,
            line: int,
            _rule: int | None,
            message: bytes | None,
            _data: int | None,
        ) -> None:
            if level == YARA_ERROR_LEVEL_ERROR:
                on_error(line, (message or b"").decode("utf-8", "replace"))

        callback = _COMPILER_CALLBACK(report)  # kept alive until the compiler goes
        try:
            lib.yr_compiler_set_callback(compiler, callback, None)
            errors = lib.yr_compiler_add_fd(compiler, fd, None, None)
            if errors > 0:
                raise YaraCompileError(errors, f"found {errors} errors when compiling the rules")
            out = c_void_p()
            r = lib.yr_compiler_get_rules(compiler, byref(out))
            if r != ERROR_SUCCESS or not out.value:
                raise YaraError(r, "yr_compiler_get_rules")
            return cls(out.value)
        finally:
            lib.yr_compiler_destroy(compiler)

    def scan_fd(self, fd: int, on_match: Callable[[bytes], None]) -> int:
        """Scan the file open as ``fd``; ``on_match(identifier)`` for each matching rule.
        Returns libyara's code (ERROR_SUCCESS, or the error that stopped the scan; an
        exception from ``on_match`` stops it and is raised again here)."""
        assert self._handle is not None, "rules used after destroy"
        failure: list[BaseException] = []

        def callback(_ctx: int | None, message: int, data: int | None, _user: int | None) -> int:
            if message != CALLBACK_MSG_RULE_MATCHING or not data:
                return CALLBACK_CONTINUE
            try:
                ident = c_char_p.from_address(data + _RULE_IDENTIFIER_OFFSET).value or b""
                on_match(ident)
            except BaseException as e:  # an exception cannot cross the C frames
                failure.append(e)
                return CALLBACK_ERROR
            return CALLBACK_CONTINUE

        r = int(_load().yr_rules_scan_fd(self._handle, fd, 0, _SCAN_CALLBACK(callback), None, 0))
        if failure:
            raise failure[0]
        return r

    def destroy(self) -> None:
        """``yr_rules_destroy``; a second call does nothing."""
        if self._handle is not None:
            _load().yr_rules_destroy(self._handle)
            self._handle = None
