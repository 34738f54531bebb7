"""Appliances as container images: export to an engine or an OCI archive, import into the
cache from a registry or an archive, keyed by the appliance's cache key.

The image has one layer, a directory ``pyguestfs-appliance/`` holding

    image.json     the format, the cache key, and the size and sha256 of every file
    manifest.json  the appliance's manifest (every input and the cache key)
    kernel initrd  as in the cache
    root.zst       the sparse ext2 root's data runs, compressed (root.gz where zstd is
                   missing); image.json lists the runs (offset, length). A plain stream
                   survives any transport that would fill a sparse file's holes, and is
                   unpacked back to a sparse file

and labels carrying the cache key (:data:`LABEL_KEY`) and the builder's version. Export
writes the layer once, wraps it in an OCI archive (:mod:`.oci`), and for an engine loads
that archive through the docker SDK, so both hold the same image. Import streams the
layer into a directory beside the cache entry, checks every checksum and that the
manifest is what this machine would build, and only then renames it into place: the
cache never holds half an import. An import that cannot be used is an :class:`ImportMiss`
(absent, another key, unreachable, corrupt) — the caller builds instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast

from .. import __version__
from ..core import runner
from ..core.settings import read_environment
from . import oci
from .errors import BuildError, tool_error

log = logging.getLogger(__name__)

#: Bump when the layer's layout changes; an importer refuses formats it does not know.
IMAGE_FORMAT = 1
LAYER_DIR = "pyguestfs-appliance"
LABEL_KEY = "org.pyguestfs.appliance.cache-key"
LABEL_BUILDER = "org.pyguestfs.appliance.builder-version"
LABEL_FORMAT = "org.pyguestfs.appliance.image-format"
#: Files copied as they are; the root is handled apart (compressed, sparse on import).
PLAIN_FILES = ("manifest.json", "kernel", "initrd")
#: The Docker engine asked when neither an argument nor DOCKER_HOST names one.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
ENGINE_HINT = (
    "start dockerd (or set DOCKER_HOST to an engine that runs); --oci-archive FILE needs no engine"
)
_CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ImportMiss(Exception):
    """The image cannot be used; ``reason`` says why in one line (the build goes on)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_tag(key: str) -> str:
    """The tag an image of this cache key gets besides the user's: the key itself."""
    return key


def image_labels(manifest: dict[str, Any]) -> dict[str, str]:
    return {
        LABEL_KEY: str(manifest["key"]),
        LABEL_BUILDER: __version__,
        LABEL_FORMAT: str(IMAGE_FORMAT),
        "org.opencontainers.image.title": "pyguestfs appliance",
        "org.opencontainers.image.version": __version__,
    }


# ---------------------------------------------------------------- the root, sparse-safe


def encoding_for_export() -> str:
    """zstd when its command is installed (several times faster), else gzip (zlib)."""
    return "zstd" if shutil.which("zstd") else "gzip"


def data_extents(path: Path) -> list[tuple[int, int]]:
    """The (offset, length) runs of a file that hold data, by SEEK_DATA/SEEK_HOLE: the
    4 GiB root has ~110 MB of them. Without hole support, the whole file is one run."""
    extents: list[tuple[int, int]] = []
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # ENXIO: only a hole is left
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, end - start))
            pos = end
    finally:
        os.close(fd)
    return extents


def compress_root(src: Path, out: Path, encoding: str) -> list[tuple[int, int]]:
    """Compress the data runs of the sparse image ``src``, one after the other, into one
    stream; return the runs. Holes never pass through the compressor (pushing 4 GiB of
    zeros through zstd took minutes on a loaded machine)."""
    extents = data_extents(src)
    fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if encoding == "zstd":
            # A filter fed from the image's data runs: the runner's wording, not its run().
            argv = ["zstd", "-q", "-f", "-3", "-T0", "-o", str(out)]
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            except FileNotFoundError:
                raise tool_error(runner.not_found_error(argv), "compressing the root") from None
            assert proc.stdin is not None and proc.stderr is not None
            try:
                for chunk in _read_extents(fd, extents):
                    proc.stdin.write(chunk)
            finally:
                proc.stdin.close()
            err = proc.stderr.read()
            if proc.wait() != 0:
                failed = runner.status_error(argv, proc.returncode, err)
                raise tool_error(failed, "compressing the root")
        elif encoding == "gzip":
            comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing: CRC32, length
            with open(out, "wb") as o:
                for chunk in _read_extents(fd, extents):
                    o.write(comp.compress(chunk))
                o.write(comp.flush())
        else:
            raise BuildError(f"unknown root encoding {encoding!r}")
    finally:
        os.close(fd)
    return extents


