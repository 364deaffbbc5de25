"""Applying the virtual Nodes and keeping their Leases fresh while a reconcile cycle runs.

Node objects are written only when they differ from what the connector wants
(shared.node decides); the 10-second heartbeat is the Lease. A cycle at 5,000
pods can take several seconds and the timer is a singleton (the next run waits
for this one), so leases are renewed from a background thread every
`LEASE_RENEW_SECONDS` for as long as the invocation lasts, not only at its start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared.azure.reads import RECONCILER, prepaid
from shared.capacity import node_allocatable, node_capacity, parse_usages, sum_requests
from shared.errors import ConnectorError, RetryableError
from shared.kube import Conflict, KubeApiError, KubeClient
from shared.kube.lease import renew_lease
from shared.node import Readiness, build_node, metadata_patch, status_patch
from shared.reconcile.report import CycleReport
from shared.worker import Context

log = logging.getLogger("aci_connector.reconcile.nodes")

LEASE_RENEW_SECONDS = 8.0
"""Inside one invocation; with a 10 s schedule a Lease is never older than about 10 s."""
LEASE_HOLDER = "aci-connector-reconciler"
RELAY_STALE_SECONDS = 25.0
"""With the relay renewing (every 10 s), step in only when its renewal is this old (grace is 40 s)."""
SELF_STALE_SECONDS = 5.0
"""Without the relay, skip a renewal this recent (overlapping past-due timer runs write once)."""
MERGE_PATCH = "application/merge-patch+json"


def node_path(name: str) -> str:
    return f"/api/v1/nodes/{quote(name, safe='')}"


def ensure_node(
    kube: KubeClient,
    *,
    os_name: str,
    node_name: str,
    taint: str,
    capacity: Mapping[str, str],
    allocatable: Mapping[str, str],
    readiness: Readiness,
    now: datetime | None = None,
    current: dict[str, Any] | None = None,
    extra_taints: tuple[str, ...] = (),
) -> tuple[dict[str, Any], list[str]]:
    """Create the Node or bring it up to date; returns (the Node as stored, writes done: create/meta/status).

    `current` skips the GET when the caller already holds the Node read this cycle.
    """
    moment = now or datetime.now(UTC)
    if current is None:
        current = kube.get(node_path(node_name))
    desired = build_node(
        os_name=os_name,
        node_name=node_name,
        taint=taint,
        capacity=capacity,
        allocatable=allocatable,
        readiness=readiness,
        now=moment,
        current=current,
        extra_taints=extra_taints,
    )
    if current is None:
        try:
            return kube.request("POST", "/api/v1/nodes", body=desired), ["create"]
        except Conflict:
            current = kube.get(node_path(node_name))
            if current is None:
                raise
    writes: list[str] = []
    meta = metadata_patch(current, desired)
    if meta is not None:
        current = kube.request("PATCH", node_path(node_name), body=meta, content_type=MERGE_PATCH)
        writes.append("meta")
    status = status_patch(current, desired, now=moment)
    if status is not None:
        current = kube.request("PATCH", node_path(node_name) + "/status", body=status, content_type=MERGE_PATCH)
        writes.append("status")
    return current, writes


class LeaseKeeper:
    """Renews every node's Lease now and every `interval` seconds until stopped (a context manager)."""

    def __init__(
        self,
        kube: KubeClient,
        nodes: list[str],
        *,
        only_if_older_than: float | None,
        interval: float = LEASE_RENEW_SECONDS,
        renew: Callable[..., bool] = renew_lease,
    ) -> None:
        self.kube = kube
        self.nodes = nodes
        self.only_if_older_than = only_if_older_than
        self.interval = interval
        self._renew = renew
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0
        self.errors: list[str] = []

    def renew_all(self) -> None:
        """One round; a failure is logged and retried next round (the grace period is four rounds)."""
        for node in self.nodes:
            try:
                if self._renew(self.kube, node, LEASE_HOLDER, only_if_older_than=self.only_if_older_than):
                    self.renewals += 1
            except Exception as error:  # KubeUnavailable, a 4xx: logged, and the next round tries again
                self._note(node, error)

    def _note(self, node: str, error: BaseException) -> None:
        self.errors.append(f"{node}: {type(error).__name__}: {error}")
        log.warning("lease renewal for node %s failed: %s: %s", node, type(error).__name__, error)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.renew_all()

    def __enter__(self) -> LeaseKeeper:
        self.renew_all()
        self._thread = threading.Thread(target=self._run, name="reconcile-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class NodeUpkeep:
    """Mixin of Reconciler: the virtual Nodes' existence, readiness and capacity, written once per cycle."""

    ctx: Context
    clock: Any
    wall: Any
    budget: Any
    health: Any
    nodes: dict[str, dict[str, Any]]
    quota: Any
    quota_read_at: float | None

    def _read_quota_if_due(self, report: CycleReport) -> None:
        """ACI usage for quota-capped capacity: one read per CAPACITY_QUOTA_CACHE_SECONDS, from the budget."""
        settings = self.ctx.settings
        if not settings["NODE_CAPACITY_FROM_QUOTA"]:
            return
        now = self.clock()
        if self.quota_read_at is not None and now - self.quota_read_at < settings["CAPACITY_QUOTA_CACHE_SECONDS"]:
            return
        if not self.budget.take():
            return
        report.arm_reads += 1
        try:
            self.quota = parse_usages(prepaid(RECONCILER, self.ctx.aci.usages)(), settings["ACI_REGION"])
            self.quota_read_at = now
        except (ConnectorError, ValueError) as error:
            report.errors.append(f"read ACI usages: {error}")

    def _create_missing_nodes(self, report: CycleReport) -> None:
        """Before anything else: every virtual node exists (its Lease names it as owner), read once per cycle."""
        for node_name in self.ctx.settings.node_names.values():
            try:
                current = self.ctx.kube.get(node_path(node_name))
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"node {node_name}: {error}")
                self.nodes.pop(node_name, None)
                continue
            if current is not None:
                self.nodes[node_name] = current
                continue
            self._apply_nodes(report, pods_by_node={}, only=node_name)

    def _apply_nodes(
        self, report: CycleReport, *, pods_by_node: dict[str, list[dict[str, Any]]], only: str | None = None
    ) -> None:
        """Readiness and capacity as this cycle found them; writes only what differs (shared.node)."""
        settings = self.ctx.settings
        for os_name, node_name in settings.node_names.items():
            if only is not None and node_name != only:
                continue
            in_use = sum_requests(pods_by_node.get(node_name, []))
            try:
                stored, writes = ensure_node(
                    self.ctx.kube,
                    os_name=os_name,
                    node_name=node_name,
                    taint=settings["VIRTUAL_NODE_TAINT"],
                    capacity=node_capacity(settings, self.quota, in_use),
                    allocatable=node_allocatable(settings, self.quota, in_use),
                    readiness=self.health.readiness(),
                    now=self.wall(),
                    current=self.nodes.get(node_name),
                    extra_taints=settings.profile.extra_taints,
                )
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"node {node_name}: {error}")
                self.nodes.pop(node_name, None)
                continue
            self.nodes[node_name] = stored
            report.node_writes += [f"{node_name}:{w}" for w in writes]
