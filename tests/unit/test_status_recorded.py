"""PodStatus from the recorded real ARM bodies, each with a matching pod: exact expected objects."""

from __future__ import annotations

import copy

from shared.status import pod_status_from_container_group, status_differs
from tests.unit.test_status_helpers import (
    NOW,
    NOW_TEXT,
    aci,
    listed,
    pod_for_py_group,
    pod_for_running_group,
    renamed,
    set_group_state,
    set_state,
    with_status,
)

RUNNING_CID = "aci://containergrp2816/containergrp2816"
INIT_CID = "aci://containergrp2816/containergrp2816init"

EXPECTED_RUNNING = {
    "phase": "Running",
    "qosClass": "Burstable",
    "startTime": "2023-04-26T08:12:20Z",
    "conditions": [
        {"type": "Initialized", "status": "True", "lastTransitionTime": "2023-04-26T08:12:26Z"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "2023-04-26T08:12:27Z"},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2023-04-26T08:12:27Z"},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2023-04-26T08:12:20Z"},
    ],
    "podIP": "23.99.93.192",
    "podIPs": [{"ip": "23.99.93.192"}],
    "hostIP": "23.99.93.192",
    "hostIPs": [{"ip": "23.99.93.192"}],
    "initContainerStatuses": [
        {
            "name": "containergrp2816init",
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "containerID": INIT_CID,
                    "startedAt": "2023-04-26T08:12:20Z",
                    "finishedAt": "2023-04-26T08:12:26Z",
                }
            },
            "lastState": {},
            "ready": True,
            "started": False,
            "restartCount": 0,
            "image": "alpine",
            "imageID": "",
            "containerID": INIT_CID,
        }
    ],
    "containerStatuses": [
        {
            "name": "containergrp2816",
            "state": {"running": {"startedAt": "2023-04-26T08:12:27Z"}},
            "lastState": {},
            "ready": True,
            "started": True,
            "restartCount": 0,
            "image": "alpine",
            "imageID": "",
            "containerID": RUNNING_CID,
        }
    ],
}


def test_get_running_with_instanceview_is_running_with_aci_times():
    status = pod_status_from_container_group(
        aci("get-running-with-instanceview.json"), pod_for_running_group(), now=NOW
    )
    assert status == EXPECTED_RUNNING


def test_same_inputs_give_equal_dicts_and_a_stored_status_is_a_fixed_point():
    group, pod = aci("get-running-with-instanceview.json"), pod_for_running_group()
    first = pod_status_from_container_group(group, pod, now=NOW)
    assert first == pod_status_from_container_group(copy.deepcopy(group), copy.deepcopy(pod), now=NOW)
    later = NOW.replace(hour=23)
    again = pod_status_from_container_group(group, with_status(pod, first), now=later)
    assert again == first
    assert not status_differs(first, again)


def test_delete_body_is_the_running_group_it_deleted():
    pod = pod_for_running_group()
    body = renamed(
        aci("delete-200-with-body.json"),
        {"containergrp1358": "containergrp2816", "containergrp1358init": "containergrp2816init"},
    )
    status = pod_status_from_container_group(body, pod, now=NOW)
    cid = "aci://containergrp1358/containergrp2816"
    assert status["phase"] == "Running"
    assert status["podIP"] == "20.245.19.67"
    assert status["startTime"] == "2023-04-26T08:10:57Z"
    assert status["containerStatuses"] == [
        {
            "name": "containergrp2816",
            "state": {"running": {"startedAt": "2023-04-26T08:11:07Z"}},
            "lastState": {},
            "ready": True,
            "started": True,
            "restartCount": 0,
            "image": "alpine",
            "imageID": "",
            "containerID": cid,
        }
    ]


