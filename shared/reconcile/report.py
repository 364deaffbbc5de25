"""What a reconcile cycle is tuned by (ReconcileConfig) and what it reports it did (CycleReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.node import READY, Readiness
from shared.reconcile.podview import WATCH_FROM
from shared.reconcile.retry import RetryPolicy


@dataclass(frozen=True)
class ReconcileConfig:
    """Knobs with production defaults; tests shrink the waits."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    enqueue_every_seconds: float = 60.0
    """A pod still without a group is enqueued again after this long (the worker may be throttled)."""
    delete_every_seconds: float = 60.0
    """A group whose DELETE was accepted is not DELETEd again before this (ARM's delete takes a while)."""
    unready_after_cycles: int = 3
    unready_after_seconds: float = 30.0
    lease_interval: float = 8.0
    lease_only_if_older_than: float | None = None
    """Override of the Lease freshness threshold (None: 25 s with the relay renewing, else 5 s)."""
    read_workers: int = 8
    """Budgeted GETs in flight at once: 50 reads at ARM's 100-300 ms take 0.6-1.9 s instead of 5-15 s."""
    watch_pods_from: int = WATCH_FROM
    """A node with at least this many pods is followed by a watch between cycles instead of relisted."""


@dataclass
class CycleReport:
    """What one cycle did, for logs, tests and the benchmark."""

    pods: int = 0
    groups: int = 0
    arm_list_ok: bool = False
    arm_reads: int = 0
    arm_list_pages: int = 0
    arm_writes: int = 0
    status_patches: int = 0
    events_written: int = 0
    enqueued: int = 0
    orphans_deleted: int = 0
    unclaimed_groups: int = 0
    """Managed groups without a cluster tag whose pod is not live here: left alone (maybe another cluster's)."""
    groups_deleted: int = 0
    pods_removed: int = 0
    pods_failed: int = 0
    retries: int = 0
    deferred_reads: int = 0
    lease_renewals: int = 0
    unserved_told: int = 0
    """Pods bound to a virtual-looking node nobody serves, told so (a Warning Event) this cycle."""
    node_writes: list[str] = field(default_factory=list)
    readiness: Readiness = READY
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("readiness", "errors")}
        out["ready"] = self.readiness.ready
        out["errors"] = len(self.errors)
        return out
