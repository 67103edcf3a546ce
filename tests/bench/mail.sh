#!/usr/bin/env bash
# Mail benchmark (issue 11): a backlog of 1,000 mails delivered to a local
# SMTP server (aiosmtpd) over the mail sender's reused connections, and My
# Profile's p99 while it drains against its p99 without a backlog
# (tests/bench/mail.rs says how).
#
# Usage:
#   tests/bench/mail.sh [--write] [--no-build] [--dev]
#
#   --write, WRITE=1   also write the figures into docs/benchmarks.md
#   --no-build         use the example already in $CARGO_TARGET_DIR
#   --dev              the dev profile (when a release build is out of reach)
#   MAILS=1000, PROFILE_REQUESTS=1000, PACE_MS=5 (one profile request every
#   PACE_MS), CONNECTIONS=4 (the [mail] pool)
#   AIOSMTPD_PYTHON    a Python with aiosmtpd (default: the venv .ci/run
#                      makes, /tmp/mlstack-aiosmtpd/bin/python)
#   CARGO_TARGET_DIR   build directory (default /tmp/mlstack-bench-target)
#
# Talks only to 127.0.0.1. The figures are measurements of this machine,
# not assertions.

set -euo pipefail

COMMAND=""
for n in WRITE MAILS PROFILE_REQUESTS PACE_MS CONNECTIONS CARGO_TARGET_DIR; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/mail.sh${*:+ $*}"

WRITE=${WRITE:-0}
BUILD=1
PROFILE=release
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        --dev) PROFILE=debug ;;
        -h | --help)
            sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "mail.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}
if [[ $BUILD -eq 1 ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build --release --example bench-mail >&2
    else
        cargo build --example bench-mail >&2
    fi
fi
OUT=$("$CARGO_TARGET_DIR/$PROFILE/examples/bench-mail")
echo "$OUT"
get() { sed -n "s/^$1=//p" <<<"$OUT"; }
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "yes" : "no" }'; }

if [[ $WRITE -eq 1 ]]; then
    drain=$(get drain_s)
    base99=$(get profile_p99_baseline_ms)
    during99=$(get profile_p99_draining_ms)
    slower=$(awk -v a="$during99" -v b="$base99" 'BEGIN { printf "%.2f", a - b }')
    section=$(cat <<MD
<!-- mail benchmark: begin -->
## Mail: a backlog of 1,000 mails (issue 11)

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git rev-parse --short HEAD)
- Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
- Profile: $PROFILE
- Command: \`$COMMAND\` (from the repository root)
- Setup: aiosmtpd on 127.0.0.1 writing a Maildir; \`[mail] connections = $(get connections)\`; $(get mails) Pending reminders written into the outbox while the appliance was down, then the appliance started: the drain is timed from that start to the $(get mails)th message in the Maildir ($(get received) received, $(get recorded_sent) recorded Sent). My Profile (\`GET /account/profile\`, signed in, one request every $(get pace_ms) ms): $(get profile_requests_baseline) requests without a backlog, and the $(get profile_requests_draining) answered while the backlog drained.

| Figure | Measured | Target | Met |
|---|---|---|---|
| 1,000 mails delivered | $drain s | <= 30 s | $(met "$drain" 30) |
| My Profile p99 while draining (p50 in brackets) | $during99 ms ($(get profile_p50_draining_ms)) | | |
| My Profile p99 without a backlog (p50 in brackets) | $base99 ms ($(get profile_p50_baseline_ms)) | | |
| p99 while draining minus p99 without | $slower ms | <= 2 ms | $(met "$slower" 2) |
<!-- mail benchmark: end -->
MD
)
    python3 tests/bench/write_section.py "$section"
fi
