"""A small ctypes binding of the system's libaugeas (``libaugeas.so.0``).

guestfsd links libaugeas and keeps one handle per daemon; the agent does the same
through ctypes, so the frozen agent needs no compiled extension, only the library and
its lenses (``/usr/share/augeas/lenses``) in the appliance. Every call returns what
the C function returns; a failure raises :class:`AugeasError` carrying Augeas's own
error code, message, minor message and details, which the ``aug_*`` procedures put
into guestfsd's error texts.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_char_p, c_int, c_uint, c_void_p

from .guest import declare_functions

SONAME = "libaugeas.so.0"

#: Flags of aug_init (augeas.h).
AUG_SAVE_BACKUP = 1 << 0
AUG_SAVE_NEWFILE = 1 << 1
AUG_TYPE_CHECK = 1 << 2
AUG_NO_STDINC = 1 << 3
AUG_SAVE_NOOP = 1 << 4
AUG_NO_LOAD = 1 << 5
AUG_NO_MODL_AUTOLOAD = 1 << 6
AUG_ENABLE_SPAN = 1 << 7
AUG_NO_ERR_CLOSE = 1 << 8
AUG_TRACE_MODULE_LOADING = 1 << 9

#: aug_error codes that matter here.
AUG_NOERROR = 0
AUG_ENOMEM = 1
#: Our code for an aug_init that returned no handle at all.
INIT_FAILED = -1


class AugeasUnavailable(Exception):
    """The library cannot be loaded (not installed in the appliance)."""


class AugeasError(Exception):
    """A failed Augeas call, with Augeas's own description of what went wrong."""

    def __init__(
        self, code: int, message: str, minor: str | None = None, details: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.minor = minor
        self.details = details

    def describe(self) -> str:
        """``message[: minor][: details]``, as guestfsd's AUGEAS_ERROR words it."""
        text = self.message
        if self.minor:
            text += f": {self.minor}"
        if self.details:
            text += f": {self.details}"
        return text


_lib: ctypes.CDLL | None = None
_libc: ctypes.CDLL | None = None


def _load() -> ctypes.CDLL:
    global _lib, _libc
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL(SONAME)
    except OSError as e:
        raise AugeasUnavailable(f"{SONAME}: {e}") from None
    p = c_void_p
    sigs: dict[str, tuple[object, list[object]]] = {
        "aug_init": (p, [c_char_p, c_char_p, c_uint]),
        "aug_close": (None, [p]),
        "aug_error": (c_int, [p]),
        "aug_error_message": (c_char_p, [p]),
        "aug_error_minor_message": (c_char_p, [p]),
        "aug_error_details": (c_char_p, [p]),
        "aug_defvar": (c_int, [p, c_char_p, c_char_p]),
        "aug_defnode": (c_int, [p, c_char_p, c_char_p, c_char_p, POINTER(c_int)]),
        "aug_get": (c_int, [p, c_char_p, POINTER(c_char_p)]),
        "aug_label": (c_int, [p, c_char_p, POINTER(c_char_p)]),
        "aug_set": (c_int, [p, c_char_p, c_char_p]),
        "aug_setm": (c_int, [p, c_char_p, c_char_p, c_char_p]),
        "aug_insert": (c_int, [p, c_char_p, c_char_p, c_int]),
        "aug_rm": (c_int, [p, c_char_p]),
        "aug_mv": (c_int, [p, c_char_p, c_char_p]),
        "aug_match": (c_int, [p, c_char_p, POINTER(POINTER(c_void_p))]),
        "aug_save": (c_int, [p]),
        "aug_load": (c_int, [p]),
        "aug_transform": (c_int, [p, c_char_p, c_char_p, c_int]),
    }
    declare_functions(lib, sigs)
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [c_void_p]
    libc.free.restype = None
    _lib, _libc = lib, libc
    return lib


def available() -> bool:
    """Whether libaugeas can be loaded here (the ``augeas`` feature group)."""
    try:
        _load()
    except AugeasUnavailable:
        return False
    return True


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogateescape")


def _s(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


class Augeas:
    """One Augeas handle (``augeas *``)."""

    def __init__(self, root: str, loadpath: str | None, flags: int) -> None:
        lib = _load()
        self._lib = lib
        # AUG_NO_ERR_CLOSE: on an initialisation error the handle stays open so that its
        # error details can be read (guestfsd passes it for the same reason).
        handle = lib.aug_init(_b(root), _b(loadpath), flags | AUG_NO_ERR_CLOSE)
        if not handle:
            raise AugeasError(INIT_FAILED, "augeas initialization failed")
        self._h: int | None = handle
        if lib.aug_error(handle) != AUG_NOERROR:
            err = self.error()
            self.close()
            raise err

    @property
    def handle(self) -> int:
        if self._h is None:
            raise ValueError("the Augeas handle is closed")
        return self._h

    def close(self) -> None:
        if self._h is not None:
            self._lib.aug_close(self._h)
            self._h = None

    def error(self) -> AugeasError:
        """The handle's current error."""
        h = self.handle
        lib = self._lib
        return AugeasError(
            lib.aug_error(h),
            _s(lib.aug_error_message(h)) or "",
            _s(lib.aug_error_minor_message(h)),
            _s(lib.aug_error_details(h)),
        )

    def _check(self, r: int) -> int:
        if r < 0:
            raise self.error()
        return r

    def defvar(self, name: str, expr: str | None) -> int:
        return self._check(self._lib.aug_defvar(self.handle, _b(name), _b(expr)))

    def defnode(self, name: str, expr: str, value: str | None) -> tuple[int, bool]:
        created = c_int(0)
        r = self._check(
            self._lib.aug_defnode(self.handle, _b(name), _b(expr), _b(value), byref(created))
        )
        return r, bool(created.value)

    def get(self, path: str) -> tuple[int, str | None]:
        """(number of matches, value): the value only when exactly one node matches."""
        value = c_char_p()
        r = self._check(self._lib.aug_get(self.handle, _b(path), byref(value)))
        return r, _s(value.value) if r == 1 else None

    def label(self, path: str) -> tuple[int, str | None]:
        label = c_char_p()
        r = self._check(self._lib.aug_label(self.handle, _b(path), byref(label)))
        return r, _s(label.value)

    def set(self, path: str, value: str | None) -> None:
        self._check(self._lib.aug_set(self.handle, _b(path), _b(value)))

    def setm(self, base: str, sub: str | None, value: str | None) -> int:
        return self._check(self._lib.aug_setm(self.handle, _b(base), _b(sub), _b(value)))

    def insert(self, path: str, label: str, before: bool) -> None:
        self._check(self._lib.aug_insert(self.handle, _b(path), _b(label), int(before)))

    def rm(self, path: str) -> int:
        return self._check(self._lib.aug_rm(self.handle, _b(path)))

    def mv(self, src: str, dest: str) -> None:
        self._check(self._lib.aug_mv(self.handle, _b(src), _b(dest)))

    def match(self, path: str) -> list[str]:
        """The paths matching ``path``, in Augeas's order."""
        array = POINTER(c_void_p)()
        n = self._check(self._lib.aug_match(self.handle, _b(path), byref(array)))
        assert _libc is not None
        out: list[str] = []
        try:
            for i in range(n):
                item = array[i]
                out.append(_s(ctypes.string_at(item)) or "")
                _libc.free(item)
        finally:
            if array:
                _libc.free(ctypes.cast(array, c_void_p))
        return out

    def save(self) -> None:
        self._check(self._lib.aug_save(self.handle))

    def load(self) -> None:
        self._check(self._lib.aug_load(self.handle))

    def transform(self, lens: str, file: str, excl: bool) -> None:
        self._check(self._lib.aug_transform(self.handle, _b(lens), _b(file), int(excl)))
