"""The pure parts of pyguestfs.fleet, no appliance: pool sizing, the results file and
--resume, the image probe (real qemu-img on real files), the command line, and the
client's once-per-image and retry rules (with a stand-in for Dask's futures).
The whole fleet on a real Dask cluster is tests/test_fleet.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyguestfs.fleet import cli, cluster, images, output, progress, worker
from pyguestfs.fleet.jobs import RESERVED

QEMU_IMG = shutil.which("qemu-img")
needs_qemu_img = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img is not installed")


def test_default_workers_sizes_like_virt_df(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 24000000 kB\nMemAvailable:    2000000 kB\n")
    # 2,048,000,000 bytes / 650 MB = 3 appliances by memory ...
    assert cluster.default_workers(str(meminfo), cores=8) == 3
    # ... but never more than there are cores, and at least one.
    assert cluster.default_workers(str(meminfo), cores=2) == 2
    meminfo.write_text("MemAvailable: 100000 kB\n")
    assert cluster.default_workers(str(meminfo), cores=2) == 1


def test_results_file_survives_a_cut_line_and_resume_skips_done(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    w = output.ResultWriter(str(out), append=False)
    w.write({"image": "/a", "ok": True})
    w.write({"image": "/b", "ok": False, "error": "no"})
    # Each line is on disk before write() returns, not only when the writer is closed.
    assert len(out.read_text().splitlines()) == 2
    w.close()
    with open(out, "a") as f:
        f.write('{"image": "/c", "ok": tr')  # the client died mid-line
    assert output.read_done(str(out)) == {"/a", "/b"}
    assert out.read_text().endswith('"error": "no"}\n')  # the cut line is gone
    w = output.ResultWriter(str(out), append=True)
    w.write({"image": "/c", "ok": True})
    w.close()
    assert [json.loads(x)["image"] for x in out.read_text().splitlines()] == ["/a", "/b", "/c"]
    assert output.read_done(str(tmp_path / "missing.jsonl")) == set()


@needs_qemu_img
def test_probe_finds_formats_and_says_why_not(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * 1024 * 1024)
    assert images.probe(str(raw)).format == "raw"
    qcow = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "16M"], check=True)
    info = images.probe(str(qcow))
    assert (info.format, info.virtual_size) == ("qcow2", 16 << 20)

    def reason(path: Path, **kw: Any) -> str:
        with pytest.raises(images.ImageError) as e:
            images.probe(str(path), **kw)
        return str(e.value)

    assert "No such file or directory" in reason(tmp_path / "missing.img")
    assert "Is a directory" in reason(tmp_path)
    empty = tmp_path / "empty.img"
    empty.touch()
    assert "empty file" in reason(empty)
    corrupt = tmp_path / "corrupt.qcow2"
    corrupt.write_bytes(qcow.read_bytes()[:4] + b"\xff" * 508)  # qcow2 magic, bad header
    assert "not a disk image qemu can open" in reason(corrupt)
    assert "unknown format" in reason(raw, format="floppy")
    fifo = tmp_path / "fifo.img"
    os.mkfifo(fifo)
    # Nobody ever writes to it: qemu-img blocks in open() until the time limit.
    assert "took more than 1 s" in reason(fifo, timeout=1.0)


def test_command_line_images_and_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = tmp_path / "list"
    listing.write_text("/x/a.img\n\n  rel.img  \n/x/a.img\n")
    monkeypatch.chdir(tmp_path)
    args = cli._parser().parse_args(["inspect", "--from", str(listing), "/x/b.img"])
    assert cli.image_list(args) == ["/x/b.img", "/x/a.img", str(tmp_path / "rel.img")]
    monkeypatch.setattr("sys.stdin", io.StringIO("/y/c.img\n"))
    args = cli._parser().parse_args(["inspect", "--from", "-"])
    assert cli.image_list(args) == ["/y/c.img"]
    assert cli._params(["n=3", "name=web", 'paths=["/etc"]']) == {
        "n": 3,
        "name": "web",
        "paths": ["/etc"],
    }
    with pytest.raises(cli.UsageError):
        cli._params(["no-equals"])


def test_images_may_follow_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_main(args: Any) -> int:
        seen["args"] = args
        return 0

    monkeypatch.setattr(cli, "_main", fake_main)
    argv = ["run", "pyguestfs.fleet.jobs:inspect", "/a.img", "--timeout", "5", "/b.img", "--quiet"]
    assert cli.main(argv) == 0
    args = seen["args"]
    assert (args.job, args.images, args.timeout, args.quiet) == (
        "pyguestfs.fleet.jobs:inspect",
        ["/a.img", "/b.img"],
        5.0,
        True,
    )
    with pytest.raises(SystemExit):
        cli.main(["inspect", "--no-such-option", "/a.img"])


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect"]) == 2
    assert "no images given" in capsys.readouterr().err
    assert cli.main(["inspect", "--resume", "/a.img"]) == 2
    assert "--resume needs --output" in capsys.readouterr().err
    assert cli.main(["run", "no_such_module_here:job", "/a.img"]) == 2
    assert "No module named" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["inspect", "--local", "2", "--scheduler", "tcp://h:1", "/a.img"])


def test_load_job_names_module_and_function() -> None:
    assert worker.load_job("pyguestfs.fleet.jobs:inspect").__name__ == "inspect"
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        worker.load_job("pyguestfs.fleet.jobs")
    with pytest.raises(AttributeError):
        worker.load_job("pyguestfs.fleet.jobs:nope")


def test_summary_counts_failures_by_reason() -> None:
    t = progress.Tally(total=3, skipped=1)
    t.add({"image": "/a", "ok": True, "seconds": 1.0, "worker": "w1"})
    t.add({"image": "/b", "ok": False, "error": "/b: No such file or directory", "worker": "w1"})
    t.add({"image": "/c", "ok": False, "error": "/c: No such file or directory", "worker": "w2"})
    text = progress.summary(t)
    assert "| 3 | 1 | 2 | 1 |" in text
    assert "| No such file or directory | 2 |" in text
    assert "| w1 | 2 |" in text
    stream = io.StringIO()
    bar = progress.Progress(t, stream, enabled=True)
    bar.update(force=True)
    assert "3/3 done, 2 failed" in stream.getvalue()


class _Future:
    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value

    def result(self) -> Any:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value

    def release(self) -> None:
        pass


class _Queue:
    """as_completed over stand-in futures: yields them in order, takes more with add()."""

    def __init__(self, futures: list[_Future]) -> None:
        self.items = list(futures)

    def add(self, f: _Future) -> None:
        self.items.append(f)

    def __iter__(self) -> Any:
        while self.items:
            yield self.items.pop(0)


class _Client:
    """Answers each submitted task from a script of outcomes per image."""

    def __init__(self, outcomes: dict[str, list[Any]]) -> None:
        self.outcomes = outcomes
        self.submitted: list[str] = []

    def submit(self, fn: Any, task: worker.Task, key: str, pure: bool) -> _Future:
        assert fn is worker.run_task and not pure
        self.submitted.append(task.image)
        return _Future(key, self.outcomes[task.image].pop(0))


def _line(image: str, ok: bool, retry: bool = False) -> dict[str, Any]:
    return {"image": image, "ok": ok, "error": None if ok else "x", "retry": retry}


def test_each_image_once_with_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "as_completed", _Queue)
    client = _Client(
        {
            "/ok": [_line("/ok", True)],
            "/bad": [_line("/bad", False)],  # the image's fault: never retried
            "/flaky": [_line("/flaky", False, retry=True), _line("/flaky", True)],
            "/lost": [RuntimeError("KilledWorker"), RuntimeError("KilledWorker")],
        }
    )
    got: list[dict[str, Any]] = []
    spec = cluster.RunSpec(job="pyguestfs.fleet.jobs:inspect", retries=1)
    cluster.run(client, ["/ok", "/bad", "/flaky", "/lost", "/ok"], spec, got.append,
                prepare_workers=False)  # fmt: skip
    assert sorted(client.submitted) == sorted(["/ok", "/bad", "/flaky", "/flaky", "/lost", "/lost"])
    by_image = {line["image"]: line for line in got}
    assert len(got) == len(by_image) == 4
    assert by_image["/flaky"]["ok"] and not by_image["/bad"]["ok"]
    assert "worker running it was lost" in by_image["/lost"]["error"]
    assert all("retry" not in line for line in got)


def test_run_task_reports_a_missing_image_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "prepare", lambda options, log=None: False)
    line = worker.run_task(
        worker.Task(image="/nonexistent.img", job="pyguestfs.fleet.jobs:inspect")
    )
    assert line["ok"] is False and line["retry"] is False
    assert line["error"] == "/nonexistent.img: No such file or directory"
    assert {"image", "ok", "error", "seconds", "worker"} <= line.keys() == RESERVED | {"retry"}


def test_worker_gets_the_appliance_from_the_image_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """prepare() hands --cache-from/--cache-from-archive to the builder (which imports the
    appliance instead of building it), then makes the snapshot once per process."""
    built: list[Any] = []
    snapshots: list[Any] = []

    class FakeBuild:
        built = False
        imported = True
        cache_note = "imported from /ci/appliance.oci.tar"

    class FakeHandle:
        def get_launch_timeout(self) -> float:
            return 60.0

        def make_snapshot(self) -> bool:
            snapshots.append(1)
            return True

        def close(self) -> None:
            pass

    monkeypatch.setattr(worker, "build", lambda options: built.append(options) or FakeBuild())
    monkeypatch.setattr(worker, "new_handle", lambda options: FakeHandle())
    monkeypatch.setattr(worker._Prepared, "done", None)
    options = worker.WorkerOptions(cachedir="/c", cache_from_archive="/ci/appliance.oci.tar")
    said: list[str] = []
    assert worker.prepare(options, log=said.append) is True
    assert worker.prepare(options) is False  # once per process
    assert said[0] == "appliance imported from /ci/appliance.oci.tar"
    (b,) = built
    assert (b.cachedir, b.cache_from, b.cache_from_archive) == ("/c", None, "/ci/appliance.oci.tar")
    assert snapshots == [1]
