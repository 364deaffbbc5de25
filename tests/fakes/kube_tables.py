"""meta.k8s.io/v1 Table rendering, which `kubectl get` asks for (Accept: application/json;as=Table)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.fakes.kube_resources import ResourceType

NAME_COL = {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
AGE_COL = {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp", "priority": 0}


def _col(name: str, priority: int = 0, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": "", "description": name, "priority": priority}


def human_age(timestamp: str | None) -> str:
    """`5s`, `3m10s`, `2h`, `4d` as kubectl's duration printer shows them."""
    if not timestamp:
        return "<unknown>"
    then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    seconds = max(0, int((dt.datetime.now(dt.UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def _pod_cells(pod: dict[str, Any]) -> list[Any]:
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod["metadata"]
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    shown = status.get("reason") or status.get("phase") or "Unknown"
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            shown = waiting["reason"]
    if meta.get("deletionTimestamp"):
        shown = "Terminating"
    return [
        meta["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        shown,
        restarts,
        human_age(meta.get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _node_cells(node: dict[str, Any]) -> list[Any]:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    shown = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if (node.get("spec") or {}).get("unschedulable"):
        shown += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""
    return [
        node["metadata"]["name"],
        shown,
        ",".join(roles),
        human_age(node["metadata"].get("creationTimestamp")),
        version,
    ]


COLUMNS: dict[str, list[dict[str, Any]]] = {
    "pods": [
        NAME_COL,
        _col("Ready"),
        _col("Status"),
        _col("Restarts", kind="string"),
        AGE_COL,
        _col("IP", 1),
        _col("Node", 1),
        _col("Nominated Node", 1),
        _col("Readiness Gates", 1),
    ],
    "nodes": [NAME_COL, _col("Status"), _col("Roles"), AGE_COL, _col("Version")],
    "namespaces": [NAME_COL, _col("Status"), AGE_COL],
}


def _cells(rt: ResourceType, obj: dict[str, Any]) -> list[Any]:
    if rt.plural == "pods":
        return _pod_cells(obj)
    if rt.plural == "nodes":
        return _node_cells(obj)
    meta = obj["metadata"]
    if rt.plural == "namespaces":
        return [meta["name"], (obj.get("status") or {}).get("phase", ""), human_age(meta.get("creationTimestamp"))]
    return [meta["name"], human_age(meta.get("creationTimestamp"))]


def _partial(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(
    rt: ResourceType, objects: list[dict[str, Any]], list_meta: dict[str, Any], include: str = "Metadata"
) -> dict:
    """A Table whose rows carry PartialObjectMetadata (kubectl reads namespace/name from it for -A)."""
    columns = COLUMNS.get(rt.plural, [NAME_COL, AGE_COL])
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": _cells(rt, obj)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = _partial(rt, obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: v for k, v in list_meta.items() if k in ("resourceVersion", "continue", "remainingItemCount")},
        "columnDefinitions": columns,
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    """True when the first acceptable media type is a meta.k8s.io Table (kubectl get's preference)."""
    for part in accept.split(","):
        params = [p.strip() for p in part.split(";")]
        if params[0] in ("application/json", "*/*"):
            return "as=Table" in params and "v=v1beta1" not in params
    return False
