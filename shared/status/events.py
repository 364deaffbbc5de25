"""ACI instance-view events as Kubernetes core/v1 Events on the pod.

`kubectl describe pod` is where people look when a pod does not start; ACI keeps
the answer (pull failures, back-offs, restarts) in the group's and containers'
instanceView.events. Each ACI event becomes one Event whose name is derived from
the pod UID and the ACI event's identity, so re-running the mapping yields the
same names: the caller creates what is new and updates count/lastTimestamp of what
exists, and nothing is duplicated.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.status.times import kube_time, parse_time

COMPONENT = "aci-connector"
# A Kubernetes object name is at most 253 characters.
_MAX_NAME = 253
_HASH_CHARS = 16


def _events_of(holder: dict | None) -> list[dict]:
    view = (holder or {}).get("instanceView")
    return [e for e in (view.get("events") or []) if isinstance(e, dict)] if isinstance(view, dict) else []


def _reason(event: dict) -> str:
    """ACI's event name is the reason; old bodies put it in front of the message ("Pulling: ...")."""
    name = event.get("name")
    if name:
        return str(name)
    head, sep, _ = str(event.get("message") or "").partition(":")
    return head if sep and head.isalpha() else "ACIEvent"


def _type(event: dict) -> str:
    """Kubernetes accepts only Normal and Warning."""
    aci_type = event.get("type")
    if aci_type in ("Normal", "Warning"):
        return aci_type
    return "Warning" if _reason(event) in ("Failed", "BackOff", "Killing") else "Normal"


def event_name(pod: dict, scope: str, event: dict) -> str:
    """Deterministic Event name: pod name + hash of (pod uid, scope, ACI event identity).

    count and lastTimestamp change as ACI aggregates repeats, so they are not part
    of the identity; firstTimestamp is, so an occurrence after a restart is a new Event.
    """
    metadata = pod.get("metadata") or {}
    identity = "\x1f".join(
        [
            str(metadata.get("uid") or ""),
            scope,
            _reason(event),
            str(event.get("message") or ""),
            str(event.get("firstTimestamp") or ""),
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_HASH_CHARS]
    prefix = str(metadata.get("name") or "pod")[: _MAX_NAME - _HASH_CHARS - 1]
    return f"{prefix}.{digest}"


def kube_event(
    pod: dict,
    event: dict,
    *,
    field_path: str | None,
    node_name: str | None,
) -> dict:
    """One core/v1 Event for one ACI event on `pod` (field_path names the container, if any)."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    involved: dict[str, Any] = {
        "kind": "Pod",
        "apiVersion": "v1",
        "namespace": namespace,
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
    }
    if field_path:
        involved["fieldPath"] = field_path
    first = parse_time(event.get("firstTimestamp"))
    last = parse_time(event.get("lastTimestamp")) or first
    source: dict[str, str] = {"component": COMPONENT}
    if node_name:
        source["host"] = node_name
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(pod, field_path or "pod", event), "namespace": namespace},
        "involvedObject": involved,
        "reason": _reason(event),
        "message": str(event.get("message") or ""),
        "type": _type(event),
        "count": max(int(event.get("count") or 1), 1),
        "source": source,
        "reportingComponent": COMPONENT,
        "reportingInstance": node_name or "",
    }
    if first:
        out["firstTimestamp"] = kube_time(first)
    if last:
        out["lastTimestamp"] = kube_time(last)
    return out


def kube_events_from_group(group: dict, pod: dict, *, node_name: str | None = None) -> list[dict]:
    """All ACI events of `group` (group level and per container) as Events on `pod`.

    Container events point at spec.containers{name} / spec.initContainers{name}, as
    the kubelet's do. `node_name` defaults to the pod's spec.nodeName. A list body
    (no instanceView) has no events and yields []. Oldest first, for stable output.
    """
    node = node_name or (pod.get("spec") or {}).get("nodeName")
    properties = group.get("properties") or {}
    out = [kube_event(pod, e, field_path=None, node_name=node) for e in _events_of(properties)]
    for key, spec_key in (("initContainers", "initContainers"), ("containers", "containers")):
        for container in properties.get(key) or []:
            path = f"spec.{spec_key}{{{container.get('name')}}}"
            for event in _events_of(container.get("properties")):
                out.append(kube_event(pod, event, field_path=path, node_name=node))
    return _dedupe_and_sort(out)


def _dedupe_and_sort(events: list[dict]) -> list[dict]:
    """One Event per name (the freshest, if ACI repeats one), oldest first, ACI's order on ties."""
    chosen: dict[str, tuple[int, dict]] = {}
    for index, event in enumerate(events):
        name = event["metadata"]["name"]
        if name in chosen:
            first_index, kept = chosen[name]
            fresher = (event.get("lastTimestamp") or "", event["count"]) > (
                kept.get("lastTimestamp") or "",
                kept["count"],
            )
            chosen[name] = (first_index, event if fresher else kept)
        else:
            chosen[name] = (index, event)
    ordered = sorted(chosen.values(), key=lambda pair: (pair[1].get("firstTimestamp") or "", pair[0]))
    return [event for _, event in ordered]