def _read_extents(fd: int, extents: list[tuple[int, int]]) -> Iterator[bytes]:
    for offset, length in extents:
        done = 0
        while done < length:
            chunk = os.pread(fd, min(_CHUNK, length - done), offset + done)
            if not chunk:
                raise BuildError("the root image shrank while it was being exported")
            yield chunk
            done += len(chunk)


def decompress_root(
    stream: Readable, out: Path, encoding: str, extents: list[Any], size: int
) -> None:
    """Unpack a stream written by :func:`compress_root` into a sparse file of ``size``
    bytes: each data run is written at its offset, everything else stays a hole."""
    runs = _checked_extents(extents, size)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.ftruncate(fd, size)
        writer = _ExtentWriter(fd, runs)
        if encoding == "zstd":
            _zstd_decompress(stream, writer)
        elif encoding == "gzip":
            d = zlib.decompressobj(31)
            try:
                while chunk := stream.read(_CHUNK):
                    writer.write(d.decompress(chunk))
                writer.write(d.flush())
            except zlib.error as e:
                raise ImportMiss(f"the compressed root is corrupt: {e}") from None
            if not d.eof:
                raise ImportMiss("the compressed root is truncated")
        else:
            raise ImportMiss(f"the root is stored as {encoding!r}, which this builder cannot read")
        writer.finish()
    finally:
        os.close(fd)


def _checked_extents(extents: list[Any], size: int) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    end = 0
    for e in extents:
        if (
            not isinstance(e, list | tuple)
            or len(e) != 2
            or not all(isinstance(v, int) for v in e)
            or e[0] < end
            or e[1] <= 0
            or e[0] + e[1] > size
        ):
            raise ImportMiss(f"image.json lists an invalid data run of the root: {e!r}")
        runs.append((e[0], e[1]))
        end = e[0] + e[1]
    return runs


class _ExtentWriter:
    """Writes a stream of concatenated runs at their offsets."""

    def __init__(self, fd: int, runs: list[tuple[int, int]]) -> None:
        self.fd, self.runs, self.index, self.done = fd, runs, 0, 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.index >= len(self.runs):
                raise ImportMiss("the compressed root holds more data than image.json lists")
            offset, length = self.runs[self.index]
            n = min(len(view), length - self.done)
            os.pwrite(self.fd, view[:n], offset + self.done)
            self.done += n
            view = view[n:]
            if self.done == length:
                self.index, self.done = self.index + 1, 0

    def finish(self) -> None:
        if self.index != len(self.runs):
            raise ImportMiss("the compressed root is truncated (data runs are missing)")


def _zstd_decompress(stream: Readable, writer: _ExtentWriter) -> None:
    """zstd -d as a filter: a thread feeds its stdin while this one reads its stdout."""
    if not shutil.which("zstd"):
        raise ImportMiss("the image's root is zstd-compressed and zstd is not installed")
    import threading

    argv = ["zstd", "-d", "-q", "-c"]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feed_error: list[BaseException] = []

    def feed() -> None:
        try:
            while chunk := stream.read(_CHUNK):
                proc.stdin.write(chunk)  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        except BaseException as e:
            feed_error.append(e)
        finally:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        while chunk := proc.stdout.read(_CHUNK):
            writer.write(chunk)
    finally:
        if proc.poll() is None and feed_error:
            proc.kill()
        proc.stdout.close()
        err = proc.stderr.read()
        rc = proc.wait()
        feeder.join()
    if feed_error:
        raise feed_error[0]
    if rc != 0:
        failed = runner.status_error(argv, rc, err)
        raise ImportMiss(f"the compressed root is corrupt: {failed.message}")


# ---------------------------------------------------------------- the layer


