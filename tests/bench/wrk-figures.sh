# Functions the wrk benchmarks share (sourced by containers.sh and
# queue.sh): a free port, the servers' start and cleanup, and the figures
# of a `wrk --latency` report.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# to_ms VALUE: wrk's "812.00us" / "1.52ms" / "2.01s" in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { print "NaN" }
    }'
}
rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
p50() { to_ms "$(awk '$1 == "50%" { print $2 }' "$1")"; }
p99() { to_ms "$(awk '$1 == "99%" { print $2 }' "$1")"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1" | grep . || echo 0; }
met() { # value op limit
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "yes" : "no" }'
}

# start_servers NAME HELLO BENCH: a scratch folder $WORK (removed with the
# servers on exit), the hello-world baseline HELLO on $PORT, and the
# appliance BENCH, which serves until its input (fd 3) closes, as
# $BENCH_PID once it printed `ready=1`; `get KEY` reads what it printed.
start_servers() {
    local name=$1 hello=$2 bench=$3 i
    WORK=$(mktemp -d -t "mlstack-$name.XXXXXX")
    PIDS=()
    trap cleanup EXIT
    PORT=$(free_port)
    "$hello" "$PORT" >"$WORK/hello.log" 2>&1 </dev/null &
    PIDS+=($!)
    for ((i = 0; i < 600; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && break
        sleep 0.05
    done
    mkfifo "$WORK/in"
    "$bench" <"$WORK/in" >"$WORK/bench.out" 2>"$WORK/bench.log" &
    PIDS+=($!)
    BENCH_PID=$!
    exec 3>"$WORK/in"
    until grep -q '^ready=1$' "$WORK/bench.out"; do
        kill -0 "$BENCH_PID" 2>/dev/null || {
            cat "$WORK/bench.out" "$WORK/bench.log" >&2
            echo "$name.sh: $(basename "$bench") ended before it was ready" >&2
            exit 1
        }
        sleep 0.2
    done
}
cleanup() {
    local pid
    exec 3>&- 2>/dev/null || true
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
get() { sed -n "s/^$1=//p" "$WORK/bench.out"; }
