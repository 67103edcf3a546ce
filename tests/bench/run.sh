#!/usr/bin/env bash
# mlstack benchmarks: binary size, start-up time, idle memory, throughput of
# an authenticated page against a bare actix-web hello-world, and latency of
# that page while 20 logins hash at once.
#
# Usage:
#   tests/bench/run.sh [--write] [--no-build]
#
#   --write, WRITE=1     also write docs/benchmarks.md with the figures
#   --no-build           use the binaries already in $CARGO_TARGET_DIR
#   DURATION=10          seconds of each throughput run (DURATION=3: smoke run)
#   STORM_DURATION=5     seconds of the latency run during the login storm
#                        (never longer than DURATION)
#   STARTUP_RUNS=5       start-ups to time (the median is reported)
#   WAIT_FOR_IDLE=1      before each measurement, wait (poll every 20 s, at
#                        most 15 min) until no rustc runs and the CPUs are idle
#   MAX_TRIES=3          a measurement during which other processes used more
#                        than NOISE_PCT=10 % of the CPU time is taken again, up
#                        to MAX_TRIES times; the quietest attempt is kept
#   CARGO_TARGET_DIR     build directory (default /tmp/mlstack-bench-target)
#
# Needs: cargo, curl, wrk, python3. Talks only to 127.0.0.1. Every process it
# starts is stopped when it exits, however it exits. The figures are
# measurements of this machine, not assertions: the script exits 0 when the
# measurements were taken, whether or not a target was met.

set -euo pipefail

# ---------------------------------------------------------------- settings --
# The command that reproduces this run, for the report: the settings given in
# the environment, then the arguments.
COMMAND=""
for n in WRITE DURATION STORM_DURATION STARTUP_RUNS MAX_TRIES NOISE_PCT WAIT_FOR_IDLE CARGO_TARGET_DIR; do
    [[ -n ${!n+set} ]] && COMMAND+="$n=${!n} "
done
COMMAND+="tests/bench/run.sh${*:+ $*}"

WRITE=${WRITE:-0}
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --write) WRITE=1 ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "run.sh: unknown argument $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

DURATION=${DURATION:-10}
STORM_DURATION=${STORM_DURATION:-5}
STARTUP_RUNS=${STARTUP_RUNS:-5}
WAIT_FOR_IDLE=${WAIT_FOR_IDLE:-1}
MAX_TRIES=${MAX_TRIES:-3}
NOISE_PCT=${NOISE_PCT:-10}
IDLE_SETTLE_S=2
# RSS is read again this long after the load, once freed memory went back.
AFTER_LOAD_S=60
IDLE_POLL_S=20
IDLE_MAX_S=900
STORM_LOGINS=20
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/mlstack-bench-target}

for n in DURATION STORM_DURATION STARTUP_RUNS MAX_TRIES NOISE_PCT; do
    if ! [[ ${!n} =~ ^[1-9][0-9]*$ ]]; then
        echo "run.sh: $n must be a whole number of at least 1, not '${!n}'" >&2
        exit 2
    fi
done
((STORM_DURATION > DURATION)) && STORM_DURATION=$DURATION

# The targets.
T_SIZE_MB=25
T_START_MS=200
T_RSS_MB=20
T_RSS_AFTER_LOAD_MB=25
T_RATIO_PCT=30
T_P99_MS=20
T_STORM_P99_MS=50

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR="$ROOT/tests/bench"
BIN="$CARGO_TARGET_DIR/release/mlstack"
HELLO="$CARGO_TARGET_DIR/release/examples/bench-hello"


for tool in curl wrk python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "run.sh: $tool is required (Debian: apt-get install -y $tool)" >&2
        exit 2
    fi
done

# ----------------------------------------------------------------- cleanup --
WORK=$(mktemp -d -t mlstack-bench.XXXXXX)
PIDS=()

forget_pid() {
    # Drops a process that has ended (and was waited for) from PIDS.
    local pid=$1 i keep=()
    for i in "${PIDS[@]}"; do
        [[ $i == "$pid" ]] || keep+=("$i")
    done
    PIDS=(${keep[@]+"${keep[@]}"})
}

