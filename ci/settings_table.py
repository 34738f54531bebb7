"""Write the README's settings section from the settings table (pyguestfs.core.settings).

The section between the ``settings-table`` markers in README.md is replaced by the table
``markdown_table()`` renders; ``--check`` only says whether it is current (a test runs
that). Run it after adding or changing a setting:

    .venv/bin/python ci/settings_table.py [--readme README.md] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def render(text: str) -> str:
    """``text`` (the README) with its settings section made current."""
    from pyguestfs.core.settings import markdown_table

    if START not in text or END not in text:
        raise ValueError(f"no {START} ... {END} section")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", default=str(REPO / "README.md"))
    p.add_argument("--check", action="store_true", help="exit 1 if the section is stale")
    args = p.parse_args()
    readme = Path(args.readme)
    text = readme.read_text()
    try:
        new = render(text)
    except ValueError as e:
        print(f"{readme}: {e}", file=sys.stderr)
        return 1
    if args.check:
        if new != text:
            print(f"{readme}: the settings section is stale: run ci/settings_table.py")
            return 1
        return 0
    if new != text:
        readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
