"""Azure Monitor's batch metrics API for container groups: POST /subscriptions/{id}/metrics:getBatch.

The real service lives on the regional endpoint (https://<region>.metrics.monitor.azure.com),
not on ARM; the emulator serves it on its own address so one process plays both. Shape
follows the 2024-02-01 API as azure-monitor-querymetrics reads it: `values[]` per resource
with `resourceid`, `value[]` per metric (`name.value`, `unit`, `timeseries[].metadatavalues`
and `data[].timeStamp/average`). ACI publishes CpuUsage (millicores, unit Count) and
MemoryUsage (bytes) per container under the `containerName` dimension, one point a minute.
Rules kept: at most 50 resource ids a call, all of one subscription, metricnamespace
Microsoft.ContainerInstance/containerGroups, known metric names only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from emulator.state import iso

NAMESPACE = "Microsoft.ContainerInstance/containerGroups"
METRICS = {
    "CpuUsage": ("CPU Usage", "Count", "CPU usage on all cores in millicores."),
    "MemoryUsage": ("Memory Usage", "Bytes", "Total memory usage in byte."),
}
MAX_RESOURCES = 50
_GROUP_ID = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.ContainerInstance/containerGroups/([^/]+)$",
    re.I,
)


@dataclass
class MetricsStore:
    """Per (group name, container): CpuUsage millicores and MemoryUsage bytes the tests set."""

    usage: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    calls: int = 0

    def set(self, group: str, container: str, cpu_millicores: float, memory_bytes: float) -> None:
        self.usage[(group.lower(), container)] = (cpu_millicores, memory_bytes)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _series(store: MetricsStore, group: str, metric: str, stamp: str) -> list[dict[str, Any]]:
    index = 0 if metric == "CpuUsage" else 1
    out = []
    for (name, container), values in sorted(store.usage.items()):
        if name == group.lower():
            out.append(
                {
                    "metadatavalues": [
                        {"name": {"value": "containername", "localizedValue": "containername"}, "value": container}
                    ],
                    "data": [{"timeStamp": stamp, "average": values[index]}],
                }
            )
    return out


async def get_batch(request: web.Request, store: MetricsStore, now: float, region: str) -> web.Response:
    """The batch call; `now` is the emulator clock's time (the last full minute is the newest point)."""
    subscription = request.path.split("/")[2]
    if request.query.get("metricnamespace", "").lower() != NAMESPACE.lower():
        return _error(400, "BadRequest", f"Metric namespace '{request.query.get('metricnamespace')}' is not valid.")
    names = [n for n in request.query.get("metricnames", "").split(",") if n]
    unknown = [n for n in names if n not in METRICS]
    if not names or unknown:
        return _error(400, "BadRequest", f"Failed to find metric configuration for {unknown or 'no metric'}.")
    try:
        ids = list((await request.json())["resourceids"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "BadRequest", 'The request body must be {"resourceids": [...]}.')
    if not ids or len(ids) > MAX_RESOURCES:
        return _error(400, "BadRequest", f"Between 1 and {MAX_RESOURCES} resource ids are allowed, got {len(ids)}.")
    store.calls += 1
    minute = math.floor(now / 60) * 60
    stamp = iso(minute - 60, digits=0)
    values = []
    for resource_id in ids:
        match = _GROUP_ID.match(resource_id)
        if match is None or match.group(1) != subscription:
            return _error(400, "BadRequest", f"Resource id '{resource_id}' is not a container group of {subscription}.")
        metrics = []
        for name in names:
            localized, unit, description = METRICS[name]
            metrics.append(
                {
                    "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": name, "localizedValue": localized},
                    "displayDescription": description,
                    "unit": unit,
                    "timeseries": _series(store, match.group(3), name, stamp),
                    "errorCode": "Success",
                }
            )
        values.append(
            {
                "starttime": iso(minute - 300, digits=0),
                "endtime": iso(minute, digits=0),
                "interval": "PT1M",
                "value": metrics,
                "namespace": NAMESPACE,
                "resourceregion": region,
                "resourceid": resource_id,
            }
        )
    return web.json_response({"values": values})