def make_layer(appliance: Path, work: Path, encoding: str | None = None) -> Path:
    """Write the layer tar of the appliance in ``appliance`` into ``work``."""
    manifest = _read_json(appliance / "manifest.json")
    if not manifest or "key" not in manifest:
        raise BuildError(f"{appliance} holds no built appliance (manifest.json is missing)")
    encoding = encoding or encoding_for_export()
    stored = "root.zst" if encoding == "zstd" else "root.gz"
    extents = compress_root(appliance / "root", work / stored, encoding)
    files: dict[str, dict[str, Any]] = {}
    for name in (*PLAIN_FILES, stored):
        digest, size = oci.sha256_file((work / stored) if name == stored else appliance / name)
        files[name] = {"sha256": digest, "size": size}
    files[stored]["encoding"] = encoding
    files[stored]["unpacks_to"] = "root"
    files[stored]["unpacked_size"] = (appliance / "root").stat().st_size
    files[stored]["extents"] = [list(e) for e in extents]
    index = {"format": IMAGE_FORMAT, "key": manifest["key"], "builder": __version__, "files": files}
    layer = work / "layer.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(LAYER_DIR)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        # image.json first: the importer streams the layer and needs the checksums early.
        data = json.dumps(index, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo(f"{LAYER_DIR}/image.json")
        info.size, info.mode = len(data), 0o644
        import io

        tar.addfile(info, io.BytesIO(data))
        for name in (*PLAIN_FILES, stored):
            src = work / stored if name == stored else appliance / name
            info = tarfile.TarInfo(f"{LAYER_DIR}/{name}")
            info.size, info.mode = src.stat().st_size, 0o644
            with open(src, "rb") as f:
                tar.addfile(info, f)
    (work / stored).unlink()
    return layer


@dataclass
class Exported:
    archive: Path | None
    refs: list[str]
    pushed: list[str]


def export(
    appliance: Path,
    *,
    archive: Path | None = None,
    image: str | None = None,
    push: bool = False,
    docker_host: str | None = None,
) -> Exported:
    """Export the cached appliance as an OCI archive and/or an engine image (tagged
    ``image`` and ``<repo>:<cache key>``), pushing the latter when asked."""
    manifest = _read_json(appliance / "manifest.json") or {}
    refs: list[str] = []
    if image:
        repo, tag = oci.split_ref(image)
        refs = [f"{repo}:{tag or 'latest'}", f"{repo}:{key_tag(str(manifest.get('key')))}"]
    with tempfile.TemporaryDirectory(prefix=".export.", dir=appliance.parent) as t:
        work = Path(t)
        layer = make_layer(appliance, work)
        labels = image_labels(manifest)
        out = archive or work / "image.tar"
        oci.write_archive(out, layer, labels, refs)
        layer.unlink()
        pushed: list[str] = []
        if image:
            client = engine(docker_host)
            _load(client, out, refs)
            if push:
                for ref in refs:
                    _push(client, ref)
                    pushed.append(ref)
    return Exported(archive, refs, pushed)


# ---------------------------------------------------------------- the engine


def engine(docker_host: str | None = None) -> Any:
    """A docker SDK client that answered a ping, or a BuildError saying why not."""
    try:
        import docker
    except ImportError:
        raise BuildError(
            "the docker SDK is not installed", "pip install 'pyguestfs[cache]' (docker on PyPI)"
        ) from None
    where = docker_host or read_environment().docker_host or DEFAULT_DOCKER_HOST
    try:
        client = docker.DockerClient(base_url=where, timeout=600)
        client.ping()
    except Exception as e:
        raise BuildError(f"no Docker engine answers at {where}: {_short(e)}", ENGINE_HINT) from None
    return client


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:300] if text else type(e).__name__


def _load(client: Any, archive: Path, refs: list[str]) -> Any:
    import docker

    try:
        with open(archive, "rb") as f:
            images = client.images.load(f)
        img = images[0]
        for ref in refs:
            repo, tag = oci.split_ref(ref)
            img.tag(repo, tag)
    except docker.errors.APIError as e:
        raise BuildError(f"the Docker engine refused the image: {_short(e)}") from None
    return img


def _push(client: Any, ref: str) -> None:
    import docker

    repo, tag = oci.split_ref(ref)
    try:
        for line in client.api.push(repo, tag=tag, stream=True, decode=True):
            if "error" in line or "errorDetail" in line:
                detail = line.get("error") or (line.get("errorDetail") or {}).get("message")
                raise BuildError(
                    f"the registry refused the push of {ref}: {detail}",
                    "check the registry's address, that it accepts pushes "
                    "(not read-only), and docker login",
                )
    except docker.errors.APIError as e:
        raise BuildError(
            f"pushing {ref} failed: {_short(e)}", "check that the registry runs and is reachable"
        ) from None


