"""Appliance images (builder/image.py, builder/oci.py): the sparse-safe root, the OCI
archive, import into the cache with every check, and the round trips through a real
Docker engine and a real registry that these tests start on loopback and stop.

Without a VM or an engine: the root's encodings, the archive layout, corrupt, truncated
and mismatched archives, "no engine" and the cache key. With the real appliance: an OCI
archive round trip that boots, and (when dockerd can start here) build → export → push →
wipe the cache → --cache-from → boot, with the time of the import beside a build's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import launch_vm, needs_qemu, report_figure

from pyguestfs.builder import image, oci
from pyguestfs.builder.appliance import BuildOptions, expected_manifest
from pyguestfs.builder.errors import BuildError

CLI = [sys.executable, "-m", "pyguestfs.builder.cli"]
MiB = 1 << 20


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def sparse_file(path: Path, size: int, extents: dict[int, bytes]) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in extents.items():
            f.seek(offset)
            f.write(data)


def fake_appliance(directory: Path, key: str = "f" * 64) -> dict[str, Any]:
    """A small stand-in for a built appliance: the importer checks bytes, not boots."""
    directory.mkdir(parents=True)
    (directory / "kernel").write_bytes(b"\x7fELF" + os.urandom(300_000))
    (directory / "initrd").write_bytes(os.urandom(200_000))
    sparse_file(
        directory / "root",
        64 * MiB,
        {0: b"\x01" * 8192, 1024 + 0x38: b"\x53\xef", 40 * MiB: os.urandom(100_000)},
    )
    manifest = {"format": 2, "builder": "test", "program": "p", "key": key, "root_uuid": "u"}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return manifest


# ---------------------------------------------------------------- no VM, no engine


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_root_round_trip_stays_sparse(tmp_path: Path, encoding: str) -> None:
    if encoding == "zstd" and not shutil.which("zstd"):
        pytest.skip("zstd is not installed (ci/setup.sh installs it)")
    src = tmp_path / "root"
    sparse_file(src, 64 * MiB, {4096: os.urandom(10_000), 50 * MiB: b"x" * 70_000})
    packed = tmp_path / "root.packed"
    extents = image.compress_root(src, packed, encoding)
    assert packed.stat().st_size < 1 * MiB
    assert sum(length for _, length in extents) < 1 * MiB  # the holes were not read
    out = tmp_path / "root.out"
    with open(packed, "rb") as f:
        image.decompress_root(f, out, encoding, [list(e) for e in extents], 64 * MiB)
    assert out.stat().st_size == src.stat().st_size
    assert sha256(out) == sha256(src)
    # Holes came back as holes: 80 KB of data, not 64 MiB of zeros on disk.
    assert allocated(out) < 1 * MiB, allocated(out)


def test_oci_archive_layout(tmp_path: Path) -> None:
    manifest = fake_appliance(tmp_path / "app")
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"oci-layout", "index.json", "manifest.json"} <= names

        def blob(digest: str) -> bytes:
            f = tar.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert f is not None
            data = f.read()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
            return data

        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        assert index["manifests"][0]["mediaType"] == oci.MEDIA_MANIFEST
        m = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(m["config"]["digest"]))
        assert config["config"]["Labels"][image.LABEL_KEY] == manifest["key"]
        assert image.LABEL_BUILDER in config["config"]["Labels"]
        (layer,) = m["layers"]
        assert config["rootfs"]["diff_ids"] == [layer["digest"]]
        with tarfile.open(fileobj=__import__("io").BytesIO(blob(layer["digest"]))) as lt:
            inside = lt.getnames()
        assert inside[:2] == [image.LAYER_DIR, f"{image.LAYER_DIR}/image.json"]
        assert {f"{image.LAYER_DIR}/{n}" for n in ("kernel", "initrd", "manifest.json")} <= set(
            inside
        )
        assert any(n.endswith(("root.zst", "root.gz")) for n in inside)


def test_archive_import_checks_and_unpacks(tmp_path: Path) -> None:
    manifest = fake_appliance(tmp_path / "app")
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    staging = tmp_path / "staging"
    staging.mkdir()
    got = image.import_archive(archive, manifest, staging)
    assert got["key"] == manifest["key"]
    for name in ("kernel", "initrd", "root", "manifest.json"):
        assert sha256(staging / name) == sha256(tmp_path / "app" / name), name
    assert allocated(staging / "root") < 2 * MiB  # 64 MiB apparent, sparse again


def test_archive_of_another_key_is_a_miss(tmp_path: Path) -> None:
    manifest = fake_appliance(tmp_path / "app", key="a" * 64)
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(image.ImportMiss) as e:
        image.import_archive(archive, {**manifest, "key": "b" * 64}, staging)
    assert "holds the appliance for key aaaaaaaaaaaaaaaa" in e.value.reason
    assert "this machine needs bbbbbbbbbbbbbbbb" in e.value.reason
    assert list(staging.iterdir()) == []


def _layer_offset(archive: Path) -> tuple[int, int]:
    """Where the layer blob's bytes sit in the archive file."""
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("blobs/sha256/")]
        layer = max(members, key=lambda m: m.size)
        return layer.offset_data, layer.size


