#!/usr/bin/env bash
# Container benchmark (issue 9): the container list of a project with 500
# containers against a bare actix-web hello-world measured in the same run
# (target: at least 20 % of its requests per second, p99 at most 30 ms),
# and the time of 100 containers created by parallel wizard requests (whose
# quota accounting tests/bench/containers.rs checks).
#
# Usage:
#   tests/bench/containers.sh [--write] [--no-build]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the binaries already in $CARGO_TARGET_DIR
#   DURATION=10        seconds of each wrk run
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#   CONTAINERS, PARALLEL   sizes (see tests/bench/containers.rs)
#
# The load is `wrk -t1 -c32 -dDURATION --latency`, as in tests/bench/run.sh.
# Needs wrk, curl, python3. Talks only to 127.0.0.1. The figures are
# measurements of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE DURATION CARGO_TARGET_DIR CONTAINERS PARALLEL; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/containers.sh${*:+ $*}"

WRITE=${WRITE:-0}
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
            echo "containers.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done
DURATION=${DURATION:-10}
if ! [[ $DURATION =~ ^[1-9][0-9]*$ ]]; then
    echo "containers.sh: DURATION must be a whole number of at least 1, not '$DURATION'" >&2
    exit 2
fi
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || {
        echo "containers.sh: $tool is required (Debian: apt-get install -y $tool)" >&2
        exit 2
    }
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD == 1 ]]; then
    cargo build --release --example bench-hello --example bench-containers
fi
HELLO="$CARGO_TARGET_DIR/release/examples/bench-hello"
BENCH="$CARGO_TARGET_DIR/release/examples/bench-containers"

# shellcheck source=tests/bench/wrk-figures.sh
. tests/bench/wrk-figures.sh
start_servers containers "$HELLO" "$BENCH"
URL=$(get url)
COOKIE="Cookie: $(get cookie)"
echo "== $(get containers) containers seeded in $(get seed_seconds) s; $(get parallel) parallel wizard posts took $(get parallel_seconds) s" >&2

echo "== wrk -t1 -c32 -d${DURATION}s --latency http://127.0.0.1:$PORT/ (bare actix-web)" >&2
wrk -t1 -c32 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/" >"$WORK/hello.txt"
echo "== wrk -t1 -c32 -d${DURATION}s --latency $URL (bench's session)" >&2
wrk -t1 -c32 -d"${DURATION}s" --latency -H "$COOKIE" "$URL" >"$WORK/list.txt"
exec 3>&-
wait "$BENCH_PID" || {
    cat "$WORK/bench.log" >&2
    echo "containers.sh: bench-containers failed" >&2
    exit 1
}

if [[ $(non2xx "$WORK/list.txt") != 0 ]]; then
    cat "$WORK/list.txt" >&2
    echo "containers.sh: some list responses were not 2xx; the figures are not valid" >&2
    exit 1
fi
HELLO_RPS=$(rps "$WORK/hello.txt")
LIST_RPS=$(rps "$WORK/list.txt")
RATIO=$(awk -v a="$LIST_RPS" -v b="$HELLO_RPS" 'BEGIN { printf "%.1f", 100 * a / b }')
LIST_P50=$(p50 "$WORK/list.txt")
LIST_P99=$(p99 "$WORK/list.txt")

SECTION=$(
    cat <<TABLE
## Containers: the list of 500 and 100 parallel creations (issue 9)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git rev-parse --short HEAD)
- Machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, Linux $(uname -r)
- Command: \`$COMMAND\` (from the repository root)

| Figure                                                 |   Measured |    Target | Met |
|--------------------------------------------------------|------------|-----------|-----|
| Hello-world actix-web, requests/s                      | $HELLO_RPS | - | - |
| Container list, $(get containers) containers, requests/s | $LIST_RPS | - | - |
| Container list / hello-world                           | $RATIO % | >= 20 % | $(met "$RATIO" ">=" 20) |
| Container list p99 latency (32 connections)            | $LIST_P99 ms | <= 30 ms | $(met "$LIST_P99" "<=" 30) |
| $(get parallel) containers created by parallel wizard posts | $(get parallel_seconds) s | exact accounting | yes |

- Load: \`wrk -t1 -c32 -d${DURATION}s --latency\`, hello-world first, then \`GET /containers\` with
  the session cookie of the project's manager (first page of 10 rows, $(get list_bytes) bytes); list p50 $LIST_P50 ms.
- Seed (\`tests/bench/containers.rs\`, an appliance in the example's process, local driver): $(get parallel)
  containers through \`POST /containers/new\` at once (every one answered 303; the project then holds exactly
  $(get parallel) times the spec), the other $(($(get containers) - $(get parallel))) through \`Services::create_container\`.
  They start a day later (Scheduled): records and quota holds are written as for a container that starts
  at once, no sandbox is launched. The $(get parallel) creations are timed from the first post to the last answer.
- Exact accounting under contention (a quota that fits 32 of 100 parallel posts, refusals saying what is
  left, zero after deletion) is asserted by the integration test
  \`container_quota::a_hundred_parallel_creations_end_with_exact_quota_accounting\`.
TABLE
)
echo
echo "$SECTION"
if [[ $WRITE == 1 ]]; then
    python3 tests/bench/write_section.py "<!-- containers benchmark: begin -->
$SECTION
<!-- containers benchmark: end -->"
fi