stop_pid() {
    # Stops one process we started (and its process group, when it leads
    # one): TERM, up to 10 s, then KILL; and forgets it.
    local pid=$1 i target
    forget_pid "$pid"
    target=$pid
    [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]] && target="-$pid"
    kill -TERM -- "$target" 2>/dev/null || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        stop_pid "$pid"
    done 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------- helpers --
log() { printf '%s\n' "$*" >&2; }

# A /proc/PID/status memory field (VmRSS, VmHWM) of mlstack, in MB.
status_mb() {
    awk -v field="^$1:" '$0 ~ field { printf "%.1f", $2 * 1024 / 1000000 }' "/proc/$MLSTACK_PID/status"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# run_child COMMAND...: runs COMMAND in the background and waits for it, so that a
# signal to this script is handled at once (bash runs traps only between
# foreground commands), and the cleanup knows to stop it.
run_child() {
    local pid rc=0
    "$@" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    return "$rc"
}

# wait_ready PORT PATH PID: polls until PATH answers 200 (at most 30 s).
wait_ready() {
    local port=$1 path=$2 pid=$3 i code
    for ((i = 0; i < 600; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port$path" || true)
        [[ $code == 200 ]] && return 0
        kill -0 "$pid" 2>/dev/null || {
            log "process $pid exited before 127.0.0.1:$port$path answered"
            return 1
        }
        sleep 0.05
    done
    log "127.0.0.1:$port$path did not answer 200 within 30 s"
    return 1
}

# rustc processes running now (ours are finished by the time we measure).
rustc_count() { { pgrep -x rustc || true; } | wc -l; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# CPU accounting, to tell whether other processes ran during a measurement.
# cpu_jiffies: "busy total" over all CPUs, from /proc/stat.
cpu_jiffies() {
    awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}
# own_jiffies: CPU time of this script, its waited-for children (wrk, curl,
# the start-up timer and the servers it stopped) and the processes it still
# runs.
own_jiffies() {
    local pid total=0 j
    for pid in $$ ${PIDS[@]+"${PIDS[@]}"}; do
        j=$(awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + ${j:-0}))
    done
    echo "$total"
}
CPU_MARK=""
cpu_mark() { CPU_MARK="$(cpu_jiffies) $(own_jiffies)"; }
# foreign_pct: share of all CPU time since cpu_mark used by other processes.
foreign_pct() {
    # shellcheck disable=SC2086
    set -- $CPU_MARK $(cpu_jiffies) $(own_jiffies)
    awk -v b0="$1" -v t0="$2" -v o0="$3" -v b1="$4" -v t1="$5" -v o1="$6" 'BEGIN {
        dt = t1 - t0; f = (b1 - b0) - (o1 - o0)
        if (dt <= 0 || f < 0) f = 0
        printf "%.1f", (dt > 0) ? 100 * f / dt : 0
    }'
}
# busy_pct_now: share of the CPUs busy over the next 3 seconds (nothing of
# ours runs while this is asked).
busy_pct_now() {
    local a b
    a=$(cpu_jiffies)
    sleep 3
    b=$(cpu_jiffies)
    # shellcheck disable=SC2086
    set -- $a $b
    awk -v b0="$1" -v t0="$2" -v b1="$3" -v t1="$4" 'BEGIN { dt = t1 - t0; printf "%.0f", (dt > 0) ? 100 * (b1 - b0) / dt : 0 }'
}

# quiet_before PHASE: with WAIT_FOR_IDLE=1, waits (at most IDLE_MAX_S) until
# no rustc runs and the CPUs are idle.
quiet_before() {
    local phase=$1 waited=0 busy
    ((WAIT_FOR_IDLE == 1)) || return 0
    while ((waited < IDLE_MAX_S)); do
        busy=$(busy_pct_now)
        if (($(rustc_count) == 0)) && ((busy < NOISE_PCT)); then
            return 0
        fi
        log "  [$phase] machine busy ($(rustc_count) rustc, ${busy}% CPU, load $(loadavg)); waiting ${IDLE_POLL_S} s"
        sleep "$IDLE_POLL_S"
        waited=$((waited + IDLE_POLL_S))
    done
    log "  [$phase] still busy after ${IDLE_MAX_S} s; measuring anyway"
}

# measure PHASE FUNCTION: runs FUNCTION TRY (which writes its results under
# names ending in .TRY) until other processes used at most NOISE_PCT % of the
# CPU time during it, at most MAX_TRIES times; sets PHASE_TRY to the quietest
# attempt and PHASE_NOISE to its share of foreign CPU time.
declare -A BEST_TRY=() BEST_NOISE=()
measure() {
    local phase=$1 fn=$2 try noise
    for ((try = 1; try <= MAX_TRIES; try++)); do
        quiet_before "$phase"
        cpu_mark
        "$fn" "$try"
        noise=$(foreign_pct)
        if [[ -z ${BEST_TRY[$phase]:-} ]] ||
            awk -v a="$noise" -v b="${BEST_NOISE[$phase]}" 'BEGIN { exit !(a < b) }'; then
            BEST_TRY[$phase]=$try
            BEST_NOISE[$phase]=$noise
        fi
        if awk -v a="$noise" -v b="$NOISE_PCT" 'BEGIN { exit !(a <= b) }'; then
            break
        fi
        log "  [$phase] other processes used ${noise}% of the CPU time during attempt $try"
        # Give whatever else runs time to finish before the next attempt.
        ((try < MAX_TRIES && WAIT_FOR_IDLE == 1)) && sleep "$IDLE_POLL_S"
    done
    log "  [$phase] kept attempt ${BEST_TRY[$phase]} (other processes: ${BEST_NOISE[$phase]}% of the CPU time)"
}

# to_ms VALUE: wrk's "812.00us" / "1.52ms" / "2.01s" / "1.00m" in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else if (v ~ /h$/) { sub(/h$/, "", v); printf "%.3f", v * 3600000 }
        else { print "NaN" }
    }'
}

