"""A real HTTP receiver on loopback for webhook tests (standard library http.server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class Receiver:
    """Records every POSTed JSON body; the first ``failures`` requests get HTTP 500.

    ``port`` 0 picks a free one; a fixed one lets a test bring a receiver up where a
    server already points (a receiver back after an outage)."""

    def __init__(self, failures: int = 0, port: int = 0, answer: bytes = b"") -> None:
        self.failures = failures
        self.answer = answer  # the body of a 2xx answer (b'{"ack": true}' acknowledges)
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.keys: list[str] = []  # the Idempotency-Key of each accepted request
        self.gate = threading.Event()  # cleared: requests wait (a slow receiver)
        self.gate.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.gate.wait(10)
                with receiver.lock:
                    receiver.requests.append(body)
                    failing = len(receiver.requests) <= receiver.failures
                    if not failing:
                        receiver.accepted.append(body)
                        receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                answer = b"" if failing else receiver.answer
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def kinds(self) -> list[str]:
        with self.lock:
            return [body["kind"] for body in self.accepted]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
