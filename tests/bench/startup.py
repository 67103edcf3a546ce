#!/usr/bin/env python3
"""Start-up time of `mlstack serve`: from exec to the first HTTP 200 from /readyz.

Used by tests/bench/run.sh. Each run starts the server on a fresh, empty data
directory (so the first-run admin is created, as on a real first start), polls
/readyz on 127.0.0.1 about every millisecond, stops the server and removes the
directory. With --restart, each run also starts the server a second time on
the same (now populated) data directory and times that too.

Prints one line per run and, last, a JSON object with the medians.
Only 127.0.0.1 is contacted; every child process is stopped on exit.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CHILDREN = []


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    """True when GET /readyz answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def time_start(binary, data_dir, timeout_s, log):
    """Milliseconds from exec to the first 200 from /readyz."""
    port = free_port()
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    CHILDREN.append(proc)
    try:
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if ready(port):
                return (time.perf_counter() - started) * 1000.0
            if proc.poll() is not None:
                raise RuntimeError(f"mlstack exited with {proc.returncode} before it was ready")
            time.sleep(0.001)
        raise RuntimeError(f"mlstack was not ready within {timeout_s} s")
    finally:
        stop(proc)


def main():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--restart", action="store_true")
    p.add_argument("--log", default=os.devnull)
    args = p.parse_args()

    fresh, restart = [], []
    with open(args.log, "ab") as log:
        try:
            for i in range(args.runs):
                data_dir = tempfile.mkdtemp(prefix="mlstack-bench-start.")
                try:
                    ms = time_start(args.binary, data_dir, args.timeout, log)
                    fresh.append(ms)
                    line = f"  run {i + 1}: fresh data dir {ms:7.1f} ms"
                    if args.restart:
                        ms2 = time_start(args.binary, data_dir, args.timeout, log)
                        restart.append(ms2)
                        line += f"   restart on same dir {ms2:7.1f} ms"
                    print(line, file=sys.stderr, flush=True)
                finally:
                    shutil.rmtree(data_dir, ignore_errors=True)
        finally:
            for proc in list(CHILDREN):
                stop(proc)

    out = {
        "fresh_ms": fresh,
        "fresh_median_ms": statistics.median(fresh),
    }
    if restart:
        out["restart_ms"] = restart
        out["restart_median_ms"] = statistics.median(restart)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
