"""Image archives without an engine: write an OCI image layout tarball of one layer, and
read one back (or a ``docker save`` tarball), checking every digest on the way.

The archive written here is both an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/…``) and a ``docker save`` archive (``manifest.json`` naming the same
blobs), so ``docker load`` of any engine version, ``skopeo copy oci-archive:…`` and the
reader below all accept it. The layer is an uncompressed tar: the only big file in it
is already compressed, and an uncompressed layer's digest is also its diff_id.

Nothing read from an archive is trusted before its digest is checked: the manifest and
config against the digests that name them, the layer while it streams (the caller
discards what it unpacked when :meth:`ArchiveImage.open_layer`'s reader reports a
mismatch at the end).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import BuildError

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
#: The annotation OCI layouts use for a tag.
REF_NAME = "org.opencontainers.image.ref.name"

_CHUNK = 1 << 20


class CorruptImage(BuildError):
    """An archive or layer that fails a digest, a size or its structure."""


def sha256_file(path: Path) -> tuple[str, int]:
    """``sha256:<hex>`` and the size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return f"sha256:{h.hexdigest()}", size


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def split_ref(ref: str) -> tuple[str, str | None]:
    """``("registry:5000/name", "tag")`` from ``registry:5000/name:tag``; the tag is None
    when the reference has none (a colon before the last ``/`` is a port)."""
    head, sep, tail = ref.rpartition(":")
    if sep and "/" not in tail and head:
        return head, tail
    return ref, None


