#!/usr/bin/env bash
# ruff and mypy over the project. mypy cannot follow setuptools' editable-install
# import hook, so it is pointed at a throwaway tree in which "pyguestfs/<part>" links
# to each top-level folder -- the same mapping pyproject.toml gives setuptools.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --diff . | head -40; exit 1; }
rm -rf .typecheck && mkdir -p .typecheck/pyguestfs
cp __init__.py py.typed .typecheck/pyguestfs/
for part in protocol agent core vm host builder initrd fleet fish; do ln -s "../../$part" ".typecheck/pyguestfs/$part"; done
(cd .typecheck && ../.venv/bin/mypy -p pyguestfs)
# A user's script under mypy --strict: the handle's methods are typed (host/calls.py).
(cd .typecheck && ../.venv/bin/mypy --strict --no-incremental ../tests/typing/user_script.py)