# wrk_field FILE rps|p50|p99|requests|non2xx|errors
wrk_field() {
    local file=$1 field=$2
    case "$field" in
        rps) awk '/^Requests\/sec:/ { print $2 }' "$file" ;;
        p50) to_ms "$(awk '$1 == "50%" { print $2 }' "$file")" ;;
        p99) to_ms "$(awk '$1 == "99%" { print $2 }' "$file")" ;;
        requests) awk '/requests in/ { print $1 }' "$file" ;;
        non2xx) awk '/Non-2xx or 3xx responses:/ { print $NF }' "$file" | grep . || echo 0 ;;
        errors) grep -o 'Socket errors:.*' "$file" || echo "none" ;;
    esac
}

# met MEASURED OP TARGET -> "yes" / "NO"
met() {
    awk -v m="$1" -v t="$3" -v op="$2" 'BEGIN {
        if (m == "" || m == "NaN") { print "n/a"; exit }
        ok = (op == "<=") ? (m <= t) : (op == "<") ? (m < t) : (m >= t)
        print (ok ? "yes" : "NO")
    }'
}

fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { if (v == "" || v == "NaN") print "n/a"; else printf "%.*f", d, v }'; }

# csrf_of FILE: the value of the first hidden csrf input of a page.
csrf_of() {
    grep -o 'name="csrf" value="[^"]*"' "$1" | head -n1 | sed 's/.*value="\([^"]*\)"/\1/'
}

# new_csrf_pair JAR: GET /login into a cookie jar; prints the form token.
new_csrf_pair() {
    local jar=$1 page
    page="$jar.html"
    curl -s --max-time 10 -c "$jar" -o "$page" "$URL/login"
    csrf_of "$page"
}

