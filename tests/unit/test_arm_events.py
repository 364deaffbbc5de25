"""Resource-group events in both schemas: container-group changes become sync hints, everything else is ignored."""

from __future__ import annotations

import json

import pytest

from shared.intake.arm_events import HANDLED_KINDS, MalformedEvent, decide, event_as_dict
from shared.messages import parse_message
from tests.eventgrid_samples import FIXTURE_NAMES, RESOURCE_GROUP, SUBSCRIPTION, aci_variant, load

OURS = {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP}


def test_there_are_fixtures_in_both_schemas():
    assert len([n for n in FIXTURE_NAMES if "cloudevents" in n]) == 3
    assert len([n for n in FIXTURE_NAMES if "eventgrid-schema" in n]) == 3


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_container_group_events_become_one_sync_message(fixture):
    decision = decide(aci_variant(load(fixture), "default-web-0123456789"), **OURS)
    assert decision.message is not None
    wire = json.loads(decision.message.to_text())
    assert {k: wire[k] for k in ("v", "op", "source", "group")} == {
        "v": 1,
        "op": "sync",
        "source": "eventgrid",
        "group": "default-web-0123456789",
    }
    assert "pod" not in wire
    assert parse_message(decision.message.to_text()).group == "default-web-0123456789"


@pytest.mark.parametrize("kind", sorted(HANDLED_KINDS))
@pytest.mark.parametrize("schema", ["cloudevents-schema", "eventgrid-schema"])
def test_every_success_failure_and_cancel_kind_is_handled(kind, schema):
    base = load(f"resource-write-success.{schema}.json")
    decision = decide(aci_variant(base, "g1", event_type=f"Microsoft.Resources.{kind}"), **OURS)
    assert decision.group == "g1" and decision.message is not None


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_the_documented_events_about_other_resources_are_ignored(fixture):
    decision = decide(load(fixture), **OURS)
    assert decision.message is None
    assert "not a container group" in decision.reason


def test_other_event_types_resource_groups_and_subscriptions_are_ignored():
    event = aci_variant(load("resource-write-success.eventgrid-schema.json"), "g1")
    for changed, reason in (
        ({"eventType": "Microsoft.Storage.BlobCreated"}, "not a resource change"),
        ({"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent"}, "not a resource change"),
        ({"eventType": "Microsoft.Resources.ResourceWriteSucceeded"}, "not a resource change"),
        ({"subject": event["subject"].replace(RESOURCE_GROUP, "other-rg")}, "resource group other-rg"),
        ({"subject": event["subject"].replace(SUBSCRIPTION, "11111111-1111-1111-1111-111111111111")}, "subscription"),
    ):
        other = {**event, **changed}
        if "subject" in changed:
            other["data"] = {**event["data"], "resourceUri": changed["subject"]}
        decision = decide(other, **OURS)
        assert decision.message is None and reason in decision.reason, (changed, decision)


def test_sub_resources_of_a_group_name_the_group_and_the_resource_uri_is_a_fallback():
    event = aci_variant(load("resource-action-success.cloudevents-schema.json"), "g1")
    event["subject"] += "/containers/main"
    assert decide(event, **OURS).group == "g1"
    event["subject"] = ""
    assert decide(event, **OURS).group == "g1"


def test_case_of_the_arm_path_does_not_matter():
    event = aci_variant(load("resource-write-success.eventgrid-schema.json"), "g1")
    assert "/resourcegroups/" in event["subject"]  # as recorded: ARM lower-cases it in write events
    event["subject"] = event["subject"].replace(
        "Microsoft.ContainerInstance/containerGroups", "microsoft.containerinstance/containergroups"
    )
    assert decide(event, **OURS).group == "g1"


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "text",
        {},
        {"id": "1", "data": {}},
        {"specversion": "1.0", "id": "1", "subject": "/x"},
        {"specversion": "0.3", "type": "Microsoft.Resources.ResourceWriteSuccess"},
        {"eventType": 42},
        {"eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": ["x"]},
        {"eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": "/s", "data": "not an object"},
        {
            "eventType": "Microsoft.Resources.ResourceWriteSuccess",
            "subject": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
            "/providers/Microsoft.ContainerInstance/containerGroups/Not_A_Name",
        },
    ],
)
def test_malformed_events_raise_malformed_event(raw):
    with pytest.raises(MalformedEvent):
        decide(raw, **OURS)


def test_event_as_dict_reads_the_functions_worker_objects():
    import azure.functions as func

    cloud = func.CloudEvent(id="1", source="/s", type="T", specversion="1.0", subject="/x", data={"a": 1})
    grid = func.EventGridEvent(
        id="2", data={"b": 2}, topic="/t", subject="/y", event_type="E", event_time=None, data_version="2"
    )
    assert event_as_dict(cloud) == {
        "specversion": "1.0",
        "id": "1",
        "source": "/s",
        "type": "T",
        "subject": "/x",
        "data": {"a": 1},
    }
    assert event_as_dict(grid)["eventType"] == "E" and event_as_dict(grid)["data"] == {"b": 2}
    with pytest.raises(MalformedEvent):
        event_as_dict(42)
