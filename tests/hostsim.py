"""Invoke the queue-triggered function the way the Functions host does, against real Azurite.

The host receives a message with host.json's visibilityTimeout, decodes it per
`messageEncoding`, hands the worker a `string` datum plus trigger metadata
(Id, DequeueCount, PopReceipt...), which the worker's own
QueueMessageInConverter turns into a QueueMessage. Success deletes the
message; an exception leaves it to reappear after the visibility timeout;
after maxDequeueCount deliveries it moves to `<queue>-poison`. Core Tools
cannot run here, so this is the closest faithful stand-in, and tests use it
for every "as the host would invoke it" claim.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.functions import meta
from azure.functions.queue import QueueMessageInConverter

from shared.config import POD_EVENTS_QUEUE, POISON_QUEUE

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("hostsim")


def host_queue_settings() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]


def _seconds(span: str) -> int:
    hours, minutes, seconds = (int(part) for part in span.split(":"))
    return hours * 3600 + minutes * 60 + seconds


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
    """Runs `function(message)` for messages on `queue`, with the host's retry and poison rules."""

    store: Any
    function: Callable[[Any], Any]
    queue: str = POD_EVENTS_QUEUE
    visibility_timeout: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        settings = host_queue_settings()
        self.encoding = settings.get("messageEncoding", "base64")
        self.max_dequeue_count = int(settings.get("maxDequeueCount", 5))
        if self.visibility_timeout is None:
            self.visibility_timeout = _seconds(settings.get("visibilityTimeout", "00:00:00"))
        self.batch_size = int(settings.get("batchSize", 16))

    def _decode(self, content: str) -> str:
        if self.encoding == "base64":
            return base64.b64decode(content).decode("utf-8")
        return content

    def _invoke(self, received: Any) -> Delivery:
        client = self.store.client(self.queue)
        delivery = Delivery(str(received.id), int(received.dequeue_count))
        if delivery.dequeue_count > self.max_dequeue_count:
            self.store.send(
                received.content, queue=POISON_QUEUE if self.queue == POD_EVENTS_QUEUE else f"{self.queue}-poison"
            )
            client.delete_message(received.id, received.pop_receipt)
            delivery.poisoned = True
            return delivery
        metadata = {
            "Id": meta.Datum(str(received.id), "string"),
            "DequeueCount": meta.Datum(str(received.dequeue_count), "string"),
            "PopReceipt": meta.Datum(received.pop_receipt, "string"),
            "InsertionTime": meta.Datum(_iso(received.inserted_on), "string"),
            "ExpirationTime": meta.Datum(_iso(received.expires_on), "string"),
            "NextVisibleTime": meta.Datum(_iso(received.next_visible_on), "string"),
        }
        message = QueueMessageInConverter.decode(
            meta.Datum(self._decode(received.content), "string"), trigger_metadata=metadata
        )
        try:
            self.function(message)
        except Exception as error:  # the host logs it and lets the message reappear
            delivery.error = error
            log.info("invocation failed (dequeue %d): %s", delivery.dequeue_count, error)
            return delivery
        client.delete_message(received.id, received.pop_receipt)
        return delivery

    def run_once(self, *, concurrency: int = 1) -> list[Delivery]:
        """One poll: receive up to a batch and invoke, `concurrency` at a time."""
        self.store.ensure(self.queue)
        received = list(
            self.store.client(self.queue).receive_messages(
                max_messages=min(32, max(self.batch_size, concurrency)),
                visibility_timeout=max(1, self.visibility_timeout or 1),
            )
        )
        if not received:
            return []
        if concurrency <= 1:
            results = [self._invoke(item) for item in received]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(self._invoke, received))
        self.deliveries.extend(results)
        return results

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
