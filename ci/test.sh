#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up, lint and type checks, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/lint.sh
exec .venv/bin/python -m pytest "$@"
