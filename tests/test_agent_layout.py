"""The agent's layout (docs/architecture.md, "Inside the agent"): one module of
``agent/api/`` per family of the procedure table, each procedure in its family's module,
no family importing another, and no agent module too long to read in one sitting.

The rules are read from the source (imports) and from the registry (where each
registered function was defined), so a procedure moved to the wrong module, or a helper
borrowed from another family, fails here before review.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from pyguestfs.agent import api
from pyguestfs.agent.registry import GROUP_FAMILY, IMPLEMENTATIONS, load_all_families
from pyguestfs.protocol.procedures import FAMILY_OF
from pyguestfs.protocol.table import FAMILIES

SOURCE = Path(__file__).resolve().parent.parent
AGENT = SOURCE / "agent"
API = AGENT / "api"

#: Lines an agent module may have: about what one reads in one sitting (~600).
MAX_LINES = 650


def _family_modules() -> list[Path]:
    return sorted(p for p in API.glob("*.py") if p.name != "__init__.py")


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names relative to the ``pyguestfs``
    package (``agent.guest``, ``agent.api.files`` ...)."""
    return _imports_of(path.read_text(), path.relative_to(SOURCE).with_suffix("").parts[:-1])


def _imports_of(text: str, package: tuple[str, ...]) -> set[str]:
    """The modules that source ``text`` of a module in ``package`` imports."""
    tree = ast.parse(text)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            if not node.level and not (node.module or "").startswith("pyguestfs"):
                continue
            module = [*base, *(node.module.split(".") if node.module else [])]
            if not node.level:
                module = module[1:]  # drop "pyguestfs"
            found.add(".".join(module))
            # "from . import files" imports the module agent.api.files itself.
            found.update(".".join([*module, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pyguestfs."):
                    found.add(alias.name.removeprefix("pyguestfs."))
    return found


def test_every_family_module_is_named_after_a_table_family() -> None:
    modules = _family_modules()
    assert modules, "agent/api/ holds no family module"
    strays = [p.name for p in modules if p.stem not in FAMILIES]
    assert strays == [], f"modules of agent/api/ that name no table family: {strays}"


def test_every_table_family_has_its_module() -> None:
    # The registry imports agent/api/<family>.py on a family's first call.
    have = {p.stem for p in _family_modules()}
    assert [f for f in FAMILIES if f not in have] == []


def test_every_family_module_is_imported_by_the_package() -> None:
    # The package's imports are what registers the procedures (and what the freezer sees).
    imported = {m.removeprefix("agent.api.") for m in _imported_modules(API / "__init__.py")}
    missing = [p.stem for p in _family_modules() if p.stem not in imported]
    assert missing == []


def test_no_family_module_imports_another() -> None:
    families = {f"agent.api.{p.stem}" for p in _family_modules()}
    crossings = []
    for path in _family_modules():
        me = f"agent.api.{path.stem}"
        others = (_imported_modules(path) & families) - {me}
        crossings += [f"{path.name} imports {other}" for other in sorted(others)]
    assert crossings == []


def test_each_procedure_sits_in_its_familys_module() -> None:
    load_all_families()
    assert IMPLEMENTATIONS, "no procedure registered"
    misplaced = []
    for name, fn in IMPLEMENTATIONS.items():
        module = fn.__module__
        expected = f"{api.__name__}.{FAMILY_OF[name]}"
        if module != expected:
            misplaced.append(f"{name}: in {module}, its family is {FAMILY_OF[name]}")
    assert misplaced == []


def test_the_checker_sees_a_crossing_import() -> None:
    # The import reader itself: relative imports of sibling families are seen.
    text = "from . import files\nfrom ..guest import split_lines\nfrom .dirs import x\n"
    found = _imports_of(text, ("agent", "api"))
    assert {"agent.api.files", "agent.guest", "agent.api.dirs"} <= found


#: Modules known to be over the limit, each to be split by its family's owner; one that
#: shrinks below it must leave this list (the test says so).
KNOWN_LONG: frozenset[str] = frozenset()


def test_no_agent_module_is_too_long_to_read() -> None:
    lengths = {
        str(p.relative_to(SOURCE)): len(p.read_text().splitlines())
        for p in sorted(AGENT.rglob("*.py"))
    }
    long = {path for path, n in lengths.items() if n > MAX_LINES}
    assert sorted(long - KNOWN_LONG) == [], {p: lengths[p] for p in long - KNOWN_LONG}
    assert sorted(KNOWN_LONG - long) == [], "no longer too long: take them off KNOWN_LONG"


def test_each_group_is_found_through_the_family_that_declares_it() -> None:
    # Families load on first use, so a group's test is reached through GROUP_FAMILY.
    declared = {
        group: path.stem
        for path in _family_modules()
        for group in re.findall(r'provides_group\(\s*"(\w+)"', path.read_text())
    }
    assert declared == GROUP_FAMILY


LAZY_PROBE = """
import sys
from pyguestfs.agent import server  # noqa: F401
from pyguestfs.agent.registry import group_available, load_implementation
api = "pyguestfs.agent.api."
before = sorted(m for m in sys.modules if m.startswith(api))
assert load_implementation("mkswap") is not None
group_available("lvm2")
after = sorted(m for m in sys.modules if m.startswith(api))
print(",".join(before) or "-", ",".join(m.removeprefix(api) for m in after if m not in before))
"""


def test_families_are_imported_on_first_use() -> None:
    # A cold launch pays only for the families its session calls: starting the agent
    # imports none of the byte-code families, a call imports its own.
    out = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["-", "lvm,swap"]