def pull_to_archive(
    source: str, key: str, out: Path, docker_host: str | None = None
) -> tuple[Path, str]:
    """Find the image for ``key`` (``source`` is REPO, looked up as REPO:<key>, or
    REPO:TAG), pull it unless the engine has it, check its key label, and ``docker
    save`` it to ``out``. Returns the archive and the reference used; raises
    ImportMiss with the reason when there is nothing usable."""
    try:
        client = engine(docker_host)
    except BuildError as e:
        raise ImportMiss(e.message) from None
    import docker

    repo, tag = oci.split_ref(source)
    ref = f"{repo}:{tag or key_tag(key)}"
    try:
        img = client.images.get(ref)
    except docker.errors.ImageNotFound:
        img = _pull(client, ref)
    except docker.errors.APIError as e:
        raise ImportMiss(f"the engine cannot inspect {ref}: {_short(e)}") from None
    found = (img.labels or {}).get(LABEL_KEY)
    if found != key:
        raise ImportMiss(
            f"{ref} holds the appliance for key {str(found)[:16]}…, this machine needs {key[:16]}…"
            if found
            else f"{ref} is not a pyguestfs appliance image (no {LABEL_KEY} label)"
        )
    try:
        with open(out, "wb") as f:
            for chunk in img.save(named=ref):
                f.write(chunk)
    except docker.errors.APIError as e:
        raise ImportMiss(f"the engine cannot export {ref}: {_short(e)}") from None
    return out, ref


def _pull(client: Any, ref: str) -> Any:
    """Pull ``ref``; the engine reports most failures inside the progress stream (the
    SDK's images.pull() drops them), so the stream is read here."""
    import docker

    repo, tag = oci.split_ref(ref)
    try:
        for line in client.api.pull(repo, tag=tag, stream=True, decode=True):
            if "error" in line or "errorDetail" in line:
                detail = line.get("error") or (line.get("errorDetail") or {}).get("message")
                raise ImportMiss(_pull_failure(ref, str(detail)))
        return client.images.get(ref)
    except docker.errors.APIError as e:
        raise ImportMiss(_pull_failure(ref, _short(e))) from None


def _pull_failure(ref: str, text: str) -> str:
    low = text.lower()
    if any(s in low for s in ("verification failed", "digest", "unexpected eof", "invalid tar")):
        return f"{ref} is corrupt in the registry (a layer fails its check): {text}"
    if any(s in low for s in ("manifest unknown", "not found", "does not exist", "name unknown")):
        return f"{ref} is absent from the registry"
    if any(
        s in low
        for s in ("connection refused", "no such host", "timeout", "i/o timeout", "unreachable")
    ):
        return f"the registry of {ref} is unreachable: {text}"
    return f"pulling {ref} failed: {text}"


# ---------------------------------------------------------------- import into the cache


def import_archive(
    archive: Path, expected: dict[str, Any], staging: Path, want_ref: str | None = None
) -> dict[str, Any]:
    """Unpack the image in ``archive`` into the empty directory ``staging`` if it is the
    appliance ``expected`` (the manifest this machine would build) describes; every file
    is checked against image.json and the layer against its digest. Returns the
    imported manifest. Raises ImportMiss (the caller removes ``staging``)."""
    key = str(expected["key"])
    try:
        with oci.open_archive(archive, want_ref) as image:
            found = image.labels.get(LABEL_KEY)
            if found != key:
                raise ImportMiss(
                    f"{archive} holds the appliance for key {str(found)[:16]}…, "
                    f"this machine needs {key[:16]}…"
                    if found
                    else f"{archive} is not a pyguestfs appliance image (no {LABEL_KEY} label)"
                )
            with image.open_layer() as layer:
                _unpack_layer(layer, staging, str(archive))
                layer.verify()
    except oci.CorruptImage as e:
        raise ImportMiss(str(e.message)) from None
    manifest = _read_json(staging / "manifest.json") or {}
    # What the build found (root_uuid) and made (files: sizes) is not an input.
    outputs = ("root_uuid", "files")
    got = {k: v for k, v in manifest.items() if k not in outputs}
    want = {k: v for k, v in expected.items() if k not in outputs}
    if got != want:
        differs = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        raise ImportMiss(
            f"{archive}: the appliance inside does not match this machine's inputs "
            f"({', '.join(differs)} differ)"
        )
    return manifest


