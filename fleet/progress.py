"""What the person running ``guestfs-fleet`` sees: a progress line on a terminal while the
run goes on (images done, failed, rate, time left) and a summary table at the end."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class Tally:
    """Counts of a run, fed one result line at a time."""

    total: int
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    per_worker: dict[str, list[float]] = field(default_factory=dict)

    def add(self, line: dict[str, Any]) -> None:
        self.done += 1
        if not line.get("ok"):
            self.failed += 1
            self.reasons[_reason(str(line.get("error")))] += 1
        worker = str(line.get("worker") or "(none)")
        self.per_worker.setdefault(worker, []).append(float(line.get("seconds") or 0.0))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def per_hour(self) -> float:
        return self.done * 3600.0 / self.elapsed if self.elapsed > 0 else 0.0


def _reason(error: str) -> str:
    """The kind of a failure, for the summary: the error without the image's path."""
    first = error.splitlines()[0] if error else "?"
    _, colon, rest = first.partition(": ")
    text = rest if colon and first.startswith("/") else first
    return text[:70]


class Progress:
    """Redraws one status line on a terminal; silent otherwise."""

    def __init__(self, tally: Tally, stream: IO[str], enabled: bool) -> None:
        self.tally, self.stream, self.enabled = tally, stream, enabled
        self._last = 0.0

    def update(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        t = self.tally
        width = 30
        filled = int(width * t.done / t.total) if t.total else width
        rate = t.per_hour()
        left = (t.total - t.done) / (rate / 3600.0) if rate > 0 else None
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {t.done}/{t.total} done, "
            f"{t.failed} failed, {rate:,.0f} images/h, "
            f"left {_duration(left) if left is not None else '?'}  "
        )
        self.stream.write(line)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.update(force=True)
            self.stream.write("\n")
            self.stream.flush()


def summary(tally: Tally) -> str:
    """The table printed at the end of a run."""
    t = tally
    rows = [
        "| images | ok | failed | skipped (--resume) | seconds | images/hour |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {t.done} | {t.done - t.failed} | {t.failed} | {t.skipped} | {t.elapsed:.1f} "
        f"| {t.per_hour():,.0f} |",
        "",
        "| worker | images | mean s per image |",
        "|---|---:|---:|",
    ]
    for worker, secs in sorted(t.per_worker.items()):
        rows.append(f"| {worker} | {len(secs)} | {sum(secs) / len(secs):.2f} |")
    if t.reasons:
        rows += ["", "| failure | images |", "|---|---:|"]
        rows += [f"| {r} | {n} |" for r, n in t.reasons.most_common(10)]
    return "\n".join(rows)
