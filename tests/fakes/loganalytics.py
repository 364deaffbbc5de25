"""A fake Azure Monitor Logs query API (a Log Analytics workspace) holding ACI's `ContainerEvent` table.

The real API: `POST {endpoint}/workspaces/{workspaceId}/query` with `{"query": <KQL>, "timespan": <ISO 8601
interval>}` and a bearer token; it answers `{"tables": [{"name": "PrimaryResult", "columns": [{"name",
"type"}], "rows": [[...]]}]}` (what `azure-monitor-query`'s LogsQueryClient parses), or `{"error": {"code":
"BadArgumentError", "message": ...}}` with 400 for a query it cannot run. This fake runs only the query the
connector sends (shared/azure/changefeed.py: events ingested after a watermark, latest per group) and answers
400 to anything else, so a change to that query fails loudly here instead of passing against a kind fake.

Records are added as ACI would emit them (`add_event`) and become visible `ingestion_delay` seconds after they
were generated, as Azure Monitor's ingestion latency makes them: querying by TimeGenerated would skip the late
ones, which is what the connector's watermark on ingestion_time() is for. Time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from emulator.clock import Clock, RealClock

_SINCE = re.compile(r"\|\s*where\s+ingestion_time\(\)\s*>\s*datetime\(([^)]+)\)")
_SUMMARY = re.compile(r"\|\s*summarize\s+LastIngested\s*=\s*max\(ingestion_time\(\)\)\s+by\s+ContainerGroup\s*$")


@dataclass(frozen=True)
class Record:
    group: str
    container: str
    reason: str
    message: str
    generated: float
    ingested: float


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()


class LogAnalyticsServer:
    """One workspace's query endpoint over TLS; `url` is what LogsQueryClient takes as `endpoint`."""

    def __init__(self, workspace_id: str, *, clock: Clock | None = None, ingestion_delay: float = 60.0) -> None:
        self.workspace_id = workspace_id
        self.clock = clock or RealClock()
        self.ingestion_delay = ingestion_delay
        self.records: list[Record] = []
        self.queries: list[str] = []
        self.url = ""
        self.ca_pem_path = ""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def add_event(
        self, group: str, reason: str, *, container: str = "app", message: str = "", delay: float | None = None
    ) -> Record:
        """An event ACI emitted now; queryable once the ingestion delay (this record's own, if given) has passed."""
        now = self.clock.now()
        record = Record(
            group, container, reason, message, now, now + (self.ingestion_delay if delay is None else delay)
        )
        with self._lock:
            self.records.append(record)
        return record

    # -- the query ---------------------------------------------------------------------------------------------------

    def run(self, query: str, timespan: str | None) -> tuple[int, dict[str, Any]]:
        since_match, summary = _SINCE.search(query), _SUMMARY.search(query.strip())
        if not query.strip().startswith("ContainerEvent") or since_match is None or summary is None:
            return 400, {"error": {"code": "BadArgumentError", "message": f"this fake runs one query, not {query!r}"}}
        since = parse_time(since_match.group(1))
        start, end = self._timespan(timespan)
        now = self.clock.now()
        latest: dict[str, float] = {}
        with self._lock:
            self.queries.append(query)
            for record in self.records:
                visible = record.ingested <= now and record.ingested > since
                if visible and start <= record.generated <= end:
                    latest[record.group] = max(latest.get(record.group, 0.0), record.ingested)
        rows = [[group, iso(ingested)] for group, ingested in sorted(latest.items())]
        columns = [{"name": "ContainerGroup", "type": "string"}, {"name": "LastIngested", "type": "datetime"}]
        return 200, {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}

    def _timespan(self, timespan: str | None) -> tuple[float, float]:
        """`start/end` in ISO 8601 (what the SDK sends for a (start, end) tuple); none: everything."""
        if not timespan:
            return float("-inf"), float("inf")
        start, _, end = timespan.partition("/")
        return parse_time(start), parse_time(end)

    async def _query(self, request: web.Request) -> web.Response:
        if request.match_info["workspace"] != self.workspace_id:
            return web.json_response(
                {"error": {"code": "WorkspaceNotFoundError", "message": "no such workspace"}}, status=404
            )
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response(
                {"error": {"code": "AuthorizationRequiredError", "message": "no token"}}, status=401
            )
        body = await request.json()
        status, answer = self.run(str(body.get("query") or ""), body.get("timespan"))
        return web.json_response(answer, status=status)

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> str:
        import trustme

        ca = trustme.CA()
        descriptor, self.ca_pem_path = tempfile.mkstemp(prefix="fake-loganalytics-ca-", suffix=".pem")
        os.close(descriptor)
        ca.cert_pem.write_to_path(self.ca_pem_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-loganalytics", daemon=True)
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self._serve(context), self._loop).result(10)
        self.url = f"https://127.0.0.1:{port}/v1"
        return self.url

    async def _serve(self, context: ssl.SSLContext) -> int:
        app = web.Application()
        app.router.add_post("/v1/workspaces/{workspace}/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        assert site._server is not None
        return site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None
