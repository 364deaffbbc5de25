"""Kubernetes Events on pods, as a kubelet's event recorder writes them.

Event names are deterministic per pod uid and reason, so repeating the same
event bumps its count instead of flooding the namespace (the API's own
de-duplication works the same way).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

COMPONENT = "aci-connector"


def pod_event(
    pod: dict[str, Any], *, reason: str, message: str, event_type: str = "Normal", now: datetime | None = None
) -> dict[str, Any]:
    """A core/v1 Event about `pod`; `event_type` is Normal or Warning."""
    metadata = pod.get("metadata") or {}
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha256(f"{metadata.get('uid', '')}/{reason}/{message}".encode()).hexdigest()[:10]
    node = (pod.get("spec") or {}).get("nodeName") or ""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{metadata.get('name', 'pod')}.{digest}", "namespace": metadata.get("namespace")},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": metadata.get("namespace"),
            "name": metadata.get("name"),
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": event_type,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": COMPONENT, "host": node},
        "reportingComponent": COMPONENT,
        "reportingInstance": node or COMPONENT,
    }