def test_corrupt_layer_is_refused(tmp_path: Path) -> None:
    manifest = fake_appliance(tmp_path / "app")
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    offset, _ = _layer_offset(archive)
    with open(archive, "r+b") as f:  # one flipped byte inside the kernel's bytes
        f.seek(offset + 4096)
        byte = f.read(1)
        f.seek(offset + 4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(image.ImportMiss) as e:
        image.import_archive(archive, manifest, staging)
    assert "corrupt" in e.value.reason
    assert "kernel" in e.value.reason or "digest" in e.value.reason


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    manifest = fake_appliance(tmp_path / "app")
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    offset, size = _layer_offset(archive)
    with open(archive, "r+b") as f:
        f.truncate(offset + size // 2)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(image.ImportMiss) as e:
        image.import_archive(archive, manifest, staging)
    assert "truncated" in e.value.reason or "corrupt" in e.value.reason, e.value.reason


def test_failed_import_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    base = tmp_path / "cache"
    target = base / "appliance.d"
    old = fake_appliance(target, key="0" * 64)
    before = {p.name: sha256(p) for p in target.iterdir()}
    manifest = fake_appliance(tmp_path / "app")
    archive = tmp_path / "app.oci.tar"
    image.export(tmp_path / "app", archive=archive)
    offset, size = _layer_offset(archive)
    with open(archive, "r+b") as f:
        f.truncate(offset + size - 1000)  # the root's end is missing
    options = BuildOptions(cache_from_archive=str(archive))
    imported, note = image.import_into_cache(target, manifest, options, "fast")
    assert imported is None
    assert note.startswith("image cache not used:"), note
    assert {p.name: sha256(p) for p in target.iterdir()} == before
    assert json.loads((target / "manifest.json").read_text())["key"] == old["key"]
    assert [p.name for p in base.iterdir()] == ["appliance.d"]  # no staging left behind

    # The intact archive goes in whole, replacing the old entry.
    image.export(tmp_path / "app", archive=archive)
    imported, note = image.import_into_cache(target, manifest, options, "fast")
    assert imported is not None and imported["key"] == manifest["key"]
    assert note == f"imported from {archive}"
    assert (target / "fast-key").read_text() == "fast"
    assert sorted(p.name for p in base.iterdir()) == ["appliance.d"]


def test_no_engine_is_a_clear_error(tmp_path: Path) -> None:
    fake_appliance(tmp_path / "app")
    nowhere = f"unix://{tmp_path}/no-such-docker.sock"
    with pytest.raises(BuildError) as e:
        image.export(tmp_path / "app", image="localhost:1/x/appliance", docker_host=nowhere)
    assert "no Docker engine answers at " + nowhere in e.value.message
    assert e.value.hint and "--oci-archive" in e.value.hint
    with pytest.raises(image.ImportMiss) as miss:
        image.pull_to_archive("localhost:1/x/appliance", "f" * 64, tmp_path / "p.tar", nowhere)
    assert "no Docker engine answers" in miss.value.reason


def test_print_cache_key_matches_the_build(appliance: Path, cachedir: str) -> None:
    """The key printed without building is the key of the appliance built here."""
    built = json.loads((appliance / "manifest.json").read_text())
    t = time.monotonic()
    out = subprocess.run(
        [*CLI, "--print-cache-key", "--cachedir", cachedir],
        capture_output=True,
        text=True,
        check=True,
    )
    report_figure(f"--print-cache-key: {time.monotonic() - t:.2f} s")
    assert out.stdout.strip() == built["key"]
    assert expected_manifest(BuildOptions(cachedir=cachedir))["key"] == built["key"]


# ---------------------------------------------------------------- with the real appliance


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=1200,
        check=False,
    )


def _boots_and_serves(cache: str) -> None:
    g = launch_vm(cache, scratch=(64 * MiB,))
    try:
        g.mkfs("ext2", "/dev/sda")
        g.mount("/dev/sda", "/")
        g.write("/hello", b"from an imported appliance\n")
        assert g.cat("/hello") == "from an imported appliance\n"
    finally:
        g.close()


@needs_qemu
@pytest.mark.timeout(1800)  # an export, an import and a TCG boot on a shared machine
def test_oci_archive_round_trip_boots(appliance: Path, cachedir: str, tmp_path: Path) -> None:
    archive = tmp_path / "appliance.oci.tar"
    t = time.monotonic()
    r = _cli("--cachedir", cachedir, "--oci-archive", str(archive))
    export_s = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert f"OCI archive: {archive}" in r.stdout
    fresh = tmp_path / "fresh-cache"
    fresh.mkdir()
    t = time.monotonic()
    r = _cli("--cachedir", str(fresh), "--cache-from-archive", str(archive), "--json")
    hit_s = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["imported"] is True and summary["built"] is False
    assert summary["cache"] == f"imported from {archive}"
    assert "freeze agent" not in summary["seconds"]  # nothing was frozen or built
    root = Path(summary["root"])
    assert root.stat().st_size == (appliance / "root").stat().st_size
    assert allocated(root) < root.stat().st_size // 2  # sparse, not gigabytes of zeros
    report_figure(
        f"OCI archive: {archive.stat().st_size / MiB:.0f} MiB, export {export_s:.1f} s, "
        f"import (cache hit) {hit_s:.1f} s; root {root.stat().st_size / MiB:.0f} MiB apparent, "
        f"{allocated(root) / MiB:.0f} MiB allocated"
    )
    # The next check is the usual no-op: the import left this machine's fast key.
    r = _cli("--cachedir", str(fresh), "--json")
    assert json.loads(r.stdout)["built"] is False
    _boots_and_serves(str(fresh))


# ---------------------------------------------------------------- a real engine and registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dockerd:
    """dockerd with its own data root, exec root, pid file and unix socket."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgfs-dockerd.", dir="/tmp"))
        self.host = f"unix://{self.dir}/docker.sock"
        self.log = open(self.dir / "dockerd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(self.dir / "data"),
                "--exec-root",
                str(self.dir / "exec"),
                "--pidfile",
                str(self.dir / "dockerd.pid"),
                "-H",
                self.host,
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> str | None:
        """None when the engine answers, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"dockerd exited with {self.proc.returncode}: {self.log_tail()}"
            try:
                image.engine(self.host)
                return None
            except BuildError:
                time.sleep(0.5)
        return f"dockerd did not answer within {timeout:.0f} s: {self.log_tail()}"

    def log_tail(self) -> str:
        return (self.dir / "dockerd.log").read_text(errors="replace")[-600:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Registry:
    """Debian's docker-registry (Distribution 2.8) on 127.0.0.1, storing in a temp dir."""

    def __init__(self, tmp: Path, readonly: bool = False) -> None:
        self.port = _free_port()
        self.storage = tmp / "storage"
        config = tmp / "config.yml"
        ro = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.storage}\n{ro}"
            f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: pyguestfs-test\n"
        )
        self.log = open(tmp / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.address = f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"docker-registry exited with {self.proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2):
                    return None
            except OSError:
                time.sleep(0.3)
        return "docker-registry did not answer"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed (ci/setup.sh installs docker.io)")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root here (no rootless set-up)")
    d = Dockerd()
    why = d.wait_ready()
    if why:
        d.stop()
        pytest.skip(f"the Docker engine cannot run on this machine: {why}")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (ci/setup.sh installs it)")
    r = Registry(tmp_path_factory.mktemp("registry"))
    why = r.wait_ready()
    if why:
        r.stop()
        pytest.skip(f"the registry cannot run on this machine: {why}")
    yield r
    r.stop()


