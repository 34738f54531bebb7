"""Write the README's API table from the procedure table and a test run's call record.

Every procedure of libguestfs 1.48 (``docs/libguestfs-1.48-procedures.tsv``) and
each of our own extensions gets a row: name, procedure number, whether the agent
implements it, and whether the test suite called it (``PYGUESTFS_RECORD_CALLS=FILE
pytest`` records that; see tests/conftest.py). The table replaces what lies between the
``api-table`` markers in README.md.

    python ci/api_table.py --calls called.json [--readme README.md] [--tsv FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = "<!-- api-table:start -->"
END = "<!-- api-table:end -->"


def table(tsv: Path, called: set[str]) -> str:
    from pyguestfs.agent.registry import IMPLEMENTATIONS, load_all_families
    from pyguestfs.protocol.constants import EXTENSION_PROC_BASE
    from pyguestfs.protocol.procedures import PROCEDURES

    load_all_families()
    with tsv.open() as f:
        rows = {r["name"]: int(r["proc_nr"]) for r in csv.DictReader(f, delimiter="\t")}
    for p in PROCEDURES:
        if p.proc_nr >= EXTENSION_PROC_BASE:
            rows[p.name] = p.proc_nr
    implemented = [n for n in rows if n in IMPLEMENTATIONS]
    tested = [n for n in implemented if n in called]
    lines = [
        f"{len(implemented)} of {len(rows)} procedures implemented "
        f"(libguestfs 1.48 has {sum(1 for n in rows if rows[n] < EXTENSION_PROC_BASE)}); "
        f"{len(tested)} of them called by the test suite.",
        "",
        "<details><summary>Every procedure</summary>",
        "",
        "| procedure | number | status | tested |",
        "|---|---:|---|---|",
    ]
    for name, nr in sorted(rows.items(), key=lambda kv: kv[1]):
        status = "implemented" if name in IMPLEMENTATIONS else "not yet"
        mark = "yes" if name in called and name in IMPLEMENTATIONS else ""
        ext = " (pyguestfs)" if nr >= EXTENSION_PROC_BASE else ""
        lines.append(f"| `{name}`{ext} | {nr} | {status} | {mark} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", required=True, help="JSON list of called procedure names")
    p.add_argument("--readme", default=str(REPO / "README.md"))
    p.add_argument("--tsv", default=str(REPO / "docs/libguestfs-1.48-procedures.tsv"))
    args = p.parse_args()
    called = set(json.loads(Path(args.calls).read_text()))
    readme = Path(args.readme)
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"{readme}: no {START} ... {END} section", file=sys.stderr)
        return 1
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{table(Path(args.tsv), called)}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
