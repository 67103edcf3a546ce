#!/usr/bin/env bash
# Reconcile benchmark (issue 4): from cold, an appliance with 1,000 desired
# containers and an empty cluster (the fake Kubernetes API server of
# tests/support, in a process of its own with 10 nodes); how long until the
# reconcile loop has applied them all and until all are observed Running;
# then the CPU time of a steady-state resync of the 1,000 (median and most of
# 5, after the first resync following start-up).
#
# Usage:
#   tests/bench/reconcile.sh [--write] [--no-build]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the binaries already in $CARGO_TARGET_DIR
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#
# Talks only to 127.0.0.1; stops the fake however it exits. The figures are
# measurements of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE CARGO_TARGET_DIR; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/reconcile.sh${*:+ $*}"

WRITE=${WRITE:-0}
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "reconcile.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD -eq 1 ]]; then
    cargo build --release --example fake-apiserver --example bench-reconcile >&2
fi
EXAMPLES="$CARGO_TARGET_DIR/release/examples"

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

"$EXAMPLES/bench-reconcile" "$WORK/kubeconfig" | tee "$WORK/figures"
figure() { sed -n "s/^$1=//p" "$WORK/figures"; }

CPU_MODEL=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
SECTION=$(cat <<EOF
<!-- reconcile:begin -->
## Reconcile: 1,000 containers against the fake API server (issue 4)

Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($CPU_MODEL) with

    $COMMAND

The appliance starts on a store holding 1,000 desired containers (one
Deployment, one NodePort Service and one SSH Secret each) and an empty cluster:
the fake Kubernetes API server of \`tests/support\`, in a process of its own
with 10 nodes, whose controllers make the pods and take them to Running.

| figure | target | measured |
|---|---|---|
| all 1,000 applied (the cluster has their objects) | ≤ 5 s | $(figure applied_s) s |
| all 1,000 observed Running | — | $(figure running_s) s |
| CPU time of one steady-state resync of 1,000 (median of 5) | ≤ 200 ms | $(figure resync_cpu_ms) ms |
| the most CPU time one of those 5 resyncs took | ≤ 200 ms | $(figure resync_cpu_max_ms) ms |
| wall time of the median resync | — | $(figure resync_wall_ms) ms |
| desired states carried out again by that resync | 0 | $(figure resync_applied) |
| CPU time of the first resync after start-up (not steady state) | — | $(figure resync_first_cpu_ms) ms |

The start-up includes opening the store, connecting the kube driver and its
watches' first lists. A steady-state resync reads the store and the driver's
watch cache, provisions the project again (two requests: namespace and quota)
and asks the cluster nothing else; the CPU time is the appliance process's
own (the fake runs elsewhere).
<!-- reconcile:end -->
EOF
)

if [[ $WRITE -eq 1 ]]; then
    python3 tests/bench/write_section.py "$SECTION"
else
    echo "$SECTION"
fi
