#!/usr/bin/env bash
# The crash test and the disk-full test of the real `mlstack serve`
# (tests/crash/crash.py does the work; README "Crash test").
#
# Usage:
#   tests/crash/crash.sh [--no-build]
#
#   COUNT=20        SIGKILLs of the kill test (CI: 20; by hand: COUNT=500)
#   WRITERS=4       concurrent writers
#   DISK_FULL=1     also the disk-full test (0: skip it)
#
# The binary is $CARGO_TARGET_DIR/debug/mlstack, built here unless
# --no-build. The disk-full test mounts a small tmpfs in a mount namespace
# of its own (`unshare -m` as root, `unshare -Urm` without), so the mount
# goes with the test; where neither works it says so and is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/mlstack-target}"
COUNT="${COUNT:-20}"
WRITERS="${WRITERS:-4}"
DISK_FULL="${DISK_FULL:-1}"
if [[ "${1:-}" != "--no-build" ]]; then
    cargo build --quiet --bin mlstack
fi
binary="$CARGO_TARGET_DIR/debug/mlstack"

python3 tests/crash/crash.py kill "$binary" --count "$COUNT" --writers "$WRITERS"

if [[ "$DISK_FULL" == 0 ]]; then
    exit 0
fi
if [[ $(id -u) == 0 ]]; then
    namespace=(unshare -m --propagation private)
else
    namespace=(unshare -Urm --propagation private)
fi
if ! "${namespace[@]}" sh -c 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d" && rmdir "$d"' 2>/dev/null; then
    echo "disk-full test: SKIPPED (no tmpfs can be mounted here: ${namespace[*]} refused)"
    exit 0
fi
"${namespace[@]}" python3 tests/crash/crash.py disk-full "$binary" --writers "$WRITERS"
