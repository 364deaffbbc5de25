"""The relay assembled: watchers -> coalescer -> sender, plus health endpoints and optional Lease renewal.

Shutdown order matters for "flush what it holds": stop the watchers first (no
new input), release every trailing message the coalescer holds, then let the
sender drain its buffer for at most `flush_seconds`, inside the pod's
termination grace period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.errors import ConfigError
from shared.kube import KubeClient
from shared.messages import Message
from shared.relay.coalesce import Coalescer
from shared.relay.health import HealthServer
from shared.relay.kubelet.config import KubeletConfig
from shared.relay.lease import LeaseRenewer
from shared.relay.metrics import Metrics
from shared.relay.sender import Sender, Write
from shared.relay.watcher import NodeWatcher

log = logging.getLogger("aci_connector.relay")


@dataclass(frozen=True)
class RelayConfig:
    """Tunables; `from_settings` maps the app settings, tests shorten the timings."""

    nodes: tuple[str, ...]
    coalesce_seconds: float = 0.2
    buffer_size: int = 10_000
    health_port: int | None = 8080
    """None: no HTTP server; 0: any free port (tests)."""
    renew_leases: bool = False
    lease_interval: float = 10.0
    watch_timeout_seconds: int = 300
    flush_seconds: float = 10.0
    """Bounded flush at SIGTERM: keep it under the pod's terminationGracePeriodSeconds (30 by default)."""
    send_workers: int = 32
    """Queue writes in flight at once (never two for one pod); see docs/performance.md for the choice."""
    send_max_backoff: float = 5.0
    watch_max_backoff: float = 30.0
    kubelet: KubeletConfig | None = None
    """None: no kubelet API (RELAY_KUBELET_ENABLED false)."""
    pod_name: str = ""
    """namespace/name of this relay pod: who holds the nodes' kubelet address."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayConfig:
        return cls(
            nodes=tuple(settings.node_names.values()),
            coalesce_seconds=settings["RELAY_COALESCE_MS"] / 1000.0,
            buffer_size=settings["RELAY_BUFFER_SIZE"],
            health_port=settings["RELAY_HEALTH_PORT"],
            renew_leases=settings["RELAY_RENEW_LEASES"],
            kubelet=kubelet_config(settings),
            pod_name=settings["RELAY_POD_NAME"],
        )


def kubelet_config(settings: Settings) -> KubeletConfig | None:
    """The kubelet API's configuration, None when it is off; the pod IP is required to advertise it."""
    if not settings["RELAY_KUBELET_ENABLED"]:
        return None
    return KubeletConfig(
        nodes=tuple(settings.node_names.values()),
        port=settings["RELAY_KUBELET_PORT"],
        address=settings.require("RELAY_POD_IP"),
        tls_dir=settings["RELAY_KUBELET_TLS_DIR"],
        client_ca=settings["RELAY_KUBELET_CLIENT_CA"],
        arm_reads_per_minute=settings["RELAY_KUBELET_ARM_READS_PER_MINUTE"],
        log_poll_seconds=settings["RELAY_KUBELET_LOG_POLL_SECONDS"],
        stats_seconds=settings["RELAY_KUBELET_STATS_SECONDS"],
        metrics_endpoint=settings["AZURE_METRICS_ENDPOINT"],
    )


