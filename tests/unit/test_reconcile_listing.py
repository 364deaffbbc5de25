"""The reconciler's group list spread over cycles: pages drawn from the budget, bounded by time, resumed."""

from __future__ import annotations

from typing import Any

from shared import tags
from shared.errors import RetryableError, ThrottledError
from shared.reconcile.budget import ReadBudget
from shared.reconcile.listing import GroupLister


def group(name: str) -> dict[str, Any]:
    return {"name": name, "tags": {tags.TAG_OWNER: tags.OWNER_VALUE}}


class Pages:
    """ARM's list: `size` groups a page, nextLink an offset; every call counted, faults injectable."""

    def __init__(self, names: list[str], size: int = 2) -> None:
        self.names, self.size, self.calls, self.fail_next = names, size, 0, None

    def __call__(self, url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        self.calls += 1
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        offset = int(url or 0)
        end = offset + self.size
        return [group(n) for n in self.names[offset:end]], (str(end) if end < len(self.names) else None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lister(pages: Pages, budget: ReadBudget, clock: Clock, **options: Any) -> GroupLister:
    return GroupLister(pages, budget.take, lambda: budget.left, budget.interval, clock=clock, **options)


def test_a_small_fleet_is_listed_whole_every_cycle():
    clock = Clock()
    budget = ReadBudget(300, 10.0, clock=clock)
    pages = Pages(["a", "b", "c"])
    view = lister(pages, budget, clock)
    budget.begin_cycle()
    outcome = view.cycle()
    assert outcome.fresh and outcome.pages == 2 and sorted(g["name"] for g in outcome.groups or []) == ["a", "b", "c"]
    assert budget.left == 48  # the pages were paid for like GETs


def test_a_big_fleet_is_listed_across_cycles_within_half_the_budget_and_never_judged_half_listed():
    clock = Clock()
    budget = ReadBudget(60, 10.0, clock=clock)  # 10 reads per cycle: at most 5 pages
    names = [f"g{i:03d}" for i in range(25)]
    pages = Pages(names)  # 13 pages
    view = lister(pages, budget, clock)
    fresh_at = []
    for cycle in range(6):
        clock.now = cycle * 10.0
        budget.begin_cycle()
        outcome = view.cycle()
        assert outcome.pages <= 5 and budget.left >= 5  # half the cycle's reads stay for GETs
        if cycle < 2:
            assert outcome.groups is None  # no complete list yet: nothing may be decided
        if outcome.fresh:
            fresh_at.append(cycle)
            assert sorted(g["name"] for g in outcome.groups or []) == names
    assert fresh_at == [2, 5]  # 13 pages at 5 per cycle: a whole list every 3 cycles


def test_the_page_fetching_stops_at_its_share_of_the_schedule():
    clock = Clock()
    budget = ReadBudget(6000, 10.0, clock=clock)
    pages = Pages([f"g{i}" for i in range(20)], size=1)

    def slow(url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        clock.now += 1.0  # one second per page: ARM on a bad day
        return pages(url)

    view = GroupLister(slow, budget.take, lambda: budget.left, 10.0, clock=clock, time_share=0.4)
    budget.begin_cycle()
    assert view.cycle().pages == 4  # 4 s of a 10 s schedule


def test_gets_keep_the_view_in_step_between_lists():
    clock = Clock()
    budget = ReadBudget(300, 10.0, clock=clock)
    view = lister(Pages(["a", "b"]), budget, clock)
    budget.begin_cycle()
    view.cycle()
    view.saw("a", None)
    view.saw("c", group("c"))
    view.saw("x", {"name": "x", "tags": {}})  # not ours: never enters the view
    assert sorted(view.view or {}) == ["b", "c"]


def test_a_failed_continuation_restarts_the_list_and_a_429_keeps_the_place():
    clock = Clock()
    budget = ReadBudget(24, 10.0, clock=clock)  # 4 reads per cycle: 2 pages
    pages = Pages([f"g{i}" for i in range(8)])  # 4 pages
    view = lister(pages, budget, clock)
    budget.begin_cycle()
    assert view.cycle().pages == 2
    pages.fail_next = ThrottledError("429", retry_after=5)
    clock.now = 10.0
    budget.begin_cycle()
    outcome = view.cycle()
    assert outcome.throttled and outcome.retry_after == 5 and not outcome.fresh
    clock.now = 20.0
    budget.begin_cycle()
    assert view.cycle().fresh  # resumed where it was: the last 2 pages
    pages.fail_next = RetryableError("nextLink expired")
    clock.now = 30.0
    budget.begin_cycle()
    view.cycle()
    calls = pages.calls
    clock.now = 40.0
    budget.begin_cycle()
    view.cycle()
    assert pages.calls == calls + 2 and view._next == "4"  # started over from the first page


def test_a_get_answer_is_kept_as_a_list_shows_it_without_instance_views():
    clock = Clock()
    budget = ReadBudget(300, 10.0, clock=clock)
    view = lister(Pages(["a"]), budget, clock)
    budget.begin_cycle()
    view.cycle()
    answer = group("a")
    answer["properties"] = {
        "provisioningState": "Succeeded",
        "instanceView": {"state": "Running", "events": [{"name": "Started"}]},
        "containers": [{"name": "c", "properties": {"image": "nginx", "instanceView": {"restartCount": 3}}}],
    }
    view.saw("a", answer)
    kept = (view.view or {})["a"]
    assert kept["properties"] == {
        "provisioningState": "Succeeded",
        "containers": [{"name": "c", "properties": {"image": "nginx"}}],
    }
    assert answer["properties"]["instanceView"]["state"] == "Running"  # the caller's answer is left as it was


def test_reads_kept_for_named_groups_leave_the_list_at_least_a_page():
    clock = Clock()
    budget = ReadBudget(60, 10.0, clock=clock)  # 10 reads per cycle: 5 pages at most
    pages = Pages([f"g{i:03d}" for i in range(25)])  # 13 pages
    view = lister(pages, budget, clock)
    budget.begin_cycle()
    assert view.cycle(reserve=7).pages == 3  # 10 reads, 7 kept for the feed's groups
    clock.now += 10
    budget.begin_cycle()
    assert view.cycle(reserve=40).pages == 1  # a storm of changes: the list still moves on
    clock.now += 10
    budget.begin_cycle()
    assert view.cycle(reserve=0).pages == 5  # nothing named: half the cycle's reads
