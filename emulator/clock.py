"""Time for the emulator: the wall clock by default, a clock a test steps by hand, or one that waits on it.

Every timed behaviour (provisioning phases, container runs, deletes, token refill,
create-rate windows) reads `Clock.now()` and nothing else, so a test that injects a
`ManualClock` decides when anything happens and never waits on elapsed time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def wait_until(self, moment: float, timeout: float | None = None) -> bool: ...


class RealClock:
    """Wall-clock seconds since the epoch."""

    def now(self) -> float:
        return time.time()

    def wait_until(self, moment: float, timeout: float | None = None) -> bool:
        """Sleep until `moment` (at most `timeout` real seconds); True when it was reached."""
        delay = moment - time.time()
        if timeout is not None and delay > timeout:
            time.sleep(max(0.0, timeout))
            return False
        time.sleep(max(0.0, delay))
        return True


class ManualClock:
    """A clock that only moves when told, so provisioning and token refill are deterministic.

    `advance` wakes anyone blocked in `wait_until`, so a helper thread can sleep on emulated
    time (a container's `sleep 5`) while the test owns the clock.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._moved = threading.Condition()

    def now(self) -> float:
        with self._moved:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._moved:
            self._now += seconds
            self._moved.notify_all()

    def wait_until(self, moment: float, timeout: float | None = None) -> bool:
        """Block until the test advances the clock to `moment` (or `timeout` real seconds pass)."""
        with self._moved:
            return self._moved.wait_for(lambda: self._now >= moment, timeout)

    def set(self, moment: float) -> None:
        """Jump to an absolute time (never backwards)."""
        with self._moved:
            if moment < self._now:
                raise ValueError("a clock does not go back")
            self._now = moment
            self._moved.notify_all()


def iso(ts: float, *, digits: int = 3) -> str:
    """ARM timestamps: UTC, 'Z' suffix; container states carry milliseconds as in the recordings."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    if digits == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}"[:digits] + "Z"


def log_stamp(ts: float) -> str:
    """The timestamp ACI puts before a log line with `timestamps=true` (RFC 3339, nanosecond digits)."""
    return f"{iso(ts, digits=6)[:-1]}000Z"
