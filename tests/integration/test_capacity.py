"""GET /api/capacity through the HTTP function, on the fake ARM (usages) and the fake Kubernetes API (pods)."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from functions.capacity import capacity
from shared.azure.quota import CapacityService, set_capacity_service
from tests.fakes.connector_fixtures import make_pod, settings_for

NODE = "aci-connector-linux"


def _get(node: str | None = None, **params: str) -> func.HttpResponse:
    url = "http://localhost/api/capacity" + (f"/{node}" if node else "")
    request = func.HttpRequest("GET", url, body=b"", params=params, route_params={"node": node} if node else {})
    return capacity(request)


def _json(response: func.HttpResponse) -> dict:
    assert response.mimetype == "application/json"
    return json.loads(response.get_body())


def _bound_pod(kube_api, name: str, cpu: str, memory: str, phase: str | None = None, node: str | None = NODE) -> dict:
    pod = make_pod(name, node=None)
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu, "memory": memory}}
    created = kube_api.create(pod)
    if node:
        kube_api.bind("default", name, node)
    if phase:
        kube_api.patch("pods", "default", name, {"status": {"phase": phase}}, subresource="status")
    return created


@pytest.fixture
def cluster_service(kube_api, kube, arm, aci_adapter):
    settings = settings_for(kube_api.url, arm, VIRTUAL_NODE_OS="linux,windows")
    # The caches' clock stands still: a test's calls fall in one window (5 s for pods), however slow the machine.
    service = CapacityService(settings, aci=lambda: aci_adapter, kube=lambda: kube, monotonic=lambda: 0.0)
    set_capacity_service(service)
    yield service
    set_capacity_service(None)


def _add_groups(worker_context, kube_api, count: int) -> None:
    """Real container groups in the fake ARM, created by the worker, so usages count them."""
    from shared.messages import Message, PodRef
    from shared.worker import process_message

    for index in range(count):
        pod = kube_api.create(make_pod(f"aci-{index}"))
        meta = pod["metadata"]
        text = Message(op="upsert", pod=PodRef("default", meta["name"], meta["uid"]), source="watch").to_text()
        assert process_message(text, context=worker_context).action == "created"


def test_capacity_reports_requests_of_bound_non_terminal_pods_and_the_quota(
    kube_api, arm, cluster_service, worker_context
):
    _add_groups(worker_context, kube_api, 2)  # two 500m/512Mi pods, now ACI groups of 1 core each (rounded up)
    _bound_pod(kube_api, "big", "1500m", "1Gi")
    _bound_pod(kube_api, "done", "4", "4Gi", phase="Succeeded")
    _bound_pod(kube_api, "broke", "4", "4Gi", phase="Failed")
    _bound_pod(kube_api, "elsewhere", "8", "8Gi", node="some-real-node")
    _bound_pod(kube_api, "unscheduled", "8", "8Gi", node=None)

    response = _get()
    assert response.status_code == 200
    report = _json(response)
    linux, windows = report["nodes"]
    assert (linux["name"], windows["name"]) == (NODE, "aci-connector-windows")
    assert linux["requested"]["quantities"] == {"cpu": "2500m", "memory": "2Gi", "pods": "3", "ephemeral-storage": "0"}
    assert linux["requested"]["numbers"]["memory"] == 2 * 2**30
    assert linux["remaining"]["quantities"]["cpu"] == "9997500m"
    assert linux["remaining"]["numbers"]["pods"] == 4997
    assert windows["requested"]["numbers"]["pods"] == 0
    assert linux["capacity"]["quantities"] == {
        "cpu": "10000",
        "memory": "4Ti",
        "pods": "5000",
        "ephemeral-storage": "100Ti",
    }
    assert report["quota"]["containerGroups"] == {"used": 2, "limit": 100}
    assert report["quota"]["standardCores"]["used"] == 2.0
    assert report["quota"]["stale"] is False
    assert report["mode"] == "cluster"


def test_one_node_unknown_node_and_bad_format(cluster_service):
    assert [n["name"] for n in _json(_get(NODE))["nodes"]] == [NODE]
    missing = _get("not-our-node")
    assert missing.status_code == 404
    assert "not-our-node" in _json(missing)["error"]
    assert _get(format="xml").status_code == 400


def test_prometheus_format(kube_api, cluster_service):
    _bound_pod(kube_api, "big", "1500m", "1Gi")
    response = _get(format="prometheus")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_body().decode()
    assert 'aci_connector_node_requested{node="aci-connector-linux",os="linux",resource="cpu",unit="cores"} 1.5' in text
    assert 'aci_connector_aci_quota_limit{quota="StandardCores",region="westus"} 100.0' in text


def test_many_calls_cost_one_arm_read_and_one_pod_list_per_node(kube_api, arm, cluster_service):
    """Cached answers make no ARM or Kubernetes call (how fast they are is `python -m bench.capacity`'s job)."""
    _bound_pod(kube_api, "big", "1500m", "1Gi")
    first = _json(_get())  # cold: one ARM usages read and one pod list per node
    for _ in range(50):
        response = _get()
        assert response.status_code == 200
        assert [n["requested"] for n in _json(response)["nodes"]] == [n["requested"] for n in first["nodes"]]
    assert arm.counts["usages"] == 1
    assert kube_api.request_counts[("LIST", "pods")] == 2  # one per virtual node


def test_arm_failure_is_reported_not_raised_and_not_retried_within_the_window(kube_api, arm, cluster_service):
    arm.faults.fail("usages", count=5, status=403)
    first = _json(_get())
    assert first["quota"]["stale"] is True
    assert first["quota"]["error"].startswith("ArmRejected")
    assert "standardCores" not in first["quota"]
    assert first["nodes"][0]["requested"]["numbers"]["pods"] == 0
    _get()
    assert arm.counts["usages"] == 1


def test_standalone_reports_capacity_and_quota_only(arm, aci_adapter):
    settings = settings_for(None, arm)
    set_capacity_service(CapacityService(settings, aci=lambda: aci_adapter, kube=None))
    try:
        report = _json(_get())
    finally:
        set_capacity_service(None)
    [node] = report["nodes"]
    assert report["mode"] == "standalone"
    assert node["requested"] is None and node["remaining"] is None
    assert node["podsSource"] == "none"
    assert report["quota"]["containerGroups"] == {"used": 0, "limit": 100}
