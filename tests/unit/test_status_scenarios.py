"""PodStatus for ACI situations no public recording shows, hand-built from the recorded bodies.

Each body is a recorded one with only the instanceView edited; the shapes (field
names, state names, event texts) follow the ARM schema and the ACI troubleshooting
docs' `az container show` output.
"""

from __future__ import annotations

import copy

from shared.status import pod_status_for_missing_group, pod_status_from_container_group, status_differs
from shared.status.pod import LOST_CONTAINER_MESSAGE
from tests.unit.test_status_helpers import (
    NOW,
    NOW_TEXT,
    aci,
    container,
    make_pod,
    pod_for_py_group,
    pod_for_running_group,
    set_group_state,
    set_state,
    with_status,
)

PY = "pycontainer26441510"
PY_CID = f"aci://{PY}/{PY}"
IMAGE = "alpine:latest"


def py_body(view: dict, group_state: str = "Running", provisioning: str = "Succeeded", events=None) -> dict:
    body = set_group_state(set_state(aci("py-get-succeeded-container-terminated-exit0.json"), PY, view), group_state)
    body["properties"]["provisioningState"] = provisioning
    if events is not None:
        body["properties"]["instanceView"]["events"] = events
    return body


def running(start: str = "2021-03-15T07:20:00Z") -> dict:
    return {"state": "Running", "startTime": start, "detailStatus": ""}


def terminated(exit_code: int, start: str, finish: str, detail: str = "") -> dict:
    return {
        "state": "Terminated",
        "startTime": start,
        "finishTime": finish,
        "exitCode": exit_code,
        "detailStatus": detail,
    }


def only_container(status: dict) -> dict:
    [one] = status["containerStatuses"]
    return one


def test_restarted_container_shows_restart_count_and_last_state():
    view = {
        "restartCount": 2,
        "currentState": running("2021-03-15T07:20:00.123Z"),
        "previousState": terminated(1, "2021-03-15T07:15:00Z", "2021-03-15T07:19:58Z", "Error"),
    }
    status = pod_status_from_container_group(py_body(view), pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Running"
    assert only_container(status) == {
        "name": PY,
        "state": {"running": {"startedAt": "2021-03-15T07:20:00Z"}},
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "containerID": PY_CID,
                "startedAt": "2021-03-15T07:15:00Z",
                "finishedAt": "2021-03-15T07:19:58Z",
            }
        },
        "ready": True,
        "started": True,
        "restartCount": 2,
        "image": IMAGE,
        "imageID": "",
        "containerID": PY_CID,
    }


PULL_EVENTS_FIRST = [
    {
        "count": 1,
        "firstTimestamp": "2017-12-21T22:56:19+00:00",
        "lastTimestamp": "2017-12-21T22:56:19+00:00",
        "message": 'pulling image "alpine:latest"',
        "name": "Pulling",
        "type": "Normal",
    },
    {
        "count": 1,
        "firstTimestamp": "2017-12-21T22:56:19+00:00",
        "lastTimestamp": "2017-12-21T22:56:19+00:00",
        "message": 'Failed to pull image "alpine:latest": rpc error: code 2 desc Error: image alpine:latest not found',
        "name": "Failed",
        "type": "Warning",
    },
]
PULL_EVENTS_REPEATED = [
    {**PULL_EVENTS_FIRST[0], "count": 3, "lastTimestamp": "2017-12-21T22:57:00+00:00"},
    {**PULL_EVENTS_FIRST[1], "count": 3, "lastTimestamp": "2017-12-21T22:57:00+00:00"},
    {
        "count": 3,
        "firstTimestamp": "2017-12-21T22:56:20+00:00",
        "lastTimestamp": "2017-12-21T22:57:16+00:00",
        "message": 'Back-off pulling image "alpine:latest"',
        "name": "BackOff",
        "type": "Normal",
    },
]
WAITING = {"state": "Waiting", "detailStatus": ""}


