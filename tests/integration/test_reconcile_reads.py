"""The reconciler's budgeted GETs run a few at a time against the fake ARM, within the budget, stopping at a 429."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from shared.errors import ThrottledError
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.translate import translate_pod
from shared.worker import Context, with_spec_hash
from tests.fakes.connector_fixtures import make_pod, settings_for

GROUPS = 16
GET_LATENCY = 0.2


@pytest.fixture
def ctx(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any) -> Context:
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="6000")
    return Context(settings=settings, aci=aci_adapter, queue=None, kube=kube)


class CountingAci:
    """The real AciClient, with the number of GETs in flight at once recorded."""

    def __init__(self, aci: Any) -> None:
        self._aci = aci
        self._lock = threading.Lock()
        self._now = 0
        self.peak = 0

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            self._now += 1
            self.peak = max(self.peak, self._now)
        try:
            return self._aci.get(name)
        finally:
            with self._lock:
                self._now -= 1

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._aci, attribute)


class PatchOrder:
    """The real KubeClient, with the order of pod status patches (and the threads that sent them) recorded."""

    def __init__(self, kube: Any) -> None:
        self._kube = kube
        self.patched: list[str] = []
        self.threads: set[str] = set()

    def patch_pod_status(self, namespace: str, name: str, *args: Any, **kwargs: Any) -> Any:
        self.patched.append(name)
        self.threads.add(threading.current_thread().name)
        return self._kube.patch_pod_status(namespace, name, *args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._kube, attribute)


def seed(kube_api: Any, arm: Any, settings: Any, count: int) -> dict[str, str]:
    """Pods on the node whose groups exist but were never read (Pending, no container statuses): all hot."""
    names = {}
    for index in range(count):
        pod = kube_api.create(make_pod(name=f"p{index:02d}"))
        name = container_group_name(pod)
        body = with_spec_hash(translate_pod(pod, settings=settings).body)
        arm.state.upsert(arm.subscription_id, arm.resource_group, name, body)
        names[name] = pod["metadata"]["name"]
    return names


def reconciler(ctx: Context, **config: Any) -> Reconciler:
    return Reconciler(ctx, config=ReconcileConfig(lease_only_if_older_than=0, **config))


def test_reads_overlap_and_are_applied_in_read_order(kube_api, arm, ctx):
    pods_by_group = seed(kube_api, arm, ctx.settings, GROUPS)
    arm.faults.slow("get", GET_LATENCY)
    aci, kube = CountingAci(ctx.aci), PatchOrder(ctx.kube)
    rec = reconciler(replace(ctx, aci=aci, kube=kube), read_workers=8)

    report = rec.run_cycle()

    assert (report.arm_reads, arm.counts["get"], report.deferred_reads) == (GROUPS, GROUPS, 0)
    assert report.errors == []
    assert report.status_patches == GROUPS
    assert 2 <= aci.peak <= 8  # reads overlapped (each is held GET_LATENCY by ARM), never more than the workers
    # Never-read hot groups are read in name order; their answers are applied in that order, on the cycle's thread.
    assert kube.patched == [pods_by_group[g] for g in sorted(pods_by_group)]
    assert kube.threads == {threading.current_thread().name}
    for pod in kube_api.list("pods", "default"):
        assert pod["status"]["containerStatuses"][0]["name"] == "nginx"


def test_one_worker_reads_one_at_a_time(kube_api, arm, ctx):
    seed(kube_api, arm, ctx.settings, 4)
    aci = CountingAci(ctx.aci)
    report = reconciler(replace(ctx, aci=aci), read_workers=1).run_cycle()
    assert (report.arm_reads, report.status_patches, aci.peak) == (4, 4, 1)


def test_concurrent_reads_never_exceed_the_cycle_budget(kube_api, arm, ctx):
    seed(kube_api, arm, ctx.settings, GROUPS)
    arm.faults.slow("get", 0.05)
    rec = reconciler(ctx, read_workers=8)
    rec.budget.per_minute = 60  # 10 s schedule: 10 reads per cycle

    report = rec.run_cycle()  # the list page is a read too: 9 GETs are left
    assert (report.arm_list_pages, report.arm_reads, arm.counts["get"]) == (1, 9, 9)
    assert report.deferred_reads == GROUPS - 9
    assert rec.budget.reads_in_window() == 10

    report = rec.run_cycle()  # the seven deferred (never read) come first, then the two least recently read
    assert (report.arm_reads, arm.counts["get"]) == (9, 18)
    assert all(pod["status"].get("containerStatuses") for pod in kube_api.list("pods", "default"))


class SlowFirstAnswer:
    """The real AciClient, but the answer for `first` is held until some other GET has met a 429.

    That is the case the dispatcher must handle: the read at the head of the order is still
    in flight when a later one is throttled; no new GET may start once the 429 is known.
    """

    def __init__(self, aci: Any, first: str) -> None:
        self._aci = aci
        self._first = first
        self.throttled = threading.Event()

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self._aci.get(name)
        except ThrottledError:
            self.throttled.set()
            raise
        if name == self._first:
            assert self.throttled.wait(5.0)
        return answer

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._aci, attribute)


def test_a_429_stops_dispatch_keeps_answers_in_flight_and_pauses_reads(kube_api, arm, ctx):
    groups = seed(kube_api, arm, ctx.settings, GROUPS)
    arm.faults.slow("get", 0.05)
    arm.throttle.reads = (2, 0.001)  # the list takes one token, one GET the other, then 429 for ~1,000 s
    rec = reconciler(replace(ctx, aci=SlowFirstAnswer(ctx.aci, min(groups))), read_workers=4)

    report = rec.run_cycle()

    throttled = [e for e in report.errors if e.startswith("GET ") and "throttled" in e]
    assert arm.counts["get"] == 4  # the four dispatched at once; none after the first 429
    assert report.arm_reads == 4
    assert len(throttled) == 3
    assert report.status_patches == 1  # the answer that did arrive was applied
    assert report.deferred_reads == GROUPS - 1
    assert rec.budget.paused_until - rec.clock() > 900  # Retry-After honoured

    arm.throttle.enabled = False  # ARM would answer again, but the Retry-After still runs: no read at all,
    lists = arm.counts["list"]  # list pages included; the cycle works from the list it has
    report = rec.run_cycle()
    assert not report.arm_list_ok and arm.counts["list"] == lists
    assert (report.arm_reads, arm.counts["get"], report.deferred_reads) == (0, 4, GROUPS)
