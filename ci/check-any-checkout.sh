#!/usr/bin/env bash
# Run the tests from a checkout nobody planned for: the current commit cloned into a
# folder whose path is over 100 characters, below a private (0700) parent folder, with a
# TMPDIR over 100 characters, and no appliance cache from earlier runs. CI's own clone
# sits in a short, world-readable path; a user's or a packager's often does not.
#
#   bash ci/check-any-checkout.sh            bash ci/test.sh -m unit in such a clone
#   bash ci/check-any-checkout.sh --full     then the whole suite, bash ci/test.sh
#   bash ci/check-any-checkout.sh --keep     keep the clone and its TMPDIR afterwards
#
# Further arguments go to pytest (both runs). Only committed work is tested: the clone
# is of HEAD. PYGUESTFS_TEST_CACHEDIR is ignored, so the appliance is built afresh.
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
keep=0
while (($#)); do
  case $1 in
    --full) full=1 ;;
    --keep) keep=1 ;;
    *) break ;;
  esac
  shift
done

commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "check-any-checkout: uncommitted changes are not tested (the clone is of $commit)" >&2
fi

long=a-folder-whose-name-is-long-on-purpose-as-a-users-or-packagers-may-be
base=$(mktemp -d "${TMPDIR:-/tmp}/pyguestfs-any-checkout.XXXXXX")
if ((keep)); then
  echo "check-any-checkout: keeping $base"
else
  trap 'rm -rf "$base"' EXIT
fi
parent=$base/src/$long
checkout=$parent/pyguestfs
tmp=$base/tmp/$long/$long
mkdir -p "$parent" "$tmp"
chmod 0700 "$parent" "$tmp"
git clone --quiet --no-hardlinks . "$checkout"
git -C "$checkout" checkout --quiet --detach "$commit"
echo "check-any-checkout: $commit in $checkout (${#checkout} characters, parent folder 0700)"
echo "check-any-checkout: TMPDIR=$tmp (${#tmp} characters, 0700)"

run() {
  echo "check-any-checkout: bash ci/test.sh $*"
  (cd "$checkout" && env -u PYGUESTFS_TEST_CACHEDIR TMPDIR="$tmp" bash ci/test.sh "$@")
}

status=0
run -m unit "$@" || status=$?
if ((full)); then
  # Even after a failure above: the whole suite says what else fails from here.
  run "$@" || status=$?
fi
if ((status)); then
  echo "check-any-checkout: FAILED (see above)" >&2
  exit "$status"
fi
echo "check-any-checkout: passed"
