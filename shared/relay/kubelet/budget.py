"""A token bucket for the ARM reads the kubelet endpoint spends (log reads, follow polls).

ARM limits reads per subscription and principal (about 250 burst, 25 per second refill) and
the reconciler already spends its own ARM_READS_PER_MINUTE. The kubelet endpoint gets its
own bucket, RELAY_KUBELET_ARM_READS_PER_MINUTE, shared by every request: with many
`kubectl logs -f` open at once, each follower's polls simply come further apart instead of
the relay eating the subscription's budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ReadBudget:
    """`per_minute` reads a minute on average, at most 10 seconds' worth in a burst."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 6.0)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.spent = 0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self) -> float:
        """Seconds until a read may be spent (0: now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> bool:
        """Spend one read now if the bucket allows it."""
        if self.wait_time() > 0:
            return False
        self.tokens -= 1
        self.spent += 1
        return True

    async def acquire(self) -> None:
        """Wait (on the event loop) until one read may be spent, then spend it."""
        while not self.take():
            await asyncio.sleep(self.wait_time())
