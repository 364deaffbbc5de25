"""/healthz, /readyz and /metrics over the standard library's threaded HTTP server.

Liveness (/healthz) fails only when a relay thread died: a restart is the only
cure for that. Readiness (/readyz) fails while the relay cannot do its job
(Storage failing, a node's watch not streaming) with the reasons in the body,
so `kubectl describe pod` and probes show why; that state heals by itself, so
it must not trigger a restart.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Check = Callable[[], list[str]]
"""Returns the problems found; an empty list means healthy / ready."""


class HealthServer:
    def __init__(
        self, port: int, *, live: Check, ready: Check, metrics: Callable[[], str], host: str = "0.0.0.0"
    ) -> None:
        handler = _handler(live, ready, metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="relay-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(live: Check, ready: Check, metrics: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._probe(live())
            elif path == "/readyz":
                self._probe(ready())
            elif path == "/metrics":
                self._send(200, metrics(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._send(404, "not found\n", "text/plain; charset=utf-8")

        def _probe(self, problems: list[str]) -> None:
            body = json.dumps({"ok": not problems, "problems": problems}) + "\n"
            self._send(200 if not problems else 503, body, "application/json")

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would drown the relay's own logs."""

    return Handler
