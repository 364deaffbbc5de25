"""Injected misbehaviour for the emulator's operations: N errors or hangs per operation, plus latency.

Tests use it to prove the connector's retries; a developer can slow the emulator down
(`--latency`) to see the app under a slow ARM.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Fault:
    kind: str  # "error" | "timeout"
    remaining: int
    status: int = 500
    hang: float = 5.0


@dataclass
class Faults:
    """Injected misbehaviour per operation ("put", "get", ...): N errors or hangs, plus latency."""

    latency: float = 0.0
    per_op_latency: dict[str, float] = field(default_factory=dict)
    _queue: dict[str, list[Fault]] = field(default_factory=dict)

    def fail(self, op: str, count: int = 1, status: int = 500) -> None:
        """Answer the next `count` `op` requests with `status` and an ARM error body."""
        self._queue.setdefault(op, []).append(Fault("error", count, status=status))

    def timeout(self, op: str, count: int = 1, hang: float = 5.0) -> None:
        """Hold the next `count` `op` requests for `hang` seconds, then drop the connection unanswered."""
        self._queue.setdefault(op, []).append(Fault("timeout", count, hang=hang))

    def slow(self, op: str, seconds: float) -> None:
        self.per_op_latency[op] = seconds

    def clear(self) -> None:
        self._queue.clear()
        self.per_op_latency.clear()
        self.latency = 0.0

    def next(self, op: str) -> Fault | None:
        queue = self._queue.get(op) or []
        while queue and queue[0].remaining <= 0:
            queue.pop(0)
        if not queue:
            return None
        queue[0].remaining -= 1
        return queue[0]

    def delay(self, op: str) -> float:
        return self.latency + self.per_op_latency.get(op, 0.0)
