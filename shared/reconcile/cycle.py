"""The reconciler: one timer cycle makes Kubernetes and ACI agree and keeps the virtual nodes honest.

Level-triggered and idempotent. Each cycle takes what exists (pods per virtual node,
kept between cycles by a watch: shared.reconcile.podview; then this connector's groups)
and acts on the difference:

- pod without group -> an `upsert` message on pod-events (the queue worker creates it,
  with its throttling, retries and poison handling), unless the pod's intake marks say a
  message is in flight; a pod whose chain keeps dying gets bounded rounds, then Failed
  (shared.reconcile.intake);
- groups of another cluster (tag aci-connector-cluster) are invisible; untagged ones join
  only for a live pod uid;
- pod whose group vanished after it had one -> confirmed with a GET, then Failed
  (`ContainerGroupDeleted`), whatever its restartPolicy: someone deleted it on purpose,
  and the pod's controller replaces a Failed pod;
- group without pod, or for an older incarnation -> the pod is re-read, then the group deleted;
  standalone groups and groups of other owners are never touched;
- pod being deleted -> its group deleted; once the group is gone, the pod removed
  (grace 0, uid precondition), as a kubelet finishes a deletion;
- group provisioningState Failed -> re-deployed a bounded number of times (count in a
  tag), then the pod Failed with ACI's message;
- status and events -> from GETs (lists lack instanceView), spent by the read budget
  (shared.reconcile.budget) a few in flight at once, answers applied in read order on the
  cycle's thread; a pod is patched only when its status really differs.

Pods are listed before groups so that anything the queue worker did in between
shows up as "extra" (harmless, re-checked) rather than "missing" (destructive).
Destructive steps re-read first. A crash mid-cycle leaves only states the next
cycle recognises and finishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from shared import tags
from shared.azure.reads import RECONCILER, prepaid, reconciler_share
from shared.errors import ConnectorError, RetryableError, ThrottledError
from shared.kube import KubeApiError
from shared.naming import container_group_name
from shared.reconcile.budget import CONFIRM, HOT, STEADY, Candidate, ReadBudget, cycle_interval, order_reads
from shared.reconcile.budget import rotation_offset as _rotation
from shared.reconcile.events import EventWriter
from shared.reconcile.feed import FeedDriver
from shared.reconcile.health import AciHealth
from shared.reconcile.listing import GroupLister
from shared.reconcile.nodes import RELAY_STALE_SECONDS, SELF_STALE_SECONDS, LeaseKeeper, NodeUpkeep
from shared.reconcile.pods import (
    PROVISIONING_FAILED_REASON,
    TERMINAL_PHASES,
    _key,
    _meta,
    _Pair,
    _phase,
    _uid,
    had_group,
    is_settled,
)
from shared.reconcile.podview import PodView
from shared.reconcile.report import CycleReport, ReconcileConfig
from shared.reconcile.retry import GIVE_UP, RETRY, decide, failure_message
from shared.reconcile.unserved import UnservedNodes
from shared.reconcile.writes import PodWrites
from shared.status import pod_status_from_container_group
from shared.worker import Context, cluster_id

log = logging.getLogger("aci_connector.reconcile")

GET_TIME_SHARE = 0.7
"""No GET is started after this fraction of the schedule: what is left is read next cycle."""
LIST_TIME_SHARE = 0.5
"""No list page is started after this fraction of the schedule (a slow pod list leaves less for pages)."""


def _list_page(aci: Any, url: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One list page; an adapter without paging (a test double) answers with everything as one page."""
    if hasattr(aci, "list_page"):
        return prepaid(RECONCILER, aci.list_page)(url)  # the lister took it from the budget
    return list(aci.list_groups()), None


class _ParallelReads:
    """GETs run on pool threads; the first 429 any of them meets is seen by the dispatcher at once."""

    def __init__(self, get: Callable[[str], dict[str, Any] | None]) -> None:
        self._get = prepaid(RECONCILER, get)  # taken from the budget before dispatch
        self.throttled = threading.Event()

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return self._get(name)
        except ThrottledError:
            self.throttled.set()
            raise


