"""One ARM read budget per process: every read of the connector draws from it, by consumer and priority.

ARM meters reads per subscription, principal and region (a token bucket of 250, refilled at 25 a second,
since 2024), and every consumer of this connector spends the same bucket: the reconciler's list pages and
GETs, the queue worker's GET before a PUT or DELETE (and a `sync` message's GET), and the capacity
endpoint's usages. `ARM_READS_PER_MINUTE` (B) is the connector's own, smaller, planned share of it, and
this module is where all of them draw from it (docs/reconciler.md, "The ARM read budget"):

- **Shares.** Each consumer has a reserve no other consumer may spend: the worker at least `WORKER_SHARE`
  of B and, when creates come faster, what it read in the last minute plus a quarter (a user is waiting for
  that pod: the sweep yields to the worker's demand as it grows), the capacity endpoint `CAPACITY_RESERVE`
  reads, the sweep `SWEEP_RESERVE` of B (so hot pods and confirmations still move during a burst of
  creates). A consumer may go beyond its reserve into what nobody has reserved; the reconciler plans with
  B minus the others' usual reserves and adapts each cycle to what is left. In any 60 s, all consumers
  together read at most B (a sliding window of send times per consumer).
- **Waiting.** The worker waits up to `WORKER_MAX_WAIT` seconds for a read; beyond that the read is not
  sent: `ReadBudgetExhausted` (a `ThrottledError`) re-queues the message with a visibility delay of the time
  the window needs. The capacity endpoint never waits (it serves its last reading, marked stale). The
  reconciler checks before each page or GET (`take`), so it never waits either.
- **ARM's own counter, shared by every instance.** Functions instances share no memory, but they share
  the principal's bucket at ARM, and every read answer says what is left of it
  (`x-ms-ratelimit-remaining-subscription-reads`). Below `SWEEP_FLOOR` the reconciler and the capacity
  endpoint stop reading until the bucket has refilled to it; below `WORKER_FLOOR` the worker stops too.
  A 429 pauses every consumer for its Retry-After.

Every read is counted when ARM answers (`on_response`, an azure-core response hook): a read the SDK retried
(5xx) or a second page of usages that nobody took from the budget is recorded in the window after the fact,
so the window is what ARM saw. Which consumer reads is a context variable (`reading_as`), the worker by
default, so a new call site is budgeted whether or not it knows about this module.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from shared.errors import ThrottledError

WINDOW_SECONDS = 60.0
WORKER = "worker"
RECONCILER = "reconciler"
CAPACITY = "capacity"
CONSUMERS = (WORKER, RECONCILER, CAPACITY)

WORKER_SHARE = 0.2
"""Fraction of B kept for the worker whatever the sweep does: 60 reads a minute at B = 300, three times ACI's
create window (100 creates per 5 minutes per subscription), so a waiting pod never queues behind the sweep."""
WORKER_HEADROOM = 1.25
"""The worker's reserve follows its demand: its reads of the last 60 s times this, so a growing stream still fits."""
SWEEP_RESERVE = 0.1
"""Fraction of B the worker may never borrow: the sweep's floor (5 reads a 10 s cycle at B = 300)."""
CAPACITY_RESERVE = 2
"""Reads a minute kept for the capacity endpoint: one usages read per CAPACITY_QUOTA_CACHE_SECONDS (>= 60 s)."""
WORKER_MAX_WAIT = 2.0
"""Longest the worker waits inline for a read before re-queueing the message (like MAX_INLINE_RETRY_AFTER)."""

ARM_BUCKET = 250
ARM_REFILL_PER_SECOND = 25.0
"""ARM's read bucket per subscription, principal and region (learn.microsoft.com, request limits and throttling)."""
SWEEP_FLOOR = 125
"""Remaining ARM reads below which the reconciler and the capacity endpoint stop: half the bucket stays for
writes' companions and for other instances' workers."""
WORKER_FLOOR = 25
"""Remaining ARM reads below which the worker stops too: one second of refill, just short of a 429."""
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-reads"

