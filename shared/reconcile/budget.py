"""The reconciler's ARM read budget, and which groups get the reads it allows.

ARM lists carry no instanceView, so the true state of a container (exit code,
restarts, pull errors) costs one GET per group. Polling every group every cycle,
as virtual-kubelet's ACI provider does, spends N reads per cycle and hits ARM's
throttling at a few hundred pods. Here the reads per minute are capped by
ARM_READS_PER_MINUTE and spent where they matter:

1. confirmations before a destructive or final decision (a group missing from the list),
2. hot groups: new, transitioning, not yet Running/Ready, or flagged by an event,
3. steady groups, oldest-refreshed first (round-robin).

The reconciler spends what the process's ARM read budget (shared/azure/reads.py) leaves it: at most
B minus the reserves of the worker and the capacity endpoint, and, when linked (`shared`), never a read the
others' use of the same window has already taken. Budget state lives in process memory. The timer is a
singleton, so one process spends it; if the singleton moves to another instance, the new one starts with an
empty window but the per-cycle cap (B x interval / 60) still keeps a minute's
reads at about B. Steady groups never read by this process are ordered by a
rotation derived from the wall clock, so a restart continues the round-robin
roughly where the previous instance was instead of starting at "a" again.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 60.0
DEFAULT_INTERVAL = 10.0

CONFIRM = 0
HOT = 1
STEADY = 2


def cycle_interval(schedule: str, default: float = DEFAULT_INTERVAL) -> float:
    """Seconds between timer runs for the NCRONTAB forms people use (`*/10 * * * * *`, `0 */2 * * * *`).

    Anything more exotic falls back to `default`; the sliding window still bounds reads.
    """
    fields = schedule.split()
    if len(fields) != 6:
        return default
    seconds, minutes = fields[0], fields[1]
    every = re.fullmatch(r"(?:\*|0)/(\d+)", seconds)
    if every and minutes == "*":
        return float(max(1, int(every.group(1))))
    if seconds == "*" and minutes == "*":
        return 1.0
    if re.fullmatch(r"\d+", seconds):
        every_minute = re.fullmatch(r"(?:\*|0)/(\d+)", minutes)
        if every_minute:
            return 60.0 * max(1, int(every_minute.group(1)))
        if minutes == "*":
            return 60.0
    return default


@dataclass
class ReadBudget:
    """ARM GETs allowed: at most `per_minute` in any 60 s, at most one cycle's share per cycle."""

    per_minute: int
    interval: float = DEFAULT_INTERVAL
    clock: Callable[[], float] = time.monotonic
    paused_until: float = 0.0
    shared: Any = None
    """The process's `ArmReadBudget` (shared/azure/reads.py) whose window the worker and capacity spend too."""
    _reads: deque[float] = field(default_factory=deque)
    _left: int = 0

    @property
    def per_cycle(self) -> int:
        return max(1, math.floor(self.per_minute * min(self.interval, WINDOW_SECONDS) / WINDOW_SECONDS))

    def _trim(self, now: float) -> None:
        while self._reads and self._reads[0] <= now - WINDOW_SECONDS:
            self._reads.popleft()

    def begin_cycle(self) -> int:
        """Open a cycle: how many reads it may spend (0 while ARM's Retry-After runs)."""
        now = self.clock()
        self._trim(now)
        if now < self.paused_until:
            self._left = 0
        else:
            self._left = max(0, min(self.per_cycle, self.per_minute - len(self._reads)))
        if self.shared is not None:  # what the worker and the capacity endpoint left in this minute
            self._left = min(self._left, self.shared.available("reconciler"))
        return self._left

    @property
    def left(self) -> int:
        return self._left

    def take(self) -> bool:
        """Spend one read of this cycle's allowance; False when none is left."""
        if self._left <= 0 or self.clock() < self.paused_until:
            self._left = 0
            return False
        if self.shared is not None and not self.shared.try_take("reconciler"):
            self._left = 0  # ARM's counter ran low, or the worker took the rest of the window
            return False
        self._left -= 1
        self._reads.append(self.clock())
        return True

    def pause(self, seconds: float | None) -> None:
        """ARM said 429: no reads until Retry-After has passed (and none for the rest of this cycle)."""
        wait = seconds if seconds is not None and seconds > 0 else self.interval
        self.paused_until = max(self.paused_until, self.clock() + wait)
        self._left = 0
        if self.shared is not None:  # ARM's bucket is empty for every consumer and every instance
            self.shared.pause(wait)

    def reads_in_window(self) -> int:
        self._trim(self.clock())
        return len(self._reads)


@dataclass(frozen=True)
class Candidate:
    """A group that could be read this cycle, and how urgently (CONFIRM < HOT < STEADY)."""

    name: str
    priority: int


def rotation_offset(count: int, per_cycle: int, interval: float, wall: float) -> int:
    """Where the clock says the round-robin stands: advances by one cycle's reads per interval."""
    if count <= 0:
        return 0
    cycle_number = int(wall // max(interval, 1e-3))
    return (cycle_number * max(per_cycle, 1)) % count


def order_reads(
    candidates: Iterable[Candidate],
    last_read: Mapping[str, float],
    *,
    rotation: int = 0,
) -> list[str]:
    """All candidates, most deserving first: by priority, then least recently read.

    Groups this process never read come before those it did (they are the most
    stale it knows of); among them, steady ones follow the clock's rotation over
    their sorted names so consecutive processes share one round-robin.
    """
    by_priority: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        by_priority.setdefault(candidate.priority, []).append(candidate)
    ordered: list[str] = []
    for priority in sorted(by_priority):
        group = by_priority[priority]
        unread = sorted(c.name for c in group if c.name not in last_read)
        if priority == STEADY and unread:
            shift = rotation % len(unread)
            unread = unread[shift:] + unread[:shift]
        seen = sorted((c for c in group if c.name in last_read), key=lambda c: (last_read[c.name], c.name))
        ordered += unread + [c.name for c in seen]
    return ordered


def staleness_bound(steady_groups: int, per_minute: int, interval: float = DEFAULT_INTERVAL, hot: int = 0) -> float:
    """Worst-case seconds between two reads of one steady group (what docs/reconciler.md promises).

    Each cycle refreshes (per-cycle share - hot reads) steady groups; a full turn takes
    ceil(steady / that) cycles, and a group read at the start of one turn may be read at
    the end of the next, hence one more cycle.
    """
    per_cycle = max(1, math.floor(per_minute * min(interval, WINDOW_SECONDS) / WINDOW_SECONDS))
    spare = per_cycle - hot
    if spare <= 0:
        return math.inf
    return (math.ceil(steady_groups / spare) + 1) * interval
