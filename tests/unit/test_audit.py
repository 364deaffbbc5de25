"""shared/intake/audit.py: which audit events become which messages, with recorded payloads and hostile input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shared.intake.audit import (
    AuditRejected,
    authenticate,
    check_request,
    handle_audit_request,
    messages_from_events,
    parse_events,
)
from shared.messages import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s-audit"
NODE = "aci-connector-linux"
NODES = frozenset({NODE})
TOKEN = "s3cret-token"
JSON_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def recorded_create() -> dict[str, Any]:
    return fixture("pod-create.requestresponse.audit-v1beta1.falco-minikube.json")


def event(verb: str, name: str, *, subresource: str = "", code: int = 200, **extra: Any) -> dict[str, Any]:
    """An audit.k8s.io/v1 event at level Metadata, as the apiserver writes one (fields per the Event type)."""
    ref: dict[str, Any] = {"resource": "pods", "namespace": "default", "name": name, "apiVersion": "v1"}
    if subresource:
        ref["subresource"] = subresource
    base: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"id-{verb}-{name}",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/default/pods/{name}" + (f"/{subresource}" if subresource else ""),
        "verb": verb,
        "user": {"username": "system:kube-scheduler"},
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
    }
    base.update(extra)
    return base


def binding(name: str, node: str = NODE, uid: str = "uid-1") -> dict[str, Any]:
    request = {
        "kind": "Binding",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "target": {"kind": "Node", "name": node},
    }
    return event("create", name, subresource="binding", code=201, level="Request", requestObject=request)


def event_list(*events: dict[str, Any]) -> bytes:
    return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": list(events)}).encode()


def ops(events: list[Any]) -> list[tuple[str, str, str | None]]:
    outcome = messages_from_events(events, NODES)
    return [(m.op, m.pod.name if m.pod else "", m.pod.uid if m.pod else None) for m in outcome.messages]


def test_recorded_create_of_an_unscheduled_pod_is_skipped_the_binding_announces_it():
    outcome = messages_from_events([recorded_create()], NODES)
    assert outcome.messages == []
    assert outcome.skipped == {"not scheduled yet": 1}


def test_recorded_create_directly_on_our_node_gives_an_upsert_named_from_the_response():
    created = recorded_create()
    created["responseObject"]["spec"]["nodeName"] = NODE
    [message] = messages_from_events([created], NODES).messages
    assert (message.op, message.source, message.node) == ("upsert", "audit", NODE)
    assert message.pod is not None
    assert (message.pod.namespace, message.pod.name) == ("default", "nginx-deployment-5cdcc99dbf-rgw6z")
    assert message.pod.uid == "8c845395-d85f-11e8-88b6-080027728ac4"
    assert message.resource_version == "237252"
    assert parse_message(message.to_text()) == message


def test_recorded_get_is_not_relayed():
    outcome = messages_from_events(
        [fixture("pod-get-by-kubelet.requestresponse.audit-v1beta1.falco-minikube.json")], NODES
    )
    assert outcome.messages == [] and outcome.skipped == {"verb not relayed": 1}


def test_binding_to_our_node_is_an_upsert_with_the_binding_uid_and_other_nodes_are_skipped():
    assert ops([binding("web", uid="u-web")]) == [("upsert", "web", "u-web")]
    outcome = messages_from_events([binding("elsewhere", node="worker-1")], NODES)
    assert outcome.messages == [] and outcome.skipped == {"not our node": 1}


def test_binding_at_level_metadata_cannot_tell_the_node_and_is_skipped():
    bare = event("create", "web", subresource="binding", code=201)
    outcome = messages_from_events([bare], NODES)
    assert outcome.skipped == {"binding without target (needs level Request)": 1}


def test_delete_is_relayed_even_when_the_level_hides_the_pod_but_not_when_it_is_elsewhere():
    assert ops([event("delete", "web")]) == [("delete", "web", None)]
    assert ops([event("create", "named", code=201)]) == [("upsert", "named", None)]  # level Metadata: a hint
    elsewhere = event("delete", "db", level="RequestResponse", responseObject=_pod("db", node="worker-1"))
    assert ops([elsewhere]) == []
    ours = event("delete", "app", level="RequestResponse", responseObject=_pod("app", node=NODE, deleting=True))
    assert ops([ours]) == [("delete", "app", "uid-app")]


def test_update_or_patch_that_sets_deletion_timestamp_is_a_delete_others_are_not():
    marked = event("update", "web", level="RequestResponse", responseObject=_pod("web", node=NODE, deleting=True))
    json_patch = [{"op": "add", "path": "/metadata/deletionTimestamp", "value": "2026-11-27T10:00:00Z"}]
    patched = event("patch", "api", level="Request", requestObject=json_patch)
    documented = event(
        "patch",
        "job",
        level="Request",
        requestObject=fixture("documented-example.patch-request-body.kubernetes-website.json"),
    )
    plain = event("update", "other", level="RequestResponse", responseObject=_pod("other", node=NODE))
    assert ops([marked, patched, documented, plain]) == [("delete", "web", "uid-web"), ("delete", "api", None)]


def test_only_completed_successful_pod_requests_count():
    events = [
        event("delete", "a", stage="ResponseStarted"),
        event("delete", "b", code=404),
        event("delete", "c", objectRef={"resource": "configmaps", "namespace": "default", "name": "c"}),
        event(
            "delete", "d", objectRef={"resource": "pods", "apiGroup": "metrics.k8s.io", "namespace": "x", "name": "d"}
        ),
        event("update", "e", subresource="ephemeralcontainers"),
        event("update", "f", subresource="status"),
        event("delete", "g", responseStatus={"metadata": {}}),
    ]
    outcome = messages_from_events(events, NODES)
    assert outcome.messages == []
    assert outcome.skipped == {"not ResponseComplete": 1, "request failed": 2, "not a pod": 2, "verb not relayed": 2}


def test_one_message_per_pod_per_batch_the_last_event_wins_and_moves_last():
    events = [binding("web", uid="u1"), binding("api", uid="u2"), event("delete", "web")]
    assert ops(events) == [("upsert", "api", "u2"), ("delete", "web", None)]
    assert messages_from_events(events, NODES).skipped == {"duplicate pod in batch": 1}


def test_malformed_events_are_skipped_and_counted_never_raised():
    weird: list[Any] = [
        None,
        "text",
        42,
        [],
        {},
        {"stage": "ResponseComplete"},
        {"stage": "ResponseComplete", "responseStatus": "ok"},
        {"stage": "ResponseComplete", "responseStatus": {"code": 200}, "objectRef": "pods"},
        event("delete", "", objectRef={"resource": "pods", "namespace": "default"}),
        event("delete", "Bad_Name"),
        binding("web") | {"requestObject": {"kind": "Binding", "target": "aci-connector-linux"}},
        binding("web") | {"requestObject": ["not", "a", "binding"]},
        event("update", "x", responseObject={"kind": "Pod", "metadata": "broken"}),
        event("create", "y", requestObject={"kind": "Pod", "spec": "broken"}),
        event("delete", "ok"),
    ]
    outcome = messages_from_events(weird, NODES)
    assert [m.pod.name for m in outcome.messages if m.pod] == ["ok"]
    assert outcome.events == len(weird)
    assert sum(outcome.skipped.values()) == len(weird) - 1


def test_parse_accepts_v1_and_v1beta1_lists_and_single_events():
    assert len(parse_events(event_list(binding("a"), binding("b")))) == 2
    beta = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1beta1", "items": [recorded_create()]}
    assert len(parse_events(json.dumps(beta).encode())) == 1
    assert len(parse_events(json.dumps(recorded_create()).encode())) == 1
    assert parse_events(b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1"}') == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "JSON list"),
        (b'{"kind": "EventList", "apiVersion": "v1", "items": []}', "apiVersion"),
        (b'{"kind": "PodList", "apiVersion": "audit.k8s.io/v1", "items": []}', "kind"),
        (b'{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": {}}', "items"),
    ],
)
def test_parse_rejects_what_is_not_an_event_list_with_400_and_a_reason(body: bytes, reason: str):
    with pytest.raises(AuditRejected) as caught:
        parse_events(body)
    assert caught.value.status == 400 and reason in caught.value.reason


def test_authentication_needs_the_exact_bearer_token_and_a_configured_one():
    authenticate({"Authorization": f"Bearer {TOKEN}"}, TOKEN)
    authenticate({"authorization": f"bearer {TOKEN}"}, TOKEN)
    for headers in ({}, {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Basic a"}):
        with pytest.raises(AuditRejected) as caught:
            authenticate(headers, TOKEN)
        assert caught.value.status == 401
    with pytest.raises(AuditRejected, match="AUDIT_BEARER_TOKEN"):
        authenticate({"Authorization": "Bearer "}, "")


@pytest.mark.parametrize(
    ("method", "headers", "size", "status"),
    [
        ("GET", {"Content-Type": "application/json"}, 10, 405),
        ("POST", {"Content-Type": "text/plain"}, 10, 415),
        ("POST", {}, 10, 415),
        ("POST", {"Content-Type": "application/json"}, 2049, 413),
        ("POST", {"Content-Type": "application/json", "Content-Length": "999999"}, 10, 413),
    ],
)
def test_request_checks(method: str, headers: dict[str, str], size: int, status: int):
    with pytest.raises(AuditRejected) as caught:
        check_request(method, headers, b"x" * size, 2048)
    assert caught.value.status == status


def test_whole_call_answers_with_counts_and_message_texts():
    body = event_list(binding("web", uid="u1"), recorded_create(), event("get", "x"))
    response = handle_audit_request("POST", JSON_HEADERS, body, token=TOKEN, nodes=NODES, max_bytes=1 << 20)
    assert response.status == 200
    assert response.body == {
        "events": 3,
        "enqueued": 1,
        "skipped": {"not scheduled yet": 1, "verb not relayed": 1},
    }
    [text] = response.texts
    assert parse_message(text).op == "upsert"


def test_whole_call_refusals_carry_a_reason_and_no_messages():
    unauthenticated = handle_audit_request("POST", {}, b"{}", token=TOKEN, nodes=NODES, max_bytes=100)
    assert unauthenticated.status == 401 and unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
    invalid = handle_audit_request("POST", JSON_HEADERS, b"nope", token=TOKEN, nodes=NODES, max_bytes=100)
    assert invalid.status == 400 and "not JSON" in invalid.body["error"] and invalid.texts == []


def _pod(name: str, *, node: str | None, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "7"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-27T10:00:00Z"
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return copy.deepcopy({"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec})


def test_eviction_is_relayed_as_a_delete_and_deletecollection_is_skipped():
    from shared.intake.audit import message_from_event

    nodes = frozenset({"aci-connector-linux"})
    eviction = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "stage": "ResponseComplete",
        "verb": "create",
        "objectRef": {
            "resource": "pods",
            "namespace": "default",
            "name": "web",
            "apiVersion": "v1",
            "subresource": "eviction",
        },
        "responseStatus": {"metadata": {}, "code": 201},
    }
    message, reason = message_from_event(eviction, nodes)
    assert reason == ""
    assert (message.op, message.pod.namespace, message.pod.name) == ("delete", "default", "web")
    collection = dict(eviction, verb="deletecollection", objectRef={"resource": "pods", "namespace": "default"})
    assert message_from_event(collection, nodes)[0] is None