_consumer: ContextVar[str] = ContextVar("arm_read_consumer", default=WORKER)
_prepaid: ContextVar[bool] = ContextVar("arm_read_prepaid", default=False)
_T = TypeVar("_T")


class ReadBudgetExhausted(ThrottledError):
    """The connector's own read budget has no read left for this consumer now; `retry_after` says when."""


@contextmanager
def reading_as(consumer: str, *, prepaid: bool = False) -> Iterator[None]:
    """ARM reads in this block are `consumer`'s; `prepaid`: the caller took them from the budget already."""
    consumer_token, prepaid_token = _consumer.set(consumer), _prepaid.set(prepaid)
    try:
        yield
    finally:
        _consumer.reset(consumer_token)
        _prepaid.reset(prepaid_token)


def prepaid(consumer: str, call: Callable[..., _T]) -> Callable[..., _T]:
    """`call` run as `consumer`'s reads already taken (the reconciler's `take` before each page and GET)."""

    def run(*args: Any, **kwargs: Any) -> _T:
        with reading_as(consumer, prepaid=True):
            return call(*args, **kwargs)

    return run


def current_consumer() -> str:
    return _consumer.get()


def reserves(per_minute: int, worker_used: int = 0) -> dict[str, int]:
    """Reads a minute held for each consumer, the worker's growing with what it read in the last minute."""
    sweep = math.floor(per_minute * SWEEP_RESERVE)
    worker = max(1, math.ceil(per_minute * WORKER_SHARE)) if per_minute > 1 else 0
    capacity = min(CAPACITY_RESERVE, max(0, per_minute - worker - sweep - 1))
    demand = math.ceil(worker_used * WORKER_HEADROOM)
    worker = min(max(worker, demand), max(worker, per_minute - sweep - capacity))
    return {WORKER: worker, RECONCILER: sweep, CAPACITY: capacity}


def reconciler_share(per_minute: int) -> int:
    """The most the sweep may read in a minute: B minus the others' reserves (what docs/reconciler.md plans with)."""
    held = reserves(per_minute)
    return max(1, per_minute - held[WORKER] - held[CAPACITY])