class Relay:
    """One relay process's moving parts; `start()` returns at once, `stop()` flushes."""

    def __init__(
        self,
        config: RelayConfig,
        kube: KubeClient,
        write: Write,
        *,
        aci: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` times the coalescing window (a test advances its own instead of waiting on wall time)."""
        self.config = config
        self.metrics = Metrics()
        self._stop = threading.Event()
        self.sender = Sender(
            write,
            capacity=config.buffer_size,
            metrics=self.metrics,
            workers=config.send_workers,
            max_backoff=config.send_max_backoff,
        )
        self.coalescer = Coalescer(config.coalesce_seconds, self.sender.put, metrics=self.metrics, clock=clock)
        self.watchers = [
            NodeWatcher(
                kube,
                node,
                self._accept,
                stop=self._stop,
                metrics=self.metrics,
                watch_timeout_seconds=config.watch_timeout_seconds,
                max_backoff=config.watch_max_backoff,
            )
            for node in config.nodes
        ]
        self.leases = (
            LeaseRenewer(kube, config.nodes, stop=self._stop, metrics=self.metrics, interval=config.lease_interval)
            if config.renew_leases
            else None
        )
        self.metrics.gauge("watches_synced", lambda: sum(1 for w in self.watchers if w.synced))
        self.kubelet: Any = None
        self.advertiser: Any = None
        if config.kubelet is not None:
            self._setup_kubelet(config.kubelet, kube, aci)
        self.health: HealthServer | None = None
        if config.health_port is not None:
            self.health = HealthServer(
                config.health_port,
                live=self.liveness_problems,
                ready=self.readiness_problems,
                metrics=self.metrics.render,
            )

    def _setup_kubelet(self, kubelet: KubeletConfig, kube: KubeClient, aci: Any) -> None:
        """The kubelet API server and the Node advertisement (aiohttp is imported only here)."""
        from shared.relay.kubelet.advertise import Advertiser, Claim
        from shared.relay.kubelet.server import KubeletServer

        if aci is None:
            raise ConfigError("the kubelet API needs the ACI settings (AZURE_SUBSCRIPTION_ID, ACI_RESOURCE_GROUP)")
        self.kubelet = KubeletServer(kubelet, kube, aci)
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        holder = self.config.pod_name or f"unknown/{kubelet.address}"

        def claims() -> dict[str, Claim]:  # the bound ports, known once the server listens
            return {node: Claim(kubelet.address, port, holder, since) for node, port in self.kubelet.ports.items()}

        self.advertiser = Advertiser(kube, claims, stop=self._stop)
        server = self.kubelet
        self.metrics.gauge("kubelet_arm_reads", lambda: server.budget.spent)
        self.metrics.gauge("kubelet_metrics_calls", lambda: server.metrics.calls)
        self.metrics.gauge("kubelet_reviews", lambda: sum(server.gate.reviews.values()))
        self.metrics.gauge("kubelet_follows", lambda: sum(s.following for s in server.log_sources.values()))

    def _accept(self, key: Hashable, message: Message) -> None:
        if not self._stop.is_set():
            self.coalescer.offer(key, message)

    def start(self) -> None:
        if self.health is not None:
            self.health.start()
        self.sender.start()
        self.coalescer.start()
        for watcher in self.watchers:
            watcher.start()
        if self.leases is not None:
            self.leases.start()
        if self.kubelet is not None:
            self.kubelet.start()
            self.advertiser.start()
        log.info(
            "relay started: nodes %s, coalescing %.0f ms, buffer %d, leases %s",
            ", ".join(self.config.nodes),
            self.config.coalesce_seconds * 1000,
            self.config.buffer_size,
            "renewed here" if self.leases else "left to the reconciler",
        )

    def stop(self) -> bool:
        """Stop watching, flush held messages within `flush_seconds`; True when nothing was left unsent."""
        self._stop.set()
        released = self.coalescer.flush()
        held = self.sender.size
        log.info("relay stopping: flushing %d messages (%d were coalescing)", held, released)
        if self.kubelet is not None:
            self.advertiser.withdraw()
            self.kubelet.stop()
        flushed = self.sender.flush(self.config.flush_seconds)
        if self.health is not None:
            self.health.stop()
        log.info("relay stopped (%s)", "all messages sent" if flushed else "some messages NOT sent")
        return flushed

    # -- probes ------------------------------------------------------------------------------------------------------

    def liveness_problems(self) -> list[str]:
        parts: list[tuple[str, Callable[[], bool]]] = [
            ("sender", self.sender.alive),
            ("coalescer", self.coalescer.alive),
        ]
        parts += [(f"watch {w.node}", w.alive) for w in self.watchers]
        if self.leases is not None:
            parts.append(("lease renewer", self.leases.alive))
        if self.kubelet is not None:
            parts += [("kubelet API", self.kubelet.alive), ("kubelet advertiser", self.advertiser.alive)]
        return [f"{name} thread is not running" for name, alive in parts if not alive()]

    def readiness_problems(self) -> list[str]:
        problems = self.liveness_problems()
        if not self.sender.storage_ok:
            problems.append(f"Storage unavailable, holding {self.sender.size} messages: {self.sender.last_error}")
        problems += [f"watch of node {w.node} is not streaming" for w in self.watchers if not w.synced]
        return problems

    def ready(self) -> bool:
        return not self.readiness_problems()
