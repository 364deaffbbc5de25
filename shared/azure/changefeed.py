"""The change feed: which container groups had container events since the last cycle, without an ARM read.

ACI sends its container events (Started, Killing, BackOff, Pulled, ...) to the
Log Analytics workspace named in each group's `diagnostics.logAnalytics`, table
`ContainerEvent` (docs/reconciler.md weighs this against the other sources). One
query per reconcile cycle returns the groups with events ingested after a
watermark; the reconciler reads those first (hot), and its budgeted sweep stays
the safety net when the feed is off or failing.

Why the watermark is on `ingestion_time()` and not `TimeGenerated`: records reach
the workspace tens of seconds to minutes after they were generated, and not in
order, so "generated after my last query" would skip every late one. Ingestion
time only grows as records land; the query still reaches back `OVERLAP` behind
the watermark (a record may become queryable a moment after its ingestion time
is stamped), and a group seen twice costs one extra hot read, never a miss. The
watermark only moves forward, to the latest ingestion time actually returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger("aci_connector.changefeed")

QUERY = (
    "ContainerEvent\n"
    "| where ingestion_time() > datetime({since})\n"
    "| summarize LastIngested = max(ingestion_time()) by ContainerGroup"
)
OVERLAP = timedelta(minutes=2)
"""How far behind the watermark each query reaches again."""
LATE_LIMIT = timedelta(hours=1)
"""Records generated longer ago than this before the watermark are not searched (the query's timespan keeps
the scan to recent partitions); a record that late is the sweep's."""
FIRST_LOOKBACK = timedelta(minutes=10)
"""With no stored watermark (first start), events ingested this far back are taken."""


class WatermarkStore(Protocol):
    """Where the watermark survives the timer moving to another instance (the reconciler keeps it on the Node)."""

    def load(self) -> datetime | None: ...

    def save(self, watermark: datetime) -> None: ...


@dataclass(frozen=True)
class FeedAnswer:
    groups: frozenset[str]
    """Groups with events not handled yet: the reconciler's hot reads."""
    watermark: datetime
    """Where the next query may start once every group here was read (`commit`)."""
    seen: dict[str, datetime]
    """Latest ingestion time per group in the answer, overlap included."""


class ContainerEventFeed:
    """One workspace's ContainerEvent table, asked once per cycle."""

    def __init__(
        self,
        workspace_id: str,
        client: Any,
        store: WatermarkStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.workspace_id = workspace_id
        self.client = client
        self.store = store
        self.now = now
        self.watermark: datetime | None = None
        self.handled: dict[str, datetime] = {}
        """Latest event handled per group, kept for the overlap: re-reported groups are not hot twice."""
        self._loaded = False

    def changed(self) -> FeedAnswer:
        """Groups with events ingested since the watermark, and the watermark that answer reaches.

        Raises on any failure (the caller falls back to its sweep). Nothing is saved here: the caller
        commits the new watermark once it has read every group named, so a crash in between only makes
        the next instance ask again.
        """
        if not self._loaded:
            self.watermark = self.store.load()
            self._loaded = True
        now = self.now()
        since = (self.watermark or now - FIRST_LOOKBACK) - OVERLAP
        result = self.client.query_workspace(
            self.workspace_id, QUERY.format(since=_kql_time(since)), timespan=(since - LATE_LIMIT, now)
        )
        tables = getattr(result, "tables", None)
        if tables is None:  # LogsQueryPartialResult: the service gave up part-way; not an answer to trust
            raise RuntimeError(f"partial Log Analytics answer: {getattr(result, 'partial_error', '')}")
        seen: dict[str, datetime] = {}
        for table in tables:
            columns = [column if isinstance(column, str) else column.name for column in table.columns]
            at_group, at_time = columns.index("ContainerGroup"), columns.index("LastIngested")
            for row in table.rows:
                seen[str(row[at_group])] = _as_datetime(row[at_time])
        fresh = frozenset(g for g, at in seen.items() if g not in self.handled or at > self.handled[g])
        latest = max([self.watermark or since, *seen.values()])
        return FeedAnswer(fresh, latest, seen)

    def commit(self, answer: FeedAnswer) -> None:
        """Every group of `answer` was read: move (never back) and save the watermark; remember the overlap."""
        self.handled.update(answer.seen)
        if self.watermark is None or answer.watermark > self.watermark:
            self.store.save(answer.watermark)
            self.watermark = answer.watermark
        horizon = self.watermark - OVERLAP
        self.handled = {g: at for g, at in self.handled.items() if at > horizon}


def _kql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def logs_client(endpoint: str | None = None, *, credential: Any = None, **options: Any) -> Any:
    """azure-monitor-query's LogsQueryClient with the app's identity (imported here: not at function start)."""
    from azure.monitor.query import LogsQueryClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    if endpoint:
        options["endpoint"] = endpoint
    return LogsQueryClient(credential, **options)
