"""Status mapping against the recorded real pods, QoS as the API server computed it, and status_differs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.status import parse_time, pod_status_from_container_group, status_differs
from shared.status.qos import parse_quantity, qos_class
from tests.unit.test_status_helpers import NOW, NOW_TEXT, aci, container, k8s_pod, make_pod, renamed, with_status

POD_FILES = [
    "pod-pending-containercreating.get-response.falco-minikube.json",
    "pod-pending-unscheduled.create-response.falco-minikube.json",
    "pod-running.gke.k9s-p1.json",
]


@pytest.mark.parametrize("name", POD_FILES)
def test_qos_class_matches_what_the_api_server_computed(name):
    pod = k8s_pod(name)
    assert qos_class(pod) == pod["status"]["qosClass"]


def running_group_for(pod: dict) -> dict:
    """get-running-with-instanceview.json with its app container renamed to the pod's, no init container."""
    spec_container = pod["spec"]["containers"][0]
    body = renamed(aci("get-running-with-instanceview.json"), {"containergrp2816": spec_container["name"]})
    body["properties"]["initContainers"] = []
    return body


def test_minikube_container_creating_pod_becomes_running_keeping_true_transitions():
    pod = k8s_pod("pod-pending-containercreating.get-response.falco-minikube.json")
    status = pod_status_from_container_group(running_group_for(pod), pod, now=NOW)
    assert status == {
        "phase": "Running",
        "qosClass": "BestEffort",
        "startTime": "2018-10-25T17:44:04Z",
        "conditions": [
            {
                "type": "Initialized",
                "status": "True",
                "lastTransitionTime": "2018-10-25T17:44:04Z",
            },
            {"type": "Ready", "status": "True", "lastTransitionTime": "2023-04-26T08:12:27Z"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2023-04-26T08:12:27Z"},
            {
                "type": "PodScheduled",
                "status": "True",
                "lastTransitionTime": "2018-10-25T17:44:04Z",
            },
        ],
        "podIP": "23.99.93.192",
        "podIPs": [{"ip": "23.99.93.192"}],
        "hostIP": "23.99.93.192",
        "hostIPs": [{"ip": "23.99.93.192"}],
        "containerStatuses": [
            {
                "name": "nginx",
                "state": {"running": {"startedAt": "2023-04-26T08:12:27Z"}},
                "lastState": {},
                "ready": True,
                "started": True,
                "restartCount": 0,
                "image": "nginx",
                "imageID": "",
                "containerID": "aci://containergrp2816/nginx",
            }
        ],
    }


def test_minikube_container_creating_pod_with_creating_group_changes_only_what_aci_knows():
    pod = k8s_pod("pod-pending-containercreating.get-response.falco-minikube.json")
    body = renamed(aci("put-201-creating.json"), {"containergrp925": "nginx"})
    body["properties"]["initContainers"] = []
    status = pod_status_from_container_group(body, pod, now=NOW)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"] == [
        {
            "name": "nginx",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "started": False,
            "restartCount": 0,
            "image": "nginx",
            "imageID": "",
        }
    ]
    # Conditions whose status did not change keep their recorded times; the null one gets a real time.
    times = {c["type"]: c["lastTransitionTime"] for c in status["conditions"]}
    assert times == {
        "Initialized": "2018-10-25T17:44:04Z",
        "Ready": "2018-10-25T17:44:04Z",
        "ContainersReady": NOW_TEXT,
        "PodScheduled": "2018-10-25T17:44:04Z",
    }
    assert status["hostIP"] == "10.0.2.15"  # ACI has no IP yet: nothing better than what is stored


def test_unscheduled_create_response_pod_gets_scheduled_condition_and_pending():
    pod = k8s_pod("pod-pending-unscheduled.create-response.falco-minikube.json")
    body = renamed(aci("py-put-201-pending.json"), {"pycontainer26441510": "nginx"})
    status = pod_status_from_container_group(body, pod, now=NOW)
    assert status["phase"] == "Pending"
    assert status["startTime"] == NOW_TEXT
    assert status["conditions"][3] == {"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW_TEXT}
    assert status["qosClass"] == "BestEffort"


def test_gke_running_pod_keeps_its_ready_times_and_gets_aci_container_facts():
    pod = k8s_pod("pod-running.gke.k9s-p1.json")
    status = pod_status_from_container_group(running_group_for(pod), pod, now=NOW)
    assert status["phase"] == "Running"
    # Every condition kept its status, so every recorded time is kept (lastProbeTime null is not emitted).
    assert status["conditions"] == [{k: v for k, v in c.items() if v is not None} for c in pod["status"]["conditions"]]
    assert status["startTime"] == "2019-12-31T19:27:23Z"
    assert status["qosClass"] == "Guaranteed"
    [one] = status["containerStatuses"]
    assert one["containerID"] == "aci://containergrp2816/nginx"
    assert one["image"] == "k8s.gcr.io/nginx-slim:0.8"
    assert one["imageID"] == ""
    assert status_differs(pod["status"], status)
    assert not status_differs(status, pod_status_from_container_group(running_group_for(pod), with_status(pod, status)))


def test_qos_rules():
    guaranteed = make_pod(
        "g", [container("a", "x", {"cpu": "500m", "memory": "1Gi"}, {"cpu": "0.5", "memory": "1024Mi"})]
    )
    assert qos_class(guaranteed) == "Guaranteed"
    burstable = make_pod("b", [container("a", "x", {"cpu": "500m"}, {"cpu": "1", "memory": "1Gi"})])
    assert qos_class(burstable) == "Burstable"
    mixed = make_pod(
        "m",
        [container("a", "x", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}), container("b", "y")],
    )
    assert qos_class(mixed) == "Burstable"
    only_other = make_pod("o", [container("a", "x", {"ephemeral-storage": "1Gi"})])
    assert qos_class(only_other) == "BestEffort"
    assert parse_quantity("1e3") == 1000
    assert parse_quantity("1.5Gi") == 1610612736
    assert parse_quantity("100m") * 10 == 1
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity("1 cpu")


