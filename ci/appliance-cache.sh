#!/usr/bin/env bash
# Restore the pyguestfs appliance from an image cache, or build it and fill the cache.
# For any CI: it needs only the builder (bash ci/setup.sh), and for the registry part a
# Docker engine (DOCKER_HOST or /var/run/docker.sock) that is logged in where it pushes.
#
#   PYGUESTFS_ARCHIVE_DIR=DIR   a directory the CI keeps between runs (its own file cache):
#                               holds appliance-<cache key>.oci.tar; no engine needed
#   PYGUESTFS_IMAGE_REPO=REPO   a registry repository, e.g. registry.example/ci/appliance:
#                               the image REPO:<cache key> is pulled when it exists
#   PYGUESTFS_PUSH=1            after a build, push REPO:latest and REPO:<cache key>
#   BUILDER=PATH                the builder (default .venv/bin/guestfs-build-appliance)
#
# Further arguments go to every builder call (e.g. --cachedir DIR, --kernel FILE).
# A cache that misses (absent, another key, unreachable, corrupt) is reported and the
# appliance is built: the script fails only when building or exporting fails.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDER=${BUILDER:-.venv/bin/guestfs-build-appliance}
ARCHIVE_DIR=${PYGUESTFS_ARCHIVE_DIR:-}
REPO=${PYGUESTFS_IMAGE_REPO:-}
PUSH=${PYGUESTFS_PUSH:-0}

key=$("$BUILDER" --print-cache-key "$@")
echo "appliance-cache: cache key $key"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "key=$key" >>"$GITHUB_OUTPUT"
fi

sources=()
archive=""
if [ -n "$ARCHIVE_DIR" ]; then
  mkdir -p "$ARCHIVE_DIR"
  archive="$ARCHIVE_DIR/appliance-$key.oci.tar"
  if [ -f "$archive" ]; then
    sources+=(--cache-from-archive "$archive")
  fi
fi
if [ -n "$REPO" ]; then
  sources+=(--cache-from "$REPO")
fi

start=$(date +%s)
summary=$("$BUILDER" "${sources[@]}" --json "$@")
state=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
print("imported" if d["imported"] else "built" if d["built"] else "up-to-date")
if d.get("cache"):
    print(d["cache"], file=sys.stderr)
' <<<"$summary")
echo "appliance-cache: appliance $state in $(($(date +%s) - start)) s"

if [ "$state" = built ]; then
  # Fill the caches for the next run.
  if [ -n "$archive" ]; then
    "$BUILDER" --oci-archive "$archive" "$@"
    find "$ARCHIVE_DIR" -maxdepth 1 -name 'appliance-*.oci.tar' ! -name "appliance-$key.oci.tar" \
      -delete
    echo "appliance-cache: wrote $archive"
  fi
  if [ -n "$REPO" ] && [ "$PUSH" = 1 ]; then
    "$BUILDER" --image "$REPO:latest" --push "$@"
  fi
elif [ "$state" = imported ] && [ -n "$archive" ] && [ ! -f "$archive" ]; then
  # Came from the registry: keep a file copy too, for runs without the registry.
  "$BUILDER" --oci-archive "$archive" "$@"
fi