def write_archive(
    out: Path,
    layer: Path,
    labels: dict[str, str],
    refs: list[str],
    created: str | None = None,
) -> str:
    """Write ``out`` (atomically: a temporary file beside it, then rename) holding the
    one-layer image with these labels, tagged ``refs`` (full ``repo:tag`` names; the
    OCI index annotates each with its tag). Returns the manifest digest."""
    layer_digest, layer_size = sha256_file(layer)
    created = created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = _json_bytes(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Labels": dict(labels)},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created": created, "created_by": "guestfs-build-appliance"}],
        }
    )
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}],
        }
    )
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    descriptors = []
    for ref in refs or [""]:
        d: dict[str, Any] = {
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest),
        }
        tag = split_ref(ref)[1] if ref else None
        if tag:
            d["annotations"] = {REF_NAME: tag, "io.containerd.image.name": ref}
        descriptors.append(d)
    index = _json_bytes({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": descriptors})
    blob = "blobs/sha256/"
    docker_manifest = _json_bytes(
        [
            {
                "Config": blob + config_digest[7:],
                "RepoTags": [r for r in refs if split_ref(r)[1]],
                "Layers": [blob + layer_digest[7:]],
            }
        ]
    )
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
            _add_bytes(tar, "index.json", index)
            _add_bytes(tar, "manifest.json", docker_manifest)
            for dirname in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(dirname)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            _add_bytes(tar, blob + manifest_digest[7:], manifest)
            _add_bytes(tar, blob + config_digest[7:], config)
            info = tarfile.TarInfo(blob + layer_digest[7:])
            info.size, info.mode = layer_size, 0o644
            with open(layer, "rb") as f:
                tar.addfile(info, f)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return manifest_digest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass
class ArchiveImage:
    """One image found in an archive: its labels and a way to read its layer."""

    path: Path
    labels: dict[str, str]
    ref: str | None
    layer_name: str
    layer_digest: str
    layer_gzip: bool
    _tar: tarfile.TarFile

    @contextmanager
    def open_layer(self) -> Iterator[DigestReader]:
        """The layer's (uncompressed) tar bytes as a stream. Call ``verify()`` on the
        reader once everything was read: it raises :class:`CorruptImage` on a digest
        or size mismatch."""
        try:
            member = self._tar.getmember(self.layer_name)
        except KeyError:
            raise CorruptImage(
                f"{self.path}: the layer {self.layer_name} is missing", _TRUNCATED_HINT
            ) from None
        raw = self._tar.extractfile(member)
        if raw is None:
            raise CorruptImage(f"{self.path}: the layer {self.layer_name} is not a file")
        reader = DigestReader(raw, self.layer_digest, member.size, str(self.path))
        try:
            if self.layer_gzip:
                # The digest covers the compressed bytes, so it is checked under gzip.
                with gzip.GzipFile(fileobj=reader, mode="rb") as unzipped:
                    yield _Verifying(unzipped, reader)  # type: ignore[misc]  # same read/verify
            else:
                yield reader
        except (OSError, EOFError, tarfile.TarError) as e:
            raise CorruptImage(
                f"{self.path}: the layer cannot be read ({e})", _TRUNCATED_HINT
            ) from None


_TRUNCATED_HINT = "the archive is corrupt or truncated: write or download it again"


class DigestReader(io.RawIOBase):
    """A read-only stream that hashes what passes through it."""

    def __init__(self, raw: IO[bytes], digest: str, size: int, where: str) -> None:
        self.raw, self.expected, self.size, self.where = raw, digest, size, where
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def verify(self) -> None:
        """Drain what is left, then compare the size and the digest."""
        while self.read(_CHUNK):
            pass
        got = "sha256:" + self.hash.hexdigest()
        if self.count != self.size or got != self.expected:
            raise CorruptImage(
                f"{self.where}: the layer is corrupt: its digest is {got[:19]}… "
                f"({self.count} bytes), the image says {self.expected[:19]}… ({self.size} bytes)",
                "the image was damaged in storage or transit: export it again",
            )


class _Verifying(io.RawIOBase):
    def __init__(self, inner: gzip.GzipFile, outer: DigestReader) -> None:
        self.inner, self.outer = inner, outer

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(size)

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        b[: len(data)] = data
        return len(data)

    def verify(self) -> None:
        while self.inner.read(_CHUNK):
            pass
        self.outer.verify()


@contextmanager
def open_archive(path: Path, want_ref: str | None = None) -> Iterator[ArchiveImage]:
    """Open an OCI image layout tarball or a ``docker save`` tarball holding one image
    (the one tagged ``want_ref``'s tag if several are listed) and check its manifest and
    config digests. Raises :class:`CorruptImage` for anything malformed."""
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        raise BuildError(
            f"{path}: no such archive", "check the --cache-from-archive path"
        ) from None
    except (OSError, tarfile.TarError) as e:
        raise CorruptImage(f"{path}: not a readable image archive ({e})", _TRUNCATED_HINT) from None
    try:
        names = set(tar.getnames())
        if "index.json" in names:
            image = _open_oci(tar, path, names, want_ref)
        elif "manifest.json" in names:
            image = _open_docker(tar, path, want_ref)
        else:
            raise CorruptImage(
                f"{path}: neither an OCI image layout (index.json) nor a docker archive "
                "(manifest.json)",
                _TRUNCATED_HINT,
            )
        yield image
    except (OSError, EOFError, tarfile.TarError) as e:
        raise CorruptImage(f"{path}: the archive cannot be read ({e})", _TRUNCATED_HINT) from None
    finally:
        tar.close()


def _read_member(tar: tarfile.TarFile, path: Path, name: str, limit: int = 16 << 20) -> bytes:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise CorruptImage(f"{path}: {name} is missing from the archive", _TRUNCATED_HINT) from None
    f = tar.extractfile(member)
    if f is None or member.size > limit:
        raise CorruptImage(f"{path}: {name} is not a small regular file")
    data = f.read()
    if len(data) != member.size:
        raise CorruptImage(f"{path}: {name} is truncated", _TRUNCATED_HINT)
    return data


def _read_blob(tar: tarfile.TarFile, path: Path, digest: str) -> Any:
    if not digest.startswith("sha256:"):
        raise CorruptImage(f"{path}: unsupported digest {digest}")
    data = _read_member(tar, path, f"blobs/sha256/{digest[7:]}")
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise CorruptImage(
            f"{path}: blob {digest[:19]}… does not match its digest", _TRUNCATED_HINT
        )
    return _parse_json(data, path, digest)


def _parse_json(data: bytes, path: Path, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise CorruptImage(f"{path}: {what} is not valid JSON", _TRUNCATED_HINT) from None


def _labels(config: Any) -> dict[str, str]:
    labels = ((config or {}).get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def _open_oci(
    tar: tarfile.TarFile, path: Path, names: set[str], want_ref: str | None
) -> ArchiveImage:
    index = _parse_json(_read_member(tar, path, "index.json"), path, "index.json")
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    if not manifests:
        raise CorruptImage(f"{path}: index.json lists no image")
    chosen = manifests[0]
    want_tag = split_ref(want_ref)[1] if want_ref else None
    if want_tag:
        tagged = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) == want_tag]
        if tagged:
            chosen = tagged[0]
    manifest = _read_blob(tar, path, str(chosen.get("digest", "")))
    if manifest.get("mediaType", MEDIA_MANIFEST) != MEDIA_MANIFEST and "layers" not in manifest:
        raise CorruptImage(f"{path}: {manifest.get('mediaType')} is not an image manifest")
    config = _read_blob(tar, path, manifest["config"]["digest"])
    layers = manifest.get("layers") or []
    if len(layers) != 1:
        raise CorruptImage(f"{path}: expected one layer, the image has {len(layers)}")
    layer = layers[0]
    digest = str(layer["digest"])
    return ArchiveImage(
        path=path,
        labels=_labels(config),
        ref=(chosen.get("annotations") or {}).get(REF_NAME),
        layer_name=f"blobs/sha256/{digest.removeprefix('sha256:')}",
        layer_digest=digest,
        layer_gzip=str(layer.get("mediaType", "")).endswith("gzip"),
        _tar=tar,
    )


def _open_docker(tar: tarfile.TarFile, path: Path, want_ref: str | None) -> ArchiveImage:
    entries = _parse_json(_read_member(tar, path, "manifest.json"), path, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise CorruptImage(f"{path}: manifest.json lists no image")
    chosen = entries[0]
    if want_ref:
        tagged = [e for e in entries if want_ref in (e.get("RepoTags") or [])]
        chosen = tagged[0] if tagged else chosen
    config_name = str(chosen["Config"])
    config_bytes = _read_member(tar, path, config_name)
    # docker save names the config by its digest: check it when it does.
    stem = Path(config_name).name.removesuffix(".json")
    if len(stem) == 64 and "sha256:" + hashlib.sha256(config_bytes).hexdigest() != "sha256:" + stem:
        raise CorruptImage(f"{path}: the image config does not match its digest", _TRUNCATED_HINT)
    config = _parse_json(config_bytes, path, config_name)
    layers = chosen.get("Layers") or []
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(layers) != 1 or len(diff_ids) != 1:
        raise CorruptImage(f"{path}: expected one layer, the image has {len(layers)}")
    tags = chosen.get("RepoTags") or []
    return ArchiveImage(
        path=path,
        labels=_labels(config),
        ref=split_ref(tags[0])[1] if tags else None,
        layer_name=str(layers[0]),
        layer_digest=str(diff_ids[0]),
        layer_gzip=False,
        _tar=tar,
    )
