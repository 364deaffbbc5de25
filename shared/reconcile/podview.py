"""The pods of each virtual node, kept between cycles: listed once, then followed by a short watch per cycle.

At 20,000 pods a list is 40 pages of 500, and the cycle needs it every 10 s. The timer's warm instance
keeps the pods it knows instead, and each cycle asks the API server only for what changed since: a watch
from the last resourceVersion it saw, with `allowWatchBookmarks`, read until the server ends it at its
`timeoutSeconds` (1 s, the least a real server takes) or until a bookmark (which comes after every event
before it), then closed. A watch from a version first sends every change since that version, so what
changed before the cycle began is in the view; anything later is in the next cycle's watch. The wait is
about a second whatever the number of pods (kube-apiserver 1.20 sends no bookmark inside a short watch;
the fake sends one a second).

- A cold instance (nothing known yet) lists.
- 410 Expired (the version fell out of the server's history) relists; so does any other watch failure,
  once, in the same cycle; if that list fails too, the node's view is incomplete this cycle (nothing is
  judged absent) and the next cycle lists again.
- A node that had fewer than `watch_from` pods at its last list is simply relisted every cycle: one page
  costs what a watch costs and needs no wait for a bookmark.

The resourceVersion only moves past events that were applied, so a watch closed early (or broken) never
skips one: whatever it did not read comes again in the next cycle's watch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from shared.errors import RetryableError
from shared.kube import Expired, KubeApiError, KubeClient

log = logging.getLogger("aci_connector.reconcile.pods")

PODS_PATH = "/api/v1/pods"
WATCH_SECONDS = 1
"""How long a cycle's watch may last (a whole number of seconds, as kube-apiserver wants)."""
WATCH_FROM = 1000
"""Nodes with at least this many pods (two list pages) are watched between cycles; smaller ones relisted."""


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def _slim(pod: dict[str, Any]) -> dict[str, Any]:
    """What the reconciler keeps of a pod: managedFields (often the biggest part) are never read."""
    (pod.get("metadata") or {}).pop("managedFields", None)
    return pod


@dataclass
class NodePods:
    """One node's pods as of `version`; `listed` counts lists, `watched` the watch events applied."""

    node: str
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    version: str | None = None
    listed: int = 0
    watched: int = 0
    relists_after_expiry: int = 0

    @property
    def selector(self) -> str:
        return f"spec.nodeName={self.node}"


class PodView:
    """The pods bound to each virtual node, refreshed once per cycle by a list or a bounded watch."""

    def __init__(self, kube: KubeClient, *, watch_from: int = WATCH_FROM, watch_seconds: int = WATCH_SECONDS) -> None:
        self.kube = kube
        self.watch_from = watch_from
        self.watch_seconds = watch_seconds
        self.nodes: dict[str, NodePods] = {}

    def refresh(self, node: str) -> list[dict[str, Any]]:
        """The node's pods now. Raises KubeApiError / RetryableError when the API server could not tell."""
        view = self.nodes.setdefault(node, NodePods(node))
        if view.version is None or len(view.pods) < self.watch_from:
            self._list(view)
        else:
            try:
                self._watch(view)
            except Expired as error:
                view.relists_after_expiry += 1
                log.info("pods of node %s: watch expired (%s), relisting", node, error.message)
                self._list(view)
            except (KubeApiError, RetryableError) as error:
                log.warning("pods of node %s: watch failed (%s), relisting", node, error)
                self._list(view)
        return list(view.pods.values())

    def forget(self, node: str) -> None:
        """Drop what is known of a node (the next refresh lists it)."""
        self.nodes.pop(node, None)

    def _list(self, view: NodePods) -> None:
        view.version = None  # a failed list leaves nothing half-known: the next refresh lists again
        pods, version = self.kube.list_pods(field_selector=view.selector)
        view.pods = {_key(pod): _slim(pod) for pod in pods}
        view.version = version or None
        view.listed += 1

    def _watch(self, view: NodePods) -> None:
        """Apply what changed since `view.version`, up to the server's first bookmark or the stream's end."""
        query = {"fieldSelector": view.selector, "resourceVersion": view.version, "allowWatchBookmarks": "true"}
        stream = self.kube.watch(PODS_PATH, query=query, timeout_seconds=self.watch_seconds)
        try:
            for event in stream:
                kind = event.get("type")
                pod = event.get("object") or {}
                version = (pod.get("metadata") or {}).get("resourceVersion")
                if kind == "BOOKMARK":
                    view.version = version or view.version
                    return
                if kind in ("ADDED", "MODIFIED"):
                    view.pods[_key(pod)] = _slim(pod)
                elif kind == "DELETED":
                    view.pods.pop(_key(pod), None)
                else:
                    log.warning("pods of node %s: ignoring watch event of type %r", view.node, kind)
                view.watched += 1
                view.version = version or view.version
        finally:
            stream.close()  # leaving at the bookmark closes the connection instead of reading to the timeout
