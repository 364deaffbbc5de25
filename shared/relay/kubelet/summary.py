"""The kubelet's /stats/summary (JSON) and /metrics/resource (Prometheus text) from a stats Snapshot (pure).

Field names follow the kubelet's stats/v1alpha1 Summary and the metrics-server contract
of /metrics/resource: cumulative CPU in core-seconds (`container_cpu_usage_seconds_total`,
`usageCoreNanoSeconds`), instantaneous CPU in nanocores, memory as working set bytes, each
with the time of the Azure Monitor point it comes from. Node figures are sums over the
node's pods. Containers without a point yet (a group younger than a minute or two) are
left out, as a kubelet leaves out containers it has no stats for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.naming import container_group_name
from shared.relay.kubelet.stats import Counter, Snapshot, Usage


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cpu(usage: Usage, counter: Counter | None) -> dict[str, Any]:
    return {
        "time": _stamp(usage.time),
        "usageNanoCores": int(usage.cpu_millicores * 1_000_000),
        "usageCoreNanoSeconds": int((counter.core_seconds if counter else 0.0) * 1e9),
    }


def _memory(usage: Usage) -> dict[str, Any]:
    value = int(usage.memory_bytes)
    return {"time": _stamp(usage.time), "workingSetBytes": value, "usageBytes": value}


def _pod_entries(snapshot: Snapshot, node: str) -> list[tuple[dict[str, Any], list[tuple[str, Usage, Counter | None]]]]:
    out = []
    for pod in snapshot.pods.get(node, []):
        group = container_group_name(pod).lower()
        containers = []
        for container in (pod.get("spec") or {}).get("containers") or []:
            key = (group, container.get("name") or "")
            if key in snapshot.usage:
                containers.append((key[1], snapshot.usage[key], snapshot.counters.get(key)))
        out.append((pod, containers))
    return out


def _total(parts: list[tuple[str, Usage, Counter | None]], moment: datetime) -> tuple[Usage, float]:
    cpu = sum(u.cpu_millicores for _, u, _ in parts)
    memory = sum(u.memory_bytes for _, u, _ in parts)
    seconds = sum(c.core_seconds for _, _, c in parts if c is not None)
    newest = max((u.time for _, u, _ in parts), default=moment)
    return Usage(cpu, memory, newest), seconds


def stats_summary(snapshot: Snapshot, node: str, started: datetime) -> dict[str, Any]:
    pods = []
    every: list[tuple[str, Usage, Counter | None]] = []
    for pod, containers in _pod_entries(snapshot, node):
        metadata = pod.get("metadata") or {}
        start = (pod.get("status") or {}).get("startTime") or metadata.get("creationTimestamp")
        entry: dict[str, Any] = {
            "podRef": {
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
            },
            "startTime": start,
            "containers": [
                {"name": name, "startTime": start, "cpu": _cpu(usage, counter), "memory": _memory(usage)}
                for name, usage, counter in containers
            ],
        }
        if containers:
            total, seconds = _total(containers, snapshot.taken)
            entry["cpu"] = _cpu(total, Counter(seconds, total.time, total.time))
            entry["memory"] = _memory(total)
        pods.append(entry)
        every += containers
    total, seconds = _total(every, snapshot.taken)
    return {
        "node": {
            "nodeName": node,
            "startTime": _stamp(started),
            "cpu": _cpu(total, Counter(seconds, total.time, total.time)),
            "memory": _memory(total),
        },
        "pods": pods,
    }


HELP = {
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the container in core-seconds"),
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds"),
    "pod_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "Current working set of the pod in bytes"),
    "node_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "resource_scrape_error": ("gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
}


def _started(pod: dict[str, Any], container: str) -> float | None:
    """The container's running.startedAt (as the reconciler wrote it from ACI), in epoch seconds."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            text = ((status.get("state") or {}).get("running") or {}).get("startedAt")
            if text:
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return None


def _label(value: Any) -> str:
    return str(value or "").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def resource_metrics(snapshot: Snapshot, node: str) -> str:
    """Prometheus text as the kubelet's /metrics/resource serves it (timestamps in milliseconds)."""
    samples: dict[str, list[str]] = {name: [] for name in HELP}
    every: list[tuple[str, Usage, Counter | None]] = []
    for pod, containers in _pod_entries(snapshot, node):
        metadata = pod.get("metadata") or {}
        pod_labels = f'namespace="{_label(metadata.get("namespace"))}",pod="{_label(metadata.get("name"))}"'
        for name, usage, counter in containers:
            labels = f'container="{_label(name)}",{pod_labels}'
            ms = int(usage.time.timestamp() * 1000)
            seconds = counter.core_seconds if counter else 0.0
            samples["container_cpu_usage_seconds_total"].append(f"{{{labels}}} {seconds:.9f} {ms}")
            samples["container_memory_working_set_bytes"].append(f"{{{labels}}} {int(usage.memory_bytes)} {ms}")
            started = _started(pod, name)
            if started is not None:
                samples["container_start_time_seconds"].append(f"{{{labels}}} {started:.3f} {ms}")
        if containers:
            total, seconds = _total(containers, snapshot.taken)
            ms = int(total.time.timestamp() * 1000)
            samples["pod_cpu_usage_seconds_total"].append(f"{{{pod_labels}}} {seconds:.9f} {ms}")
            samples["pod_memory_working_set_bytes"].append(f"{{{pod_labels}}} {int(total.memory_bytes)} {ms}")
        every += containers
    total, seconds = _total(every, snapshot.taken)
    ms = int(total.time.timestamp() * 1000)
    samples["node_cpu_usage_seconds_total"].append(f" {seconds:.9f} {ms}")
    samples["node_memory_working_set_bytes"].append(f" {int(total.memory_bytes)} {ms}")
    samples["resource_scrape_error"].append(" 0")
    lines = []
    for name, (kind, text) in HELP.items():
        lines += [f"# HELP {name} [STABLE] {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{sample}" for sample in samples[name]]
    return "\n".join(lines) + "\n"
