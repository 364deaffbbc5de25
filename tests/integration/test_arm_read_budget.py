"""Every ARM read draws from the process's budget: the worker, the capacity endpoint and the sweep, on the emulator."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.azure.quota import CapacityService
from shared.azure.reads import CAPACITY, RECONCILER, SWEEP_FLOOR, WORKER, ArmReadBudget, reconciler_share
from shared.messages import Message, PodRef, parse_message
from shared.reconcile import Reconciler
from shared.worker import process_message
from tests.fakes.arm_fixtures import adapter_for
from tests.fakes.connector_fixtures import make_pod, settings_for


class RecordingQueue:
    """The worker's queue, recording what it re-queues and with which visibility delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    def send(self, text: str, *, delay_seconds: float = 0, **_: Any) -> str:
        self.sent.append((text, delay_seconds))
        return "id"

    def dead_letter(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"nothing should be dead-lettered: {args} {kwargs}")


def _upsert(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return Message(op="upsert", pod=PodRef(meta["namespace"], meta["name"], meta["uid"]), source="watch").to_text()


@pytest.fixture
def budgeted(arm, arm_credential):
    reads = ArmReadBudget(300)
    client = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, read_timeout=2.0, read_budget=reads)
    try:
        yield client, reads
    finally:
        client.close()


def test_one_create_costs_one_read_and_one_put_and_the_budget_sees_it(kube_api, arm, worker_context, budgeted):
    """What one create costs at ARM: the worker's GET and the PUT; no LRO polling (the worker never waits on it)."""
    aci, reads = budgeted
    before = dict(arm.counts)
    pod = kube_api.create(make_pod())
    outcome = process_message(_upsert(pod), context=replace(worker_context, aci=aci))
    assert outcome.action == "created"
    spent = {op: n - before.get(op, 0) for op, n in arm.counts.items() if n != before.get(op, 0)}
    assert spent == {"get": 1, "put": 1}
    assert (reads.sent[WORKER], reads.reads_in_window(WORKER)) == (1, 1)
    assert reads.remaining is not None and reads.remaining < 250  # the emulator's counter, as ARM sends it


def test_a_worker_read_over_the_budget_is_requeued_with_visibility_not_sent(kube_api, arm, worker_context, budgeted):
    aci, reads = budgeted
    while reads.try_take(WORKER):  # everything this minute is spent
        pass
    queue = RecordingQueue()
    gets, puts = arm.counts["get"], arm.counts["put"]
    pod = kube_api.create(make_pod())
    outcome = process_message(_upsert(pod), context=replace(worker_context, aci=aci, queue=queue))
    assert outcome.action == "requeued"
    assert (arm.counts["get"], arm.counts["put"]) == (gets, puts)  # nothing sent to ARM
    [(text, delay)] = queue.sent
    assert parse_message(text).attempt == 1
    assert 1 <= delay <= 60  # back when the window frees a read, not after the 30 s doubling of an ARM 429
    assert reads.refused[WORKER] == 1


def test_capacity_serves_its_last_reading_when_no_read_is_left(kube_api, kube, arm, budgeted):
    aci, reads = budgeted
    service = CapacityService(settings_for(kube_api.url, arm), aci=lambda: aci, kube=lambda: kube)
    assert service.quota_cache.get().error is None
    assert reads.sent[CAPACITY] == 1
    while reads.try_take(WORKER) or reads.try_take(CAPACITY):
        pass
    service.quota_cache.invalidate()
    usages = arm.counts["usages"]
    reading = service.quota_cache.get()
    assert reading.value is not None and reading.error and "ARM_READS_PER_MINUTE" in reading.error
    assert arm.counts["usages"] == usages


def test_arms_remaining_reads_stop_the_sweep_in_every_instance(kube_api, kube, arm, arm_credential):
    """The header is the counter all instances share: a low value seen by a worker read stops this process's sweep."""
    # The pause lasts until ARM's refill is back over the floor (here 0.24 s): on the budget's own clock, which
    # stands still, so the cycle below starts inside it however slow the machine.
    reads = ArmReadBudget(300, clock=lambda: 5000.0)
    aci = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, read_timeout=2.0, read_budget=reads)
    arm.throttle.scale = (SWEEP_FLOOR - 5) / 250  # a bucket already below the sweep's floor
    try:
        assert aci.get("nothing-here") is None
        assert reads.remaining is not None and reads.remaining < SWEEP_FLOOR
        assert reads.available(RECONCILER) == 0 and reads.available(WORKER) > 0
        from shared.worker import Context

        ctx = Context(settings=settings_for(kube_api.url, arm), aci=aci, queue=RecordingQueue(), kube=kube)
        rec = Reconciler(ctx)
        assert rec.budget.per_minute == reconciler_share(300)
        gets, pages = arm.counts["get"], arm.counts["list"]
        report = rec.run_cycle()
    finally:
        aci.close()
    assert (report.arm_list_pages, report.arm_reads) == (0, 0)
    assert (arm.counts["get"], arm.counts["list"]) == (gets, pages)


def test_sweep_worker_and_capacity_together_stay_inside_one_minutes_budget(kube_api, kube, arm, arm_credential):
    """All of a minute's reads at ARM, whoever sent them, are at most ARM_READS_PER_MINUTE; the worker's come first."""
    from shared.worker import Context

    class Frozen:
        now = 5000.0

        def __call__(self) -> float:
            return self.now

    clock = Frozen()  # one minute that never ends: every read below falls into the same window
    reads = ArmReadBudget(30, clock=clock, sleep=lambda s: None)
    aci = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, read_timeout=2.0, read_budget=reads)
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="30", NODE_CAPACITY_FROM_QUOTA="true")
    queue = RecordingQueue()
    ctx = Context(settings=settings, aci=aci, queue=queue, kube=kube)
    pods = [kube_api.create(make_pod(name=f"p{i}")) for i in range(12)]
    capacity = CapacityService(settings, aci=lambda: aci, kube=lambda: kube, monotonic=clock)
    rec = Reconciler(ctx, clock=clock)
    before = sum(arm.counts[op] for op in ("get", "list", "usages"))
    outcomes = []
    try:
        for pod in pods[:8]:  # the worker first: its reserve (6) and then what nobody holds
            outcomes.append(process_message(_upsert(pod), context=ctx).action)
        for _ in range(10):  # the sweep takes what is left of the minute, three reads a cycle
            rec.run_cycle()
            capacity.report()
        outcomes += [process_message(_upsert(pod), context=ctx).action for pod in pods[8:]]
    finally:
        aci.close()
    sent = sum(arm.counts[op] for op in ("get", "list", "usages")) - before
    assert sent == reads.reads_in_window() <= 30
    assert outcomes[:8] == ["created"] * 8  # no worker read waited behind the sweep
    assert "requeued" in outcomes[8:]  # once the minute is spent, a read is re-queued, not sent
    assert reads.reads_in_window(CAPACITY) >= 1 and reads.reads_in_window(RECONCILER) >= 1


def test_a_read_the_sdk_retried_counts_twice(arm, budgeted):
    """ARM counts every attempt: a GET answered 503 and retried by the SDK is two reads of the window."""
    aci, reads = budgeted
    arm.faults.fail("get", 1, status=503)
    gets = arm.counts["get"]
    assert aci.get("nothing-here") is None
    assert arm.counts["get"] - gets == 2
    assert (reads.sent[WORKER], reads.reads_in_window(WORKER), reads.taken[WORKER]) == (2, 2, 2)
