"""The tests' one wait helper: it returns the awaited value, drives a step, and says what it waited for."""

from __future__ import annotations

import pytest

from tests.fakes.waiting import wait_for


def test_returns_the_first_truthy_value_running_the_step_before_each_check():
    seen: list[int] = []
    assert wait_for(lambda: [n for n in seen if n >= 3], step=lambda: seen.append(len(seen)), interval=0) == [3]
    assert seen == [0, 1, 2, 3]


def test_past_the_deadline_it_checks_once_more_then_names_the_wait_and_the_last_value():
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return 0

    with pytest.raises(AssertionError, match=r"waited 0 s for .*count \(test_waiting\.py:\d+\); last value seen: 0"):
        wait_for(count, timeout=0)
    assert calls == [1]
    with pytest.raises(AssertionError, match=r"for wait_for\(lambda: \{\}, timeout=0\).*last value seen: \{\}"):
        wait_for(lambda: {}, timeout=0)