EXPECTED_CREATING = {
    "phase": "Pending",
    "qosClass": "Burstable",
    "startTime": NOW_TEXT,
    "conditions": [
        {
            "type": "Initialized",
            "status": "False",
            "lastTransitionTime": NOW_TEXT,
            "reason": "ContainersNotInitialized",
            "message": "containers with incomplete status: [containergrp2816init]",
        },
        {
            "type": "Ready",
            "status": "False",
            "lastTransitionTime": NOW_TEXT,
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [containergrp2816]",
        },
        {
            "type": "ContainersReady",
            "status": "False",
            "lastTransitionTime": NOW_TEXT,
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [containergrp2816]",
        },
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW_TEXT},
    ],
    "initContainerStatuses": [
        {
            "name": "containergrp2816init",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "image": "alpine",
            "imageID": "",
        }
    ],
    "containerStatuses": [
        {
            "name": "containergrp2816",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "image": "alpine",
            "imageID": "",
        }
    ],
}


def test_put_201_creating_is_pending_container_creating_without_ip():
    body = renamed(
        aci("put-201-creating.json"),
        {"containergrp925": "containergrp2816", "containergrp925init": "containergrp2816init"},
    )
    assert body["properties"]["provisioningState"] == "Pending"
    status = pod_status_from_container_group(body, pod_for_running_group(), now=NOW)
    assert status == EXPECTED_CREATING  # the recorded PUT has an fqdn but no ip yet: no podIP


def test_list_body_without_instanceview_never_claims_running():
    body = renamed(
        listed("list-by-resource-group.json", 0),
        {"containergrp2486": "containergrp2816", "containergrp2486init": "containergrp2816init"},
    )
    assert body["properties"]["provisioningState"] == "Succeeded"
    status = pod_status_from_container_group(body, pod_for_running_group(), now=NOW)
    ip = "13.91.107.169"
    assert status == {**EXPECTED_CREATING, "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": ip, "hostIPs": [{"ip": ip}]}


def test_list_body_of_spot_group_without_ip_has_no_pod_ip():
    body = renamed(
        listed("list-by-resource-group.json", 1),
        {"containergrp3366": "containergrp2816", "containergrp3366init": "containergrp2816init"},
    )
    status = pod_status_from_container_group(body, pod_for_running_group(), now=NOW)
    assert status == EXPECTED_CREATING


def test_list_body_keeps_what_an_earlier_get_observed():
    pod = pod_for_running_group()
    observed = pod_status_from_container_group(aci("get-running-with-instanceview.json"), pod, now=NOW)
    body = listed("list-by-resource-group.json", 0)
    body = renamed(body, {"containergrp2486": "containergrp2816", "containergrp2486init": "containergrp2816init"})
    body["name"] = "containergrp2816"
    body["properties"]["ipAddress"]["ip"] = "23.99.93.192"
    status = pod_status_from_container_group(body, with_status(pod, observed), now=NOW.replace(hour=9))
    assert status == observed
    assert not status_differs(observed, status)


EXPECTED_PY_PENDING = {
    "phase": "Pending",
    "qosClass": "Burstable",
    "startTime": NOW_TEXT,
    "conditions": [
        {"type": "Initialized", "status": "True", "lastTransitionTime": NOW_TEXT},
        {
            "type": "Ready",
            "status": "False",
            "lastTransitionTime": NOW_TEXT,
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [pycontainer26441510]",
        },
        {
            "type": "ContainersReady",
            "status": "False",
            "lastTransitionTime": NOW_TEXT,
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [pycontainer26441510]",
        },
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW_TEXT},
    ],
    "containerStatuses": [
        {
            "name": "pycontainer26441510",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "image": "alpine:latest",
            "imageID": "",
        }
    ],
}


def test_py_put_201_pending():
    status = pod_status_from_container_group(aci("py-put-201-pending.json"), pod_for_py_group(), now=NOW)
    assert status == EXPECTED_PY_PENDING


def test_py_list_body_is_pending_container_creating():
    status = pod_status_from_container_group(listed("py-list-by-resource-group.json"), pod_for_py_group(), now=NOW)
    assert status == EXPECTED_PY_PENDING


PY_CID = "aci://pycontainer26441510/pycontainer26441510"