# start_mlstack DATA_DIR: starts `mlstack serve`, sets MLSTACK_PID and PORT.
start_mlstack() {
    local dir=$1
    PORT=$(free_port)
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$dir" \
        >"$WORK/serve.stdout" 2>"$WORK/serve.log" </dev/null &
    MLSTACK_PID=$!
    PIDS+=("$MLSTACK_PID")
    URL="http://127.0.0.1:$PORT"
    wait_ready "$PORT" /readyz "$MLSTACK_PID"
}

# ------------------------------------------------------------------- build --
log "== mlstack benchmarks (target dir $CARGO_TARGET_DIR, DURATION=${DURATION}s)"
if ((BUILD == 1)); then
    log "== building: cargo build --release --bin mlstack --example bench-hello"
    # In a process group of its own, so that stopping it stops rustc too.
    run_child setsid cargo build --manifest-path "$ROOT/Cargo.toml" --release --bin mlstack --example bench-hello
fi
for b in "$BIN" "$HELLO"; do
    [[ -x $b ]] || {
        log "run.sh: $b is missing (build first, or drop --no-build)"
        exit 1
    }
done

# ------------------------------------------------------------ binary size --
SIZE_BYTES=$(stat -c %s "$BIN")
SIZE_MB=$(awk -v b="$SIZE_BYTES" 'BEGIN { printf "%.1f", b / 1000000 }')
log "== binary size: $SIZE_MB MB ($SIZE_BYTES bytes)"

# ----------------------------------------------------------- start-up time --
log "== start-up time: exec to first 200 from /readyz, $STARTUP_RUNS fresh data dirs"
phase_startup() {
    local try=$1
    run_child python3 "$BENCH_DIR/startup.py" "$BIN" --runs "$STARTUP_RUNS" --restart \
        --log "$WORK/startup.log" >"$WORK/startup.$try.json"
}
measure startup phase_startup
json_get() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join("%.0f" % x for x in v) if isinstance(v, list) else v)' "$@"; }
STARTUP_JSON="$WORK/startup.${BEST_TRY[startup]}.json"
START_MS=$(json_get "$STARTUP_JSON" fresh_median_ms)
RESTART_MS=$(json_get "$STARTUP_JSON" restart_median_ms)
START_ALL=$(json_get "$STARTUP_JSON" fresh_ms)
log "   median $(fmt "$START_MS") ms on a fresh data dir (runs: $START_ALL ms); $(fmt "$RESTART_MS") ms on an existing one"

# ---------------------------------------------------------------- idle RSS --
quiet_before rss
DATA_DIR="$WORK/data"
mkdir -p "$DATA_DIR"
start_mlstack "$DATA_DIR"
sleep "$IDLE_SETTLE_S"
RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MLSTACK_PID/status")
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$MLSTACK_PID/status")
THREADS=$(awk '/^Threads:/ { print $2 }' "/proc/$MLSTACK_PID/status")
RSS_MB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k * 1024 / 1000000 }')
HWM_MB=$(awk -v k="$HWM_KB" 'BEGIN { printf "%.1f", k * 1024 / 1000000 }')
log "== idle RSS after ${IDLE_SETTLE_S} s: $RSS_MB MB (peak so far $HWM_MB MB, $THREADS threads)"

# ------------------------------------------------------------------ log in --
PASSWORD=""
if [[ -s $DATA_DIR/initial-admin-password ]]; then
    PASSWORD=$(head -n1 "$DATA_DIR/initial-admin-password")
else
    PASSWORD=$(awk '$1 == "password:" { print $2; exit }' "$WORK/serve.stdout")
fi
[[ -n $PASSWORD ]] || {
    log "run.sh: the first-run admin password was neither in $DATA_DIR/initial-admin-password nor on stdout"
    exit 1
}
ADMIN_JAR="$WORK/admin.jar"
TOKEN=$(new_csrf_pair "$ADMIN_JAR")
[[ -n $TOKEN ]] || {
    log "run.sh: GET /login carried no csrf field"
    exit 1
}
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -b "$ADMIN_JAR" -c "$ADMIN_JAR" \
    --data-urlencode "username=admin" --data-urlencode "password=$PASSWORD" \
    --data-urlencode "csrf=$TOKEN" "$URL/login")