def _forget(dockerd: Dockerd, refs: list[str]) -> None:
    """Remove images from the engine so that the next use must pull from the registry."""
    client = image.engine(dockerd.host)
    for ref in refs:
        try:
            client.images.remove(ref, force=True)
        except Exception:
            pass


def test_registry_that_refuses_a_push(dockerd: Dockerd, tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    ro = Registry(tmp_path / "ro", readonly=True)
    try:
        why = ro.wait_ready()
        if why:
            pytest.skip(f"a read-only registry cannot run: {why}")
        fake_appliance(tmp_path / "app")
        with pytest.raises(BuildError) as e:
            image.export(
                tmp_path / "app",
                image=f"{ro.address}/pyguestfs/appliance:ro",
                push=True,
                docker_host=dockerd.host,
            )
        assert f"the registry refused the push of {ro.address}/pyguestfs/appliance:ro" in str(
            e.value.message
        )
        assert e.value.hint and "read-only" in e.value.hint
    finally:
        ro.stop()


def test_registry_misses_say_why(dockerd: Dockerd, registry: Registry, tmp_path: Path) -> None:
    repo = f"{registry.address}/pyguestfs/misses"
    fake_appliance(tmp_path / "app", key="c" * 64)
    image.export(tmp_path / "app", image=f"{repo}:other", push=True, docker_host=dockerd.host)
    _forget(dockerd, [f"{repo}:other", f"{repo}:{'c' * 64}"])
    want = "d" * 64

    def miss(source: str) -> str:
        with pytest.raises(image.ImportMiss) as e:
            image.pull_to_archive(source, want, tmp_path / "pulled.tar", dockerd.host)
        return e.value.reason

    assert miss(repo) == f"{repo}:{want} is absent from the registry"
    assert miss(f"{repo}:other") == (
        f"{repo}:other holds the appliance for key cccccccccccccccc…, "
        f"this machine needs dddddddddddddddd…"
    )
    assert "unreachable" in miss(f"127.0.0.1:{_free_port()}/pyguestfs/misses")

    # A layer damaged in the registry's storage: the engine's digest check refuses it.
    _forget(dockerd, [f"{repo}:other"])
    blobs = registry.storage / "docker/registry/v2/blobs/sha256"
    layer = max(blobs.rglob("data"), key=lambda p: p.stat().st_size)
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    with pytest.raises(image.ImportMiss) as e:
        image.pull_to_archive(repo, "c" * 64, tmp_path / "pulled.tar", dockerd.host)
    assert "corrupt" in e.value.reason or "failed" in e.value.reason, e.value.reason
    report_figure(f"corrupt registry layer: {e.value.reason}")


@needs_qemu
@pytest.mark.timeout(2400)  # export, push, pull, a TCG boot and a build
def test_registry_round_trip_boots(
    appliance: Path, cachedir: str, dockerd: Dockerd, registry: Registry, tmp_path: Path
) -> None:
    """build → export → push → wipe → --cache-from → boot, and a miss that builds."""
    repo = f"{registry.address}/pyguestfs/appliance"
    key = json.loads((appliance / "manifest.json").read_text())["key"]
    env = {"DOCKER_HOST": dockerd.host}
    t = time.monotonic()
    r = _cli("--cachedir", cachedir, "--image", f"{repo}:ci", "--push", env=env)
    push_s = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert f"image: {repo}:{key} (pushed)" in r.stdout
    _forget(dockerd, [f"{repo}:ci", f"{repo}:{key}"])  # the pull must come from the registry

    fresh = tmp_path / "fresh-cache"
    fresh.mkdir()
    t = time.monotonic()
    r = _cli("--cachedir", str(fresh), "--cache-from", repo, "--json", env=env)
    hit_s = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["imported"] is True, summary
    assert summary["cache"] == f"imported from {repo}:{key}"
    assert summary["cache_key"] == key
    for name in ("kernel", "initrd"):
        assert sha256(fresh / ".guestfs-0" / "pyguestfs" / "appliance.d" / name) == sha256(
            appliance / name
        )
    _boots_and_serves(str(fresh))

    # A cache of another key builds instead, and says why. The frozen agent is shared
    # (hard links) so that this measures the appliance build, not PyInstaller.
    other = tmp_path / "other-cache"
    src_frozen = Path(cachedir) / f".guestfs-{os.geteuid()}" / "pyguestfs" / "frozen"
    dst = other / f".guestfs-{os.geteuid()}" / "pyguestfs"
    dst.mkdir(parents=True)
    if src_frozen.is_dir():
        shutil.copytree(src_frozen, dst / "frozen", copy_function=os.link, symlinks=True)
    t = time.monotonic()
    r = _cli("--cachedir", str(other), "--cache-from", f"{repo}:wrong", "--json", env=env)
    build_s = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["built"] is True and summary["imported"] is False
    assert f"{repo}:wrong is absent from the registry" in summary["cache"]
    report_figure(
        f"registry round trip: export+push {push_s:.1f} s; "
        f"cache hit (pull + unpack + verify) {hit_s:.1f} s; "
        f"build on a miss (agent already frozen) {build_s:.1f} s"
    )
