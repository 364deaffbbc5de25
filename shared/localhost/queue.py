"""The queue trigger as the Functions host runs it (host.json `extensions.queues`), on real Storage or Azurite.

The host receives up to `batchSize` messages (held invisible while they run), decodes
each per `messageEncoding`, hands the worker a `string` datum plus trigger metadata
(Id, DequeueCount, PopReceipt...), which the worker's own QueueMessageInConverter turns
into a QueueMessage. Success deletes the message. A failure makes it visible again after
`visibilityTimeout`, or, on its `maxDequeueCount`-th delivery, moves it to
`<queue>-poison`; a message already dequeued more often than that is poisoned unrun.
A new batch is fetched when no more than `newBatchThreshold` are running, and an empty
queue is polled with a back-off up to `maxPollingInterval`. The local host
(`python -m shared.localhost`) and the tests both use this module.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.functions import meta
from azure.functions.queue import QueueMessageInConverter

from shared.config import POD_EVENTS_QUEUE, POISON_QUEUE

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("localhost")
HELD_SECONDS = 600
"""How long a received message stays invisible while its invocation runs (the SDK's default, 10 min)."""


def host_queue_settings(root: Path = ROOT) -> dict[str, Any]:
    return json.loads((root / "host.json").read_text()).get("extensions", {}).get("queues", {})


def _seconds(span: str) -> float:
    """A host.json TimeSpan: `hh:mm:ss[.fff]` or `d.hh:mm:ss`."""
    hours, minutes, seconds = span.split(":")
    days, _, hours = hours.rpartition(".")
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def message_from_text(text: str, *, message_id: str = "manual", dequeue_count: int = 1) -> Any:
    """A QueueMessage built the worker's way, for a manual invocation (admin endpoint)."""
    metadata = {
        "Id": meta.Datum(message_id, "string"),
        "DequeueCount": meta.Datum(str(dequeue_count), "string"),
    }
    return QueueMessageInConverter.decode(meta.Datum(text, "string"), trigger_metadata=metadata)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@dataclass
class Delivery:
    message_id: str
    dequeue_count: int
    error: BaseException | None = None
    poisoned: bool = False


@dataclass
class QueueHost:
    """Runs `function(message)` for messages on `queue`, with the host's batching, retry and poison rules."""

    store: Any
    function: Callable[[Any], Any]
    queue: str = POD_EVENTS_QUEUE
    visibility_timeout: float | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    root: Path = ROOT

    def __post_init__(self) -> None:
        settings = host_queue_settings(self.root)
        self.encoding = settings.get("messageEncoding", "base64")
        self.max_dequeue_count = int(settings.get("maxDequeueCount", 5))
        if self.visibility_timeout is None:
            self.visibility_timeout = _seconds(settings.get("visibilityTimeout", "00:00:00"))
        self.batch_size = min(32, int(settings.get("batchSize", 16)))
        self.new_batch_threshold = int(settings.get("newBatchThreshold", self.batch_size // 2))
        self.max_polling_interval = _seconds(settings.get("maxPollingInterval", "00:01:00"))
        self.poison_queue = POISON_QUEUE if self.queue == POD_EVENTS_QUEUE else f"{self.queue}-poison"
        self._lock = threading.Lock()

    def describe(self) -> str:
        return (
            f"queue {self.queue}, batchSize {self.batch_size}, newBatchThreshold {self.new_batch_threshold}, "
            f"visibilityTimeout {self.visibility_timeout:g}s, maxDequeueCount {self.max_dequeue_count}, "
            f"poison {self.poison_queue}"
        )

    def _decode(self, content: str) -> str:
        if self.encoding == "base64":
            return base64.b64decode(content).decode("utf-8")
        return content

    def _poison(self, received: Any) -> None:
        self.store.send(received.content, queue=self.poison_queue)
        self.store.client(self.queue).delete_message(received.id, received.pop_receipt)
        log.warning(
            "Message %s has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            received.id,
            self.max_dequeue_count,
            self.poison_queue,
        )

    def _invoke(self, received: Any) -> Delivery:
        client = self.store.client(self.queue)
        delivery = Delivery(str(received.id), int(received.dequeue_count))
        if delivery.dequeue_count > self.max_dequeue_count:  # failed earlier without being released (a crash)
            self._poison(received)
            delivery.poisoned = True
            return self._record(delivery)
        metadata = {
            "Id": meta.Datum(str(received.id), "string"),
            "DequeueCount": meta.Datum(str(received.dequeue_count), "string"),
            "PopReceipt": meta.Datum(received.pop_receipt, "string"),
            "InsertionTime": meta.Datum(_iso(received.inserted_on), "string"),
            "ExpirationTime": meta.Datum(_iso(received.expires_on), "string"),
            "NextVisibleTime": meta.Datum(_iso(received.next_visible_on), "string"),
        }
        try:
            message = QueueMessageInConverter.decode(
                meta.Datum(self._decode(received.content), "string"), trigger_metadata=metadata
            )
            self.function(message)
        except Exception as error:  # the host logs it, then releases or poisons the message
            delivery.error = error
            log.info("invocation failed (dequeue %d): %s", delivery.dequeue_count, error)
            if delivery.dequeue_count >= self.max_dequeue_count:
                self._poison(received)
                delivery.poisoned = True
            else:
                client.update_message(
                    received.id, received.pop_receipt, visibility_timeout=math.ceil(self.visibility_timeout or 0)
                )
            return self._record(delivery)
        client.delete_message(received.id, received.pop_receipt)
        return self._record(delivery)

    def _record(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _receive(self, count: int) -> list[Any]:
        self.store.ensure(self.queue)
        return list(self.store.client(self.queue).receive_messages(max_messages=count, visibility_timeout=HELD_SECONDS))

    def run_once(self, *, concurrency: int = 1) -> list[Delivery]:
        """One poll: receive up to a batch and invoke, `concurrency` at a time."""
        received = self._receive(min(32, max(self.batch_size, concurrency)))
        if not received:
            return []
        if concurrency <= 1:
            return [self._invoke(item) for item in received]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(self._invoke, received))

    def drain(self, *, timeout: float = 30, idle: float = 0.5, concurrency: int = 1) -> list[Delivery]:
        """Poll until the queue has shown nothing visible for `idle` seconds, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        handled: list[Delivery] = []
        while time.monotonic() < deadline:
            batch = self.run_once(concurrency=concurrency)
            handled.extend(batch)
            if batch:
                quiet_since = None
                continue
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= idle:
                break
            time.sleep(0.05)
        return handled

    def serve(self, stop: threading.Event, *, min_poll: float = 0.1) -> None:
        """The host's listener loop until `stop`: batches in parallel, back-off while the queue is empty."""
        pool = ThreadPoolExecutor(self.batch_size + self.new_batch_threshold, thread_name_prefix=self.queue)
        running: set[Future[Delivery]] = set()
        delay = min_poll
        try:
            while not stop.is_set():
                running = {future for future in running if not future.done()}
                if len(running) > self.new_batch_threshold:
                    wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                    continue
                try:
                    received = self._receive(self.batch_size)
                except Exception as error:  # Storage down: say so once per poll, keep polling
                    log.warning("queue %s: cannot receive: %s", self.queue, str(error).splitlines()[0])
                    received = []
                if not received:
                    stop.wait(delay)
                    delay = min(max(self.max_polling_interval, min_poll), delay * 2)
                    continue
                delay = min_poll
                running |= {pool.submit(self._invoke, item) for item in received}
        finally:
            pool.shutdown(wait=True)
