"""PodStatus from Regular-SKU answers, which carry no container `events` key (recorded): every reason comes
from instance-view state, provisioningState and restart counts, never from an event ACI does not send."""

from __future__ import annotations

import copy

from shared.status import pod_status_from_container_group
from tests.unit.test_status_helpers import NOW, aci, pod_for_running_group, set_group_state, set_state

NAME = "containergrp2816"


def regular() -> dict:
    group = aci("get-running-with-instanceview.json")
    assert group["properties"]["sku"] == "Standard" and "priority" not in group["properties"]
    for item in group["properties"]["containers"] + group["properties"]["initContainers"]:
        assert "events" not in item["properties"]["instanceView"]  # the recorded Regular reality
    return group


def status_of(group: dict) -> dict:
    return pod_status_from_container_group(group, pod_for_running_group(), now=NOW)


def only(status: dict) -> dict:
    return status["containerStatuses"][0]


def test_running_without_events():
    status = status_of(regular())
    assert status["phase"] == "Running"
    assert only(status)["state"]["running"] and only(status)["restartCount"] == 0


def test_creating_is_container_creating_without_events():
    group = regular()
    group["properties"]["provisioningState"] = "Creating"
    group = set_group_state(group, "Pending")
    group = set_state(group, NAME, {"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": ""}})
    status = status_of(group)
    assert status["phase"] == "Pending"
    assert only(status)["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_failed_provisioning_of_a_waiting_container_says_so_from_provisioning_state():
    """A Regular group whose image cannot be pulled: Waiting, provisioningState Failed, and no events."""
    group = regular()
    group["properties"]["provisioningState"] = "Failed"
    group = set_group_state(group, "Pending")
    group = set_state(group, NAME, {"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": ""}})
    status = status_of(group)
    assert status["phase"] == "Pending"
    assert only(status)["state"] == {
        "waiting": {"reason": "ContainerGroupFailed", "message": "ACI container group provisioningState is Failed"}
    }


def test_pull_failure_named_in_detail_status_without_events():
    group = regular()
    group["properties"]["provisioningState"] = "Failed"
    view = {"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": "ErrImagePull"}}
    status = status_of(set_state(group, NAME, view))
    assert only(status)["state"]["waiting"]["reason"] == "ErrImagePull"


def test_exit_restart_and_failure_from_state_alone():
    group = regular()
    group["properties"]["restartPolicy"] = "Always"
    restarted = {
        "restartCount": 3,
        "currentState": {"state": "Running", "startTime": "2023-04-26T08:20:00.000Z", "detailStatus": ""},
        "previousState": {
            "state": "Terminated",
            "startTime": "2023-04-26T08:15:00.000Z",
            "exitCode": 2,
            "finishTime": "2023-04-26T08:19:59.000Z",
            "detailStatus": "Error",
        },
    }
    status = status_of(set_state(group, NAME, restarted))
    assert status["phase"] == "Running" and only(status)["restartCount"] == 3
    assert only(status)["lastState"]["terminated"]["exitCode"] == 2

    never = copy.deepcopy(group)
    never["properties"]["restartPolicy"] = "Never"
    ended = {
        "restartCount": 0,
        "currentState": {
            "state": "Terminated",
            "startTime": "2023-04-26T08:12:27.694Z",
            "exitCode": 1,
            "finishTime": "2023-04-26T08:20:00.000Z",
            "detailStatus": "Error",
        },
    }
    status = status_of(set_group_state(set_state(never, NAME, ended), "Failed"))
    assert status["phase"] == "Failed"
    assert only(status)["state"]["terminated"]["exitCode"] == 1
    assert only(status)["state"]["terminated"]["reason"] == "Error"