[[ $CODE == 303 ]] || {
    log "run.sh: POST /login answered $CODE, not 303"
    exit 1
}
SESSION=$(awk '$6 == "mlstack_session" { print $7 }' "$ADMIN_JAR")
[[ -n $SESSION ]] || {
    log "run.sh: no mlstack_session cookie after logging in"
    exit 1
}
COOKIE="Cookie: mlstack_session=$SESSION"
PROFILE="$URL/account/profile"
CODE=$(curl -s -o "$WORK/profile.html" -w '%{http_code}' --max-time 10 -H "$COOKIE" "$PROFILE")
[[ $CODE == 200 ]] || {
    log "run.sh: GET /account/profile with the admin session answered $CODE, not 200"
    exit 1
}
PROFILE_BYTES=$(stat -c %s "$WORK/profile.html")
log "== logged in as admin; GET /account/profile answers 200 ($PROFILE_BYTES bytes)"

# -------------------------------------------------------------- throughput --
HELLO_PORT=$(free_port)
"$HELLO" "$HELLO_PORT" >"$WORK/hello.log" 2>&1 </dev/null &
HELLO_PID=$!
PIDS+=("$HELLO_PID")
wait_ready "$HELLO_PORT" / "$HELLO_PID"

# Hello-world and My Profile back to back, so that both see the same machine.
phase_throughput() {
    local try=$1
    log "== wrk -t1 -c32 -d${DURATION}s --latency http://127.0.0.1:$HELLO_PORT/ (bare actix-web)"
    run_child wrk -t1 -c32 -d"${DURATION}s" --latency "http://127.0.0.1:$HELLO_PORT/" >"$WORK/wrk-hello.$try.txt"
    log "   $(wrk_field "$WORK/wrk-hello.$try.txt" rps) requests/s"
    log "== wrk -t1 -c32 -d${DURATION}s --latency $PROFILE (admin session)"
    run_child wrk -t1 -c32 -d"${DURATION}s" --latency -H "$COOKIE" "$PROFILE" >"$WORK/wrk-profile.$try.txt"
    log "   $(wrk_field "$WORK/wrk-profile.$try.txt" rps) requests/s, p99 $(fmt "$(wrk_field "$WORK/wrk-profile.$try.txt" p99)" 2) ms"
}
measure throughput phase_throughput
stop_pid "$HELLO_PID"
HELLO_TXT="$WORK/wrk-hello.${BEST_TRY[throughput]}.txt"
PROFILE_TXT="$WORK/wrk-profile.${BEST_TRY[throughput]}.txt"
HELLO_RPS=$(wrk_field "$HELLO_TXT" rps)
HELLO_P99=$(wrk_field "$HELLO_TXT" p99)
PROF_RPS=$(wrk_field "$PROFILE_TXT" rps)
PROF_P50=$(wrk_field "$PROFILE_TXT" p50)
PROF_P99=$(wrk_field "$PROFILE_TXT" p99)
PROF_NON2XX=$(wrk_field "$PROFILE_TXT" non2xx)
PROF_ERRORS=$(wrk_field "$PROFILE_TXT" errors)
RATIO_PCT=$(awk -v a="$PROF_RPS" -v b="$HELLO_RPS" 'BEGIN { printf "%.1f", 100 * a / b }')
log "   hello-world $HELLO_RPS requests/s; My Profile $PROF_RPS requests/s (${RATIO_PCT}%), p50 $(fmt "$PROF_P50" 2) ms, p99 $(fmt "$PROF_P99" 2) ms, non-2xx: $PROF_NON2XX, socket errors: $PROF_ERRORS"
if [[ $PROF_NON2XX != 0 ]]; then
    log "run.sh: $PROF_NON2XX profile responses were not 2xx; the throughput figure is not valid"
    exit 1
fi

