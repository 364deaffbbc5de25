"""CPU and memory of the pods on the virtual nodes, from Azure Monitor, cached and integrated for the kubelet's stats.

ACI publishes CpuUsage (average millicores) and MemoryUsage (bytes) per container, one
point a minute, in Azure Monitor. One round reads them for every group on the virtual
nodes with the batch API (`MetricsClient.query_resources`, 50 groups a call, on the
regional metrics endpoint: no ARM read). A round serves every scrape for
RELAY_KUBELET_STATS_SECONDS, whatever the number of scrapers or nodes, and concurrent
scrapes wait for the one round in flight. The kubelet's CPU figures are cumulative
(core-seconds); they are integrated here from the averages, per container, from the first
point the relay saw, so metrics-server's rate over two scrapes gives the average usage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.kube import KubeClient
from shared.naming import container_group_name

NAMESPACE = "Microsoft.ContainerInstance/containerGroups"
BATCH = 50
WINDOW = timedelta(minutes=5)
"""Asked of Azure Monitor each round: the newest point of the last five minutes (points lag a minute or two)."""

Key = tuple[str, str]
"""(group name lowercased, container name)."""


@dataclass(frozen=True)
class Usage:
    cpu_millicores: float
    memory_bytes: float
    time: datetime


@dataclass
class Counter:
    """Integrated CPU of one container: core-seconds up to `time`."""

    core_seconds: float
    time: datetime
    start: datetime


class MonitorMetrics:
    """The Azure Monitor adapter: groups -> latest Usage per container, 50 groups per call."""

    def __init__(
        self, *, endpoint: str, credential: Any, subscription_id: str, resource_group: str, verify: bool | str = True
    ) -> None:
        self.endpoint = endpoint
        self.credential = credential
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.verify = verify
        self.calls = 0
        self._client: Any = None

    def resource_id(self, group: str) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerInstance/containerGroups/{group}"
        )

    def fetch(self, groups: list[str]) -> dict[Key, Usage]:
        from azure.monitor.querymetrics import MetricsClient

        if self._client is None:
            self._client = MetricsClient(self.endpoint, self.credential, connection_verify=self.verify)
        usage: dict[Key, Usage] = {}
        for start in range(0, len(groups), BATCH):
            self.calls += 1
            results = self._client.query_resources(
                resource_ids=[self.resource_id(group) for group in groups[start : start + BATCH]],
                metric_namespace=NAMESPACE,
                metric_names=["CpuUsage", "MemoryUsage"],
                timespan=WINDOW,
                granularity=timedelta(minutes=1),
                aggregations=["Average"],
                filter="containerName eq '*'",
            )
            for result in results:
                usage.update(read_result(result))
        return usage


def read_result(result: Any) -> dict[Key, Usage]:
    """One resource's MetricsQueryResult -> the newest CPU and memory point per container."""
    latest: dict[Key, dict[str, Any]] = {}
    for metric in result.metrics:
        group = str(metric.id or "").split("/providers/Microsoft.Insights", 1)[0].rsplit("/", 1)[-1].lower()
        for series in metric.timeseries:
            container = next((v for k, v in series.metadata_values.items() if k.lower() == "containername"), None)
            points = [p for p in series.data if p.average is not None]
            if container is None or not points:
                continue
            point = max(points, key=lambda p: p.timestamp)
            entry = latest.setdefault((group, container), {})
            entry[metric.name] = point.average
            entry["time"] = max(entry.get("time", point.timestamp), point.timestamp)
    return {
        key: Usage(float(v.get("CpuUsage") or 0.0), float(v.get("MemoryUsage") or 0.0), v["time"])
        for key, v in latest.items()
    }


def _has_group(pod: dict[str, Any]) -> bool:
    """Running pods only: a Pending pod may have no group yet, and a finished one no metrics to add."""
    return (pod.get("status") or {}).get("phase") == "Running"


@dataclass
class Snapshot:
    """What one round knows: pods per node, usage and integrated CPU per container."""

    taken: datetime
    pods: dict[str, list[dict[str, Any]]]
    usage: dict[Key, Usage]
    counters: dict[Key, Counter] = field(default_factory=dict)


class StatsCache:
    """One metrics round per `refresh` seconds, shared by every scrape of every node (single flight)."""

    def __init__(
        self,
        kube: KubeClient,
        nodes: Iterable[str],
        fetch: Callable[[list[str]], dict[Key, Usage]],
        *,
        refresh: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.nodes = tuple(nodes)
        self.fetch = fetch
        self.refresh = refresh
        self.clock = clock
        self.rounds = 0
        self._lock = asyncio.Lock()
        self._at: float | None = None
        self._snapshot: Snapshot | None = None
        self._counters: dict[Key, Counter] = {}

    async def snapshot(self) -> Snapshot:
        async with self._lock:
            if self._snapshot is None or self._at is None or self.clock() - self._at >= self.refresh:
                self._snapshot = await asyncio.to_thread(self._round)
                self._at = self.clock()
            return self._snapshot

    def _round(self) -> Snapshot:
        pods = {node: self.kube.list_pods(field_selector=f"spec.nodeName={node}")[0] for node in self.nodes}
        pods = {node: [pod for pod in items if _has_group(pod)] for node, items in pods.items()}
        groups = sorted({container_group_name(pod) for items in pods.values() for pod in items})
        usage = self.fetch(groups) if groups else {}
        self.rounds += 1
        self._integrate(usage, set(groups))
        return Snapshot(datetime.now(UTC), pods, usage, dict(self._counters))

    def _integrate(self, usage: dict[Key, Usage], groups: set[str]) -> None:
        """Advance each container's core-seconds; forget containers whose group is no longer on a node."""
        for key, point in usage.items():
            counter = self._counters.get(key)
            if counter is None:
                self._counters[key] = Counter(0.0, point.time, point.time)
            elif point.time > counter.time:
                seconds = (point.time - counter.time).total_seconds()
                counter.core_seconds += point.cpu_millicores / 1000.0 * seconds
                counter.time = point.time
        for key in [key for key in self._counters if key[0] not in groups]:
            del self._counters[key]
