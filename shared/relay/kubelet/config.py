"""The kubelet API's tunables, importable without aiohttp (the relay imports the server only when it is on)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KubeletConfig:
    nodes: tuple[str, ...]
    port: int = 10250
    """First node's port; 0 in tests: any free port for every node."""
    host: str = "0.0.0.0"
    address: str = ""
    """The relay pod's IP (downward API), advertised as the nodes' InternalIP and put in the certificate."""
    tls_dir: str = ""
    client_ca: str = ""
    arm_reads_per_minute: int = 120
    log_poll_seconds: float = 2.0
    stats_seconds: int = 60
    """How long one round of Azure Monitor metrics serves every scrape."""
    metrics_endpoint: str = ""
    """Azure Monitor's regional metrics endpoint; empty: https://<region>.metrics.monitor.azure.com."""
