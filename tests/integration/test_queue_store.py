"""The queue adapter against real Azurite: plain-text encoding, delays, dead letters."""

from __future__ import annotations

import json
import time

from shared.azure.queue import QueueStore
from shared.config import DEAD_LETTER_QUEUE, POD_EVENTS_QUEUE
from shared.messages import SAFE_MESSAGE_BYTES, Message, PodRef, parse_message


def test_sent_message_is_plain_json_text(queue_store):
    message = Message(op="upsert", pod=PodRef("default", "web", "u-1"), source="cli")
    queue_store.send(message.to_text())
    [peeked] = queue_store.peek()
    assert json.loads(peeked.text)["pod"] == {"namespace": "default", "name": "web", "uid": "u-1"}
    assert parse_message(peeked.text) == message


def test_delayed_message_is_invisible_until_due(queue_store):
    queue_store.send('{"v":1}', delay_seconds=2)
    assert queue_store.peek() == []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not queue_store.peek():
        time.sleep(0.2)
    assert [m.text for m in queue_store.peek()] == ['{"v":1}']


def test_dead_letter_keeps_reason_and_original(queue_store):
    queue_store.dead_letter("not json", reason="message is not JSON", field=None, dequeue_count=1)
    [parked] = queue_store.peek(queue=DEAD_LETTER_QUEUE)
    record = json.loads(parked.text)
    assert record["reason"] == "message is not JSON"
    assert record["original"] == "not json"
    assert record["dequeueCount"] == 1
    assert queue_store.peek(queue=POD_EVENTS_QUEUE) == []


def test_dead_letter_of_huge_original_is_trimmed_to_fit(queue_store):
    original = "x" * (SAFE_MESSAGE_BYTES - 10)
    queue_store.dead_letter(original, reason="too big")
    [parked] = queue_store.peek(queue=DEAD_LETTER_QUEUE)
    record = json.loads(parked.text)
    assert record["originalTruncated"] is True
    assert original.startswith(record["original"])
    assert len(parked.text.encode()) <= SAFE_MESSAGE_BYTES


def test_development_storage_shorthand_targets_azurite_on_its_default_port():
    """`UseDevelopmentStorage=true` (local.settings.json's default) is resolved by the Storage SDK itself."""
    store = QueueStore("UseDevelopmentStorage=true")
    assert store.endpoint.rstrip("/") == "http://127.0.0.1:10001/devstoreaccount1"
    assert store.queue_access("pod-events").url == "http://127.0.0.1:10001/devstoreaccount1/pod-events"
