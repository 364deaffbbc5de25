"""The reconciler: one timer cycle makes Kubernetes and ACI agree and keeps the virtual nodes honest.

Level-triggered and idempotent. Each cycle lists what exists (pods per virtual
node, then this connector's groups) and acts on the difference:

- pod without group -> an `upsert` message on pod-events (the queue worker creates it,
  with its throttling, retries and poison handling); pods enqueued recently are not
  enqueued again;
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
  (shared.reconcile_budget) a few in flight at once, answers applied in read order on the
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import tags
from shared.capacity import node_allocatable, node_capacity, parse_usages, sum_requests
from shared.errors import ConnectorError, PermanentError, RetryableError, ThrottledError
from shared.events import publish_pod_transition, transition_for
from shared.kube import Conflict, KubeApiError, NotFound
from shared.messages import upsert
from shared.naming import container_group_name
from shared.node import READY, Readiness
from shared.pod_refs import referenced_objects
from shared.reconcile_budget import CONFIRM, HOT, STEADY, Candidate, ReadBudget, cycle_interval, order_reads
from shared.reconcile_budget import rotation_offset as _rotation
from shared.reconcile_events import EventWriter
from shared.reconcile_health import AciHealth
from shared.reconcile_nodes import RELAY_STALE_SECONDS, SELF_STALE_SECONDS, LeaseKeeper, ensure_node, node_path
from shared.reconcile_retry import GIVE_UP, RETRY, RetryPolicy, decide, failure_message, retry_tags
from shared.status import pod_status_for_missing_group, pod_status_from_container_group, status_differs
from shared.worker import Context

log = logging.getLogger("aci_connector.reconcile")

TERMINAL_PHASES = ("Succeeded", "Failed")
DELETED_REASON = "ContainerGroupDeleted"
PROVISIONING_FAILED_REASON = "ProviderFailed"


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


@dataclass
class CycleReport:
    """What one cycle did, for logs, tests and the benchmark."""

    pods: int = 0
    groups: int = 0
    arm_list_ok: bool = False
    arm_reads: int = 0
    arm_writes: int = 0
    status_patches: int = 0
    events_written: int = 0
    enqueued: int = 0
    orphans_deleted: int = 0
    groups_deleted: int = 0
    pods_removed: int = 0
    pods_failed: int = 0
    retries: int = 0
    deferred_reads: int = 0
    lease_renewals: int = 0
    node_writes: list[str] = field(default_factory=list)
    readiness: Readiness = READY
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("readiness", "errors")}
        out["ready"] = self.readiness.ready
        out["errors"] = len(self.errors)
        return out


class _ParallelReads:
    """GETs run on pool threads; the first 429 any of them meets is seen by the dispatcher at once."""

    def __init__(self, get: Callable[[str], dict[str, Any] | None]) -> None:
        self._get = get
        self.throttled = threading.Event()

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return self._get(name)
        except ThrottledError:
            self.throttled.set()
            raise


@dataclass
class _Pair:
    """A pod and the group the list says it has (None when missing)."""

    pod: dict[str, Any]
    group: dict[str, Any] | None


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _uid(pod: dict[str, Any]) -> str | None:
    return _meta(pod).get("uid")


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    return _meta(pod).get("namespace") or "default", _meta(pod)["name"]


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def had_group(pod: dict[str, Any]) -> bool:
    """True when the pod's status was written from a real group (the worker patches it right after the PUT)."""
    status = pod.get("status") or {}
    return bool(status.get("containerStatuses") or status.get("initContainerStatuses"))


