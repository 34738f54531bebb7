"""The layers of pyguestfs: imports only go downwards (docs: the design's layer table).

    protocol  imports nothing of ours           core  imports nothing of ours
    agent     protocol                          vm    protocol, core
    initrd    protocol, agent (its hand-over)   builder  core, vm (never the host)
    host      protocol, core, vm, builder (never the agent)
    fleet     protocol, core, vm, builder, host (nothing imports the fleet)
    fish      protocol, core, host (the shell on the library)

Every import in every module of each part is resolved (relative ones included, and those
inside functions) and checked against that table. The root package ``pyguestfs`` (its
``__version__``) may be imported by all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent
ROOT = "pyguestfs"

ALLOWED: dict[str, frozenset[str]] = {
    "protocol": frozenset(),
    "core": frozenset(),
    "agent": frozenset({"protocol"}),
    "initrd": frozenset({"protocol", "agent"}),
    "vm": frozenset({"protocol", "core"}),
    "builder": frozenset({"core", "vm"}),
    "host": frozenset({"protocol", "core", "vm", "builder"}),
    "fleet": frozenset({"protocol", "core", "vm", "builder", "host"}),
    "fish": frozenset({"protocol", "core", "host"}),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SOURCE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([ROOT, *parts])


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file at ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == ROOT:
                # "from . import x" / "from .. import x": each name may be a module.
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def _part(module: str) -> str | None:
    """The top-level part of one of our modules ("vm"), "" for the root package itself,
    None for anything that is not ours."""
    if module == ROOT:
        return ""
    if not module.startswith(ROOT + "."):
        return None
    part = module.split(".")[1]
    return "" if part == "__version__" else part


def violations() -> list[str]:
    """Every import that goes against the layer table, as ``file:line: imports X``."""
    found = []
    for part, allowed in ALLOWED.items():
        for path in sorted((SOURCE / part).rglob("*.py")):
            for line, module in imports_of(path):
                target = _part(module)
                if target is None or target in ("", part):
                    continue
                if target not in allowed:
                    rel = path.relative_to(SOURCE)
                    found.append(f"{rel}:{line}: {part} imports {module}")
    return found


def test_imports_only_go_downwards() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("part", "source", "expected"),
    [
        ("builder", "from ..host import GuestFS\n", ["builder imports pyguestfs.host"]),
        (
            "vm",
            "def f():\n    import pyguestfs.builder.cache\n",
            ["vm imports pyguestfs.builder.cache"],
        ),
        ("core", "from ..protocol import constants\n", ["core imports pyguestfs.protocol"]),
        ("host", "from .. import agent\n", ["host imports pyguestfs.agent"]),
        ("agent", "from .. import __version__\nfrom ..protocol import x\n", []),
        ("vm", "from . import qmp\nfrom ..core.settings import Settings\n", []),
    ],
)
def test_the_checker_sees_bad_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, source: str, expected: list[str]
) -> None:
    """The checker itself, on a throwaway tree: relative, absolute and function-level
    imports are all resolved."""
    for name in ALLOWED:
        (tmp_path / name).mkdir()
    (tmp_path / part / "mod.py").write_text(source)
    monkeypatch.setattr(__import__(__name__), "SOURCE", tmp_path)
    found = [v.split(": ", 1)[1] for v in violations()]
    assert found == expected
