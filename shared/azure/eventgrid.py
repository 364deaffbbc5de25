"""Pod lifecycle CloudEvents out to an Event Grid topic, without ever slowing or failing pod processing.

`publish_pod_transition` only builds a small dict and puts it on a bounded in-memory queue
(microseconds); a daemon thread sends batches as azure-core CloudEvents with azure-eventgrid's public
EventGridPublisherClient,
with short timeouts and no retries. A slow, failing or unreachable topic costs dropped events
(counted and logged), never a slow worker: these events are notifications for others, the
pod's truth stays in Kubernetes. Events still queued when the process ends are lost; the
reconciler does not replay them. docs/eventgrid.md documents types and data.

Nothing is imported or started until the first event is published with a topic configured.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("aci_connector.events")

EVENT_TYPE_PREFIX = "Aci.Connector.Pod."
KINDS = {
    "scheduled": "Scheduled",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "deleted": "Deleted",
}
"""Transition kind -> CloudEvent type suffix (Aci.Connector.Pod.<Suffix>)."""
DATA_SCHEMA_VERSION = "1"
QUEUE_SIZE = 1000
BATCH_SIZE = 100
"""Event Grid accepts up to 1 MB per request; pod events are ~1 KB, so 100 leave ample room."""
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0


def event_type(kind: str) -> str:
    return EVENT_TYPE_PREFIX + KINDS[kind]


def transition_for(old_status: Mapping[str, Any] | None, new_status: Mapping[str, Any] | None) -> str | None:
    """The transition a status patch represents, if any: running, succeeded, failed or deleted.

    `None` as new status means the pod is gone. Pending -> Pending or any unchanged phase is no
    transition; "scheduled" is published by whoever creates the container group, since the
    status alone cannot tell it.
    """
    old_phase = (old_status or {}).get("phase")
    if new_status is None:
        return "deleted" if old_status is not None else None
    new_phase = new_status.get("phase")
    if new_phase == old_phase:
        return None
    return {"Running": "running", "Succeeded": "succeeded", "Failed": "failed"}.get(str(new_phase))


def event_id(source: str, uid: Any, kind: str) -> str:
    """Deterministic per pod incarnation and transition, so a repeat after a crash is a duplicate subscribers
    can drop (CloudEvents: source + id identify an event); random when the pod has no uid (standalone)."""
    if not uid:
        return str(uuid.uuid4())
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}/pods/{uid}/{kind}"))


def build_event(
    kind: str,
    pod: Mapping[str, Any],
    *,
    source: str,
    group_name: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The CloudEvent (as its JSON dict) for one transition; ValueError for an unknown kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown pod transition {kind!r}: expected one of {', '.join(KINDS)}")
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    name = metadata.get("name") or ""
    status = pod.get("status") or {}
    data = {
        "schemaVersion": DATA_SCHEMA_VERSION,
        "namespace": namespace,
        "name": name,
        "uid": metadata.get("uid"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "containerGroup": group_name,
        "phase": status.get("phase"),
        "reason": reason,
        "message": message,
    }
    return {
        "specversion": "1.0",
        "id": event_id(source, metadata.get("uid"), kind),
        "source": source,
        "type": event_type(kind),
        "subject": f"namespaces/{namespace}/pods/{name}",
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }


_TRANSPORT_OPTIONS = ("connection_verify", "connection_timeout", "read_timeout", "retry_total")


class _TransportOptionNotice(logging.Filter):
    """Drops the event model's "X is not a known attribute" notice for our four per-call transport options.

    azure-eventgrid's basic-topic send hands per-call keyword options to both the HTTP pipeline (which uses
    them) and each event's wire model (which ignores them with a warning per event and option). Only those
    notices are dropped; any other attribute warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            "is not a known attribute" in str(record.msg) and record.args and record.args[0] in _TRANSPORT_OPTIONS
        )


def _quiet_transport_options_in_event_model() -> None:
    model_logger = logging.getLogger("azure.eventgrid._legacy._generated._serialization")
    if not any(isinstance(f, _TransportOptionNotice) for f in model_logger.filters):
        model_logger.addFilter(_TransportOptionNotice())


def as_cloud_event(event: Mapping[str, Any]) -> Any:
    """The event dict as azure-core's CloudEvent, the model azure-eventgrid publishes (CloudEvents 1.0)."""
    from azure.core.messaging import CloudEvent

    return CloudEvent(
        source=event["source"],
        type=event["type"],
        data=event.get("data"),
        subject=event.get("subject"),
        id=event["id"],
        time=datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
        datacontenttype=event.get("datacontenttype"),
        specversion=event.get("specversion", "1.0"),
    )