class ArmReadBudget:
    """The process's ARM reads: a sliding 60 s window per consumer, reserves, waits and ARM's own counter."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        worker_max_wait: float = WORKER_MAX_WAIT,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self.worker_max_wait = worker_max_wait
        self._reads: dict[str, deque[float]] = {c: deque() for c in CONSUMERS}
        self._paused_until: dict[str, float] = dict.fromkeys(CONSUMERS, 0.0)
        self._lock = threading.Lock()
        self.remaining: int | None = None
        """ARM's `x-ms-ratelimit-remaining-subscription-reads` on the latest read answer."""
        self.sent: Counter[str] = Counter()
        """Read requests ARM answered, by consumer (retries and extra pages included)."""
        self.taken: Counter[str] = Counter()
        """Reads the window recorded, by consumer: taken before sending, or recorded after ARM answered."""
        self.waited: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    # ---- the window

    def _trim(self, now: float) -> None:
        for reads in self._reads.values():
            while reads and reads[0] <= now - WINDOW_SECONDS:
                reads.popleft()

    def _free(self, consumer: str) -> int:
        """Reads `consumer` may send now: B minus everything read, minus what others still hold in reserve."""
        used = {c: len(r) for c, r in self._reads.items()}
        held = reserves(self.per_minute, used[WORKER] if consumer == RECONCILER else 0)  # only the sweep yields
        others_unspent = sum(max(0, held[c] - used[c]) for c in CONSUMERS if c != consumer)
        return self.per_minute - sum(used.values()) - others_unspent

    def available(self, consumer: str) -> int:
        """Reads `consumer` could take now (0 while paused by ARM's counter or a 429)."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            if now < self._paused_until[consumer]:
                return 0
            return max(0, self._free(consumer))

    def wait_time(self, consumer: str) -> float:
        """Seconds until `consumer` may read (0: now); the window's oldest reads leave it one by one."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            pause = max(0.0, self._paused_until[consumer] - now)
            missing = 1 - self._free(consumer)
            if missing <= 0:
                return pause
            stamps = sorted(t for reads in self._reads.values() for t in reads)
            leaves = stamps[min(missing, len(stamps)) - 1] + WINDOW_SECONDS - now if stamps else 0.0
            return max(pause, leaves, 0.0)

    def try_take(self, consumer: str) -> bool:
        """Record one read for `consumer` if the budget allows it now."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            if now < self._paused_until[consumer] or self._free(consumer) < 1:
                return False
            self._reads[consumer].append(now)
            self.taken[consumer] += 1
            return True

    def acquire(self, consumer: str) -> None:
        """Take a read, waiting up to this consumer's inline wait; else raise `ReadBudgetExhausted`."""
        max_wait = self.worker_max_wait if consumer == WORKER else 0.0
        deadline = self.clock() + max_wait
        while not self.try_take(consumer):
            wait = max(self.wait_time(consumer), 0.05)
            if self.clock() + wait > deadline:
                self.refused[consumer] += 1
                raise ReadBudgetExhausted(
                    f"the connector's ARM read budget ({self.per_minute} a minute, ARM_READS_PER_MINUTE) has no "
                    f"{consumer} read left now; next one in {wait:.1f} s",
                    retry_after=wait,
                )
            self.waited[consumer] += 1
            self.sleep(wait)

    def reads_in_window(self, consumer: str | None = None) -> int:
        with self._lock:
            self._trim(self.clock())
            if consumer is not None:
                return len(self._reads[consumer])
            return sum(len(r) for r in self._reads.values())

    # ---- what ARM says

    def pause(self, seconds: float, consumers: tuple[str, ...] = CONSUMERS) -> None:
        """No reads by `consumers` for `seconds` (a 429's Retry-After pauses everyone)."""
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            for consumer in consumers:
                self._paused_until[consumer] = max(self._paused_until[consumer], until)

    def paused_for(self, consumer: str) -> float:
        with self._lock:
            return max(0.0, self._paused_until[consumer] - self.clock())

    def observe(self, remaining: int) -> None:
        """ARM's remaining reads for the principal (every instance spends them): back off before a 429 does."""
        self.remaining = remaining
        for floor, consumers in ((SWEEP_FLOOR, (RECONCILER, CAPACITY)), (WORKER_FLOOR, (WORKER,))):
            if remaining < floor:
                self.pause((floor - remaining) / ARM_REFILL_PER_SECOND, consumers)

    def on_response(self, method: str, status: int, headers: Mapping[str, str]) -> None:
        """One answer from ARM: count a read, record it if nobody took it beforehand, read ARM's counter."""
        if method.upper() != "GET":
            return
        consumer = current_consumer()
        with self._lock:
            self.sent[consumer] += 1
            if self.sent[consumer] > self.taken[consumer]:  # a retry, an extra page: ARM counted it, so do we
                self._reads[consumer].append(self.clock())
                self.taken[consumer] = self.sent[consumer]
        remaining = _int(headers.get(REMAINING_HEADER))
        if remaining is not None:
            self.observe(remaining)
        if status == 429:
            from shared.errors import retry_after_seconds

            self.pause(retry_after_seconds(headers.get("Retry-After")) or 5.0)

    def hook(self, pipeline_response: Any) -> None:
        """azure-core's `raw_response_hook`: runs once per HTTP attempt, retries included."""
        request, response = pipeline_response.http_request, pipeline_response.http_response
        self.on_response(request.method, response.status_code, response.headers)

    def before_read(self) -> None:
        """Called by the ARM adapter before each read it sends: take it, unless the caller already did."""
        if not _prepaid.get():
            self.acquire(current_consumer())


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


_budgets: dict[int, ArmReadBudget] = {}
_budgets_lock = threading.Lock()


def process_budget(per_minute: int) -> ArmReadBudget:
    """The process's budget (one per ARM_READS_PER_MINUTE value: the app has one)."""
    with _budgets_lock:
        budget = _budgets.get(per_minute)
        if budget is None:
            budget = _budgets[per_minute] = ArmReadBudget(per_minute)
        return budget