# ------------------------------------------------------------- login storm --
STORM="$WORK/storm"
mkdir -p "$STORM"
STORM_TOKENS=()
for ((i = 0; i < STORM_LOGINS; i++)); do
    t=$(new_csrf_pair "$STORM/$i.jar")
    [[ -n $t ]] || {
        log "run.sh: GET /login carried no csrf field"
        exit 1
    }
    STORM_TOKENS+=("$t")
done

# Rounds of 20 parallel logins with the right password, until told to stop.
# The jars are only read (-b), so every POST carries just the CSRF cookie and
# its token stays valid for the next round.
storm_loop() {
    local try=$1 end=$((SECONDS + STORM_DURATION + 5)) i
    trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
    while ((SECONDS < end)) && [[ ! -e $STORM/stop.$try ]]; do
        for ((i = 0; i < STORM_LOGINS; i++)); do
            curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 60 \
                -b "$STORM/$i.jar" --data-urlencode "username=admin" \
                --data-urlencode "password=$PASSWORD" \
                --data-urlencode "csrf=${STORM_TOKENS[$i]}" \
                "$URL/login" >>"$STORM/results.$try" &
        done
        wait
    done
}

phase_storm() {
    local try=$1 i
    log "== login storm: rounds of $STORM_LOGINS concurrent logins; meanwhile wrk -t1 -c8 -d${STORM_DURATION}s --latency $PROFILE"
    : >"$STORM/results.$try"
    storm_loop "$try" &
    STORM_PID=$!
    PIDS+=("$STORM_PID")
    sleep 0.5 # the first hashes are under way
    run_child wrk -t1 -c8 -d"${STORM_DURATION}s" --latency -H "$COOKIE" "$PROFILE" >"$WORK/wrk-storm.$try.txt"
    touch "$STORM/stop.$try"
    for ((i = 0; i < 1200; i++)); do
        kill -0 "$STORM_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$STORM_PID"
    log "   p99 $(fmt "$(wrk_field "$WORK/wrk-storm.$try.txt" p99)" 2) ms; $(awk '$1 == 303' "$STORM/results.$try" | wc -l) logins"
}
measure storm phase_storm
STORM_TXT="$WORK/wrk-storm.${BEST_TRY[storm]}.txt"
STORM_RESULTS="$STORM/results.${BEST_TRY[storm]}"
STORM_RPS=$(wrk_field "$STORM_TXT" rps)
STORM_P99=$(wrk_field "$STORM_TXT" p99)
STORM_NON2XX=$(wrk_field "$STORM_TXT" non2xx)
LOGINS_OK=$(awk '$1 == 303' "$STORM_RESULTS" | wc -l)
LOGINS_ALL=$(wc -l <"$STORM_RESULTS")
LOGIN_MEDIAN_S=$(awk '$1 == 303 { print $2 }' "$STORM_RESULTS" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
log "   profile under storm: $STORM_RPS requests/s, p99 $(fmt "$STORM_P99" 2) ms, non-2xx: $STORM_NON2XX"
log "   logins: $LOGINS_OK of $LOGINS_ALL answered 303; median login took $(fmt "$LOGIN_MEDIAN_S" 2) s"
if [[ $STORM_NON2XX != 0 ]]; then
    log "run.sh: $STORM_NON2XX profile responses during the storm were not 2xx; the figure is not valid"
    exit 1
fi
if ((LOGINS_OK < STORM_LOGINS)); then
    log "run.sh: fewer than $STORM_LOGINS logins succeeded; the storm did not happen as intended"
    exit 1
fi

RSS_AFTER_MB=$(status_mb VmRSS)
HWM_AFTER_MB=$(status_mb VmHWM)
log "== RSS right after the load: $RSS_AFTER_MB MB; waiting ${AFTER_LOAD_S} s"
sleep "$AFTER_LOAD_S"
RSS_SETTLED_MB=$(status_mb VmRSS)
log "   RSS ${AFTER_LOAD_S} s after the load: $RSS_SETTLED_MB MB"
stop_pid "$MLSTACK_PID"

# ----------------------------------------------------------------- summary --
row() { printf '| %-44s | %14s | %10s | %-4s |\n' "$1" "$2" "$3" "$4"; }
TABLE=$(
    row "Figure" "Measured" "Target" "Met"
    printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..12})" "------"
    row "Release binary size (target/release/mlstack)" "$SIZE_MB MB" "<= $T_SIZE_MB MB" "$(met "$SIZE_MB" '<=' "$T_SIZE_MB")"
    row "Start-up, exec to first 200 /readyz (median)" "$(fmt "$START_MS") ms" "<= $T_START_MS ms" "$(met "$START_MS" '<=' "$T_START_MS")"
    row "Idle RSS after start-up (${IDLE_SETTLE_S} s idle)" "$RSS_MB MB" "<= $T_RSS_MB MB" "$(met "$RSS_MB" '<=' "$T_RSS_MB")"
    row "RSS ${AFTER_LOAD_S} s after the load runs" "$RSS_SETTLED_MB MB" "<= $T_RSS_AFTER_LOAD_MB MB" "$(met "$RSS_SETTLED_MB" '<=' "$T_RSS_AFTER_LOAD_MB")"
    row "Hello-world actix-web, requests/s" "$(fmt "$HELLO_RPS" 0)" "-" "-"
    row "My Profile (logged in), requests/s" "$(fmt "$PROF_RPS" 0)" "-" "-"
    row "My Profile / hello-world" "${RATIO_PCT} %" ">= $T_RATIO_PCT %" "$(met "$RATIO_PCT" '>=' "$T_RATIO_PCT")"
    row "My Profile p99 latency (32 connections)" "$(fmt "$PROF_P99" 2) ms" "<= $T_P99_MS ms" "$(met "$PROF_P99" '<=' "$T_P99_MS")"
    row "My Profile p99 during 20 concurrent logins" "$(fmt "$STORM_P99" 2) ms" "< $T_STORM_P99_MS ms" "$(met "$STORM_P99" '<' "$T_STORM_P99_MS")"
)
NOISE="start-up ${BEST_NOISE[startup]}% (attempt ${BEST_TRY[startup]}), throughput ${BEST_NOISE[throughput]}% (attempt ${BEST_TRY[throughput]}), login storm ${BEST_NOISE[storm]}% (attempt ${BEST_TRY[storm]})"

