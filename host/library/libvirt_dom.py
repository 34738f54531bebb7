"""Adding a libvirt domain's disks (1.48's ``lib/libvirt-domain.c``, ``libvirt-auth.c``)
through libvirt's Python binding (``pip install pyguestfs[libvirt]``; it links the
system's libvirt, so Debian's ``libvirt-dev`` is needed to build it).

``add_domain`` connects to ``libvirturi`` (libvirt's default when None; ``test:///FILE``
is libvirt's own test driver, which the tests use), finds the domain by name (or UUID
with ``allowuuid``) and hands it to ``add_libvirt_dom``, which reads the domain XML's
``<disk>`` elements: ``type="file"`` (``source/@file``), ``"block"`` (``source/@dev``),
``"network"`` (``source/@protocol``, ``@name``, ``<host>``s) and ``"volume"`` (a pool's
volume, resolved through libvirt); ``driver/@type`` is the format, ``<readonly/>``
follows ``readonlydisk``; the disks are added all or none. A running domain's disks
may only be added read-only.

The domain XML is parsed with :mod:`xml.etree.ElementTree`, which resolves no external
entities and fetches nothing, so a hostile domain definition cannot reach the network
or the host's files through the parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..calls import _H
from ..errors import GuestFSError
from ..events import EVENT_LIBVIRT_AUTH
from .base import HandleBase

_READONLYDISK = ("error", "read", "write", "ignore")
#: libvirt's credential types (virConnectCredentialType), by the names 1.48 uses.
CREDENTIALS = {
    "username": 1,
    "authname": 2,
    "language": 3,
    "cnonce": 4,
    "passphrase": 5,
    "echoprompt": 6,
    "noechoprompt": 7,
    "realm": 8,
    "external": 9,
}


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError:
        raise GuestFSError(
            "libvirt's Python binding is not installed (pip install pyguestfs[libvirt])",
            "ENOTSUP",
        ) from None
    return libvirt


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless an error handler is set."""


@dataclass
class DiskSpec:
    """One ``<disk>`` of a domain, as add_drive takes it."""

    filename: str
    format: str | None = None
    readonly_in_xml: bool = False
    protocol: str | None = None
    server: list[str] = field(default_factory=list)
    username: str | None = None
    blocksize: int = 0


