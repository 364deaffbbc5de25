"""The emulator's clock: time moves only when the test says, and waiters wake when it does."""

from __future__ import annotations

import threading

import pytest

from emulator.clock import ManualClock, RealClock


def test_manual_clock_wakes_a_waiter_when_advanced():
    clock = ManualClock(start=1000.0)
    woke = threading.Event()
    waiter = threading.Thread(target=lambda: clock.wait_until(1005.0, timeout=30) and woke.set())
    waiter.start()
    clock.advance(4)
    assert not woke.wait(0.05)  # 1004 < 1005: still asleep
    clock.advance(1)
    waiter.join(timeout=10)
    assert woke.is_set() and clock.now() == 1005.0


def test_manual_clock_never_goes_back():
    clock = ManualClock(start=10.0)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="does not go back"):
        clock.set(5.0)
    assert not clock.wait_until(11.0, timeout=0)


def test_real_clock_wait_until_a_past_moment_returns_at_once():
    clock = RealClock()
    assert clock.wait_until(clock.now() - 1)
    assert not clock.wait_until(clock.now() + 3600, timeout=0)
