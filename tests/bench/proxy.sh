#!/usr/bin/env bash
# Service proxy benchmark (issue 9): the latency mlstack's proxy adds to a
# small request against a local echo service (p50 and p99, direct and
# through /containers/{id}/services/echo/), the throughput of a large
# download both ways, and 200 concurrent WebSockets through the proxy.
# The service is tests/support/echo_service.py in a local-driver container
# (real sandbox); a second copy started without a secret is the direct
# baseline. Targets: at most 1 ms p50 and 5 ms p99 added, at least 500 MB/s
# through the proxy, the 200 WebSockets all held.
#
# Usage:
#   tests/bench/proxy.sh [--write] [--no-build]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the binary already in $CARGO_TARGET_DIR
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#   REQUESTS, DOWNLOAD_MB, WEBSOCKETS, MESSAGES   sizes (see tests/bench/proxy.rs)
#
# Needs python3 and bubblewrap (the local driver's sandbox). Talks only to
# 127.0.0.1. The figures are measurements of this machine, not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE CARGO_TARGET_DIR REQUESTS DOWNLOAD_MB WEBSOCKETS MESSAGES; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/proxy.sh${*:+ $*}"

WRITE=${WRITE:-0}
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "proxy.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD == 1 ]]; then
    cargo build --release --example bench-proxy
fi
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$CARGO_TARGET_DIR/release/examples/bench-proxy" | tee "$OUT"
get() { sed -n "s/^$1=//p" "$OUT"; }

met() { # value op limit
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "yes" : "no" }'
}

SECTION=$(cat <<TABLE
## Service proxy (issue 9)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git rev-parse --short HEAD)
- Machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, Linux $(uname -r)
- Command: \`$COMMAND\` (from the repository root)

| Figure                                              |   Measured |    Target | Met |
|-----------------------------------------------------|------------|-----------|-----|
| Added latency, p50 ($(get requests) small GETs each way) | $(get added_p50_ms) ms | <= 1 ms | $(met "$(get added_p50_ms)" "<=" 1) |
| Added latency, p99                                  | $(get added_p99_ms) ms | <= 5 ms | $(met "$(get added_p99_ms)" "<=" 5) |
| Download through the proxy ($(get download_mb) MiB) | $(get proxy_download_mb_per_s) MB/s | >= 500 MB/s | $(met "$(get proxy_download_mb_per_s)" ">=" 500) |
| Concurrent WebSockets held                          | $(get websockets_held) of $(get websockets) | all | $( [[ $(get websockets_held) == "$(get websockets)" ]] && echo yes || echo no) |

- Direct: p50 $(get direct_p50_ms) ms, p99 $(get direct_p99_ms) ms, download $(get direct_download_mb_per_s) MB/s; through the proxy: p50 $(get proxy_p50_ms) ms, p99 $(get proxy_p99_ms) ms.
- WebSockets: $(get websocket_messages_each) messages each, round trip p99 $(get websocket_round_trip_p99_ms) ms, all done in $(get websockets_seconds) s.
- The echo service is Python (stdlib); the direct download figure is its own ceiling.
TABLE
)
echo
echo "$SECTION"
if [[ $WRITE == 1 ]]; then
    python3 tests/bench/write_section.py "<!-- proxy benchmark: begin -->
$SECTION
<!-- proxy benchmark: end -->"
fi