def test_existing_qos_class_is_kept_because_it_is_immutable():
    pod = make_pod("g", [container("a", "x")], qos="Guaranteed")
    status = pod_status_from_container_group(aci("py-put-201-pending.json"), pod, now=NOW)
    assert status["qosClass"] == "Guaranteed"


def test_status_differs_ignores_order_nulls_and_subsecond_digits():
    pod = k8s_pod("pod-running.gke.k9s-p1.json")
    current = pod["status"]
    shuffled = copy.deepcopy(current)
    shuffled["conditions"].reverse()
    for condition in shuffled["conditions"]:
        condition.pop("lastProbeTime")
    shuffled["startTime"] = "2019-12-31T19:27:23.694Z"
    assert not status_differs(current, shuffled)
    changed = copy.deepcopy(shuffled)
    changed["conditions"][0]["status"] = "False"
    assert status_differs(current, changed)
    ip_changed = copy.deepcopy(current)
    ip_changed["podIPs"] = [{"ip": "10.0.0.1"}]
    assert status_differs(current, ip_changed)


def test_status_differs_tolerates_a_server_without_host_ips():
    """Before 1.28 hostIPs is an unknown field, dropped on write (seen on kube-apiserver 1.20)."""
    stored = {"phase": "Running", "hostIP": "10.0.0.4", "podIP": "10.0.0.4", "podIPs": [{"ip": "10.0.0.4"}]}
    desired = {**stored, "hostIPs": [{"ip": "10.0.0.4"}]}
    assert not status_differs(stored, desired)
    assert status_differs({**stored, "hostIP": "10.0.0.9"}, desired)
    assert status_differs({"phase": "Running"}, desired)
    assert status_differs({**desired, "hostIPs": [{"ip": "10.0.0.9"}]}, desired)


def test_parse_time_accepts_every_arm_form():
    expected = datetime(2023, 4, 26, 7, 49, 34, 915524, tzinfo=UTC)
    assert parse_time("2023-04-26T07:49:34.9155248Z") == expected
    assert parse_time("2017-12-21T22:56:19+00:00") == datetime(2017, 12, 21, 22, 56, 19, tzinfo=UTC)
    assert parse_time("") is None
    assert parse_time("yesterday") is None


STATES = st.sampled_from(["running", "t0", "t1", "waiting", "none", "previous"])


def view_for(kind: str) -> dict | None:
    start, finish = "2021-03-15T07:11:38.5Z", "2021-03-15T07:12:00.25Z"
    return {
        "running": {"restartCount": 0, "currentState": {"state": "Running", "startTime": start}},
        "t0": {
            "restartCount": 0,
            "currentState": {"state": "Terminated", "exitCode": 0, "startTime": start, "finishTime": finish},
        },
        "t1": {
            "restartCount": 0,
            "currentState": {"state": "Terminated", "exitCode": 1, "startTime": start, "finishTime": finish},
        },
        "waiting": {"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": ""}},
        "previous": {
            "restartCount": 3,
            "currentState": {"state": "Waiting", "detailStatus": ""},
            "previousState": {"state": "Terminated", "exitCode": 1, "startTime": start, "finishTime": finish},
        },
        "none": None,
    }[kind]


@settings(max_examples=150, deadline=None)
@given(
    kinds=st.lists(STATES, min_size=1, max_size=3),
    policy=st.sampled_from(["Always", "OnFailure", "Never"]),
    group_state=st.sampled_from(["Running", "Succeeded", "Failed", "Stopped", "Pending"]),
)
def test_any_group_gives_a_fixed_point_and_always_never_succeeds(kinds, policy, group_state):
    names = [f"c{i}" for i in range(len(kinds))]
    pod = make_pod("h", [container(n, "alpine") for n in names], restart_policy=policy, qos="BestEffort")
    body = aci("py-get-succeeded-container-terminated-exit0.json")
    template = body["properties"]["containers"][0]
    body["properties"]["containers"] = []
    for name, kind in zip(names, kinds, strict=True):
        item = copy.deepcopy(template)
        item["name"] = name
        view = view_for(kind)
        if view is None:
            del item["properties"]["instanceView"]
        else:
            item["properties"]["instanceView"] = view
        body["properties"]["containers"].append(item)
    body["properties"]["instanceView"] = {"events": [], "state": group_state}

    first = pod_status_from_container_group(body, pod, now=NOW)
    second = pod_status_from_container_group(body, with_status(pod, first), now=NOW.replace(hour=23))
    assert second == first
    assert not status_differs(first, second)
    if policy == "Always":
        assert first["phase"] != "Succeeded"
    running = any(s["state"].get("running") for s in first["containerStatuses"])
    assert first["phase"] in (("Running", "Pending") if running else ("Running", "Pending", "Succeeded", "Failed"))
    ready = {c["type"]: c["status"] for c in first["conditions"]}["Ready"]
    assert (ready == "True") == all(s["ready"] for s in first["containerStatuses"]) or first["phase"] in (
        "Succeeded",
        "Failed",
    )
