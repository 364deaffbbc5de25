"""The relay's counters and gauges, rendered as Prometheus text for /metrics.

A dozen numbers do not justify a client library: a lock-guarded dict and the
text exposition format (version 0.0.4) are all a scraper needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

PREFIX = "aci_relay_"

COUNTERS: dict[str, str] = {
    "events_seen": "Watch events received (ADDED, MODIFIED, DELETED; bookmarks excluded).",
    "events_ignored": "Watch events not relayed because nothing the worker acts on changed (status-only).",
    "coalesced": "Messages merged into a later one for the same pod (coalescing window or send buffer).",
    "messages_sent": "Messages written to the pod-events queue.",
    "send_retries": "Failed queue writes that were retried.",
    "dropped": "Messages dropped because the send buffer was full (the reconciler heals what they carried).",
    "relists": "Relists after a 410 Expired watch.",
    "watch_restarts": "Watch streams re-opened (server timeout, network error, apiserver restart).",
    "watch_errors": "List or watch calls that failed and were retried with backoff.",
    "lease_renewals": "Node Lease renewals written.",
    "lease_errors": "Node Lease renewals that failed.",
}
GAUGES: dict[str, str] = {
    "buffer_size": "Messages waiting to be sent (pending in the buffer or in flight).",
    "lag_seconds": "Age of the oldest message not yet sent (0 when everything is sent).",
    "storage_up": "1 when the last queue write succeeded, 0 while Storage is failing.",
    "watches_synced": "Node watches that have listed and are streaming.",
}


class Metrics:
    """Thread-safe counters; gauges are read from callbacks at scrape time so they are never stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, amount: int = 1) -> None:
        if name not in COUNTERS:
            raise KeyError(f"undeclared relay counter {name}")
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        if name not in GAUGES:
            raise KeyError(f"undeclared relay gauge {name}")
        self._gauges[name] = read

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            values: dict[str, float] = dict(self._counts)
        for name, read in self._gauges.items():
            values[name] = float(read())
        return values

    def render(self) -> str:
        """Prometheus text exposition: HELP, TYPE and the value of every declared metric."""
        values = self.snapshot()
        lines: list[str] = []
        for name, doc in COUNTERS.items():
            lines += [f"# HELP {PREFIX}{name}_total {doc}", f"# TYPE {PREFIX}{name}_total counter"]
            lines.append(f"{PREFIX}{name}_total {values[name]:g}")
        for name, doc in GAUGES.items():
            if name in values:
                lines += [f"# HELP {PREFIX}{name} {doc}", f"# TYPE {PREFIX}{name} gauge"]
                lines.append(f"{PREFIX}{name} {values[name]:g}")
        return "\n".join(lines) + "\n"
