"""Every HTTP-facing function answers hostile input with a 4xx and a one-line reason, never a 500 (issue 14, 4)."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.arm_events import arm_events
from functions.capacity import capacity
from shared.azure.quota import set_capacity_service
from shared.config import reset_settings_cache
from tests.integration.test_audit import HANDLER as AUDIT
from tests.integration.test_audit import Collected
from tests.unit.test_audit import TOKEN

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
HOSTILE_JSON = [
    b"[" * 50_000 + b"]" * 50_000,
    b'{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":[' + b"9" * 10_000 + b"]}",
    b'{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":[],"x":' + b"1" * 10_000 + b"}",
    b'{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":[{"stage":"\\ud800"}]}',
    b"\xff\xfe",
]


def _one_line_4xx(status: int, body: bytes) -> None:
    assert 400 <= status < 500 or status == 200, status
    if status >= 400:
        reason = json.loads(body)["error"]
        assert reason and "\n" not in reason and len(reason) < 300


@pytest.fixture
def audit_env(monkeypatch):
    monkeypatch.setenv("AUDIT_BEARER_TOKEN", TOKEN)
    reset_settings_cache()
    yield
    reset_settings_cache()


def _audit(body: bytes) -> tuple[int, bytes]:
    request = func.HttpRequest(
        "POST",
        "http://localhost/api/audit",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        body=body,
    )
    response = AUDIT(request, Collected())
    return response.status_code, response.get_body()


@pytest.mark.parametrize("body", HOSTILE_JSON, ids=range(len(HOSTILE_JSON)))
def test_audit_hostile_bodies(audit_env, body):
    status, answer = _audit(body)
    _one_line_4xx(status, answer)
    if body.startswith(b"[") or b"9999" in body or b"1111" in body or body.startswith(b"\xff"):
        assert status == 400


@FUZZ
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_audit_fuzz_bodies(audit_env, body):
    _one_line_4xx(*_audit(body))


@FUZZ
@given(json_values)
def test_audit_fuzz_events(audit_env, events):
    body = json.dumps({"apiVersion": "audit.k8s.io/v1", "kind": "EventList", "items": [events, {"stage": events}]})
    status, answer = _audit(body.encode())
    assert status == 200, answer


class _NoCapacity:
    """A capacity service that knows one node; the fuzz is about the request, not the numbers."""

    def report(self, node: str | None) -> dict:
        if node not in (None, "aci-connector-linux"):
            raise KeyError(node)
        return {"node": node}


@FUZZ
@given(st.text(max_size=300), st.text(max_size=300), st.binary(max_size=100))
def test_capacity_fuzz(node, output, body):
    set_capacity_service(_NoCapacity())  # type: ignore[arg-type]
    try:
        request = func.HttpRequest(
            "GET", "http://localhost/api/capacity", body=body, params={"format": output}, route_params={"node": node}
        )
        response = capacity(request)
    finally:
        set_capacity_service(None)
    _one_line_4xx(response.status_code, response.get_body())


@pytest.fixture
def eventgrid_env(monkeypatch, queue_store):
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("ACI_RESOURCE_GROUP", "rg")
    reset_settings_cache()
    yield queue_store
    reset_settings_cache()


event_like = st.fixed_dictionaries(
    {
        "eventType": st.just("Microsoft.Resources.ResourceWriteSuccess") | json_values,
        "subject": st.just(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
            "/providers/Microsoft.ContainerInstance/containerGroups/"
        ).flatmap(lambda prefix: st.text(max_size=70).map(lambda name: prefix + name))
        | json_values,
    },
    optional={"id": json_values, "data": json_values, "dataVersion": json_values, "topic": json_values},
) | st.fixed_dictionaries(
    {"specversion": st.just("1.0") | json_values, "type": json_values},
    optional={"id": json_values, "source": json_values, "subject": json_values, "data": json_values},
)


@FUZZ
@given(event_like | json_values)
def test_event_grid_fuzz(eventgrid_env, event):
    """The host answers Event Grid; a raise here would be a 500 and a redelivery of the same bytes forever."""
    try:
        decoded = EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})
    except (ValueError, TypeError, KeyError, AttributeError):
        return  # the worker's own converter refuses it before our code runs: the host answers, not us
    arm_events(decoded)


@FUZZ
@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=60), st.sampled_from(["POST", "GET", "PUT"]))
def test_audit_fuzz_headers(audit_env, length, media, auth, method):
    request = func.HttpRequest(
        method,
        "http://localhost/api/audit",
        headers={"Content-Type": media, "Authorization": auth, "Content-Length": length},
        body=b"{}",
    )
    response = AUDIT(request, Collected())
    _one_line_4xx(response.status_code, response.get_body())


def test_audit_unicode_digits_in_content_length(audit_env):
    request = func.HttpRequest(
        "POST",
        "http://localhost/api/audit",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}", "Content-Length": "²"},
        body=b'{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":[]}',
    )
    assert AUDIT(request, Collected()).status_code == 200


HOSTILE_HOOK_BODIES = [
    b"[" * 50_000 + b"]" * 50_000,
    b"[" + b"9" * 10_000 + b"]",
    b'{"eventType": "x", "data": [1, 2]}',
    b'[{"specversion": "1.0", "id": 5, "type": 7, "data": "no"}]',
    b"[1, 2]",
    b"\xff",
    b"",
]


@pytest.fixture
def served_app(monkeypatch, queue_store):
    """The project's own functions behind the local host's HTTP front, as `make start` serves them."""
    from functions import arm_events, audit, capacity
    from shared.localhost.index import index_app
    from tests.integration.test_localhost import _serve

    monkeypatch.setenv("AUDIT_BEARER_TOKEN", TOKEN)
    reset_settings_cache()
    set_capacity_service(_NoCapacity())  # type: ignore[arg-type]
    app = func.FunctionApp()
    for module in (audit, capacity, arm_events):
        app.register_functions(module.bp)
    try:
        yield from _serve(index_app(app))
    finally:
        set_capacity_service(None)
        reset_settings_cache()


@pytest.mark.parametrize("body", HOSTILE_HOOK_BODIES, ids=range(len(HOSTILE_HOOK_BODIES)))
def test_the_event_grid_webhook_answers_hostile_bodies_with_a_4xx(served_app, body):
    import requests

    hook = f"{served_app}/runtime/webhooks/eventgrid?functionName=arm_events"
    for kind in ("Notification", "SubscriptionValidation"):
        answer = requests.post(hook, data=body, headers={"aeg-event-type": kind}, timeout=30)
        assert answer.status_code < 500, (kind, answer.status_code, answer.text[:200])
        if answer.status_code >= 400:
            _one_line_4xx(answer.status_code, answer.content)


@pytest.mark.parametrize("body", HOSTILE_JSON[:3], ids=range(3))
def test_the_audit_route_answers_hostile_bodies_with_a_4xx(served_app, body):
    import requests

    answer = requests.post(
        f"{served_app}/api/audit",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 400
    _one_line_4xx(answer.status_code, answer.content)


@FUZZ
@given(st.lists(event_like | json_values, max_size=3) | event_like | json_values)
def test_event_grid_webhook_fuzz(served_app, body):
    import requests

    hook = f"{served_app}/runtime/webhooks/eventgrid?functionName=arm_events"
    answer = requests.post(hook, data=json.dumps(body), headers={"aeg-event-type": "Notification"}, timeout=30)
    assert answer.status_code < 500, answer.text[:200]
