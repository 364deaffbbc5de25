"""The process's ARM read budget: reserves, priorities, the worker's wait, ARM's own counter (shared/azure/reads.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.azure.reads import (
    CAPACITY,
    RECONCILER,
    REMAINING_HEADER,
    SWEEP_FLOOR,
    WORKER,
    WORKER_FLOOR,
    ArmReadBudget,
    ReadBudgetExhausted,
    reading_as,
    reconciler_share,
    reserves,
)
from shared.reconcile.budget import ReadBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(per_minute: int = 300, clock: Clock | None = None) -> ArmReadBudget:
    clock = clock or Clock()
    return ArmReadBudget(per_minute, clock=clock, sleep=clock.sleep)


def test_reserves_at_the_default_budget():
    assert reserves(300) == {WORKER: 60, RECONCILER: 30, CAPACITY: 2}
    assert reconciler_share(300) == 238  # what the sweep plans with while the worker reads at most 60 a minute
    assert reserves(300, worker_used=100)[WORKER] == 125  # a faster stream of creates: the sweep yields
    assert reserves(300, worker_used=1000)[WORKER] == 268  # never the sweep's floor nor capacity's reads


def test_the_sweep_leaves_the_workers_reserve_and_the_worker_may_borrow_what_nobody_holds():
    reads = budget()
    swept = 0
    while reads.try_take(RECONCILER):
        swept += 1
    assert swept == reconciler_share(300)  # 60 kept for the worker, 2 for capacity
    assert sum(reads.try_take(WORKER) for _ in range(100)) == 60
    assert reads.try_take(CAPACITY) and reads.try_take(CAPACITY) and not reads.try_take(CAPACITY)
    assert reads.reads_in_window() == 300


def test_an_idle_sweep_lends_its_share_to_the_worker_but_keeps_its_floor_and_capacity_its_reserve():
    reads = budget()
    assert sum(reads.try_take(WORKER) for _ in range(400)) == 268
    assert reads.try_take(CAPACITY)
    assert reads.available(RECONCILER) == 30


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from((WORKER, RECONCILER, CAPACITY)), st.floats(min_value=0.0, max_value=5.0)),
        min_size=1,
        max_size=400,
    ),
    st.integers(3, 400),
)
def test_all_consumers_together_never_exceed_the_budget_in_any_minute(steps, per_minute):
    clock = Clock()
    reads = budget(per_minute, clock)
    stamps: list[float] = []
    for consumer, gap in steps:
        clock.now += gap
        if reads.try_take(consumer):
            stamps.append(clock.now)
    for start in stamps:
        assert sum(1 for t in stamps if start <= t < start + 60) <= per_minute


def test_a_blocked_worker_read_waits_for_the_window_then_goes():
    clock = Clock()
    reads = budget(10, clock)
    for _ in range(8):
        assert reads.try_take(RECONCILER) or reads.try_take(WORKER)
    clock.now += 59.5  # the oldest reads leave the window in 0.5 s
    while reads.try_take(WORKER):
        pass
    reads.acquire(WORKER)
    assert clock.slept and sum(clock.slept) <= reads.worker_max_wait
    assert reads.waited[WORKER] >= 1


def test_a_worker_read_that_would_wait_too_long_is_refused_with_the_wait():
    clock = Clock()
    reads = budget(10, clock)
    while reads.try_take(WORKER):
        pass
    with pytest.raises(ReadBudgetExhausted) as raised:
        reads.acquire(WORKER)
    assert 59 <= (raised.value.retry_after or 0) <= 60
    assert clock.slept == [] and reads.refused[WORKER] == 1  # nothing sent, nothing slept


def test_capacity_never_waits():
    clock = Clock()
    reads = budget(10, clock)
    assert reads.try_take(CAPACITY) and reads.try_take(CAPACITY)  # its reserve of 2, spent
    while reads.try_take(WORKER):
        pass
    with pytest.raises(ReadBudgetExhausted):
        reads.acquire(CAPACITY)
    assert clock.slept == []


def test_arms_remaining_reads_pause_the_sweep_first_then_the_worker():
    clock = Clock()
    reads = budget(300, clock)
    reads.on_response("GET", 200, {REMAINING_HEADER: str(SWEEP_FLOOR - 50)})
    assert reads.available(RECONCILER) == 0 and reads.available(CAPACITY) == 0
    assert reads.available(WORKER) > 0
    assert reads.paused_for(RECONCILER) == pytest.approx(50 / 25)  # until ARM's refill brings it back
    reads.on_response("GET", 200, {REMAINING_HEADER: str(WORKER_FLOOR - 5)})
    assert reads.available(WORKER) == 0
    clock.now += 0.25
    assert reads.available(WORKER) > 0 and reads.available(RECONCILER) == 0
    clock.now += 5
    assert reads.available(RECONCILER) > 0


def test_a_full_arm_bucket_or_an_old_style_hourly_count_never_pauses():
    reads = budget()
    for remaining in ("250", "11999", "garbage"):
        reads.on_response("GET", 200, {REMAINING_HEADER: remaining})
    assert all(reads.paused_for(c) == 0 for c in (WORKER, RECONCILER, CAPACITY))


def test_a_429_pauses_every_consumer_for_retry_after():
    reads = budget()
    reads.on_response("GET", 429, {"Retry-After": "17"})
    assert all(reads.paused_for(c) == pytest.approx(17) for c in (WORKER, RECONCILER, CAPACITY))


def test_reads_nobody_took_are_recorded_when_arm_answers():
    """A retried GET or a second page is a read ARM counted: the window counts it too, for its consumer."""
    reads = budget()
    with reading_as(CAPACITY):
        reads.on_response("GET", 200, {})
        reads.on_response("PUT", 200, {})  # writes are not reads
    assert (reads.sent[CAPACITY], reads.reads_in_window(CAPACITY)) == (1, 1)
    assert reads.try_take(WORKER)
    reads.on_response("GET", 200, {})  # the worker's own, taken before: not counted twice
    assert reads.reads_in_window(WORKER) == 1


def test_the_reconcilers_cycle_adapts_to_what_the_worker_used():
    clock = Clock()
    shared = budget(300, clock)
    cycle = ReadBudget(reconciler_share(300), 10.0, clock=clock, shared=shared)
    assert cycle.begin_cycle() == 39  # 238 a minute over six cycles
    for _ in range(200):
        shared.try_take(WORKER)  # a burst of creates: the worker's reserve follows it (250 a minute)
    assert shared.available(RECONCILER) == 300 - 200 - 50 - 2  # the sweep yields: 48 left, 39 this cycle
    assert cycle.begin_cycle() == 39 and sum(cycle.take() for _ in range(60)) == 39
    assert cycle.begin_cycle() == 9 and sum(cycle.take() for _ in range(60)) == 9
    assert cycle.begin_cycle() == 0 and not cycle.take()
    assert sum(shared.try_take(WORKER) for _ in range(60)) == 50  # what the worker's reserve kept for it
    clock.now += 61
    assert cycle.begin_cycle() == 39
    cycle.pause(30)  # a 429 the sweep met pauses the worker too
    assert shared.available(WORKER) == 0