class EventPublisher:
    """A bounded queue drained by one daemon thread that sends batches to the topic."""

    def __init__(
        self,
        endpoint: str,
        *,
        key: str = "",
        credential: Any = None,
        source: str = "aci-connector",
        connection_verify: bool | str = True,
        queue_size: int = QUEUE_SIZE,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.source = source
        self._key = key
        self._credential = credential
        self._verify = connection_verify
        self._timeouts = (connect_timeout, read_timeout)
        self._client_factory = client_factory or self._make_client
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._in_flight = 0
        self.counts: Counter[str] = Counter()

    def publish(self, event: dict[str, Any]) -> bool:
        """Queue one event; False (and counted) when the queue is full. Never blocks, never raises."""
        self._ensure_thread()
        with self._idle:
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self.counts["dropped"] += 1
                if (
                    self.counts["dropped"] % 100 == 1
                ):  # the first drop, then every 100th: a log line per drop would flood
                    log.warning(
                        "Event Grid queue full: dropped %s for %s (%d dropped so far)",
                        event.get("type"),
                        event.get("subject"),
                        self.counts["dropped"],
                    )
                return False
            self._in_flight += 1
        self.counts["queued"] += 1
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was sent or given up on (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="eventgrid-publisher", daemon=True)
                self._thread.start()

    def _make_client(self) -> Any:
        """The SDK client (azure-eventgrid's public EventGridPublisherClient), built on the publisher thread so
        its import never delays a caller. Transport options go with each send (see `_send_options`)."""
        from azure.eventgrid import EventGridPublisherClient

        if self._key:
            from azure.core.credentials import AzureKeyCredential

            credential: Any = AzureKeyCredential(self._key)
        elif self._credential is not None:
            credential = self._credential
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        _quiet_transport_options_in_event_model()
        return EventGridPublisherClient(self.endpoint, credential)

    def _send_options(self) -> dict[str, Any]:
        """Per-call azure-core options: short timeouts, no retries, the topic's CA.

        For basic topics azure-eventgrid 4.2x's public client does not pass constructor options on to its
        pipeline, so they are given per call, which azure-core honours for every request.
        """
        return {
            "connection_verify": self._verify,
            "connection_timeout": self._timeouts[0],
            "read_timeout": self._timeouts[1],
            "retry_total": 0,
        }

    def _run(self) -> None:
        client: Any = None
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                if client is None:
                    client = self._client_factory()
                client.send([as_cloud_event(event) for event in batch], **self._send_options())
                self.counts["published"] += len(batch)
            except Exception as error:  # a topic problem must never escape into pod processing
                self.counts["failed"] += len(batch)
                log.warning("could not publish %d pod event(s) to Event Grid: %s", len(batch), error)
            finally:
                with self._idle:
                    self._in_flight -= len(batch)
                    self._idle.notify_all()


_publisher: EventPublisher | None = None
_configured = False
_publisher_lock = threading.Lock()


def get_publisher() -> EventPublisher | None:
    """The process-wide publisher, or None when EVENTGRID_TOPIC_ENDPOINT is empty."""
    global _publisher, _configured  # noqa: PLW0603 - one queue and thread per worker process
    if _configured:
        return _publisher
    with _publisher_lock:
        if not _configured:
            from shared.config import get_settings

            settings = get_settings()
            endpoint = settings["EVENTGRID_TOPIC_ENDPOINT"]
            if endpoint:
                source = "aci-connector"
                if settings["AZURE_SUBSCRIPTION_ID"] and settings["ACI_RESOURCE_GROUP"]:
                    source = (
                        f"/subscriptions/{settings['AZURE_SUBSCRIPTION_ID']}"
                        f"/resourceGroups/{settings['ACI_RESOURCE_GROUP']}"
                    )
                _publisher = EventPublisher(endpoint, key=settings["EVENTGRID_TOPIC_KEY"], source=source)
            _configured = True
    return _publisher


def set_publisher(publisher: EventPublisher | None) -> None:
    """Install a publisher (tests) or None for "not configured"; reset_publisher() re-reads the settings."""
    global _publisher, _configured
    with _publisher_lock:
        _publisher, _configured = publisher, True


def reset_publisher() -> None:
    global _publisher, _configured
    with _publisher_lock:
        _publisher, _configured = None, False


def publish_pod_transition(
    kind: str,
    pod: Mapping[str, Any],
    *,
    group_name: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    """Tell the topic a pod was scheduled onto ACI, started running, succeeded, failed or was deleted.

    Non-blocking and fail-safe: returns at once, whatever the topic does; does nothing when no
    topic is configured. An unknown `kind` is a programming error and is logged, not raised.
    """
    try:
        publisher = get_publisher()
        if publisher is None:
            return
        publisher.publish(
            build_event(kind, pod, source=publisher.source, group_name=group_name, reason=reason, message=message)
        )
    except Exception as error:  # publishing is best effort: the pod's own processing must go on
        log.error("pod event %s not published: %s", kind, error)