def _unpack_layer(layer: Readable, staging: Path, where: str) -> None:
    index: dict[str, Any] | None = None
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=cast(IO[bytes], layer), mode="r|") as tar:
            for member in tar:
                name = member.name.removeprefix("./").rstrip("/")
                if member.isdir() and name == LAYER_DIR:
                    continue
                if not member.isfile() or not name.startswith(LAYER_DIR + "/"):
                    raise ImportMiss(f"{where}: unexpected entry {member.name!r} in the layer")
                base = name[len(LAYER_DIR) + 1 :]
                f = tar.extractfile(member)
                assert f is not None
                if base == "image.json":
                    index = _parse_index(f.read(1 << 20), where)
                    continue
                if index is None:
                    raise ImportMiss(f"{where}: the layer does not start with image.json")
                entry = (index.get("files") or {}).get(base)
                if not isinstance(entry, dict) or base in seen:
                    raise ImportMiss(f"{where}: unexpected file {base!r} in the layer")
                seen.add(base)
                hashing = _Hashing(f)
                target = entry.get("unpacks_to")
                if target:
                    if target != "root":
                        raise ImportMiss(f"{where}: {base} unpacks to {target!r}, not the root")
                    decompress_root(
                        hashing,
                        staging / "root",
                        str(entry.get("encoding")),
                        list(entry.get("extents") or []),
                        int(entry.get("unpacked_size") or 0),
                    )
                else:
                    with open(staging / base, "wb") as out:
                        while chunk := hashing.read(_CHUNK):
                            out.write(chunk)
                hashing.drain()
                _check(base, hashing, entry, where)
                if target:
                    size = (staging / "root").stat().st_size
                    if size != entry.get("unpacked_size"):
                        raise ImportMiss(
                            f"{where}: the root unpacked to {size} bytes, "
                            f"image.json says {entry.get('unpacked_size')}"
                        )
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ImportMiss(f"{where}: the layer is corrupt or truncated ({e})") from None
    if index is None:
        raise ImportMiss(f"{where}: the layer holds no {LAYER_DIR}/image.json")
    missing = sorted(set(index.get("files") or {}) - seen)
    if missing:
        raise ImportMiss(f"{where}: the layer is truncated: {', '.join(missing)} missing")


def _parse_index(data: bytes, where: str) -> dict[str, Any]:
    try:
        index = json.loads(data)
    except ValueError:
        raise ImportMiss(f"{where}: image.json is not valid JSON") from None
    if not isinstance(index, dict) or index.get("format") != IMAGE_FORMAT:
        raise ImportMiss(
            f"{where}: image format {index.get('format') if isinstance(index, dict) else '?'} "
            f"is not the one this builder reads ({IMAGE_FORMAT})"
        )
    names = set(index.get("files") or {})
    if not set(PLAIN_FILES) <= names:
        raise ImportMiss(f"{where}: image.json does not list {', '.join(PLAIN_FILES)}")
    return index


class _Hashing:
    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.h.update(data)
        self.n += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _check(name: str, got: _Hashing, entry: dict[str, Any], where: str) -> None:
    digest = "sha256:" + got.h.hexdigest()
    if got.n != entry.get("size") or digest != entry.get("sha256"):
        raise ImportMiss(
            f"{where}: {name} is corrupt: sha256 {digest[7:23]}… ({got.n} bytes), "
            f"image.json says {str(entry.get('sha256'))[7:23]}… ({entry.get('size')} bytes)"
        )


def import_into_cache(
    target: Path, expected: dict[str, Any], options: Any, fast_key: str
) -> tuple[dict[str, Any] | None, str]:
    """Try the archive, then the registry, of ``options`` (a BuildOptions); on the first
    image that matches ``expected``, put it in place of ``target`` (the caller holds the
    cache lock) and return its manifest and a note. On none, return None and why."""
    sources: list[tuple[str, str]] = []
    if options.cache_from_archive:
        sources.append(("archive", options.cache_from_archive))
    if options.cache_from:
        sources.append(("registry", options.cache_from))
    # Scratch directories of an import that was killed (the lock is ours: none is live).
    for stale in target.parent.glob(f".{target.name}.pull.*"):
        shutil.rmtree(stale, ignore_errors=True)
    reasons = []
    for kind, source in sources:
        with scratch_beside(target) as scratch:
            staging = scratch / "appliance"
            staging.mkdir()
            try:
                if kind == "registry":
                    archive, ref = pull_to_archive(
                        source, str(expected["key"]), scratch / "pulled.tar", options.docker_host
                    )
                    where: str = ref
                else:
                    archive, ref, where = Path(source), None, source
                manifest = import_archive(archive, expected, staging, ref)
            except ImportMiss as e:
                reasons.append(e.reason)
                continue
            if kind == "registry":
                archive.unlink()
            (staging / "fast-key").write_text(fast_key)
            from .cache import publish

            publish(staging, target)
            return manifest, f"imported from {where}"
    return None, "image cache not used: " + "; ".join(reasons)


@contextmanager
def scratch_beside(target: Path) -> Iterator[Path]:
    """A temporary directory next to ``target`` (same filesystem), always removed."""
    t = Path(tempfile.mkdtemp(prefix=f".{target.name}.pull.", dir=target.parent))
    try:
        yield t
    finally:
        shutil.rmtree(t, ignore_errors=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