def test_image_pull_failure_first_is_err_image_pull_then_image_pull_backoff():
    pod = pod_for_py_group("Never")
    first = pod_status_from_container_group(
        py_body({"restartCount": 0, "currentState": WAITING, "events": PULL_EVENTS_FIRST}, "Pending"), pod, now=NOW
    )
    assert first["phase"] == "Pending"
    assert only_container(first)["state"] == {
        "waiting": {"reason": "ErrImagePull", "message": PULL_EVENTS_FIRST[1]["message"]}
    }
    assert "containerID" not in only_container(first)

    repeated = pod_status_from_container_group(
        py_body({"restartCount": 0, "currentState": WAITING, "events": PULL_EVENTS_REPEATED}, "Pending"),
        with_status(pod, first),
        now=NOW,
    )
    assert only_container(repeated)["state"] == {
        "waiting": {"reason": "ImagePullBackOff", "message": PULL_EVENTS_FIRST[1]["message"]}
    }
    assert status_differs(first, repeated)
    assert repeated["conditions"] == first["conditions"]  # nothing transitioned


def test_provisioning_failed_with_image_pull_failure_in_group_events_is_pending_not_running():
    """ACI gave up (provisioningState Failed); the container never ran: Kubernetes sees ImagePullBackOff."""
    body = py_body({"restartCount": 0, "currentState": WAITING}, "Failed", "Failed", events=PULL_EVENTS_REPEATED)
    status = pod_status_from_container_group(body, pod_for_py_group("Never"), now=NOW)
    assert status["phase"] == "Pending"
    assert only_container(status)["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert only_container(status)["ready"] is False


def test_provisioning_failed_does_not_mean_stopped():
    body = py_body({"restartCount": 0, "currentState": running()}, "Running", "Failed")
    status = pod_status_from_container_group(body, pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Running"
    assert only_container(status)["ready"] is True


def test_a_later_successful_pull_makes_old_failures_history():
    events = [
        *PULL_EVENTS_FIRST,
        {
            "count": 1,
            "firstTimestamp": "2017-12-21T22:58:00+00:00",
            "lastTimestamp": "2017-12-21T22:58:00+00:00",
            "message": 'Successfully pulled image "alpine:latest"',
            "name": "Pulled",
            "type": "Normal",
        },
    ]
    body = py_body({"restartCount": 0, "currentState": WAITING, "events": events}, "Pending")
    status = pod_status_from_container_group(body, pod_for_py_group("Never"), now=NOW)
    assert only_container(status)["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_exit_1_under_never_is_failed_with_error_and_detail_message():
    view = {"restartCount": 0, "currentState": terminated(1, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z", "Error")}
    status = pod_status_from_container_group(py_body(view, "Failed"), pod_for_py_group("Never"), now=NOW)
    assert status["phase"] == "Failed"
    assert only_container(status)["state"] == {
        "terminated": {
            "exitCode": 1,
            "reason": "Error",
            "containerID": PY_CID,
            "startedAt": "2021-03-15T07:11:38Z",
            "finishedAt": "2021-03-15T07:11:40Z",
        }
    }
    assert status["conditions"][1:3] == [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2021-03-15T07:11:40Z", "reason": "PodFailed"},
        {
            "type": "ContainersReady",
            "status": "False",
            "lastTransitionTime": "2021-03-15T07:11:40Z",
            "reason": "PodFailed",
        },
    ]


def test_exit_1_under_never_while_group_still_running_is_already_failed():
    view = {"restartCount": 0, "currentState": terminated(3, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z", "oom")}
    status = pod_status_from_container_group(py_body(view, "Running"), pod_for_py_group("Never"), now=NOW)
    assert status["phase"] == "Failed"
    assert only_container(status)["state"]["terminated"]["message"] == "oom"


def test_on_failure_exit_1_is_restarting_not_failed():
    view = {"restartCount": 1, "currentState": terminated(1, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z")}
    status = pod_status_from_container_group(py_body(view, "Running"), pod_for_py_group("OnFailure"), now=NOW)
    assert status["phase"] == "Running"
    assert only_container(status) == {
        "name": PY,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "containerID": PY_CID,
                "startedAt": "2021-03-15T07:11:38Z",
                "finishedAt": "2021-03-15T07:11:40Z",
            }
        },
        "ready": False,
        "started": False,
        "restartCount": 1,
        "image": IMAGE,
        "imageID": "",
        "containerID": PY_CID,
    }
    ready = status["conditions"][1]
    assert ready == {
        "type": "Ready",
        "status": "False",
        "lastTransitionTime": "2021-03-15T07:11:40Z",
        "reason": "ContainersNotReady",
        "message": f"containers with unready status: [{PY}]",
    }


def test_on_failure_all_exit_0_is_succeeded():
    view = {"restartCount": 0, "currentState": terminated(0, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z")}
    status = pod_status_from_container_group(py_body(view, "Running"), pod_for_py_group("OnFailure"), now=NOW)
    assert status["phase"] == "Succeeded"


def test_always_with_terminated_container_stays_running_and_never_succeeds():
    view = {
        "restartCount": 0,
        "currentState": terminated(0, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z", "Completed"),
    }
    status = pod_status_from_container_group(py_body(view, "Running"), pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Running"
    assert only_container(status)["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert only_container(status)["lastState"]["terminated"]["reason"] == "Completed"


def test_always_waiting_after_restart_uses_acis_back_off_text():
    view = {
        "restartCount": 4,
        "currentState": {"state": "Waiting", "detailStatus": "CrashLoopBackOff: Back-off restarting failed"},
        "previousState": terminated(2, "2021-03-15T07:11:38Z", "2021-03-15T07:11:40Z", "Error"),
    }
    status = pod_status_from_container_group(py_body(view, "Running"), pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Running"
    assert only_container(status)["state"] == {
        "waiting": {"reason": "CrashLoopBackOff", "message": "CrashLoopBackOff: Back-off restarting failed"}
    }


def test_group_stopped_under_always_is_failed_with_reason():
    view = {
        "restartCount": 0,
        "currentState": terminated(143, "2021-03-15T07:11:38Z", "2021-03-15T07:30:00Z", "Killed"),
    }
    status = pod_status_from_container_group(py_body(view, "Stopped"), pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Failed"
    assert status["reason"] == "ContainerGroupStopped"
    assert only_container(status)["state"]["terminated"]["exitCode"] == 143


def running_group_with_init(init_view: dict, main_view: dict | None, group_state: str) -> dict:
    body = set_state(aci("get-running-with-instanceview.json"), "containergrp2816init", init_view, key="initContainers")
    if main_view is None:
        del body["properties"]["containers"][0]["properties"]["instanceView"]
    else:
        body = set_state(body, "containergrp2816", main_view)
    return set_group_state(body, group_state)


def test_init_container_failed_under_never_fails_the_pod():
    init_view = {"restartCount": 0, "currentState": terminated(2, "2023-04-26T08:12:20Z", "2023-04-26T08:12:22Z")}
    body = running_group_with_init(init_view, None, "Failed")
    status = pod_status_from_container_group(body, pod_for_running_group(), now=NOW)
    assert status["phase"] == "Failed"
    assert status["conditions"][0] == {
        "type": "Initialized",
        "status": "False",
        "lastTransitionTime": NOW_TEXT,
        "reason": "ContainersNotInitialized",
        "message": "containers with incomplete status: [containergrp2816init]",
    }
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert status["initContainerStatuses"][0]["ready"] is False
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_init_container_failed_under_always_is_pending_and_restarting():
    pod = pod_for_running_group()
    pod["spec"]["restartPolicy"] = "Always"
    init_view = {"restartCount": 1, "currentState": terminated(2, "2023-04-26T08:12:20Z", "2023-04-26T08:12:22Z")}
    status = pod_status_from_container_group(running_group_with_init(init_view, None, "Running"), pod, now=NOW)
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "CrashLoopBackOff"}}
    assert status["initContainerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 2


def test_init_container_running_keeps_app_container_pod_initializing():
    init_view = {"restartCount": 0, "currentState": {"state": "Running", "startTime": "2023-04-26T08:12:20Z"}}
    status = pod_status_from_container_group(
        running_group_with_init(init_view, None, "Running"), pod_for_running_group(), now=NOW
    )
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["ready"] is False
    assert status["initContainerStatuses"][0]["started"] is True
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_windows_group_without_ip_reports_no_ip():
    body = py_body({"restartCount": 0, "currentState": running()})
    body["properties"]["osType"] = "Windows"
    body["properties"].pop("ipAddress", None)
    status = pod_status_from_container_group(body, pod_for_py_group("Always"), now=NOW)
    assert status["phase"] == "Running"
    assert not {"podIP", "podIPs", "hostIP", "hostIPs"} & status.keys()


def test_two_containers_one_not_started_is_pending():
    pod = make_pod("two", [container("a", "alpine"), container("b", "nginx")], qos="BestEffort")
    body = aci("py-get-succeeded-container-terminated-exit0.json")
    second = copy.deepcopy(body["properties"]["containers"][0])
    body["properties"]["containers"][0]["name"] = "a"
    second["name"] = "b"
    body["properties"]["containers"].append(second)
    body = set_state(body, "a", {"restartCount": 0, "currentState": running()})
    body = set_state(body, "b", {"restartCount": 0, "currentState": WAITING})
    status = pod_status_from_container_group(set_group_state(body, "Running"), pod, now=NOW)
    assert status["phase"] == "Pending"
    assert [s["name"] for s in status["containerStatuses"]] == ["a", "b"]
    assert status["conditions"][2]["message"] == "containers with unready status: [b]"


def test_spec_order_not_aci_order():
    pod = make_pod("two", [container("b", "nginx"), container("a", "alpine")], qos="BestEffort")
    body = aci("py-get-succeeded-container-terminated-exit0.json")
    second = copy.deepcopy(body["properties"]["containers"][0])
    body["properties"]["containers"][0]["name"] = "a"
    second["name"] = "b"
    body["properties"]["containers"].append(second)
    status = pod_status_from_container_group(body, pod, now=NOW)
    assert [s["name"] for s in status["containerStatuses"]] == ["b", "a"]
    assert [s["image"] for s in status["containerStatuses"]] == ["nginx", "alpine"]


def test_readiness_gate_not_met_keeps_ready_false_and_foreign_conditions_survive():
    pod = pod_for_py_group("Always")
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    foreign = {"type": "example.com/lb", "status": "False", "lastTransitionTime": "2021-01-01T00:00:00Z"}
    pod["status"]["conditions"] = [foreign]
    status = pod_status_from_container_group(py_body({"restartCount": 0, "currentState": running()}), pod, now=NOW)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["ContainersReady"]["status"] == "True"
    assert by_type["Ready"] == {
        "type": "Ready",
        "status": "False",
        "lastTransitionTime": NOW_TEXT,
        "reason": "ReadinessGatesNotReady",
        "message": 'the status of pod readiness gate "example.com/lb" is not "True", but False',
    }
    assert by_type["example.com/lb"] == foreign
    assert status["conditions"][-1] == foreign


def test_missing_group_marks_running_pod_failed_like_a_lost_sandbox():
    pod = pod_for_running_group()
    observed = pod_status_from_container_group(aci("get-running-with-instanceview.json"), pod, now=NOW)
    later = NOW.replace(hour=10)
    status = pod_status_for_missing_group(
        with_status(pod, observed), reason="ContainerGroupDeleted", message="deleted outside the connector", now=later
    )
    expected = copy.deepcopy(observed)
    expected.update(phase="Failed", reason="ContainerGroupDeleted", message="deleted outside the connector")
    expected["containerStatuses"][0].update(
        state={"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown", "message": LOST_CONTAINER_MESSAGE}},
        ready=False,
        started=False,
    )
    expected["conditions"][1:3] = [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2023-04-26T10:30:00Z", "reason": "PodFailed"},
        {
            "type": "ContainersReady",
            "status": "False",
            "lastTransitionTime": "2023-04-26T10:30:00Z",
            "reason": "PodFailed",
        },
    ]
    assert status == expected
    # Terminal is final: asking again changes nothing.
    assert pod_status_for_missing_group(with_status(pod, status), now=NOW) == status


def test_missing_group_default_reason_for_a_pod_never_started():
    status = pod_status_for_missing_group(pod_for_py_group(), now=NOW)
    assert status["phase"] == "Failed"
    assert status["reason"] == "ProviderFailed"
    assert status["message"]
    assert only_container(status)["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert status["startTime"] == NOW_TEXT
