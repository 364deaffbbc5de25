"""The read budget, the order reads are spent in, and the staleness the docs promise."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from shared.reconcile.budget import (
    CONFIRM,
    HOT,
    STEADY,
    Candidate,
    ReadBudget,
    cycle_interval,
    order_reads,
    rotation_offset,
    staleness_bound,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cycle_interval_reads_common_schedules():
    assert cycle_interval("*/10 * * * * *") == 10.0
    assert cycle_interval("0/15 * * * * *") == 15.0
    assert cycle_interval("0 */2 * * * *") == 120.0
    assert cycle_interval("30 * * * * *") == 60.0
    assert cycle_interval("0 0 * * * *") == 10.0  # hourly: not understood, the safe default
    assert cycle_interval("nonsense") == 10.0


def test_per_cycle_share_and_window():
    clock = Clock()
    budget = ReadBudget(300, 10.0, clock=clock)
    assert budget.begin_cycle() == 50
    assert sum(budget.take() for _ in range(80)) == 50
    for _ in range(5):  # five more cycles in the same minute: the window allows 250 more
        clock.now += 10
        budget.begin_cycle()
        while budget.take():
            pass
    assert budget.reads_in_window() == 300
    clock.now += 9  # 59 s after the first read: still full
    assert budget.begin_cycle() == 0
    clock.now += 1.5
    assert budget.begin_cycle() == 50


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=60), st.integers(1, 600))
def test_never_more_than_per_minute_in_any_window(gaps, per_minute):
    clock = Clock()
    budget = ReadBudget(per_minute, 10.0, clock=clock)
    stamps: list[float] = []
    for gap in gaps:
        clock.now += gap
        budget.begin_cycle()
        while budget.take():
            stamps.append(clock.now)
    for start in stamps:
        assert sum(1 for t in stamps if start <= t < start + 60) <= per_minute


def test_retry_after_pauses_reads():
    clock = Clock()
    budget = ReadBudget(300, 10.0, clock=clock)
    budget.begin_cycle()
    assert budget.take()
    budget.pause(25)
    assert not budget.take()
    clock.now += 20
    assert budget.begin_cycle() == 0
    clock.now += 6
    assert budget.begin_cycle() == 50


def test_order_confirm_then_hot_then_oldest_steady():
    last = {"s-old": 1.0, "s-new": 9.0, "h-read": 5.0}
    candidates = [
        Candidate("s-new", STEADY),
        Candidate("s-old", STEADY),
        Candidate("s-never", STEADY),
        Candidate("h-read", HOT),
        Candidate("h-never", HOT),
        Candidate("c", CONFIRM),
    ]
    assert order_reads(candidates, last) == ["c", "h-never", "h-read", "s-never", "s-old", "s-new"]


def test_round_robin_covers_every_steady_group_within_the_bound():
    """Simulate cycles with a fixed budget: every group is read within staleness_bound."""
    names = [f"g{i:04d}" for i in range(237)]
    per_cycle, interval = 20, 10.0
    last: dict[str, float] = {}
    reads: dict[str, list[float]] = {n: [] for n in names}
    for cycle in range(60):
        now = cycle * interval
        ordered = order_reads(
            [Candidate(n, STEADY) for n in names],
            last,
            rotation=rotation_offset(len(names), per_cycle, interval, 1e6 + now),
        )
        for name in ordered[:per_cycle]:
            last[name] = now
            reads[name].append(now)
    bound = staleness_bound(len(names), per_cycle * 6, interval)
    assert bound == (math.ceil(237 / 20) + 1) * interval
    for times in reads.values():
        assert times and times[0] <= bound
        assert all(b - a <= bound for a, b in itertools.pairwise(times))


def test_a_fresh_process_continues_the_rotation_from_the_clock():
    names = [f"g{i}" for i in range(10)]
    first = order_reads([Candidate(n, STEADY) for n in names], {}, rotation=rotation_offset(10, 3, 10.0, 100.0))
    later = order_reads([Candidate(n, STEADY) for n in names], {}, rotation=rotation_offset(10, 3, 10.0, 110.0))
    assert later[:3] == first[3:6]


def test_staleness_bound_figures():
    assert staleness_bound(5000, 300, 10.0) == (100 + 1) * 10.0
    assert staleness_bound(100, 300, 10.0) == 30.0
    assert staleness_bound(10, 6, 10.0, hot=1) == math.inf
