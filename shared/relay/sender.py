"""The relay's send path: a bounded, per-pod-coalescing buffer drained to the queue by a few threads.

Why a buffer keyed by pod: while Storage is down the relay keeps watching, and
a pod that changes ten times needs only its latest message (the worker re-reads
the pod), so the buffer holds one message per pod incarnation and the bound is
rarely hit. When it is, the oldest message is dropped, counted and logged
loudly: the reconciler heals what it carried. Per-pod order holds because a
pod's message is never sent by two threads at once, and a message that failed
goes back to the head of the buffer unless a newer one for the pod superseded it.

Queue writes are made with the SDK's own retries off (its default policy waits
about a minute before raising): this module retries with its own jittered
backoff so /readyz can say "Storage down" within a second.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from shared.config import POD_EVENTS_QUEUE
from shared.messages import Message
from shared.queue import QueueStore
from shared.relay.backoff import Backoff
from shared.relay.metrics import Metrics

log = logging.getLogger("aci_connector.relay.sender")

Write = Callable[[str], None]
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


def queue_writer(store: QueueStore, queue: str = POD_EVENTS_QUEUE) -> Write:
    """A one-shot write (no SDK retries) that re-creates the queue if it vanished (e.g. Azurite restarted)."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    ensured = threading.Event()

    def ensure() -> None:
        with contextlib.suppress(ResourceExistsError):  # the normal case: the queue is there
            store.client(queue).create_queue(
                retry_total=0, connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT
            )
        ensured.set()

    def write(text: str) -> None:
        if not ensured.is_set():
            ensure()
        try:
            store.client(queue).send_message(
                text, retry_total=0, connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT
            )
        except ResourceNotFoundError:
            ensured.clear()
            raise

    return write


@dataclass
class Entry:
    message: Message
    since: float
    """When the oldest message this entry stands for arrived: what lag is measured from."""


class Sender:
    """Holds at most `capacity` messages (one per key) and sends them with `workers` threads."""

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
        for index in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"relay-sender-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _take(self) -> tuple[Hashable, Entry] | None:
        """The oldest message whose pod is not in flight, once Storage may be tried; None when stopping and empty."""
        with self._cond:
            while True:
                if self._stopping and not self._buffer and not self._in_flight:
                    return None
                now = self._clock()
                wait: float | None = None
                if not self._storage_ok and (self._probing or now < self._retry_at):
                    wait = None if self._probing else self._retry_at - now  # one probe at a time while down
                else:
                    key = next((k for k in self._buffer if k not in self._in_flight), None)
                    if key is not None:
                        entry = self._buffer.pop(key)
                        self._in_flight[key] = entry
                        self._probing = not self._storage_ok
                        return key, entry
                self._cond.wait(wait if wait is None else max(wait, 0.001))

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            key, entry = taken
            try:
                self._write(entry.message.to_text())
            except Exception as error:
                self._failed(key, entry, error)
            else:
                self._sent(key)

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
            self.metrics.inc("send_retries")
            delay = self._backoff.next_delay()
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
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True
