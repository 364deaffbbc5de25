"""The relay's counters and gauges, rendered as Prometheus text for /metrics.

Counting is a lock-guarded dict (cheap on the hot path, readable by tests); the exposition format is
prometheus_client's, so escaping, float formatting and content type are the library's, not ours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "aci_relay_"

COUNTERS: dict[str, str] = {
    "events_seen": "Watch events received (ADDED, MODIFIED, DELETED; bookmarks excluded).",
    "events_ignored": "Watch events not relayed because nothing the worker acts on changed (status-only).",
    "coalesced": "Messages merged into a later one for the same pod (coalescing window or send buffer).",
    "messages_sent": "Messages written to the pod-events queue.",
    "send_retries": "Failed queue writes that were retried.",
    "dropped": "Messages dropped because the send buffer was full (the reconciler heals what they carried).",
    "rejected": "Messages Storage refused as too large or malformed, dropped (the reconciler heals what they carried).",
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
    "kubelet_arm_reads": "ARM reads the kubelet API spent since start (container logs and follow polls).",
    "kubelet_metrics_calls": "Azure Monitor batch metrics calls the kubelet API made since start.",
    "kubelet_reviews": "TokenReviews and SubjectAccessReviews the kubelet API sent since start (after its caches).",
    "kubelet_follows": "kubectl logs -f streams open now.",
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

    def collect(self) -> Iterator[Metric]:
        """prometheus_client's collector protocol: every declared metric with its value now."""
        values = self.snapshot()
        for name, doc in COUNTERS.items():
            yield CounterMetricFamily(f"{PREFIX}{name}", doc, value=values[name])
        for name, doc in GAUGES.items():
            if name in values:
                yield GaugeMetricFamily(f"{PREFIX}{name}", doc, value=values[name])

    def render(self) -> str:
        """Prometheus text exposition (0.0.4) of every declared metric."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry).decode("utf-8")
