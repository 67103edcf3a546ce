#!/usr/bin/env python3
"""Crash and disk-full tests of the real `mlstack serve` (run by crash.sh).

`kill`: writers create key pairs through the HTTP API (Advanced Settings ›
Key Pairs › Generate: the private key comes back only after the commit) and
remember every acknowledged one (a 200 with the key). The server is killed
with SIGKILL at random moments, started again on the same data directory,
and every acknowledged key pair must be on the key pair list.

`disk-full`: the data directory is a small tmpfs mounted here (the caller
gives this process a mount namespace of its own: crash.sh runs it under
`unshare -m`, or `unshare -Urm` without root). Writers fill it; every
refusal must be a 507 page that says the disk is full (in English and in
Traditional Chinese), /readyz must say so, reads keep working, a SIGKILL and
a start on the full disk lose nothing acknowledged, and once the tmpfs grows
writes succeed again without a restart and /readyz is ready again.

Python 3 standard library only. Only 127.0.0.1 is contacted; the scratch
folder and every process started here are removed however the script ends.
"""

import argparse
import html
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CHILDREN = []


class Failure(Exception):
    """The test failed; the message says how."""


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def text(self):
        return self.body.decode("utf-8", "replace")

    def csrf(self):
        m = re.search(r'name="csrf" value="([^"]+)"', self.text())
        return html.unescape(m.group(1)) if m else None


class Client:
    """One browser: cookies kept, redirects not followed."""

    def __init__(self, port, lang="en"):
        self.port = port
        self.lang = lang
        self.cookies = {}

    def request(self, method, path, fields=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Accept-Language": self.lang}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if fields is not None:
                body = urllib.parse.urlencode(fields)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    key, _, val = pair.partition("=")
                    if val and "max-age=0" not in value.lower():
                        self.cookies[key.strip()] = val.strip()
                    else:
                        self.cookies.pop(key.strip(), None)
            return Answer(response.status, response.getheaders(), data)
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields, csrf):
        return self.request("POST", path, list(fields) + [("csrf", csrf)])

    def login(self, username, password):
        token = self.get("/login").csrf()
        if token is None:
            raise Failure("the login page carries no CSRF token")
        answer = self.post("/login", [("username", username), ("password", password)], token)
        if answer.status != 303:
            raise Failure(f"login answered {answer.status}: {answer.text()[:300]}")

    def session_csrf(self):
        token = self.get("/account/password").csrf()
        if token is None:
            raise Failure("Change password carries no CSRF token")
        return token

    def choose_password(self, current, new):
        answer = self.post(
            "/account/password",
            [("current_password", current), ("new_password", new), ("confirm_password", new)],
            self.session_csrf(),
        )
        if answer.status != 303:
            raise Failure(f"Change password answered {answer.status}: {answer.text()[:300]}")


class Server:
    """`mlstack serve` on a data directory, started and killed again."""

    def __init__(self, binary, data_dir, config, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.config = config
        self.log_path = log_path
        self.proc = None
        self.port = None

    def start(self, timeout=60):
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "serve",
                    "--config",
                    self.config,
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--data-dir",
                    self.data_dir,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        CHILDREN.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"mlstack exited with {self.proc.returncode} before it was ready")
            try:
                answer = Client(self.port).get("/readyz")
                if answer.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)
        raise Failure(f"mlstack was not ready within {timeout} s")

    def kill(self):
        """SIGKILL to the server's whole process group."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        CHILDREN.remove(self.proc)
        self.proc = None

    def stop(self):
        """SIGTERM, and the exit status it ended with."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("mlstack did not stop within 30 s of SIGTERM")
        CHILDREN.remove(self.proc)
        self.proc = None
        return code


def kill_children():
    for proc in list(CHILDREN):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        CHILDREN.remove(proc)


def write_config(path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "# crash.py: no GPUs looked for, nothing scraped\n"
            "[local]\ndetect_gpus = false\n"
            "[metrics]\nnvidia_smi = \"off\"\n"
            "[log]\nlevel = \"info\"\n"
        )


def first_login(server):
    """The first-run admin logs in and chooses a password; the client."""
    path = os.path.join(server.data_dir, "initial-admin-password")
    with open(path, encoding="utf-8") as f:
        printed = f.read().strip()
    client = Client(server.port)
    client.login("admin", printed)
    client.choose_password(printed, printed + "-crash-test")
    return client


def listed_key_pairs(client):
    """The names on the key pair list (the HTTP read path)."""
    answer = client.get("/advanced/key-pairs")
    if answer.status != 200:
        raise Failure(f"the key pair list answered {answer.status}: {answer.text()[:300]}")
    return set(re.findall(r"\b(crash-\d+-\d+)\b", answer.text()))