DETAILS=$(
    cat <<EOF
- Start-up runs on fresh data dirs: $START_ALL ms; restart on an existing data dir (no admin to create): median $(fmt "$RESTART_MS") ms.
- Idle: $THREADS threads, peak RSS before any request $HWM_MB MB; after the load runs (throughput and login storm) RSS $RSS_AFTER_MB MB, peak $HWM_AFTER_MB MB, and $RSS_SETTLED_MB MB ${AFTER_LOAD_S} s later.
- Hello-world: $(fmt "$HELLO_RPS" 0) requests/s, p99 $(fmt "$HELLO_P99" 2) ms.
- My Profile ($PROFILE_BYTES-byte page): p50 $(fmt "$PROF_P50" 2) ms, p99 $(fmt "$PROF_P99" 2) ms, non-2xx responses: $PROF_NON2XX, socket errors: $PROF_ERRORS.
- Login storm: $LOGINS_OK of $LOGINS_ALL logins answered 303 (median $(fmt "$LOGIN_MEDIAN_S" 2) s each); My Profile meanwhile served $(fmt "$STORM_RPS" 0) requests/s with 8 connections.
- Share of all CPU time used by other processes during the kept measurements: $NOISE.
EOF
)

echo
echo "mlstack benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, DURATION=${DURATION}s)"
echo
echo "$TABLE"
echo
echo "$DETAILS"
echo

