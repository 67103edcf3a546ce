#!/usr/bin/env bash
# Schedules benchmark (issue 10): 1,000 active job schedules firing every
# minute against the fake Kubernetes API server (tests/support, in a process
# of its own with 10 nodes): how long after its trigger time each job was
# created (median and most, over 2 triggers), and the appliance's CPU use
# between triggers (from 35 s after a trigger, or 2 s after its last job,
# to 58 s).
#
# Usage:
#   tests/bench/schedules.sh [--write] [--no-build]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the binaries already in $CARGO_TARGET_DIR
#   PROFILE=release    the build profile's folder (debug: a smoke run)
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#
# Takes about 3 minutes (it waits for minute boundaries). Talks only to
# 127.0.0.1; stops the fake however it exits. The figures are measurements
# of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE PROFILE CARGO_TARGET_DIR; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/schedules.sh${*:+ $*}"

WRITE=${WRITE:-0}
PROFILE=${PROFILE:-release}
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "schedules.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD -eq 1 ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build --release --example fake-apiserver --example bench-schedules >&2
    else
        cargo build --example fake-apiserver --example bench-schedules >&2
    fi
fi
EXAMPLES="$CARGO_TARGET_DIR/$PROFILE/examples"

WORK=$(mktemp -d)
FAKE_PID=""
cleanup() {
    [[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

"$EXAMPLES/fake-apiserver" --port 0 --nodes 10 --kubeconfig "$WORK/kubeconfig" >"$WORK/fake.out" 2>&1 &
FAKE_PID=$!
for _ in $(seq 1 100); do
    [[ -s $WORK/kubeconfig ]] && break
    sleep 0.1
done
[[ -s $WORK/kubeconfig ]] || { echo "the fake API server did not start:" >&2; cat "$WORK/fake.out" >&2; exit 1; }

"$EXAMPLES/bench-schedules" "$WORK/kubeconfig" | tee "$WORK/figures"
figure() { sed -n "s/^$1=//p" "$WORK/figures"; }

CPU_MODEL=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
SECTION=$(cat <<EOF
<!-- schedules:begin -->
## Job schedules: 1,000 firing every minute (issue 10)

Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($CPU_MODEL), $PROFILE build, with

    $COMMAND

One project, one job template and 1,000 schedules \`* * * * *\` in
Asia/Taipei, multi thread; each trigger's job is created by the schedule
loop through \`create_job\` and applied by the reconcile loop to the fake
Kubernetes API server of \`tests/support\` (a process of its own, 10 nodes).

| figure | target | measured |
|---|---|---|
| each trigger's job created after its time, the most (of $(figure triggers) × 1,000) | ≤ 1 s | $(figure lag_max_ms) ms |
| the same, median | — | $(figure lag_median_ms) ms |
| jobs a trigger made within 55 s, the fewest | 1,000 | $(figure created_least) |
| the appliance's CPU between triggers (from 35 s after one, or 2 s after its last job, to 58 s), share of one core | < 5 % | $(figure idle_cpu_pct) % |

A job's lag is its record's creation time minus the trigger time; the
loop looks for due schedules every 250 ms. The CPU share is the whole
appliance process's (the schedule loop's idle ticks, the reconcile loop,
the server), so it bounds the scheduler's own.
<!-- schedules:end -->
EOF
)

if [[ $WRITE -eq 1 ]]; then
    python3 tests/bench/write_section.py "$SECTION"
else
    echo "$SECTION"
fi
