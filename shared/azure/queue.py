"""Storage queue adapter: send, re-queue with delay, peek and dead-letter `pod-events` messages.

Used by the queue worker (re-queue on throttling, dead letters), the CLI, the
audit webhook, the Event Grid function, the reconciler and the relay, so every
producer writes the same plain-text encoding host.json expects
(`messageEncoding: none`). The SDK import is deferred to first use: it costs
cold-start time that HTTP-only invocations should not pay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import DEAD_LETTER_QUEUE, POD_EVENTS_QUEUE, Settings, get_settings
from shared.errors import ConfigError
from shared.messages import SAFE_MESSAGE_BYTES, utc_now_text, wire_bytes

MAX_VISIBILITY_DELAY = 7 * 24 * 3600
"""Storage refuses a visibility timeout beyond seven days."""
FAIL_FAST: dict[str, Any] = {
    "retry_total": 1,
    "initial_backoff": 0.5,
    "increment_base": 1,
    "random_jitter_range": 0.2,
    "connection_timeout": 3,
    "read_timeout": 2.5,
}
"""SDK options for interactive use (the CLI): one quick retry instead of the default ~80 s of backoff."""
TOMBSTONE_PREFIX = "pod-events-tomb-"
TOMBSTONE_SECONDS = 24 * 3600
"""How long a standalone delete outranks older upserts: longer than any re-queue delay (throttling caps at 15 min)."""
MAX_REASON_CHARS = 1024
MAX_FIELD_CHARS = 256


@dataclass(frozen=True)
class QueueAccess:
    """One queue's URL (no query) and its authorization: an account key, a SAS, or neither (the app's identity)."""

    url: str
    account_name: str
    account_key: str | None
    sas: str | None

    def __repr__(self) -> str:  # the key and the SAS are secrets: never in a log line or a traceback
        return f"QueueAccess(url={self.url!r}, auth={'key' if self.account_key else 'sas' if self.sas else 'identity'})"


@dataclass(frozen=True)
class PeekedMessage:
    id: str
    text: str
    dequeue_count: int
    inserted_on: str


class QueueStore:
    """The connector's queues on one Storage account; clients are made once and reused."""

    def __init__(
        self, connection_string: str | None = None, *, queue_service_uri: str | None = None, **client_options: Any
    ) -> None:
        """`client_options` go to the SDK client (retry and timeout knobs: see FAIL_FAST)."""
        from azure.storage.queue import QueueServiceClient

        # The SDK resolves `UseDevelopmentStorage=true` to Azurite's well-known account itself.
        self._connection_string = connection_string
        self._queue_service_uri = queue_service_uri
        if connection_string:
            self._service = QueueServiceClient.from_connection_string(connection_string, **client_options)
        elif queue_service_uri:
            from azure.identity import DefaultAzureCredential

            self._service = QueueServiceClient(queue_service_uri, credential=DefaultAzureCredential(), **client_options)
        else:
            raise ConfigError(
                "setting AzureWebJobsStorage is required (or AzureWebJobsStorage__queueServiceUri with an identity)"
            )
        self._clients: dict[str, Any] = {}
        self._ensured: set[str] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The queue service URL in use (for error hints), without any SAS query."""
        return str(self._service.url).split("?", 1)[0]

    def client(self, queue: str) -> Any:
        with self._lock:
            if queue not in self._clients:
                self._clients[queue] = self._service.get_queue_client(queue)
            return self._clients[queue]

    def queue_access(self, queue: str) -> QueueAccess:
        """How a writer outside the SDK reaches `queue`: its URL and what authorizes it (the relay's lean sender).

        The connection string is parsed by the SDK (UseDevelopmentStorage, EndpointSuffix, SAS forms), never by us.
        """
        url, _, sas = str(self._service.get_queue_client(queue).url).partition("?")
        return QueueAccess(
            url=url,
            account_name=str(self._service.account_name),
            account_key=getattr(self._service.credential, "account_key", None),
            sas=sas or None,
        )

    def ensure(self, queue: str) -> None:
        """Create the queue once per process; an existing queue is the normal case."""
        if queue in self._ensured:
            return
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):  # already there: exactly what we want
            self.client(queue).create_queue()
        self._ensured.add(queue)

    def send(self, text: str, *, queue: str = POD_EVENTS_QUEUE, delay_seconds: float = 0) -> str:
        """Put one message; `delay_seconds` keeps it invisible that long (re-queue with backoff)."""
        if len(text.encode("utf-8")) > SAFE_MESSAGE_BYTES:
            raise ValueError(
                f"message of {len(text.encode('utf-8'))} bytes exceeds the {SAFE_MESSAGE_BYTES} byte limit"
            )
        self.ensure(queue)
        visibility = min(max(round(delay_seconds), 0), MAX_VISIBILITY_DELAY) or None
        sent = self.client(queue).send_message(text, visibility_timeout=visibility)
        return str(sent.id)

    def send_many(self, texts: Iterable[str], *, queue: str = POD_EVENTS_QUEUE) -> int:
        count = 0
        for text in texts:
            self.send(text, queue=queue)
            count += 1
        return count

    def peek(self, *, queue: str = POD_EVENTS_QUEUE, limit: int = 32) -> list[PeekedMessage]:
        """Up to 32 visible messages without taking them (Storage's peek limit)."""
        self.ensure(queue)
        return [
            PeekedMessage(str(m.id), str(m.content), int(m.dequeue_count or 0), str(m.inserted_on))
            for m in self.client(queue).peek_messages(max_messages=min(limit, 32))
        ]

    # -- tombstones (standalone mode): a queue per deleted pod, its metadata holding the delete's time ------------

    def mark_deleted(self, key: str, when: str) -> None:
        """Remember that the pod behind `key` (its group name) was deleted at `when`; sweeps expired marks."""
        from azure.core.exceptions import ResourceExistsError

        client = self.client(tombstone_queue(key))
        metadata = {"deletedat": when, "group": key}
        try:
            client.create_queue(metadata=metadata)
        except ResourceExistsError:
            client.set_queue_metadata(metadata=metadata)
        self._sweep_tombstones()

    def deleted_at(self, key: str) -> str | None:
        """When the pod behind `key` was deleted, if a tombstone says so."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            properties = self.client(tombstone_queue(key)).get_queue_properties()
        except ResourceNotFoundError:
            return None
        return (properties.metadata or {}).get("deletedat")

    def clear_deleted(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):  # another worker cleared it first: same result
            self.client(tombstone_queue(key)).delete_queue()

    def _sweep_tombstones(self) -> None:
        """Drop tombstones older than TOMBSTONE_SECONDS: no re-queued upsert outlives that."""
        from azure.core.exceptions import ResourceNotFoundError

        cutoff = time.time() - TOMBSTONE_SECONDS
        for item in self._service.list_queues(name_starts_with=TOMBSTONE_PREFIX, include_metadata=True):
            if _epoch((item.metadata or {}).get("deletedat", "")) < cutoff:
                with contextlib.suppress(ResourceNotFoundError):
                    self.client(item.name).delete_queue()

    def dead_letter(
        self, original: str, *, reason: str, field: str | None = None, dequeue_count: int | None = None
    ) -> str:
        """Park a message that can never succeed, once, with why; the original is kept (trimmed to fit)."""
        return self.send(dead_letter_record(original, reason, field, dequeue_count), queue=DEAD_LETTER_QUEUE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dead_letter_record(original: str, reason: str, field: str | None = None, dequeue_count: int | None = None) -> str:
    """The dead-letter JSON, at most SAFE_MESSAGE_BYTES on the wire whatever the input.

    Reason and field are cut to a fixed size; the original is cut until the record (escaped as JSON, then
    as XML by the queue client) fits. Text that is not valid Unicode (lone surrogates) is replaced, so the
    record can always be encoded and sent.
    """
    record: dict[str, Any] = {
        "reason": _cut(_valid(reason), MAX_REASON_CHARS),
        "field": _cut(_valid(field), MAX_FIELD_CHARS) if field is not None else None,
        "failedAt": utc_now_text(),
    }
    if dequeue_count is not None:
        record["dequeueCount"] = dequeue_count
    kept = _valid(original)
    record["original"] = kept
    text = json.dumps(record, ensure_ascii=False)
    while wire_bytes(text) > SAFE_MESSAGE_BYTES:
        # Shrink in proportion to the excess (escaping may make a character cost up to 6 bytes), then re-measure.
        ratio = SAFE_MESSAGE_BYTES / wire_bytes(text)
        kept = kept[: max(0, int(len(kept) * ratio) - 64)]
        record["original"], record["originalTruncated"] = kept, True
        text = json.dumps(record, ensure_ascii=False)
    return text


def _valid(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def tombstone_queue(key: str) -> str:
    """Queue names allow 3-63 of [a-z0-9-]: a fixed prefix and a hash of the group name."""
    return TOMBSTONE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def _epoch(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0  # unreadable: treat as expired


_store: QueueStore | None = None
_store_lock = threading.Lock()


def get_queue_store(settings: Settings | None = None) -> QueueStore:
    """The process-wide store, built from AzureWebJobsStorage on first use."""
    global _store  # noqa: PLW0603 - one client per worker process is the point
    with _store_lock:
        if _store is None:
            settings = settings or get_settings()
            _store = QueueStore(
                settings["AzureWebJobsStorage"], queue_service_uri=settings["AzureWebJobsStorage__queueServiceUri"]
            )
        return _store


def set_queue_store(store: QueueStore | None) -> None:
    """Replace the process-wide store (tests point it at a fresh Azurite)."""
    global _store  # noqa: PLW0603
    with _store_lock:
        _store = store