class Writers:
    """Threads that generate key pairs as fast as the server answers."""

    def __init__(self, client, count, on_refusal=None):
        self.client = client
        self.count = count
        self.on_refusal = on_refusal
        self.acknowledged = set()
        self.refusals = []
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.done = threading.Event()
        self.next = 0
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(count)]

    def start(self):
        for t in self.threads:
            t.start()

    def name(self, writer):
        with self.lock:
            self.next += 1
            return f"crash-{writer}-{self.next}"

    def run(self, writer):
        while not self.done.is_set():
            if not self.running.wait(timeout=0.1):
                continue
            name = self.name(writer)
            try:
                answer = self.client.request(
                    "POST",
                    "/advanced/key-pairs/generate",
                    [("name", name), ("csrf", self.client.csrf)],
                    timeout=10,
                )
            except (OSError, http.client.HTTPException):
                # The server died under the request: not acknowledged.
                time.sleep(0.01)
                continue
            if answer.status == 200 and b"PRIVATE KEY" in answer.body:
                with self.lock:
                    self.acknowledged.add(name)
            else:
                with self.lock:
                    self.refusals.append((name, answer))
                if self.on_refusal is not None:
                    self.on_refusal(answer)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(timeout=30)


def check_present(client, acknowledged, when):
    listed = listed_key_pairs(client)
    lost = sorted(acknowledged - listed)
    if lost:
        raise Failure(f"{when}: {len(lost)} acknowledged key pairs lost, e.g. {lost[:5]}")


def start_signed_in(args, work, data_dir):
    """The server on `data_dir` with a config of its own in `work`, the
    first admin signed in, and the writers made (not started)."""
    config = os.path.join(work, "mlstack.toml")
    write_config(config)
    server = Server(args.binary, data_dir, config, os.path.join(work, "server.log"))
    server.start()
    client = first_login(server)
    client.csrf = client.session_csrf()
    return server, client, Writers(client, args.writers)


def kill_test(args, work):
    data_dir = os.path.join(work, "data")
    server, client, writers = start_signed_in(args, work, data_dir)
    refused = []
    writers.on_refusal = refused.append
    writers.start()
    rng = random.Random(args.seed)
    try:
        for kill in range(1, args.count + 1):
            writers.running.set()
            time.sleep(rng.uniform(0.0, args.max_wait))
            server.kill()
            writers.running.clear()
            # Requests in flight fail at once: the socket was closed.
            time.sleep(0.05)
            server.start()
            client.port = server.port
            with writers.lock:
                acknowledged = set(writers.acknowledged)
            check_present(client, acknowledged, f"after kill {kill}")
            if refused:
                answer = refused[0]
                raise Failure(f"a write was refused with {answer.status}: {answer.text()[:300]}")
            if kill % max(1, args.count // 10) == 0:
                print(f"  {kill} kills, {len(acknowledged)} acknowledged writes, 0 lost", file=sys.stderr, flush=True)
    finally:
        writers.stop()
    with writers.lock:
        acknowledged = set(writers.acknowledged)
    check_present(client, acknowledged, "at the end")
    code = server.stop()
    if code != 0:
        raise Failure(f"mlstack exited with {code} on SIGTERM")
    if len(acknowledged) < args.count:
        raise Failure(f"only {len(acknowledged)} writes were acknowledged in {args.count} runs")
    print(f"crash test: {args.count} kills, {len(acknowledged)} acknowledged writes, 0 lost")


DISK_FULL = {
    "en": "The server's disk is full; nothing was saved.",
    "zh-TW": "伺服器磁碟已滿，未儲存任何內容。",
}


def mount_tmpfs(path, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path], check=True)


def resize_tmpfs(path, size):
    subprocess.run(["mount", "-o", f"remount,size={size}", path], check=True)


def expect_disk_full(answer, lang):
    if answer.status != 507:
        raise Failure(f"a write on the full disk answered {answer.status}: {answer.text()[:300]}")
    text = answer.text()
    if DISK_FULL[lang] not in html.unescape(text):
        raise Failure(f"the 507 page in {lang} does not say the disk is full: {text[:500]}")
    if "<html" not in text:
        raise Failure(f"the 507 answer is not a page: {text[:300]}")


