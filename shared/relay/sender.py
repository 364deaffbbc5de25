"""The relay's send path: a bounded, per-pod-coalescing buffer drained to the queue by concurrent sends.

Why a buffer keyed by pod: while Storage is down the relay keeps watching, and
a pod that changes ten times needs only its latest message (the worker re-reads
the pod), so the buffer holds one message per pod incarnation and the bound is
rarely hit. When it is, the oldest message is dropped, counted and logged
loudly: the reconciler heals what it carried. Per-pod order holds because a
pod's message is never in flight twice at once (a later message for it waits in
the buffer until the earlier send finished), and a message that failed goes back
to the head of the buffer unless a newer one for the pod superseded it.

Why asyncio for the real queue: one Storage write is one HTTP round trip, and
what limits a Python sender is CPU per request, not the network. The relay's
writer (shared/relay/putter.py, aiohttp) keeps up to `workers` writes in flight
from one event loop thread at less CPU per message than the same number of
threads (docs/performance.md has the figures). A plain callable writer (tests)
is driven by `workers` threads instead; both share the same buffer and ordering rules.

Each write is one attempt: this module retries with its own jittered backoff
(no sooner than a Retry-After), so /readyz can say "Storage down" within a
second. A message Storage rejects as such (`MessageRejected`: too large,
malformed) is dropped and logged instead: retried, it would block the buffer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from shared.messages import Message
from shared.relay.backoff import Backoff
from shared.relay.metrics import Metrics
from shared.relay.putter import MessageRejected

log = logging.getLogger("aci_connector.relay.sender")

Write = Callable[[str], None] | Callable[[str], Awaitable[None]]
"""One message to the queue: a plain callable (run on sender threads) or a coroutine function (run on a loop)."""
MAX_RETRY_AFTER = 60.0
"""The longest Retry-After honoured; a longer one is taken as this (the messages are held meanwhile)."""


def _is_async(write: Write) -> bool:
    call = type(write).__call__ if not inspect.isfunction(write) and not inspect.ismethod(write) else write
    return inspect.iscoroutinefunction(write) or inspect.iscoroutinefunction(call)


@dataclass
class Entry:
    message: Message
    since: float
    """When the oldest message this entry stands for arrived: what lag is measured from."""


class Sender:
    """Holds at most `capacity` messages (one per key) and keeps up to `workers` sends in flight."""

    def __init__(
        self,
        write: Write,
        *,
        capacity: int,
        metrics: Metrics | None = None,
        workers: int = 4,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self.capacity = capacity
        self.metrics = metrics or Metrics()
        self._workers = workers
        self._clock = clock
        self._cond = threading.Condition()
        self._buffer: OrderedDict[Hashable, Entry] = OrderedDict()
        self._in_flight: dict[Hashable, Entry] = {}
        self._backoff = Backoff(initial_backoff, max_backoff)
        self._retry_at = 0.0
        self._probing = False
        self._storage_ok = True
        self._last_error = ""
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump_pending = False
        self._retry_timer = False
        self._tasks: set[asyncio.Future[None]] = set()
        self.metrics.gauge("buffer_size", lambda: self.size)
        self.metrics.gauge("lag_seconds", self.lag)
        self.metrics.gauge("storage_up", lambda: 1.0 if self._storage_ok else 0.0)

    # -- producer side -----------------------------------------------------------------------------------------------

    def put(self, key: Hashable, message: Message) -> None:
        """Queue a message; replaces a waiting one for the same key, drops the oldest when full."""
        with self._cond:
            now = self._clock()
            waiting = self._buffer.get(key)
            if waiting is not None:
                self._buffer[key] = Entry(message, waiting.since)
                self.metrics.inc("coalesced")
                return
            if len(self._buffer) >= self.capacity:
                dropped_key, dropped = self._buffer.popitem(last=False)
                self.metrics.inc("dropped")
                log.error(
                    "relay buffer full (%d messages, Storage %s): DROPPED %s %s; the reconciler will heal it",
                    self.capacity,
                    "down: " + self._last_error if not self._storage_ok else "slow",
                    dropped.message.op,
                    dropped_key,
                )
            self._buffer[key] = Entry(message, now)
            self._cond.notify()
            self._wake_loop()

    # -- state -------------------------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        with self._cond:
            return len(self._buffer) + len(self._in_flight)

    def lag(self) -> float:
        with self._cond:
            oldest = [entry.since for entry in (*self._buffer.values(), *self._in_flight.values())]
            return max(0.0, self._clock() - min(oldest)) if oldest else 0.0

    @property
    def storage_ok(self) -> bool:
        return self._storage_ok

    @property
    def last_error(self) -> str:
        return self._last_error

    def alive(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    # -- worker threads ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if _is_async(self._write):
            self._loop = asyncio.new_event_loop()
            self._spawn("relay-sender-loop", self._loop.run_forever)
            self._wake_loop()
        else:
            for index in range(self._workers):
                self._spawn(f"relay-sender-{index}", self._run)

    def _spawn(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _next_locked(self) -> tuple[Hashable, Entry] | float | None:
        """Under the lock: the next message to send, else seconds until Storage may be retried, else None.

        The oldest message whose pod is not in flight, once Storage may be tried
        and a send slot is free. A key already in flight is skipped, never sent
        beside itself: that is what keeps one pod's messages in order.
        """
        now = self._clock()
        if not self._storage_ok and (self._probing or now < self._retry_at):
            return None if self._probing else max(self._retry_at - now, 0.001)  # one probe at a time while down
        if len(self._in_flight) >= self._workers:
            return None
        key = next((k for k in self._buffer if k not in self._in_flight), None)
        if key is None:
            return None
        entry = self._buffer.pop(key)
        self._in_flight[key] = entry
        self._probing = not self._storage_ok
        return key, entry

    # -- sender threads (plain callable writer) ----------------------------------------------------------------------

    def _take(self) -> tuple[Hashable, Entry] | None:
        """Block until a message may be sent; None when stopping and empty."""
        with self._cond:
            while True:
                if self._stopping and not self._buffer and not self._in_flight:
                    return None
                taken = self._next_locked()
                if isinstance(taken, tuple):
                    return taken
                self._cond.wait(taken)

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            key, entry = taken
            try:
                self._write(entry.message.to_text())
            except Exception as error:
                self._failed(key, entry, error)
            else:
                self._sent(key)

    # -- event loop (coroutine writer) -------------------------------------------------------------------------------
    # Everything after `put` happens on the loop's one thread: a finished send starts the next one
    # directly, with no hand-off between threads per message (each hand-off waits for the GIL).

    def _wake_loop(self) -> None:
        """From any thread: have the loop start what it can (at most one wake-up pending at a time)."""
        if self._loop is not None and not self._pump_pending:
            self._pump_pending = True
            self._loop.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        """On the loop: start sends while slots are free; come back when a Storage retry is due."""
        with self._cond:
            self._pump_pending = False
            while isinstance(taken := self._next_locked(), tuple):
                assert self._loop is not None
                self._tasks.add(task := self._loop.create_task(self._send(*taken)))
                task.add_done_callback(self._tasks.discard)
            if isinstance(taken, float) and not self._retry_timer:
                self._retry_timer = True
                assert self._loop is not None
                self._loop.call_later(taken, self._retry_due)

    def _retry_due(self) -> None:
        self._retry_timer = False
        self._pump()

    async def _send(self, key: Hashable, entry: Entry) -> None:
        try:
            await self._write(entry.message.to_text())  # type: ignore[misc]  # _is_async checked at start
        except Exception as error:
            self._failed(key, entry, error)
        else:
            self._sent(key)
        self._pump()

    def _close_loop(self, timeout: float) -> None:
        """After the flush: close the writer's client on its loop, then stop the loop."""
        if self._loop is None or not self._loop.is_running():
            return
        close = getattr(self._write, "close", None)
        if close is not None:
            try:
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout)
            except Exception as error:  # shutdown: report it, the flush result stands
                log.warning("closing the queue client failed: %s: %s", type(error).__name__, error)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _sent(self, key: Hashable) -> None:
        with self._cond:
            self._in_flight.pop(key, None)
            self.metrics.inc("messages_sent")
            if not self._storage_ok:
                log.warning("Storage is back: relaying again (%d messages waiting)", len(self._buffer))
            self._storage_ok = True
            self._probing = False
            self._backoff.reset()
            self._cond.notify_all()

    def _failed(self, key: Hashable, entry: Entry, error: Exception) -> None:
        with self._cond:
            self._in_flight.pop(key, None)
            if isinstance(error, MessageRejected):  # Storage is up and said no to this one message: never retry it
                self.metrics.inc("rejected")
                log.error("Storage REJECTED the %s message for %s, dropped: %s", entry.message.op, key, error)
                self._storage_ok, self._probing = True, False  # it answered: an outage probe ends here too
                self._backoff.reset()
                self._cond.notify_all()
                return
            self.metrics.inc("send_retries")
            delay = self._backoff.next_delay()
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:  # the server said when: no sooner (bounded, messages are held meanwhile)
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
            self._retry_at = self._clock() + delay
            self._last_error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            if self._storage_ok:
                log.error("Storage write failed, holding messages and retrying: %s", self._last_error)
            else:
                log.warning(
                    "Storage still failing (%d messages held, retry in %.1f s): %s",
                    len(self._buffer) + 1,
                    delay,
                    self._last_error,
                )
            self._storage_ok = False
            self._probing = False
            if key in self._buffer:
                self.metrics.inc("coalesced")  # a newer message for the pod superseded the failed one
            else:
                self._buffer[key] = entry
                self._buffer.move_to_end(key, last=False)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Stop taking new work once empty; wait up to `timeout` s for everything held to be sent."""
        deadline = self._clock() + timeout
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            while self._buffer or self._in_flight:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    log.error(
                        "shutdown: %d messages not sent within %.0f s (Storage %s); the reconciler will heal them",
                        len(self._buffer) + len(self._in_flight),
                        timeout,
                        "down" if not self._storage_ok else "slow",
                    )
                    break
                self._cond.wait(min(remaining, 0.1))
            flushed = not self._buffer and not self._in_flight
        self._close_loop(max(1.0, deadline - self._clock()))
        return flushed
