"""Point the virtual Nodes at this relay: InternalIP = the relay pod's IP, kubelet port = its listener.

The relay writes the Node annotation shared.node.KUBELET_ENDPOINT_ANNOTATION (who serves,
where, since when) and the matching `status.addresses` / `daemonEndpoints`; the reconciler
derives the same status from the annotation, so the two never fight. Which relay holds the
nodes, when two run at once (a rolling update) or one died: the newest relay takes over
(its `since` is later), and any relay takes over from a holder whose pod is gone or has
another IP. The older relay sees the newer holder and stays quiet, so the address follows
the relay that is alive. Checks run every `interval` seconds and cost one Node GET each
(plus one pod GET when another relay holds the node); writes happen only on a change.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared.kube import MERGE_PATCH, KubeClient
from shared.node import KUBELET_ENDPOINT_ANNOTATION, endpoint_status, kubelet_endpoint

log = logging.getLogger("aci_connector.relay.kubelet")


def node_path(name: str) -> str:
    return f"/api/v1/nodes/{quote(name, safe='')}"


@dataclass(frozen=True)
class Claim:
    address: str
    port: int
    holder: str
    """namespace/name of the relay pod."""
    since: str
    """When this relay started (RFC 3339, microseconds): the later start wins."""

    def annotation(self) -> str:
        return json.dumps(
            {"address": self.address, "port": self.port, "holder": self.holder, "since": self.since},
            separators=(",", ":"),
        )


def should_claim(current: Mapping[str, Any] | None, mine: Claim, holder_alive: bool) -> bool:
    """Write our claim over `current` (the Node's parsed annotation)? Pure, so the rule is tested on its own."""
    if current is None:
        return True
    if current.get("holder") == mine.holder:
        return (current.get("address"), current.get("port")) != (mine.address, mine.port)
    return str(current.get("since") or "") < mine.since or not holder_alive


class Advertiser:
    """Keeps the nodes' kubelet address on this relay while it runs; `stop()` withdraws what it still holds."""

    def __init__(
        self,
        kube: KubeClient,
        claims: Mapping[str, Claim] | Callable[[], Mapping[str, Claim]],
        *,
        stop: threading.Event,
        interval: float = 30.0,
    ) -> None:
        self.kube = kube
        self._claims = claims
        self.interval = interval
        self._stop = stop
        self._thread: threading.Thread | None = None
        self.writes = 0

    @property
    def claims(self) -> dict[str, Claim]:
        """Our claim per node (a callable is asked each time: the listener's ports are known only once it runs)."""
        return dict(self._claims() if callable(self._claims) else self._claims)

    def _holder_alive(self, endpoint: Mapping[str, Any]) -> bool:
        namespace, _, name = str(endpoint.get("holder") or "").partition("/")
        if not name:
            return False
        pod = self.kube.get_pod(namespace, name)
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return False
        return (pod.get("status") or {}).get("podIP") == endpoint.get("address")

    def check(self, node: str) -> bool:
        """One look at one node; True when we wrote our claim."""
        mine = self.claims[node]
        current = self.kube.get(node_path(node))
        if current is None:
            return False  # the reconciler registers the node; we advertise on it once it exists
        endpoint = kubelet_endpoint(current)
        other = endpoint is not None and endpoint.get("holder") != mine.holder
        alive = self._holder_alive(endpoint) if other and endpoint is not None else True
        status_ok = all((current.get("status") or {}).get(k) == v for k, v in endpoint_status(node, endpoint).items())
        if not should_claim(endpoint, mine, alive):
            if endpoint is not None and endpoint.get("holder") == mine.holder and not status_ok:
                self._write_status(node, endpoint)
            return False
        annotations = {KUBELET_ENDPOINT_ANNOTATION: mine.annotation()}
        self.kube.request(
            "PATCH", node_path(node), body={"metadata": {"annotations": annotations}}, content_type=MERGE_PATCH
        )
        self._write_status(node, kubelet_endpoint({"metadata": {"annotations": annotations}}))
        log.info("kubelet API of node %s advertised at %s:%d", node, mine.address, mine.port)
        return True

    def _write_status(self, node: str, endpoint: Mapping[str, Any] | None) -> None:
        body = {"status": endpoint_status(node, endpoint)}
        self.kube.request("PATCH", node_path(node) + "/status", body=body, content_type=MERGE_PATCH)
        self.writes += 1

    def check_all(self) -> None:
        for node in self.claims:
            try:
                self.check(node)
            except Exception as error:  # apiserver down or a 4xx: logged, retried next round
                log.warning("advertising the kubelet API on node %s failed: %s: %s", node, type(error).__name__, error)

    def withdraw(self) -> None:
        """At shutdown: remove our claim where we still hold it, so the apiserver stops calling a dead address.

        The stop event is set by then; the check in flight finishes first, so it cannot re-claim after us.
        """
        if self._thread is not None:
            self._thread.join(timeout=15)
        for node, mine in self.claims.items():
            try:
                current = self.kube.get(node_path(node))
                endpoint = kubelet_endpoint(current)
                if current is None or endpoint is None or endpoint.get("holder") != mine.holder:
                    continue
                patch = {"metadata": {"annotations": {KUBELET_ENDPOINT_ANNOTATION: None}}}
                self.kube.request("PATCH", node_path(node), body=patch, content_type=MERGE_PATCH)
                self._write_status(node, None)
            except Exception as error:  # best effort: the next relay or the reconciler corrects the node
                log.warning("withdrawing the kubelet address of node %s failed: %s", node, error)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="relay-advertise", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.check_all()
        while not self._stop.wait(self.interval):
            self.check_all()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
