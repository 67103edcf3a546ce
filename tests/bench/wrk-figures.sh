# Functions the wrk benchmarks share (sourced by containers.sh and
# queue.sh): a free port, and the figures of a `wrk --latency` report.

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
