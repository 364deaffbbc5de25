"""ARM's request throttling and ACI's action windows, per subscription, on the emulator's clock.

Token buckets per (subscription, reads/writes/deletes) as ARM applies them since 2024, and ACI's
sliding create/delete windows (5 min, 1 h). `ThrottleConfig.enabled = False` (`--unthrottled`)
switches both off; `scale` shrinks the buckets for tests.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """ARM's per-subscription bucket: `capacity` burst, `refill` tokens per second."""

    capacity: float
    refill: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> tuple[bool, float]:
        """Spend one token; returns (allowed, seconds until a token is available when refused)."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0
        return False, (1 - self.tokens) / self.refill if self.refill > 0 else 3600.0


@dataclass
class ThrottleConfig:
    """ARM's 2024 regional token buckets (reads 250/25 s, writes and deletes 200/10 s); `scale` shrinks them."""

    enabled: bool = True
    reads: tuple[float, float] = (250, 25)
    writes: tuple[float, float] = (200, 10)
    deletes: tuple[float, float] = (200, 10)
    scale: float = 1.0
    create_limit_5m: int = 100
    create_limit_1h: int = 300
    delete_limit_5m: int = 100
    delete_limit_1h: int = 300
    container_groups_quota: int = 100
    standard_cores_quota: int = 100


class Throttle:
    """Token buckets per (subscription, kind) and ACI's sliding create/delete windows."""

    def __init__(self, config: ThrottleConfig) -> None:
        self.config = config
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._actions: dict[tuple[str, str], deque[float]] = {}

    def reset(self) -> None:
        self._buckets.clear()
        self._actions.clear()

    def _bucket(self, subscription: str, kind: str) -> TokenBucket:
        """The bucket for (subscription, kind); a config change (tests shrink buckets) starts a full new one."""
        capacity, refill = getattr(self.config, kind)
        capacity, refill = max(1.0, capacity * self.config.scale), max(1e-6, refill * self.config.scale)
        bucket = self._buckets.get((subscription, kind))
        if bucket is None or (bucket.capacity, bucket.refill) != (capacity, refill):
            bucket = self._buckets[(subscription, kind)] = TokenBucket(capacity, refill)
        return bucket

    def spend(self, subscription: str, kind: str, now: float) -> tuple[int, float | None]:
        """Charge one request; returns (remaining tokens, retry-after seconds when throttled)."""
        if not self.config.enabled:
            return int(getattr(self.config, kind)[0]), None
        bucket = self._bucket(subscription, kind)
        allowed, wait = bucket.take(now)
        return int(bucket.tokens), None if allowed else wait

    def action(self, subscription: str, action: str, now: float, *, record: bool) -> tuple[int, int, float | None]:
        """ACI's per-action windows (ContainerGroupCreation/Deletion): remaining 5 min, 1 h, retry-after."""
        window = self._actions.setdefault((subscription, action), deque())
        while window and window[0] <= now - 3600:
            window.popleft()
        prefix = "create" if action == "ContainerGroupCreation" else "delete"
        limit_5m = getattr(self.config, f"{prefix}_limit_5m")
        limit_1h = getattr(self.config, f"{prefix}_limit_1h")
        recent = [t for t in window if t > now - 300]
        if self.config.enabled and len(recent) >= limit_5m:
            return 0, limit_1h - len(window), recent[len(recent) - limit_5m] + 300 - now
        if self.config.enabled and len(window) >= limit_1h:
            return limit_5m - len(recent), 0, window[len(window) - limit_1h] + 3600 - now
        if record:
            window.append(now)
            recent.append(now)
        return limit_5m - len(recent), limit_1h - len(window), None


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