# ------------------------------------------------------------------- write --
if ((WRITE == 1)); then
    CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    MEM_GIB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
    KERNEL=$(uname -sr)
    RUSTC=$(rustc --version 2>/dev/null || echo "unknown")
    WRK_VERSION=$(wrk --version 2>&1 | head -n1 | awk '{ print $1, $2 }' || true)
    COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "unknown")
    if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null || true) ]]; then
        OTHERS=$(git -C "$ROOT" status --porcelain 2>/dev/null | awk '{ print $NF }' |
            grep -v -e '^tests/bench/' -e '^docs/benchmarks.md$' -e '^docs/$' | head -n 5 | tr '\n' ' ' || true)
        if [[ -n $OTHERS ]]; then
            COMMIT+=" with uncommitted changes (${OTHERS% })"
        else
            COMMIT+=" (uncommitted changes only in tests/bench/ and docs/benchmarks.md)"
        fi
    fi
    FS=$(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $2 }')
    cat >"$ROOT/docs/benchmarks.md" <<EOF
# Benchmarks

These figures are **measured** on the machine described below by
\`tests/bench/run.sh\`; they are not asserted by any test, and another machine
will give other numbers. Re-run the script to check them (see the end of this
page).

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $COMMIT
- Machine: $(nproc) CPUs ($CPU_MODEL), $MEM_GIB GiB memory, $KERNEL; data directories on $FS
- Toolchain: $RUSTC; release profile from \`Cargo.toml\`; load generator $WRK_VERSION
- Command: \`$COMMAND\` (from the repository root)

## Results

$TABLE

$DETAILS

## What is measured

- **Binary size**: \`target/release/mlstack\` as built by
  \`cargo build --release --bin mlstack --example bench-hello\`, in MB (10^6 bytes).
- **Start-up**: from exec of \`mlstack serve --listen 127.0.0.1:PORT --data-dir DIR\`
  to the first HTTP 200 from \`/readyz\`, polled about every millisecond
  (\`tests/bench/startup.py\`). Each run uses a fresh, empty data directory, so
  it includes creating the store and the first-run admin (one password hash).
  The median of $STARTUP_RUNS runs is reported.
- **Idle RSS**: \`VmRSS\` from \`/proc/PID/status\`, ${IDLE_SETTLE_S} s after the server answered
  \`/readyz\` on a fresh data directory, in MB (10^6 bytes).
- **RSS after the load**: \`VmRSS\` of the same server ${AFTER_LOAD_S} s after the
  throughput and login-storm runs ended, with no environment variable set. The
  binary's allocator is jemalloc with its background threads on (built in,
  \`src/main.rs\`), which hand freed pages (a password hash takes 7 MiB) back to
  the system after a few seconds, whichever thread freed them.
- **Throughput**: \`wrk -t1 -c32 -d${DURATION}s --latency\`, first against a bare
  actix-web 4 hello-world (\`tests/bench/hello.rs\`, example \`bench-hello\`,
  default worker count), then against \`GET /account/profile\` with the first-run
  admin's session cookie (checked to answer 200, not a redirect to the login
  page). The ratio is My Profile requests/s over hello-world requests/s; p99 is
  wrk's 99th-percentile latency. wrk runs on the same machine as the server.
- **Login storm**: rounds of $STORM_LOGINS concurrent \`POST /login\` with the right
  password (each with its own CSRF cookie and token), kept going while
  \`wrk -t1 -c8 -d${STORM_DURATION}s --latency\` requests My Profile; the p99 of those
  requests is reported.

## Reproducing

\`\`\`sh
apt-get install -y wrk curl python3   # Debian
DURATION=10 tests/bench/run.sh        # prints the table
DURATION=3 tests/bench/run.sh         # a quick smoke run
WRITE=1 tests/bench/run.sh            # also rewrites this page
\`\`\`

Results are noisy when other work (a compilation, a test run) shares the
machine. Before each measurement the script waits until no \`rustc\` runs and
the CPUs are idle (\`WAIT_FOR_IDLE=0\` turns this off); it counts the CPU time
other processes used during each measurement, takes a measurement again when
that exceeds $NOISE_PCT % (at most $MAX_TRIES attempts), keeps the quietest
attempt and reports its share above.
EOF
    log "== wrote docs/benchmarks.md"
fi
