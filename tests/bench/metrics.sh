#!/usr/bin/env bash
# Metrics benchmark (issue 12): ingest one DCGM scrape of 100 nodes × 8 GPUs
# (parse, map, store), render a container's 24-hour charts, and the GPU
# utilization report of a project with 200 containers over 30 days; the
# median and the most of 20 runs each (tests/bench/metrics.rs).
#
# Usage:
#   tests/bench/metrics.sh [--write] [--no-build] [--dev]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the example already in $CARGO_TARGET_DIR
#   --dev              the dev profile (when a release build is out of reach)
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#
# The figures are measurements of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE CARGO_TARGET_DIR; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/metrics.sh${*:+ $*}"

WRITE=${WRITE:-0}
BUILD=1
PROFILE=release
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        --dev) PROFILE=debug ;;
        -h | --help)
            sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "metrics.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD -eq 1 ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build --release --example bench-metrics >&2
    else
        cargo build --example bench-metrics >&2
    fi
fi
OUT=$("$CARGO_TARGET_DIR/$PROFILE/examples/bench-metrics")
echo "$OUT"
get() { sed -n "s/^$1=//p" <<<"$OUT"; }
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "yes" : "no" }'; }

if [[ $WRITE -eq 1 ]]; then
    ingest=$(get ingest_800_gpus_median_ms)
    chart=$(get chart_24h_median_ms)
    report=$(get report_200_containers_30_days_median_ms)
    section=$(cat <<MD
<!-- metrics benchmark: begin -->
## GPU metrics (issue 12)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git rev-parse --short HEAD)
- Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
- Profile: $PROFILE
- Command: \`$COMMAND\` (from the repository root)

| Figure (median of 20; most in brackets) | Measured | Target | Met |
|---|---|---|---|
| Ingest one scrape, 100 nodes × 8 GPUs ($(get scrape_lines) lines, $(get scrape_bytes) bytes): parse, map to 800 containers, store | $ingest ms ($(get ingest_800_gpus_max_ms)) | <= 100 ms | $(met "$ingest" 100) |
| A container's 24-hour Monitor charts: read and render | $chart ms ($(get chart_24h_max_ms)) | <= 20 ms | $(met "$chart" 20) |
| GPU utilization report, 200 containers × 30 days of hourly rollups | $report ms ($(get report_200_containers_30_days_max_ms)) | <= 100 ms | $(met "$report" 100) |
<!-- metrics benchmark: end -->
MD
)
    python3 tests/bench/write_section.py "$section"
fi
