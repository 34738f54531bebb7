#!/usr/bin/env bash
# The main job: set up, then show pyguestfs at work with timings (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m pyguestfs.demo "$@"
