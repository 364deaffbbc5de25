"""Burst de-duplication with a leading edge: the first event goes at once, the rest of the burst as one message.

A pod often changes several times in a few hundred milliseconds (bound, then
its deletion starts, ...). Every message costs a worker invocation that
re-reads the pod anyway, so within `window` seconds of a pod's last message
later ones are merged into a single trailing message carrying the latest
state. The first event is never delayed: pod start latency is what users feel.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable

from shared.messages import Message
from shared.relay.metrics import Metrics

Emit = Callable[[Hashable, Message], None]
PRUNE_EVERY = 1.0
"""Seconds between sweeps forgetting pods whose window has passed (keeps memory bounded)."""


class Coalescer:
    """Leading-edge + trailing-edge debounce per key; `emit` must be quick (it runs under our lock)."""

    def __init__(
        self,
        window: float,
        emit: Emit,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self._emit = emit
        self._metrics = metrics or Metrics()
        self._clock = clock
        self._cond = threading.Condition()
        self._last_emit: dict[Hashable, float] = {}
        self._pending: dict[Hashable, Message] = {}
        self._due: list[tuple[float, int, Hashable]] = []
        self._sequence = 0
        self._last_prune = clock()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def offer(self, key: Hashable, message: Message) -> None:
        """Send now if the pod was quiet for a window, else hold as (or replace) its trailing message."""
        with self._cond:
            if key in self._pending:
                self._pending[key] = message
                self._metrics.inc("coalesced")
                return
            now = self._clock()
            last = self._last_emit.get(key)
            if last is None or now - last >= self.window or self._stopped:
                self._last_emit[key] = now
                self._emit(key, message)
                return
            self._pending[key] = message
            self._sequence += 1
            heapq.heappush(self._due, (last + self.window, self._sequence, key))
            self._cond.notify()

    def pump(self) -> float | None:
        """Emit every trailing message whose window has passed; returns when the next one is due."""
        with self._cond:
            return self._pump_locked()

    def _pump_locked(self) -> float | None:
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            _, _, key = heapq.heappop(self._due)
            message = self._pending.pop(key, None)
            if message is not None:
                self._last_emit[key] = now
                self._emit(key, message)
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_emit = {k: t for k, t in self._last_emit.items() if now - t < self.window or k in self._pending}
            self._last_prune = now
        return self._due[0][0] if self._due else None

    def flush(self) -> int:
        """Emit every held message now (shutdown); later offers pass straight through."""
        with self._cond:
            self._stopped = True
            held = list(self._pending.items())
            self._pending.clear()
            self._due.clear()
            for key, message in held:
                self._emit(key, message)
            self._cond.notify_all()
            return len(held)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # -- background driver -------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="relay-coalescer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                next_due = self._pump_locked()
                timeout = PRUNE_EVERY if next_due is None else max(0.0, next_due - self._clock())
                self._cond.wait(min(timeout, PRUNE_EVERY))

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