def fill(writers, client, limit_s=120):
    """Writes until the server refuses with 507; what it refused with."""
    writers.refusals.clear()
    writers.running.set()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with writers.lock:
            if writers.refusals:
                break
        time.sleep(0.05)
    else:
        raise Failure(f"the disk did not fill within {limit_s} s")
    # Keep writing a little on the full disk: every answer must be a 507.
    time.sleep(0.5)
    writers.running.clear()
    time.sleep(0.2)
    with writers.lock:
        refusals = list(writers.refusals)
    for _name, answer in refusals:
        expect_disk_full(answer, "en")
    return len(refusals)


def readyz(port):
    return Client(port).get("/readyz")


def disk_full_test(args, work):
    data_dir = os.path.join(work, "data")
    os.mkdir(data_dir, 0o700)
    mount_tmpfs(data_dir, args.tmpfs_size)
    try:
        disk_full_run(args, work, data_dir)
    finally:
        kill_children()
        subprocess.run(["umount", data_dir], check=False)


def disk_full_run(args, work, data_dir):
    server, client, writers = start_signed_in(args, work, data_dir)
    writers.start()
    try:
        refused = fill(writers, client)
        zh = Client(server.port, lang="zh-TW")
        zh.cookies = dict(client.cookies)
        expect_disk_full(
            zh.request("POST", "/advanced/key-pairs/generate", [("name", "crash-zh-1"), ("csrf", client.csrf)]),
            "zh-TW",
        )
        ready = readyz(server.port)
        if ready.status != 503 or "disk is full" not in ready.text():
            raise Failure(f"/readyz on the full disk answered {ready.status}: {ready.text()}")
        # Reads keep working on the full disk.
        check_present(client, writers.acknowledged, "on the full disk")

        # A SIGKILL on the full disk, and a start on it.
        server.kill()
        server.start()
        client.port = server.port
        check_present(client, writers.acknowledged, "after a restart on the full disk")
        # The start may have freed pages inside the store file: fill again.
        refused += fill(writers, client)

        # Space back: writes succeed without a restart, /readyz is ready.
        resize_tmpfs(data_dir, args.grown_size)
        ready = readyz(server.port)
        if ready.status != 200:
            raise Failure(f"/readyz after the disk grew answered {ready.status}: {ready.text()}")
        before = len(writers.acknowledged)
        writers.refusals.clear()
        writers.running.set()
        time.sleep(1.0)
        writers.running.clear()
        time.sleep(0.2)
        if writers.refusals:
            answer = writers.refusals[0][1]
            raise Failure(f"a write after the disk grew answered {answer.status}: {answer.text()[:300]}")
        if len(writers.acknowledged) <= before:
            raise Failure("no write succeeded after the disk grew")

        # Full again, then recovered by deleting a filler file.
        filler = os.path.join(data_dir, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        refused += fill(writers, client)
        os.remove(filler)
        before = len(writers.acknowledged)
        answer = client.request("POST", "/advanced/key-pairs/generate", [("name", "crash-99-1"), ("csrf", client.csrf)])
        if answer.status != 200:
            raise Failure(f"a write after the filler went answered {answer.status}: {answer.text()[:300]}")
        writers.acknowledged.add("crash-99-1")
        ready = readyz(server.port)
        if ready.status != 200:
            raise Failure(f"/readyz after the filler went answered {ready.status}: {ready.text()}")
    finally:
        writers.stop()
    server.kill()
    server.start()
    client.port = server.port
    check_present(client, writers.acknowledged, "after the last restart")
    code = server.stop()
    if code != 0:
        raise Failure(f"mlstack exited with {code} on SIGTERM")
    print(
        f"disk-full test: {len(writers.acknowledged)} acknowledged writes, 0 lost, "
        f"{refused} refused with 507, recovered without a restart"
    )


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["kill", "disk-full"])
    p.add_argument("binary")
    p.add_argument("--count", type=int, default=20, help="kills (kill)")
    p.add_argument("--writers", type=int, default=4, help="concurrent writers")
    p.add_argument("--max-wait", type=float, default=0.5, help="longest time before a kill, s")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--tmpfs-size", default="4m", help="the data directory's tmpfs (disk-full)")
    p.add_argument("--grown-size", default="64m", help="the tmpfs once grown (disk-full)")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix=f"mlstack-crash-{args.mode}.")
    try:
        if args.mode == "kill":
            kill_test(args, work)
        else:
            disk_full_test(args, work)
    except Failure as e:
        print(f"{args.mode} test FAILED: {e}", file=sys.stderr)
        log = os.path.join(work, "server.log")
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-4000:]
            print(f"--- the server's log (end)\n{tail}", file=sys.stderr)
        return 1
    finally:
        kill_children()
        if os.environ.get("CRASH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
