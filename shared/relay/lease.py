"""Optional Lease renewal from the relay: while it is alive, it owns the virtual nodes' heartbeats.

The relay renews unconditionally every 10 s, like a kubelet; the reconciler
timer calls the same `shared.kube.lease.renew_lease` with `only_if_older_than`, so it
only steps in when the relay is gone. docs/relay.md explains the split.
"""

from __future__ import annotations

import logging
import threading

from shared.kube import KubeClient
from shared.kube.lease import RENEW_INTERVAL_SECONDS, renew_lease
from shared.relay.metrics import Metrics

log = logging.getLogger("aci_connector.relay.lease")


class LeaseRenewer:
    def __init__(
        self,
        kube: KubeClient,
        nodes: tuple[str, ...],
        *,
        stop: threading.Event,
        metrics: Metrics | None = None,
        interval: float = RENEW_INTERVAL_SECONDS,
    ) -> None:
        self.kube = kube
        self.nodes = nodes
        self.interval = interval
        self._stop = stop
        self.metrics = metrics or Metrics()
        self._thread: threading.Thread | None = None

    def renew_all(self) -> None:
        """One round; a failure for one node is logged and retried next round (the grace period is 4 rounds)."""
        for node in self.nodes:
            try:
                if renew_lease(self.kube, node, node):
                    self.metrics.inc("lease_renewals")
            except Exception as error:
                self.metrics.inc("lease_errors")
                log.warning("lease renewal for node %s failed: %s: %s", node, type(error).__name__, error)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="relay-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.renew_all()
            self._stop.wait(self.interval)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
