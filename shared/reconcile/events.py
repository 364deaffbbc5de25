"""ACI instance-view events written as Kubernetes Events, each exactly once per change.

shared.status.events names every Event deterministically, so writing is an upsert:
POST a new one; on AlreadyExists set count/lastTimestamp/message to ACI's values
(never "+1": a second reconciler process replaying the same ACI event must not
inflate the count). A small memory of what was written skips even the POST when
nothing changed, so a steady group costs no Kubernetes calls for its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from shared.kube import Conflict, KubeClient
from shared.status.events import kube_events_from_group

MERGE_PATCH = "application/merge-patch+json"


class EventWriter:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self._written: dict[tuple[str, str], tuple[int, str]] = {}
        self.writes = 0

    def sync(self, group: dict[str, Any], pod: dict[str, Any], *, node_name: str | None = None) -> int:
        """Write the group's events that are new or changed since last written; returns how many were written."""
        written = 0
        for event in kube_events_from_group(group, pod, node_name=node_name):
            if self._upsert(event):
                written += 1
        self.writes += written
        return written

    def _upsert(self, event: dict[str, Any]) -> bool:
        namespace = event["metadata"]["namespace"]
        name = event["metadata"]["name"]
        seen = (int(event.get("count") or 1), str(event.get("lastTimestamp") or ""))
        if self._written.get((namespace, name)) == seen:
            return False
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/events"
        try:
            self.kube.request("POST", path, body=event)
        except Conflict:
            existing = self.kube.request("GET", f"{path}/{quote(name, safe='')}") or {}
            if (int(existing.get("count") or 1), str(existing.get("lastTimestamp") or "")) != seen:
                patch = {"count": seen[0], "lastTimestamp": event.get("lastTimestamp"), "message": event.get("message")}
                self.kube.request("PATCH", f"{path}/{quote(name, safe='')}", body=patch, content_type=MERGE_PATCH)
            else:
                self._written[(namespace, name)] = seen
                return False
        self._written[(namespace, name)] = seen
        return True

    def forget_except(self, live_pod_names: Iterable[tuple[str, str]]) -> None:
        """Drop memory of events whose pods are gone, so memory tracks the live pods only."""
        live = {f"{namespace}/{name}" for namespace, name in live_pod_names}
        for key in list(self._written):
            namespace, event_name = key
            pod_name = event_name.rsplit(".", 1)[0]
            if f"{namespace}/{pod_name}" not in live:
                del self._written[key]