class Reconciler(PodWrites, NodeUpkeep):
    """Holds what must outlive one invocation in this process: read budget, ARM health, small memories."""

    def __init__(
        self,
        ctx: Context,
        *,
        config: ReconcileConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        feed: FeedDriver | None = None,
    ) -> None:
        self.ctx = ctx
        self.feed = feed
        """The change feed (shared/reconcile/feed.py): groups with container events become hot reads."""
        self.config = config or ReconcileConfig()
        self.clock = clock
        self.wall = wall
        settings = ctx.settings
        self.interval = cycle_interval(settings["RECONCILE_SCHEDULE"])
        self.budget = ReadBudget(
            reconciler_share(settings["ARM_READS_PER_MINUTE"]),
            self.interval,
            clock=clock,
            shared=getattr(ctx.aci, "read_budget", None),  # the process's budget, the worker's and capacity's too
        )
        self.health = AciHealth(self.config.unready_after_cycles, self.config.unready_after_seconds, clock=clock)
        self.lister = GroupLister(
            lambda url: _list_page(self.ctx.aci, url),
            lambda: self.budget.take(),  # noqa: PLW0108 - late bound: the budget object may be replaced
            lambda: self.budget.left,
            self.interval,
            clock=clock,
        )
        self.last_read: dict[str, float] = {}
        self.enqueued: dict[str, float] = {}
        self.unclaimed: set[str] = set()
        self.deleting: dict[str, float] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.quota: Any = None
        self.quota_read_at: float | None = None
        self.pod_view = PodView(ctx.kube, watch_from=self.config.watch_pods_from) if ctx.kube is not None else None
        """Each node's pods, kept between cycles: listed once, then a short watch per cycle (reconcile/podview.py)."""
        self.events = EventWriter(ctx.kube) if ctx.kube is not None else None
        self.unserved = UnservedNodes(ctx.kube) if ctx.kube is not None else None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the cycle

    def run_cycle(self, hot: Iterable[str] = ()) -> CycleReport:
        """One full pass. Never raises for per-object trouble; it is counted in the report and retried next cycle."""
        with self._lock:
            started = time.perf_counter()
            report = CycleReport()
            if self.ctx.kube is None:
                report.errors.append("standalone mode: no cluster to reconcile")
                return report
            self._create_missing_nodes(report)
            with LeaseKeeper(
                self.ctx.kube,
                list(self.ctx.settings.node_names.values()),
                only_if_older_than=self._lease_threshold(),
                interval=self.config.lease_interval,
            ) as keeper:
                self._cycle(report, set(hot))
            report.errors += keeper.errors
            report.lease_renewals = keeper.renewals
            report.seconds = time.perf_counter() - started
            return report

    def _lease_threshold(self) -> float:
        if self.config.lease_only_if_older_than is not None:
            return self.config.lease_only_if_older_than
        return RELAY_STALE_SECONDS if self.ctx.settings["RELAY_RENEW_LEASES"] else SELF_STALE_SECONDS

    def _cycle(self, report: CycleReport, hot: set[str]) -> None:
        started = self.clock()
        self._deadline = started + self.interval * GET_TIME_SHARE
        self._list_deadline = started + self.interval * LIST_TIME_SHARE
        pods_by_node, complete = self._list_pods(report)
        pods = [pod for node_pods in pods_by_node.values() for pod in node_pods]
        report.pods = len(pods)
        self.budget.begin_cycle()
        asked = self.feed is not None and self.lister.view is not None
        if self.feed is not None and asked:  # asked first: the groups it names are read before more list pages
            hot = hot | self.feed.hot(report.errors)
        groups, fresh = self._list_groups(report, reserve=len(hot) if self.lister.view is not None else 0)
        if groups is not None:
            report.groups = len(groups)
            if self.feed is not None and not asked:
                hot = hot | self.feed.hot(report.errors)
            # What is *absent* from the view (orphans) is judged only when a whole list just completed.
            readable = self._reconcile(pods, groups, complete and fresh, hot, report)
            if self.feed is not None:
                self.feed.end_cycle(readable)
            self._read_quota_if_due(report)
        report.readiness = self.health.readiness()
        self._apply_nodes(report, pods_by_node=pods_by_node)
        if self.events is not None:
            self.events.forget_except(_key(p) for p in pods)
        if self.unserved is not None:
            report.unserved_told = self.unserved.check(self.ctx.settings.node_names, report)

    # ------------------------------------------------------------------ listing

    def _list_pods(self, report: CycleReport) -> tuple[dict[str, list[dict[str, Any]]], bool]:
        """Pods bound to each virtual node; `complete` is False when any node's view failed (then nothing is
        orphaned). Nodes are refreshed at once: a watch waits about a second for its bookmark."""
        assert self.pod_view is not None
        nodes = list(self.ctx.settings.node_names.values())
        out: dict[str, list[dict[str, Any]]] = {}
        complete = True
        with ThreadPoolExecutor(max_workers=max(1, len(nodes)), thread_name_prefix="reconcile-pods") as pool:
            futures = {node: pool.submit(self.pod_view.refresh, node) for node in nodes}
        for node, future in futures.items():
            try:
                out[node] = future.result()
            except (KubeApiError, RetryableError) as error:
                complete = False
                report.errors.append(f"list pods on {node}: {error}")
        return out, complete

    def _list_groups(self, report: CycleReport, reserve: int = 0) -> tuple[list[dict[str, Any]] | None, bool]:
        """This connector's groups as this cycle knows them (see shared.reconcile.listing), and whether that
        view completed this cycle; None when ARM could not be listed (health notes why) or never was yet."""
        outcome = self.lister.cycle(self._list_deadline, reserve)
        report.arm_list_pages = outcome.pages
        if outcome.error is not None:
            if outcome.throttled:
                self.budget.pause(outcome.retry_after)
                report.errors.append(f"list groups throttled: {outcome.error}")
            else:
                self.health.failure(RetryableError(outcome.error or "list failed"))
                report.errors.append(f"list groups: {outcome.error}")
            return None, False
        if outcome.pages:
            self.health.success()
            report.arm_list_ok = True
        return outcome.groups, outcome.fresh

    # ------------------------------------------------------------------ deciding

    def _reconcile(
        self,
        pods: list[dict[str, Any]],
        groups: list[dict[str, Any]],
        complete: bool,
        hot: set[str],
        report: CycleReport,
    ) -> set[str]:
        """Decide and read; returns the groups this cycle could read (those deferred are read next cycle)."""
        groups = self._ours(groups, pods, report)
        by_name = {g["name"]: g for g in groups if g.get("name")}
        pairs: dict[str, _Pair] = {}
        for pod in pods:
            name = container_group_name(pod)
            group = by_name.get(name)
            if group is not None and (group.get("tags") or {}).get(tags.TAG_UID) != _uid(pod):
                group = None  # same name, another incarnation: the group is handled as an orphan below
            pairs[name] = _Pair(pod, group)
        candidates: list[Candidate] = []
        for name, pair in pairs.items():
            self._plan_pod(name, pair, hot, candidates, report)
        if complete:
            claimed = {n for n, p in pairs.items() if p.group is not None}
            for group in groups:
                if group.get("name") not in claimed:
                    self._orphan(group, report)
        self._spend_reads(candidates, pairs, report)
        live = {name for name in by_name}
        self.last_read = {n: t for n, t in self.last_read.items() if n in live}
        self.deleting = {n: t for n, t in self.deleting.items() if n in live}
        live_uids = {_uid(p.pod) for p in pairs.values()}
        self.enqueued = {u: t for u, t in self.enqueued.items() if u in live_uids}
        return {c.name for c in candidates}

    def _ours(
        self, groups: list[dict[str, Any]], pods: list[dict[str, Any]], report: CycleReport
    ) -> list[dict[str, Any]]:
        """Only this cluster's groups take part (tags.ownership): another cluster's are invisible, and an untagged
        group (an older connector's) joins only when its pod uid is live here; otherwise it is left alone, counted
        and logged once, since it may be another cluster's (docs/operations.md, upgrades)."""
        cluster = cluster_id(self.ctx.settings, self.ctx.kube)
        live = {_uid(pod) for pod in pods}
        ours = []
        for group in groups:
            verdict = tags.ownership(group, cluster, live)
            if verdict in (tags.OURS, tags.ADOPTED):
                ours.append(group)
            elif verdict == tags.UNCLAIMED:
                report.unclaimed_groups += 1
                if group.get("name") not in self.unclaimed:
                    self.unclaimed.add(str(group.get("name")))
                    log.warning(
                        "group %s has no cluster tag and its pod is not live here: left alone", group.get("name")
                    )
        return ours

    def _plan_pod(self, name: str, pair: _Pair, hot: set[str], out: list[Candidate], report: CycleReport) -> None:
        pod, group = pair.pod, pair.group
        if _meta(pod).get("deletionTimestamp"):
            self._finish_deletion(name, pod, group, report)
            return
        if _phase(pod) in TERMINAL_PHASES:
            return
        if group is None:
            if had_group(pod):
                out.append(Candidate(name, CONFIRM))
            else:
                self._enqueue_create(pod, report)
            return
        settled = is_settled(pod, group) and name not in hot
        out.append(Candidate(name, STEADY if settled else HOT))

    # ------------------------------------------------------------------ reading

    def _spend_reads(self, candidates: list[Candidate], pairs: dict[str, _Pair], report: CycleReport) -> None:
        """GET the most deserving groups, a few at a time, and act on each answer in candidate order.

        ARM answers a GET in 100-300 ms, so 50 sequential reads could fill a whole 10 s cycle; up to
        `read_workers` are in flight at once. Budget is taken before each dispatch (never more GETs
        than it allows), a 429 stops dispatching at once (answers already in flight are still used),
        and every decision and write happens here, on this thread, in the order `order_reads` gave.
        """
        steady = sum(1 for c in candidates if c.priority == STEADY)
        rotation = _rotation(steady, self.budget.per_cycle, self.interval, self.wall().timestamp())
        ordered = order_reads(candidates, self.last_read, rotation=rotation)
        if not ordered:
            return
        workers = max(1, min(self.config.read_workers, len(ordered)))
        reads = _ParallelReads(self.ctx.aci.get)
        in_flight: deque[tuple[str, Future[dict[str, Any] | None]]] = deque()
        dispatched = 0
        exhausted = False
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile-get") as pool:
            while True:
                while dispatched < len(ordered) and len(in_flight) < workers and not exhausted:
                    late = self.clock() >= self._deadline  # the rest waits for the next cycle, never overruns
                    if late or reads.throttled.is_set() or not self.budget.take():
                        exhausted = True
                        break
                    name = ordered[dispatched]
                    in_flight.append((name, pool.submit(reads.get, name)))
                    dispatched += 1
                if not in_flight:
                    break
                name, future = in_flight.popleft()
                self._read_answered(name, future, pairs, report)
        report.deferred_reads += len(ordered) - dispatched

    def _read_answered(
        self, name: str, future: Future[dict[str, Any] | None], pairs: dict[str, _Pair], report: CycleReport
    ) -> None:
        """One GET's answer: the pod's status, events and retry decision, or the error counted."""
        report.arm_reads += 1
        try:
            group = future.result()
        except ThrottledError as error:
            self.budget.pause(error.retry_after)
            report.errors.append(f"GET {name} throttled: {error}")
            report.deferred_reads += 1
            return
        except ConnectorError as error:
            report.errors.append(f"GET {name}: {error}")
            return
        self.last_read[name] = self.clock()
        self.lister.saw(name, group)
        if self.feed is not None:
            self.feed.settle((name,))
        try:
            self._apply(name, pairs[name].pod, group, report)
        except (KubeApiError, ConnectorError) as error:
            report.errors.append(f"apply {name}: {type(error).__name__}: {error}")

    def _apply(self, name: str, pod: dict[str, Any], group: dict[str, Any] | None, report: CycleReport) -> None:
        if group is None or (group.get("tags") or {}).get(tags.TAG_UID) != _uid(pod):
            if had_group(pod):
                self._group_vanished(name, pod, report)
            return
        verdict = decide(group, self.config.retry, now=self.wall())
        if verdict == GIVE_UP:
            message = f"ACI could not provision container group {name}: {failure_message(group)}"
            self._fail_pod(pod, PROVISIONING_FAILED_REASON, message, report)
        else:
            self._patch_status(pod, pod_status_from_container_group(group, pod, now=self.wall()), report)
        if self.events is not None:
            report.events_written += self.events.sync(group, pod)
        if verdict == RETRY:
            self._retry(name, pod, group, report)

    # ------------------------------------------------------------------ nodes


# ---------------------------------------------------------------------- process-wide entry point

_reconciler: Reconciler | None = None
_reconciler_lock = threading.Lock()


def get_reconciler() -> Reconciler:
    """One Reconciler per worker process, so its memory (budget, health, round-robin) spans invocations."""
    global _reconciler  # noqa: PLW0603 - state that must outlive an invocation
    with _reconciler_lock:
        if _reconciler is None:
            from shared.reconcile.feed import feed_from_settings
            from shared.worker import default_context

            ctx = default_context()
            _reconciler = Reconciler(ctx, feed=feed_from_settings(ctx.settings, ctx.kube))
        return _reconciler


def set_reconciler(reconciler: Reconciler | None) -> None:
    global _reconciler  # noqa: PLW0603
    with _reconciler_lock:
        _reconciler = reconciler


def run_reconcile(hot: Iterable[str] = ()) -> CycleReport:
    """What the timer calls."""
    return get_reconciler().run_cycle(hot)
