"""ACI instance-view events -> core/v1 Events: recorded events, deterministic names, de-duplication."""

from __future__ import annotations

import copy

from shared.status.events import kube_events_from_group
from tests.unit.test_status_helpers import UID, aci, listed, pod_for_py_group, set_group_state, set_state
from tests.unit.test_status_scenarios import PULL_EVENTS_REPEATED

PY = "pycontainer26441510"


def test_recorded_container_events_become_pod_events():
    events = kube_events_from_group(aci("py-get-succeeded-container-terminated-exit0.json"), pod_for_py_group())
    assert [(e["reason"], e["firstTimestamp"]) for e in events] == [
        ("Pulling", "2021-03-15T07:11:35Z"),
        ("Pulled", "2021-03-15T07:11:37Z"),
        ("Created", "2021-03-15T07:11:38Z"),
        ("Started", "2021-03-15T07:11:38Z"),
    ]
    first = events[0]
    assert first == {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": first["metadata"]["name"], "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "apiVersion": "v1",
            "namespace": "default",
            "name": "job-0",
            "uid": UID,
            "fieldPath": f"spec.containers{{{PY}}}",
        },
        "reason": "Pulling",
        "message": 'pulling image "alpine:latest"',
        "type": "Normal",
        "count": 1,
        "firstTimestamp": "2021-03-15T07:11:35Z",
        "lastTimestamp": "2021-03-15T07:11:35Z",
        "source": {"component": "aci-connector", "host": "virtual-node-aci-linux"},
        "reportingComponent": "aci-connector",
        "reportingInstance": "virtual-node-aci-linux",
    }
    assert first["metadata"]["name"].startswith("job-0.")
    assert len({e["metadata"]["name"] for e in events}) == 4


def test_names_are_stable_across_runs_and_survive_count_updates():
    pod = pod_for_py_group()
    body = set_group_state(aci("py-get-succeeded-container-terminated-exit0.json"), "Pending")
    body["properties"]["instanceView"]["events"] = copy.deepcopy(PULL_EVENTS_REPEATED[:2])
    before = kube_events_from_group(body, pod)
    assert before == kube_events_from_group(copy.deepcopy(body), copy.deepcopy(pod))
    body["properties"]["instanceView"]["events"][1].update(count=7, lastTimestamp="2017-12-21T23:30:00+00:00")
    after = kube_events_from_group(body, pod)
    names_before = {e["reason"]: e["metadata"]["name"] for e in before if "fieldPath" not in e["involvedObject"]}
    names_after = {e["reason"]: e["metadata"]["name"] for e in after if "fieldPath" not in e["involvedObject"]}
    assert names_before == names_after
    failed = next(e for e in after if e["reason"] == "Failed" and "fieldPath" not in e["involvedObject"])
    assert (failed["count"], failed["lastTimestamp"], failed["type"]) == (7, "2017-12-21T23:30:00Z", "Warning")


def test_group_level_events_have_no_field_path_and_other_pods_get_other_names():
    body = set_group_state(aci("py-put-201-pending.json"), "Pending", copy.deepcopy(PULL_EVENTS_REPEATED))
    pod = pod_for_py_group()
    events = kube_events_from_group(body, pod, node_name="vn-2")
    assert [e["reason"] for e in events] == ["Pulling", "Failed", "BackOff"]
    assert all("fieldPath" not in e["involvedObject"] for e in events)
    assert {e["source"]["host"] for e in events} == {"vn-2"}
    other = copy.deepcopy(pod)
    other["metadata"]["uid"] = "another-uid"
    assert not {e["metadata"]["name"] for e in events} & {
        e["metadata"]["name"] for e in kube_events_from_group(body, other)
    }


def test_a_repeat_after_restart_is_a_new_event():
    restarted = aci("py-asyncop-succeeded-after-restart.json")["properties"]["events"]
    body = set_state(
        aci("py-get-succeeded-container-terminated-exit0.json"), PY, {"restartCount": 1, "events": restarted}
    )
    events = kube_events_from_group(body, pod_for_py_group())
    assert len(events) == 8
    assert [e["reason"] for e in events].count("Started") == 2


def test_old_format_without_name_and_unknown_type():
    body = set_state(
        aci("py-get-succeeded-container-terminated-exit0.json"),
        PY,
        {
            "events": [
                {
                    "count": 1,
                    "firstTimestamp": "2017-11-13T21:20:06+00:00",
                    "lastTimestamp": "2017-11-13T21:20:06+00:00",
                    "message": 'Pulling: pulling image "myregistry.azurecr.io/aci-tutorial-app:v1"',
                    "type": "Normal",
                },
                {"count": 2, "name": "Failed", "message": "boom", "type": "Error"},
            ]
        },
    )
    events = kube_events_from_group(body, pod_for_py_group())
    assert [(e["reason"], e["type"]) for e in events] == [("Failed", "Warning"), ("Pulling", "Normal")]
    assert "firstTimestamp" not in events[0]


def test_list_body_has_no_events_and_long_pod_names_stay_valid():
    assert kube_events_from_group(listed("py-list-by-resource-group.json"), pod_for_py_group()) == []
    pod = pod_for_py_group()
    pod["metadata"]["name"] = "a" * 253
    [event, *_] = kube_events_from_group(aci("py-get-succeeded-container-terminated-exit0.json"), pod)
    assert len(event["metadata"]["name"]) == 253


def test_events_and_statuses_pass_the_kubernetes_openapi_schema():
    import kubernetes_validate

    from shared.status import pod_status_from_container_group
    from tests.unit.test_status_helpers import NOW, pod_for_running_group, with_status

    for event in kube_events_from_group(aci("py-get-succeeded-container-terminated-exit0.json"), pod_for_py_group()):
        kubernetes_validate.validate(event, "1.30", strict=True)
    for body, pod in [
        (aci("get-running-with-instanceview.json"), pod_for_running_group()),
        (aci("py-get-succeeded-container-terminated-exit0.json"), pod_for_py_group()),
        (aci("put-201-creating.json"), pod_for_running_group()),
    ]:
        status = pod_status_from_container_group(body, pod, now=NOW)
        kubernetes_validate.validate(with_status(pod, status), "1.30", strict=True)
