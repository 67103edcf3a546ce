#!/usr/bin/env bash
# Queue benchmark (issue 10): 10,000 jobs queued in one project; how soon
# freeing resources starts the next one (target: within 100 ms), and the
# job list of those 10,000 against the container list's targets (at least
# 20 % of a bare actix-web hello-world's requests per second, p99 at most
# 30 ms), with the project's container list measured in the same run.
#
# Usage:
#   tests/bench/queue.sh [--write] [--no-build]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the binaries already in $CARGO_TARGET_DIR
#   PROFILE=release    the build profile's folder (debug: a smoke run)
#   DURATION=10        seconds of each wrk run
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#   JOBS, BLOCKERS     sizes (see tests/bench/queue.rs)
#
# Needs wrk, curl, python3. Talks only to 127.0.0.1. The figures are
# measurements of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE PROFILE DURATION CARGO_TARGET_DIR JOBS BLOCKERS; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/queue.sh${*:+ $*}"

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
            echo "queue.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done
DURATION=${DURATION:-10}
if ! [[ $DURATION =~ ^[1-9][0-9]*$ ]]; then
    echo "queue.sh: DURATION must be a whole number of at least 1, not '$DURATION'" >&2
    exit 2
fi
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || {
        echo "queue.sh: $tool is required (Debian: apt-get install -y $tool)" >&2
        exit 2
    }
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD == 1 ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build --release --example bench-hello --example bench-queue
    else
        cargo build --example bench-hello --example bench-queue
    fi
fi
HELLO="$CARGO_TARGET_DIR/$PROFILE/examples/bench-hello"
BENCH="$CARGO_TARGET_DIR/$PROFILE/examples/bench-queue"

# shellcheck source=tests/bench/wrk-figures.sh
. tests/bench/wrk-figures.sh
start_servers queue "$HELLO" "$BENCH"
COOKIE="Cookie: $(get cookie)"
echo "== $(get jobs) jobs queued in $(get seed_seconds) s; the next one started $(get start_median_ms) ms (median, most $(get start_most_ms) ms) after a deletion" >&2

for run in hello jobs containers; do
    case $run in
        hello) URL="http://127.0.0.1:$PORT/" HEADER=() ;;
        jobs) URL=$(get jobs_url) HEADER=(-H "$COOKIE") ;;
        containers) URL=$(get containers_url) HEADER=(-H "$COOKIE") ;;
    esac
    echo "== wrk -t1 -c32 -d${DURATION}s --latency $URL" >&2
    wrk -t1 -c32 -d"${DURATION}s" --latency ${HEADER[@]+"${HEADER[@]}"} "$URL" >"$WORK/$run.txt"
    if [[ $(non2xx "$WORK/$run.txt") != 0 ]]; then
        cat "$WORK/$run.txt" >&2
        echo "queue.sh: some $run responses were not 2xx; the figures are not valid" >&2
        exit 1
    fi
done
exec 3>&-
wait "$BENCH_PID" || {
    cat "$WORK/bench.log" >&2
    echo "queue.sh: bench-queue failed" >&2
    exit 1
}

HELLO_RPS=$(rps "$WORK/hello.txt")
JOBS_RPS=$(rps "$WORK/jobs.txt")
CONTAINERS_RPS=$(rps "$WORK/containers.txt")
ratio() { awk -v a="$1" -v b="$HELLO_RPS" 'BEGIN { printf "%.1f", 100 * a / b }'; }
JOBS_RATIO=$(ratio "$JOBS_RPS")
CONTAINERS_RATIO=$(ratio "$CONTAINERS_RPS")
JOBS_P99=$(p99 "$WORK/jobs.txt")
CONTAINERS_P99=$(p99 "$WORK/containers.txt")
START_MOST=$(get start_most_ms)

SECTION=$(
    cat <<TABLE
<!-- queue benchmark: begin -->
## Queue: 10,000 jobs waiting in one project (issue 10)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git rev-parse --short HEAD)
- Machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
- Profile: $PROFILE
- Command: \`$COMMAND\` (from the repository root)

| Figure | Measured | Target | Met |
|---|---|---|---|
| The next job started after a deletion freed its core, most of $(get blockers) (median in brackets) | $START_MOST ms ($(get start_median_ms)) | <= 100 ms | $(met "$START_MOST" "<=" 100) |
| Hello-world actix-web, requests/s | $HELLO_RPS | - | - |
| Job list, $(get jobs) jobs, requests/s (share of hello-world) | $JOBS_RPS ($JOBS_RATIO %) | >= 20 % | $(met "$JOBS_RATIO" ">=" 20) |
| Job list p99 latency (32 connections) | $JOBS_P99 ms | <= 30 ms | $(met "$JOBS_P99" "<=" 30) |
| Container list of the same project, requests/s (share), p99 | $CONTAINERS_RPS ($CONTAINERS_RATIO %), $CONTAINERS_P99 ms | - | - |

- Seed (\`tests/bench/queue.rs\`, an appliance in the example's process, local driver): a quota of
  $(get blockers) cores held by $(get blockers) one-core containers scheduled a day later, then $(get jobs)
  one-core jobs through \`Services::create_job\` in $(get seed_seconds) s, every one queued.
- A start: \`POST /containers/{id}/delete\` of a blocker over HTTP; the time from sending it to the first
  queued job seen out of the queue (its record read after the answer); the next job must still wait.
- Load: \`wrk -t1 -c32 -d${DURATION}s --latency\` on hello-world, then \`GET /jobs\` and \`GET /containers\`
  with the manager's session cookie (first page of 10 rows; the job list page is $(get list_bytes) bytes).
<!-- queue benchmark: end -->
TABLE
)
echo
echo "$SECTION"
if [[ $WRITE == 1 ]]; then
    python3 tests/bench/write_section.py "$SECTION"
fi