def domain_disks(xml: str, conn: Any = None) -> list[DiskSpec]:
    """The disks of a domain XML, in order (1.48's for_each_disk). A disk of an unknown
    type, or without a source, is skipped; ``volume`` disks need ``conn``."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise GuestFSError(f"unable to parse XML information returned by libvirt: {e}") from None
    disks: list[DiskSpec] = []
    for disk in root.iterfind(".//devices/disk"):
        kind = disk.get("type")
        source = disk.find("source")
        spec: DiskSpec | None = None
        if kind == "file" and source is not None and source.get("file") is not None:
            spec = DiskSpec(filename=source.get("file", ""))
        elif kind == "block" and source is not None and source.get("dev") is not None:
            spec = DiskSpec(filename=source.get("dev", ""))
        elif kind == "network" and source is not None and source.get("protocol"):
            hosts = [
                f"{h.get('name')}:{h.get('port')}" if h.get("port") else str(h.get("name"))
                for h in source.iterfind("host")
                if h.get("name")
            ]
            if source.get("protocol") == "nbd":
                sock = [h.get("socket") for h in source.iterfind("host") if h.get("socket")]
                hosts += [f"unix:{s}" for s in sock]
            auth = disk.find("auth")
            spec = DiskSpec(
                filename=source.get("name", ""),
                protocol=source.get("protocol"),
                server=hosts,
                username=auth.get("username") if auth is not None else None,
            )
        elif kind == "volume" and source is not None and source.get("pool") and conn:
            try:
                pool = conn.storagePoolLookupByName(source.get("pool"))
                vol = pool.storageVolLookupByName(source.get("volume"))
                spec = DiskSpec(filename=vol.path())
            except Exception:
                continue  # 1.48 skips a volume it cannot resolve
        if spec is None:
            continue
        driver = disk.find("driver")
        if driver is not None and driver.get("type"):
            spec.format = driver.get("type")
        spec.readonly_in_xml = disk.find("readonly") is not None
        blockio = disk.find("blockio")
        if blockio is not None and (blockio.get("logical_block_size") or "").isdigit():
            spec.blocksize = int(blockio.get("logical_block_size", "0"))
        disks.append(spec)
    return disks


class LibvirtDomains(HandleBase[_H]):
    """``add_domain``, ``add_libvirt_dom`` and the libvirt credential calls."""

    #: Credential types the program answers (set_libvirt_supported_credentials).
    _libvirt_creds: list[str]
    #: The credentials libvirt asks for during an EVENT_LIBVIRT_AUTH callback.
    _libvirt_requested: list[list[Any]] | None

    def add_domain(
        self,
        dom: str,
        libvirturi: str | None = None,
        readonly: bool | None = None,
        iface: str | None = None,
        live: bool | None = None,
        allowuuid: bool | None = None,
        readonlydisk: str | None = None,
        cachemode: str | None = None,
        discard: str | None = None,
        copyonread: bool | None = None,
    ) -> int:
        """Add the disks of the libvirt domain named ``dom``; returns how many."""
        self._require_config("add_domain")
        if live:
            raise GuestFSError("libguestfs live support was removed in libguestfs 1.48")
        libvirt = _libvirt()
        conn = self._open_libvirt(libvirt, libvirturi)
        try:
            domain = None
            if allowuuid:
                try:
                    domain = conn.lookupByUUIDString(dom)
                except libvirt.libvirtError:
                    domain = None
            if domain is None:
                try:
                    domain = conn.lookupByName(dom)
                except libvirt.libvirtError as e:
                    raise GuestFSError(
                        f"no libvirt domain called ‘{dom}’: {e.get_error_message()}"
                    ) from None
            return self.add_libvirt_dom(
                domain,
                readonly=readonly,
                iface=iface,
                readonlydisk=readonlydisk,
                cachemode=cachemode,
                discard=discard,
                copyonread=copyonread,
            )
        finally:
            conn.close()

    def add_libvirt_dom(
        self,
        dom: Any,
        readonly: bool | None = None,
        iface: str | None = None,
        live: bool | None = None,
        readonlydisk: str | None = None,
        cachemode: str | None = None,
        discard: str | None = None,
        copyonread: bool | None = None,
    ) -> int:
        """Add the disks of a ``libvirt.virDomain``; returns how many were added."""
        self._require_config("add_libvirt_dom")
        libvirt = _libvirt()
        mode = readonlydisk or "write"
        if mode not in _READONLYDISK:
            raise GuestFSError("unknown readonlydisk parameter")
        if live:
            raise GuestFSError("libguestfs live support was removed in libguestfs 1.48")
        if not isinstance(dom, libvirt.virDomain):
            raise TypeError("add_libvirt_dom: dom must be a libvirt.virDomain")
        try:
            if not readonly and dom.info()[0] != libvirt.VIR_DOMAIN_SHUTOFF:
                raise GuestFSError(
                    "error: domain is a live virtual machine.\n"
                    "Writing to the disks of a running virtual machine can cause disk "
                    "corruption.\nUse read-only access.  In most libguestfs tools use --ro."
                )
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as e:
            raise GuestFSError(f"error getting domain info: {e.get_error_message()}") from None
        disks = domain_disks(xml, dom.connect())
        if not disks:
            raise GuestFSError("libvirt domain has no disks")
        # All or none: drives added before a failing one are taken back (1.48's
        # checkpoint/rollback around the loop).
        checkpoint = len(self._drives), len(self._drive_strings)
        added = 0
        try:
            for d in disks:
                ro = bool(readonly)
                added += 1  # 1.48 counts a disk skipped by readonlydisk="ignore" too
                if d.readonly_in_xml:
                    if mode == "ignore":
                        continue
                    if not readonly and mode == "error":
                        raise GuestFSError(
                            f"{d.filename}: disk is marked <readonly/> in libvirt XML, and "
                            'readonlydisk was set to "error"'
                        )
                    ro = bool(readonly) or mode == "read"
                self.add_drive(
                    d.filename,
                    readonly=ro,
                    format=d.format,
                    iface=iface,
                    protocol=d.protocol,
                    server=d.server or None,
                    username=d.username,
                    cachemode=cachemode,
                    discard=discard,
                    copyonread=copyonread,
                    blocksize=d.blocksize or None,
                )
        except BaseException:
            del self._drives[checkpoint[0] :]
            del self._drive_strings[checkpoint[1] :]
            raise
        return added

    # -- connecting, with 1.48's credential events -------------------------------------------
    def _open_libvirt(self, libvirt: Any, uri: str | None) -> Any:
        libvirt.registerErrorHandler(_quiet, None)
        wanted = [CREDENTIALS[c] for c in self._libvirt_creds_list()]
        try:
            if wanted:
                return libvirt.openAuth(uri, [wanted, self._libvirt_auth, None], 0)
            return libvirt.open(uri)
        except libvirt.libvirtError as e:
            raise GuestFSError(
                f"could not connect to libvirt (code {e.get_error_code()}, domain "
                f"{e.get_error_domain()}): {e.get_error_message()}"
            ) from None

    def _libvirt_creds_list(self) -> list[str]:
        return list(self._libvirt_creds)

    def _libvirt_auth(self, creds: list[list[Any]], _data: object) -> int:
        """libvirt's auth callback: expose the requests through the get_libvirt_requested_*
        calls during EVENT_LIBVIRT_AUTH, as 1.48 does, and hand back the answers."""
        self._libvirt_requested = creds
        try:
            self._events.fire(EVENT_LIBVIRT_AUTH, b"")
        finally:
            self._libvirt_requested = None
        return 0

    def set_libvirt_supported_credentials(self, creds: Sequence[str]) -> None:
        """The credential types the program answers in its EVENT_LIBVIRT_AUTH callback."""
        for c in creds:
            if c not in CREDENTIALS:
                raise GuestFSError(f"unknown credential type ‘{c}’")
        self._libvirt_creds = list(creds)

    def _requested(self) -> list[list[Any]]:
        req = self._libvirt_requested
        if req is None:
            raise GuestFSError(
                "no libvirt credentials have been requested (only call this from the "
                "EVENT_LIBVIRT_AUTH callback)"
            )
        return req

    def _one(self, index: int) -> list[Any]:
        req = self._requested()
        if not 0 <= index < len(req):
            raise GuestFSError("credential index out of range")
        return req[index]

    def get_libvirt_requested_credentials(self) -> list[str]:
        names = {v: k for k, v in CREDENTIALS.items()}
        return [names.get(c[0], str(c[0])) for c in self._requested()]

    def get_libvirt_requested_credential_prompt(self, index: int) -> str:
        return str(self._one(index)[1] or "")

    def get_libvirt_requested_credential_challenge(self, index: int) -> str:
        return str(self._one(index)[2] or "")

    def get_libvirt_requested_credential_defresult(self, index: int) -> str:
        return str(self._one(index)[3] or "")

    def set_libvirt_requested_credential(self, index: int, cred: bytes) -> None:
        self._one(index)[4] = cred.decode("utf-8", "surrogateescape")