def test_pending_running_succeeded_sequence_with_exact_statuses():
    """py-put-201-pending -> (same group, container Running) -> py-get-succeeded, patch fed back each time."""
    pod = pod_for_py_group("OnFailure")
    t0 = NOW.replace(year=2021, month=3, day=15, hour=7, minute=11, second=30)
    t0_text = "2021-03-15T07:11:30Z"
    pending = pod_status_from_container_group(aci("py-put-201-pending.json"), pod, now=t0)
    assert pending == {
        **EXPECTED_PY_PENDING,
        "startTime": t0_text,
        "conditions": [{**c, "lastTransitionTime": t0_text} for c in EXPECTED_PY_PENDING["conditions"]],
    }
    pod = with_status(pod, pending)

    succeeded_body = aci("py-get-succeeded-container-terminated-exit0.json")
    running_body = set_group_state(
        set_state(
            succeeded_body,
            "pycontainer26441510",
            {
                "restartCount": 0,
                "currentState": {"state": "Running", "startTime": "2021-03-15T07:11:38Z", "detailStatus": ""},
                "events": succeeded_body["properties"]["containers"][0]["properties"]["instanceView"]["events"],
            },
        ),
        "Running",
    )
    running = pod_status_from_container_group(running_body, pod, now=t0.replace(minute=12))
    assert running == {
        "phase": "Running",
        "qosClass": "Burstable",
        "startTime": t0_text,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": t0_text},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2021-03-15T07:11:38Z"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2021-03-15T07:11:38Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t0_text},
        ],
        "containerStatuses": [
            {
                "name": "pycontainer26441510",
                "state": {"running": {"startedAt": "2021-03-15T07:11:38Z"}},
                "lastState": {},
                "ready": True,
                "started": True,
                "restartCount": 0,
                "image": "alpine:latest",
                "imageID": "",
                "containerID": PY_CID,
            }
        ],
    }
    assert status_differs(pending, running)
    pod = with_status(pod, running)
    assert not status_differs(running, pod_status_from_container_group(running_body, pod, now=t0.replace(minute=13)))

    succeeded = pod_status_from_container_group(succeeded_body, pod, now=t0.replace(minute=14))
    assert succeeded == {
        "phase": "Succeeded",
        "qosClass": "Burstable",
        "startTime": t0_text,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": t0_text, "reason": "PodCompleted"},
            {
                "type": "Ready",
                "status": "False",
                "lastTransitionTime": "2021-03-15T07:11:38Z",
                "reason": "PodCompleted",
            },
            {
                "type": "ContainersReady",
                "status": "False",
                "lastTransitionTime": "2021-03-15T07:11:38Z",
                "reason": "PodCompleted",
            },
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t0_text},
        ],
        "containerStatuses": [
            {
                "name": "pycontainer26441510",
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "containerID": PY_CID,
                        "startedAt": "2021-03-15T07:11:38Z",
                        "finishedAt": "2021-03-15T07:11:38Z",
                    }
                },
                "lastState": {},
                "ready": False,
                "started": False,
                "restartCount": 0,
                "image": "alpine:latest",
                "imageID": "",
                "containerID": PY_CID,
            }
        ],
    }
    # Terminal is final: even a body that says Running again cannot move the pod back.
    pod = with_status(pod, succeeded)
    assert pod_status_from_container_group(running_body, pod, now=NOW) == succeeded


def test_py_get_succeeded_from_a_fresh_pod_uses_aci_times():
    status = pod_status_from_container_group(
        aci("py-get-succeeded-container-terminated-exit0.json"), pod_for_py_group(), now=NOW
    )
    assert status["phase"] == "Succeeded"
    assert status["startTime"] == "2021-03-15T07:11:38Z"
    assert {c["type"]: c["lastTransitionTime"] for c in status["conditions"]} == {
        "Initialized": "2021-03-15T07:11:38Z",
        "Ready": "2021-03-15T07:11:38Z",
        "ContainersReady": "2021-03-15T07:11:38Z",
        "PodScheduled": "2021-03-15T07:11:38Z",
    }