def is_settled(pod: dict[str, Any], group: dict[str, Any]) -> bool:
    """Running, Ready and provisioned: nothing is expected to change soon, so round-robin refresh suffices."""
    if (group.get("properties") or {}).get("provisioningState") != "Succeeded":
        return False
    if _phase(pod) != "Running":
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class Reconciler:
    """Holds what must outlive one invocation in this process: read budget, ARM health, small memories."""

    def __init__(
        self,
        ctx: Context,
        *,
        config: ReconcileConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ctx = ctx
        self.config = config or ReconcileConfig()
        self.clock = clock
        self.wall = wall
        settings = ctx.settings
        self.interval = cycle_interval(settings["RECONCILE_SCHEDULE"])
        self.budget = ReadBudget(settings["ARM_READS_PER_MINUTE"], self.interval, clock=clock)
        self.health = AciHealth(self.config.unready_after_cycles, self.config.unready_after_seconds, clock=clock)
        self.last_read: dict[str, float] = {}
        self.enqueued: dict[str, float] = {}
        self.deleting: dict[str, float] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.quota: Any = None
        self.quota_read_at: float | None = None
        self.events = EventWriter(ctx.kube) if ctx.kube is not None else None
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
        pods_by_node, complete = self._list_pods(report)
        pods = [pod for node_pods in pods_by_node.values() for pod in node_pods]
        report.pods = len(pods)
        self.budget.begin_cycle()
        groups = self._list_groups(report)
        if groups is not None:
            report.groups = len(groups)
            self._reconcile(pods, groups, complete, hot, report)
            self._read_quota_if_due(report)
        report.readiness = self.health.readiness()
        self._apply_nodes(report, pods_by_node=pods_by_node)
        if self.events is not None:
            self.events.forget_except(_key(p) for p in pods)

    # ------------------------------------------------------------------ listing

    def _list_pods(self, report: CycleReport) -> tuple[dict[str, list[dict[str, Any]]], bool]:
        """Pods bound to each virtual node; `complete` is False when any list failed (then nothing is orphaned)."""
        out: dict[str, list[dict[str, Any]]] = {}
        complete = True
        for node in self.ctx.settings.node_names.values():
            try:
                out[node], _ = self.ctx.kube.list_pods(field_selector=f"spec.nodeName={node}")
            except (KubeApiError, RetryableError) as error:
                complete = False
                report.errors.append(f"list pods on {node}: {error}")
        return out, complete

    def _list_groups(self, report: CycleReport) -> list[dict[str, Any]] | None:
        """This connector's groups, or None when ARM could not be listed (health notes why)."""
        try:
            groups = [g for g in self.ctx.aci.list_groups() if tags.is_managed(g)]
        except ThrottledError as error:
            self.budget.pause(error.retry_after)
            report.errors.append(f"list groups throttled: {error}")
            return None
        except ConnectorError as error:
            self.health.failure(error)
            report.errors.append(f"list groups: {error}")
            return None
        self.health.success()
        report.arm_list_ok = True
        return groups

    # ------------------------------------------------------------------ deciding

    def _reconcile(
        self,
        pods: list[dict[str, Any]],
        groups: list[dict[str, Any]],
        complete: bool,
        hot: set[str],
        report: CycleReport,
    ) -> None:
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

    def _enqueue_create(self, pod: dict[str, Any], report: CycleReport) -> None:
        uid = _uid(pod) or ""
        now = self.clock()
        last = self.enqueued.get(uid)
        if last is not None and now - last < self.config.enqueue_every_seconds:
            return
        if self.ctx.queue is None:
            report.errors.append(f"no queue to enqueue {_key(pod)} for creation")
            return
        try:
            self.ctx.queue.send(upsert(pod, source="reconcile").to_text())
        except Exception as error:  # Storage trouble: the next cycle enqueues again
            report.errors.append(f"enqueue {_key(pod)}: {type(error).__name__}: {error}")
            return
        self.enqueued[uid] = now
        report.enqueued += 1

    def _finish_deletion(
        self, name: str, pod: dict[str, Any], group: dict[str, Any] | None, report: CycleReport
    ) -> None:
        """Pod is terminating: group first, then the pod itself once ACI no longer has the group."""
        if group is not None:
            if self._delete_group(name, report):
                report.groups_deleted += 1
            return
        try:
            if self.ctx.kube.delete_pod_now(*_key(pod), _uid(pod)):
                report.pods_removed += 1
                publish_pod_transition("deleted", pod, group_name=container_group_name(pod))
        except (KubeApiError, RetryableError) as error:
            report.errors.append(f"remove pod {_key(pod)}: {error}")

    def _delete_group(self, name: str, report: CycleReport) -> bool:
        """DELETE unless one was accepted recently; the list's tags were checked by the caller."""
        now = self.clock()
        since = self.deleting.get(name)
        if since is not None and now - since < self.config.delete_every_seconds:
            return False
        try:
            self.ctx.aci.begin_delete(name)
        except ThrottledError as error:
            report.errors.append(f"delete {name} throttled: {error}")
            return False
        except ConnectorError as error:
            report.errors.append(f"delete {name}: {error}")
            return False
        report.arm_writes += 1
        self.deleting[name] = now
        log.info("deleting container group %s", name)
        return True

    def _orphan(self, group: dict[str, Any], report: CycleReport) -> None:
        """A managed group no listed pod claims: delete it, unless a re-read shows its pod after all."""
        group_tags = group.get("tags") or {}
        if group_tags.get(tags.TAG_MODE) == tags.MODE_STANDALONE:
            return
        if group_tags.get(tags.TAG_NODE) not in self.ctx.settings.node_names.values():
            return  # another connector's node (sharing the resource group): not ours to judge
        key = tags.pod_key(group)
        pod = None
        if key is not None:
            try:
                pod = self.ctx.kube.get_pod(*key)
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"re-read pod {key} of group {group.get('name')}: {error}")
                return
            if (
                pod is not None
                and _uid(pod) == group_tags.get(tags.TAG_UID)
                and not _meta(pod).get("deletionTimestamp")
            ):
                return  # created after our pod list: not an orphan
        if self._delete_group(group["name"], report):
            report.orphans_deleted += 1
            if key is not None and (pod is None or _uid(pod) != group_tags.get(tags.TAG_UID)):
                # The pod went away without us seeing it (a finished pod is deleted at once): say so once.
                gone = {
                    "metadata": {"namespace": key[0], "name": key[1], "uid": group_tags.get(tags.TAG_UID)},
                    "spec": {"nodeName": group_tags.get(tags.TAG_NODE)},
                }
                publish_pod_transition("deleted", gone, group_name=group["name"])

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
                    if reads.throttled.is_set() or not self.budget.take():
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

    def _group_vanished(self, name: str, pod: dict[str, Any], report: CycleReport) -> None:
        """ARM says the group is gone: re-read the pod (it may be terminating or re-created) before failing it."""
        current = self.ctx.kube.get_pod(*_key(pod))
        if current is None or _uid(current) != _uid(pod) or _meta(current).get("deletionTimestamp"):
            return
        message = f"The ACI container group {name} was deleted outside the connector"
        self._fail_pod(current, DELETED_REASON, message, report)

    def _patch_status(self, pod: dict[str, Any], desired: dict[str, Any], report: CycleReport) -> None:
        if not status_differs(pod.get("status") or {}, desired):
            return
        try:
            self.ctx.kube.patch_pod_status(*_key(pod), _uid(pod), desired)
        except (NotFound, Conflict):
            return  # deleted or re-created since the list: the next cycle sees the new truth
        report.status_patches += 1
        transition = transition_for(pod.get("status"), desired)
        if transition:
            publish_pod_transition(
                transition,
                pod,
                group_name=container_group_name(pod),
                reason=desired.get("reason"),
                message=desired.get("message"),
            )
        pod["status"] = desired

    def _fail_pod(self, pod: dict[str, Any], reason: str, message: str, report: CycleReport) -> None:
        """Final word: Failed with a reason a human can act on, and a Warning Event saying the same."""
        if _phase(pod) in TERMINAL_PHASES:
            return
        before = report.status_patches
        self._patch_status(
            pod, pod_status_for_missing_group(pod, reason=reason, message=message, now=self.wall()), report
        )
        if report.status_patches > before:
            report.pods_failed += 1
            self._record(pod, reason, message, "Warning")

    def _record(self, pod: dict[str, Any], reason: str, message: str, kind: str) -> None:
        from shared.recorder import pod_event

        try:
            self.ctx.kube.create_event(_key(pod)[0], pod_event(pod, reason=reason, message=message, event_type=kind))
        except (KubeApiError, RetryableError) as error:
            log.warning("could not record event %s on %s: %s", reason, _key(pod), error)

    def _retry(self, name: str, pod: dict[str, Any], group: dict[str, Any], report: CycleReport) -> None:
        """Re-deploy a Failed group: the same translated spec, with the attempt counted in its tags."""
        from shared.translate import translate_pod
        from shared.worker import with_spec_hash

        secrets, config_maps = self._references(pod)
        try:
            body = with_spec_hash(
                translate_pod(pod, secrets=secrets, config_maps=config_maps, settings=self.ctx.settings).body
            )
        except PermanentError as error:
            self._fail_pod(pod, PROVISIONING_FAILED_REASON, str(error), report)
            return
        body["tags"] = {**body.get("tags", {}), **retry_tags(group, now=self.wall())}
        self.ctx.aci.begin_create_or_update(name, body)
        report.arm_writes += 1
        report.retries += 1
        attempt = body["tags"]["aci-connector-retries"]
        self._record(
            pod, "ProvisioningRetry", f"ACI provisioning failed; re-deploying {name} (attempt {attempt})", "Warning"
        )

    def _references(self, pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        namespace = _key(pod)[0]
        secret_names, config_map_names = referenced_objects(pod)
        get = self.ctx.kube.get_namespaced
        secrets = {n: s for n in secret_names if (s := get("secrets", namespace, n)) is not None}
        config_maps = {n: c for n in config_map_names if (c := get("configmaps", namespace, n)) is not None}
        return secrets, config_maps

    # ------------------------------------------------------------------ nodes

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
            self.quota = parse_usages(self.ctx.aci.usages(), settings["ACI_REGION"])
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
                )
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"node {node_name}: {error}")
                self.nodes.pop(node_name, None)
                continue
            self.nodes[node_name] = stored
            report.node_writes += [f"{node_name}:{w}" for w in writes]


# ---------------------------------------------------------------------- process-wide entry point

_reconciler: Reconciler | None = None
_reconciler_lock = threading.Lock()


def get_reconciler() -> Reconciler:
    """One Reconciler per worker process, so its memory (budget, health, round-robin) spans invocations."""
    global _reconciler  # noqa: PLW0603 - state that must outlive an invocation
    with _reconciler_lock:
        if _reconciler is None:
            from shared.worker import default_context

            _reconciler = Reconciler(default_context())
        return _reconciler


def set_reconciler(reconciler: Reconciler | None) -> None:
    global _reconciler  # noqa: PLW0603
    with _reconciler_lock:
        _reconciler = reconciler


def run_reconcile(hot: Iterable[str] = ()) -> CycleReport:
    """What the timer calls."""
    return get_reconciler().run_cycle(hot)
