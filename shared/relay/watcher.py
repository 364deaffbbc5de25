"""List, then watch, the pods bound to one virtual node, forever.

One watch per node with the server-side field selector `spec.nodeName=<node>`:
the relay then receives only our pods (and an ADDED when the scheduler binds
one to us), however many pods the cluster runs elsewhere. docs/relay.md has the
measurement behind this choice.

Nothing is lost between a list and a watch: the watch starts from the list's
resourceVersion and every later one from the last event or bookmark seen. A
410 Expired (history compacted) means relist and relay only the differences;
any other failure (network, 5xx, apiserver restart) means reconnect from the
last resourceVersion after a jittered exponential backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

from shared.kube import Expired, KubeClient
from shared.messages import Message
from shared.relay import changes
from shared.relay.backoff import Backoff
from shared.relay.metrics import Metrics

log = logging.getLogger("aci_connector.relay.watcher")

Emit = Callable[[Hashable, Message], None]
PODS_PATH = "/api/v1/pods"


class NodeWatcher:
    """The list+watch loop of one node; runs in its own thread until `stop` is set."""

    def __init__(
        self,
        kube: KubeClient,
        node: str,
        emit: Emit,
        *,
        stop: threading.Event,
        metrics: Metrics | None = None,
        watch_timeout_seconds: int = 300,
        initial_backoff: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.kube = kube
        self.node = node
        self._emit = emit
        self._stop = stop
        self.metrics = metrics or Metrics()
        self.watch_timeout_seconds = watch_timeout_seconds
        self._backoff = Backoff(initial_backoff, max_backoff)
        self.known: dict[changes.PodKey, changes.PodState] = {}
        self.resource_version: str | None = None
        self.synced = False
        self.listed_once = False
        self._thread: threading.Thread | None = None

    @property
    def selector(self) -> str:
        return f"spec.nodeName={self.node}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"relay-watch-{self.node}", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    self.relist()
                self.watch_once()
                self._backoff.reset()
            except Expired as error:
                self.metrics.inc("relists")
                log.warning("watch of node %s expired (%s): relisting", self.node, error.message)
                self.resource_version = None
            except Exception as error:
                self.synced = False
                if self._stop.is_set():  # shutting down: a stream cut under us is expected, not an error
                    return
                self.metrics.inc("watch_errors")
                delay = self._backoff.next_delay()
                log.warning(
                    "watch of node %s failed (%s: %s); reconnecting in %.1f s",
                    self.node,
                    type(error).__name__,
                    str(error).splitlines()[0] if str(error) else "",
                    delay,
                )
                self._stop.wait(delay)

    def relist(self) -> None:
        """List our pods and relay only what changed since our last known state (everything, the first time)."""
        pods, version = self.kube.list_pods(field_selector=self.selector)
        self.known, messages = changes.relist_diff(self.known, pods)
        for message in messages:
            self._emit(changes.message_key(message), message)
        log.info(
            "node %s: listed %d pods at resourceVersion %s, relayed %d differences",
            self.node,
            len(pods),
            version,
            len(messages),
        )
        self.resource_version = version
        self.listed_once = True

    def watch_once(self) -> None:
        """One watch stream from our resourceVersion until the server ends it (timeout, restart) or we stop."""
        stream = self.kube.watch(
            PODS_PATH,
            query={
                "fieldSelector": self.selector,
                "resourceVersion": self.resource_version,
                "allowWatchBookmarks": "true",
            },
            timeout_seconds=self.watch_timeout_seconds,
        )
        self.synced = True
        for event in stream:
            if self._stop.is_set():
                return
            self.handle(event)
            self._backoff.reset()
        self.metrics.inc("watch_restarts")

    def handle(self, event: dict[str, Any]) -> None:
        """Turn one watch event into at most one message, then advance our resourceVersion past it."""
        kind = event.get("type")
        pod = event.get("object") or {}
        version = (pod.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self.resource_version = version or self.resource_version
            return
        self.metrics.inc("events_seen")
        message: Message | None
        if kind in ("ADDED", "MODIFIED"):
            message = changes.on_present(self.known, pod)
        elif kind == "DELETED":
            message = changes.on_deleted(self.known, pod)
        else:
            log.warning("node %s: ignoring watch event of type %r", self.node, kind)
            message = None
        if message is None:
            self.metrics.inc("events_ignored")
        else:
            self._emit(changes.message_key(message), message)
        self.resource_version = version or self.resource_version
