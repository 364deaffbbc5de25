"""functions/audit.py as the host invokes it: HttpRequest in, HttpResponse and the queue output binding out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from functions.audit import audit
from shared.config import POD_EVENTS_QUEUE, reset_settings_cache
from shared.messages import parse_message
from tests.unit.test_audit import NODE, TOKEN, binding, event, event_list, recorded_create

HANDLER = audit._function.get_user_function()


class Collected(func.Out):
    """What the host receives from the queue output binding (it writes the list as one batch after we return)."""

    def __init__(self) -> None:
        self.value: list[str] | None = None

    def set(self, val: list[str]) -> None:
        self.value = val

    def get(self) -> list[str] | None:
        return self.value


@pytest.fixture(autouse=True)
def audit_settings(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AUDIT_BEARER_TOKEN", TOKEN)
    monkeypatch.setenv("AUDIT_MAX_BODY_BYTES", str(3 * 1024 * 1024))
    reset_settings_cache()
    yield
    reset_settings_cache()


def call(body: bytes, *, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, Any, Collected]:
    request = func.HttpRequest(
        method=method,
        url="http://localhost:7071/api/audit",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"} | (headers or {}),
        body=body,
    )
    out = Collected()
    response = HANDLER(request, out)
    return response.status_code, json.loads(response.get_body()), out


def test_recorded_and_built_events_become_messages_that_reach_the_queue(queue_store):
    scheduled = recorded_create()
    scheduled["responseObject"]["spec"]["nodeName"] = NODE
    body = event_list(recorded_create(), scheduled, binding("web", uid="u-web"), event("delete", "old"))
    status, answer, out = call(body)
    assert status == 200
    assert answer == {"events": 4, "enqueued": 3, "skipped": {"not scheduled yet": 1}}
    assert out.value is not None
    queue_store.send_many(out.value)  # what the host does with the output binding, in plain text (messageEncoding none)
    received = [parse_message(m.content) for m in queue_store.client(POD_EVENTS_QUEUE).receive_messages()]
    assert sorted((m.op, m.pod.name if m.pod else "") for m in received) == [
        ("delete", "old"),
        ("upsert", "nginx-deployment-5cdcc99dbf-rgw6z"),
        ("upsert", "web"),
    ]
    assert all(m.source == "audit" for m in received)


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (event_list(binding("a")), {"Content-Type": "text/plain"}, 415, "content type"),
        (event_list(binding("a")), {"Content-Type": "application/x-www-form-urlencoded"}, 415, "content type"),
        (b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [', {}, 400, "not JSON"),
        (b'{"kind": "\xc3\x28"}', {}, 400, "not UTF-8"),
        (b'"just a string"', {}, 400, "JSON str"),
        (b'{"kind": "PodList", "apiVersion": "v1", "items": []}', {}, 400, "apiVersion"),
        (b"x" * (10 * 1024 * 1024), {}, 413, "larger than"),
        (event_list(binding("a")), {"Authorization": "Bearer wrong"}, 401, "bearer token"),
        (event_list(binding("a")), {"Authorization": ""}, 401, "bearer token"),
    ],
)
def test_hostile_requests_get_a_clear_4xx_and_enqueue_nothing(body: bytes, headers: dict, status: int, reason: str):
    got, answer, out = call(body, headers=headers)
    assert got == status
    assert reason in answer["error"]
    assert out.value is None


def test_events_for_other_resources_and_with_missing_fields_are_skipped_not_failed():
    junk: list[Any] = [
        event("delete", "cm", objectRef={"resource": "configmaps", "namespace": "default", "name": "cm"}),
        event("create", "svc", objectRef={"resource": "services", "namespace": "default"}),
        {"kind": "Event"},
        {
            "stage": "ResponseComplete",
            "responseStatus": {"code": 200},
            "objectRef": {"resource": "pods"},
            "verb": "delete",
        },
        None,
        binding("good"),
    ]
    status, answer, out = call(event_list(*junk))
    assert status == 200
    assert answer["events"] == 6 and answer["enqueued"] == 1
    assert sum(answer["skipped"].values()) == 5
    assert out.value is not None and parse_message(out.value[0]).pod.name == "good"  # type: ignore[union-attr]


def test_without_a_configured_token_every_request_is_refused(monkeypatch):
    monkeypatch.setenv("AUDIT_BEARER_TOKEN", "")
    reset_settings_cache()
    status, answer, out = call(event_list(binding("a")))
    assert status == 401 and "AUDIT_BEARER_TOKEN" in answer["error"] and out.value is None


def test_a_thousand_event_batch_is_enqueued_in_one_answer():
    """A real apiserver batches audit events; the function answers a batch with one output binding (the time it
    takes is measured by `python -m bench.relay`, 26 ms median, not asserted here)."""
    events = [binding(f"pod-{i}", uid=f"u{i}") for i in range(1000)]
    status, answer, out = call(event_list(*events))
    assert status == 200 and answer["enqueued"] == 1000 and out.value is not None and len(out.value) == 1000
    assert [parse_message(v).pod.name for v in out.value] == [f"pod-{i}" for i in range(1000)]  # type: ignore[union-attr]
