#!/usr/bin/env python3
"""A container service for tests and benchmarks, following the contract of
mlstack's service proxy (README, "Services of a container"): it listens on
127.0.0.1:$PORT, answers only requests that carry
`Authorization: token $SERVICE_TOKEN` (when SERVICE_TOKEN is set), and
serves under $BASE_URL.

- any method: a JSON echo of the method, path, headers and the body's
  length and SHA-256;
- GET ...?download=N: N bytes (streamed in 64 KiB pieces);
- a WebSocket upgrade: every text or binary message is sent back.

Only the standard library, so it runs wherever python3 does.
"""

import base64
import hashlib
import json
import os
import socketserver
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = os.environ.get("SERVICE_TOKEN", "")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PIECE = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body go in separate writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def refuse_without_token(self):
        if not TOKEN:
            return False
        if self.headers.get("Authorization", "") == "token " + TOKEN:
            return False
        self.send_plain(403, b"missing or wrong service token\n")
        return True

    def send_plain(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        digest = hashlib.sha256()
        length = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    piece = self.rfile.read(min(left, PIECE))
                    if not piece:
                        raise ConnectionError("body cut short")
                    digest.update(piece)
                    length += len(piece)
                    left -= len(piece)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0") or "0")
            while left:
                piece = self.rfile.read(min(left, PIECE))
                if not piece:
                    raise ConnectionError("body cut short")
                digest.update(piece)
                length += len(piece)
                left -= len(piece)
        return length, digest.hexdigest()

    def handle_any(self):
        if self.refuse_without_token():
            return
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        length, sha = self.read_body()
        query = parse_qs(urlsplit(self.path).query)
        if "download" in query:
            return self.download(int(query["download"][0]))
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_length": length,
                "body_sha256": sha,
                "base_url": os.environ.get("BASE_URL", ""),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "echo=1; Path=/")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def download(self, size):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        piece = b"x" * PIECE
        left = size
        while left:
            n = min(left, PIECE)
            self.wfile.write(piece[:n])
            left -= n

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            frame = self.read_frame()
            if frame is None:
                break
            opcode, payload = frame
            if opcode == 0x8:
                self.send_frame(0x8, payload[:2])
                break
            if opcode == 0x9:
                self.send_frame(0xA, payload)
            elif opcode in (0x1, 0x2):
                self.send_frame(opcode, payload)
        self.close_connection = True

    def read_exact(self, n):
        data = b""
        while len(data) < n:
            piece = self.rfile.read(n - len(data))
            if not piece:
                return None
            data += piece
        return data

    def read_frame(self):
        head = self.read_exact(2)
        if head is None:
            return None
        opcode = head[0] & 0x0F
        masked = head[1] & 0x80
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack(">H", self.read_exact(2) or b"\0\0")[0]
        elif length == 127:
            length = struct.unpack(">Q", self.read_exact(8) or b"\0" * 8)[0]
        mask = self.read_exact(4) if masked else b"\0\0\0\0"
        payload = self.read_exact(length) if length else b""
        if mask is None or payload is None:
            return None
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    def send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack(">H", n)
        else:
            head += bytes([127]) + struct.pack(">Q", n)
        self.wfile.write(head + payload)
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main():
    port = int(os.environ.get("PORT", sys.argv[1] if len(sys.argv) > 1 else "0"))
    with Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    main()
