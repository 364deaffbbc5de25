"""The Event Grid function on real Azurite, and the worker's sync path on the fakes.

Events reach the function as the Python worker builds them: the wire JSON of one event goes
through azure.functions' own EventGridEventInConverter, which yields func.EventGridEvent for the
Event Grid schema and func.CloudEvent for the CloudEvents schema.
"""

from __future__ import annotations

import json

import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from functions.arm_events import arm_events
from shared.config import reset_settings_cache
from shared.messages import Message, PodRef, parse_message
from shared.naming import container_group_name
from shared.worker import process_message
from tests.eventgrid_samples import FIXTURE_NAMES, RESOURCE_GROUP, SUBSCRIPTION, aci_variant, load
from tests.fakes.connector_fixtures import make_pod


def _deliver(event: object) -> None:
    """Invoke the function the way the host and worker would for one delivered event."""
    datum = meta.Datum(json.dumps(event), "json")
    arm_events(EventGridEventInConverter.decode(datum, trigger_metadata={}))


@pytest.fixture
def eventgrid_env(monkeypatch, queue_store):
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("ACI_RESOURCE_GROUP", RESOURCE_GROUP)
    reset_settings_cache()
    yield queue_store
    reset_settings_cache()


def _queued(store) -> list[dict]:
    return [json.loads(m.text) for m in store.peek(limit=32)]


def test_fixtures_in_both_schemas_queue_sync_messages_and_the_rest_nothing(eventgrid_env):
    groups = []
    for index, fixture in enumerate(FIXTURE_NAMES):
        group = f"default-pod{index}-0123456789"
        groups.append(group)
        _deliver(aci_variant(load(fixture), group))
    failure = aci_variant(
        load("resource-write-success.cloudevents-schema.json"),
        "failed-one",
        event_type="Microsoft.Resources.ResourceWriteFailure",
    )
    _deliver(failure)
    groups.append("failed-one")
    # unrelated: the documented events themselves (storage, event hubs), and an event type we do not handle
    for fixture in FIXTURE_NAMES:
        _deliver(load(fixture))
    _deliver({**aci_variant(load(FIXTURE_NAMES[0]), "x"), "type": "Microsoft.Storage.BlobCreated"})
    # malformed: logged and skipped, never raised
    _deliver({"specversion": "1.0", "id": "1", "source": "/s"})
    _deliver(
        {
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "subject": "/subscriptions/x/resourceGroups/y"
            "/providers/Microsoft.ContainerInstance/containerGroups/Bad_Name",
        }
    )

    queued = _queued(eventgrid_env)
    assert [m["group"] for m in queued] == groups
    for message in queued:
        assert (message["v"], message["op"], message["source"]) == (1, "sync", "eventgrid")
        assert parse_message(json.dumps(message)).pod is None


def test_cloud_events_arrive_as_func_cloud_event():
    decoded = EventGridEventInConverter.decode(
        meta.Datum(json.dumps(load("resource-write-success.cloudevents-schema.json")), "json"), trigger_metadata={}
    )
    assert type(decoded).__name__ == "CloudEvent"
    assert decoded.type == "Microsoft.Resources.ResourceWriteSuccess"


def test_a_storage_outage_fails_the_invocation_so_event_grid_retries(eventgrid_env, monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("storage down")

    monkeypatch.setattr(eventgrid_env, "send", down)
    with pytest.raises(ConnectionError):
        _deliver(aci_variant(load(FIXTURE_NAMES[0]), "g1"))


def _sync_text(group: str) -> str:
    return Message(op="sync", pod=None, source="eventgrid", group=group).to_text()


def _upsert(pod: dict, context) -> str:
    meta_ = pod["metadata"]
    text = Message(op="upsert", pod=PodRef("default", meta_["name"], meta_["uid"]), source="watch").to_text()
    outcome = process_message(text, context=context)
    assert outcome.action == "created"
    return outcome.group or ""


def test_a_sync_message_refreshes_exactly_that_group(kube_api, arm, worker_context):
    first = kube_api.create(make_pod("first"))
    second = kube_api.create(make_pod("second"))
    group_a, group_b = _upsert(first, worker_context), _upsert(second, worker_context)
    assert group_a == container_group_name(first)
    arm.make_ready(group_a)
    arm.make_ready(group_b)
    before_b = kube_api.get("pods", "default", "second")
    assert kube_api.get("pods", "default", "first")["status"]["phase"] == "Pending"
    arm.counts.clear()
    kube_api.request_counts.clear()

    outcome = process_message(_sync_text(group_a), context=worker_context)

    assert (outcome.action, outcome.group) == ("synced", group_a)
    assert kube_api.get("pods", "default", "first")["status"]["phase"] == "Running"
    after_b = kube_api.get("pods", "default", "second")
    assert after_b["metadata"]["resourceVersion"] == before_b["metadata"]["resourceVersion"]
    assert after_b["status"]["phase"] == "Pending"
    assert arm.counts["get"] == 1 and arm.counts["list"] == 0
    patches = {key: n for key, n in kube_api.request_counts.items() if key[0] == "PATCH"}
    assert patches == {("PATCH", "pods/status"): 1}
    again = process_message(_sync_text(group_a), context=worker_context)
    assert again.action == "unchanged"


def test_sync_for_unknown_foreign_or_gone_groups_changes_nothing(kube_api, arm, worker_context):
    assert process_message(_sync_text("no-such-group"), context=worker_context).action == "skipped"
    pod = kube_api.create(make_pod("gone"))
    group = _upsert(pod, worker_context)
    kube_api.delete("pods", "default", "gone", grace_period_seconds=0)
    kube_api.request_counts.clear()
    outcome = process_message(_sync_text(group), context=worker_context)
    assert outcome.action == "skipped"
    assert not [key for key in kube_api.request_counts if key[0] == "PATCH"]
