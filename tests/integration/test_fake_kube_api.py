"""The fake Kubernetes API over raw HTTP: the wire format other code and kubectl depend on."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_api import KubeApiServer
from tests.fakes.kube_errors import KubeError
from tests.fakes.kube_fixtures import urlopen
from tests.fakes.kube_patch import strategic_merge
from tests.fakes.kube_schema import definitions

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
PODS = "/api/v1/namespaces/default/pods"


def call(
    server: KubeApiServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """(status, parsed body, headers) of one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urlopen(server, request) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw.strip().startswith(b"{") else raw.decode(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def stream(server: KubeApiServer, path: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """All events of a watch stream, read until the server closes it (use timeoutSeconds)."""
    request = urllib.request.Request(server.url + path, headers=headers or {})
    with urlopen(server, request) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Transfer-Encoding"] == "chunked"
        return [json.loads(line) for line in response if line.strip()]


def stream_until(server: Any, path: str, sentinel: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The events of a watch that come before the first one about `sentinel`, an object the test creates after
    the changes it checks: every earlier event has arrived by then, so "no other event" needs no timeout."""
    request = urllib.request.Request(server.url + path, headers=headers or {})
    events: list[dict[str, Any]] = []
    with urlopen(server, request) as response:
        for line in response:
            if not line.strip():
                continue
            event = json.loads(line)
            obj = event["object"]
            names = (
                [row["object"]["metadata"]["name"] for row in obj.get("rows", [])] if obj.get("kind") == "Table" else []
            )
            if sentinel in [*names, obj.get("metadata", {}).get("name")]:
                return events
            events.append(event)
    raise AssertionError(f"the watch ended before {sentinel} came: {events}")


def pod(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    body["spec"].update(spec)
    return body


def make_pod(server: KubeApiServer, name: str, **spec: Any) -> dict[str, Any]:
    status, body, _ = call(server, "POST", PODS, pod(name, **spec))
    assert status == 201, body
    return body


# ----- discovery ---------------------------------------------------------------------------------------------------
@pytest.mark.fake_kube_only("1.32's discovery (aggregated lists, /openapi/v3); 1.20 serves older documents")
def test_discovery_documents(kube_api: KubeApiServer) -> None:
    status, version, _ = call(kube_api, "GET", "/version")
    assert status == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")
    assert call(kube_api, "GET", "/api")[1]["versions"] == ["v1"]
    _, core, _ = call(kube_api, "GET", "/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["namespaced"] is True and by_name["pods"]["kind"] == "Pod"
    assert by_name["pods"]["shortNames"] == ["po"] and "watch" in by_name["pods"]["verbs"]
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/binding"] == {
        "name": "pods/binding",
        "singularName": "",
        "namespaced": True,
        "kind": "Binding",
        "verbs": ["create"],
    }
    assert by_name["nodes"]["namespaced"] is False and "nodes/status" in by_name
    assert by_name["namespaces"]["namespaced"] is False
    assert {"events", "secrets", "configmaps", "serviceaccounts"} <= set(by_name)
    _, groups, _ = call(kube_api, "GET", "/apis")
    assert groups["kind"] == "APIGroupList"
    coordination = next(g for g in groups["groups"] if g["name"] == "coordination.k8s.io")
    assert coordination["preferredVersion"] == {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}
    _, leases, _ = call(kube_api, "GET", "/apis/coordination.k8s.io/v1")
    assert leases["resources"][0]["name"] == "leases" and leases["resources"][0]["kind"] == "Lease"
    status, missing, _ = call(kube_api, "GET", "/apis/example.com/v1/widgets")
    assert status == 404 and missing["reason"] == "NotFound" and missing["kind"] == "Status"


@pytest.mark.fake_kube_only("the fake authenticates nobody; the real server refuses unknown tokens (401)")
def test_any_bearer_token_or_none_is_accepted(kube_api: KubeApiServer) -> None:
    assert call(kube_api, "GET", PODS, headers={"Authorization": "Bearer whatever"})[0] == 200
    assert call(kube_api, "GET", PODS)[0] == 200


def test_initial_namespaces(kube_api: KubeApiServer) -> None:
    _, listed, _ = call(kube_api, "GET", "/api/v1/namespaces")
    names = {n["metadata"]["name"] for n in listed["items"]}
    assert {"default", "kube-system", "kube-node-lease"} <= names
    assert all(n["status"]["phase"] == "Active" for n in listed["items"])


# ----- create ------------------------------------------------------------------------------------------------------
@pytest.mark.fake_kube_only("pods carry metadata.generation from 1.33 (the fake follows current); 1.20 sets none")
def test_create_fills_server_fields(kube_api: KubeApiServer) -> None:
    first = make_pod(kube_api, "a")
    second = make_pod(kube_api, "b")
    meta = first["metadata"]
    assert first["kind"] == "Pod" and first["apiVersion"] == "v1"
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert RFC3339_Z.match(meta["creationTimestamp"])
    assert meta["namespace"] == "default" and meta["generation"] == 1
    assert isinstance(meta["resourceVersion"], str)
    assert int(second["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert first["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert first["spec"]["restartPolicy"] == "Always" and first["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_generate_name(kube_api: KubeApiServer) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    status, created, _ = call(kube_api, "POST", PODS, body)
    assert status == 201 and re.fullmatch(r"web-[a-z0-9]{5}", created["metadata"]["name"])
    assert created["metadata"]["generateName"] == "web-"


def test_create_in_missing_namespace_is_404(kube_api: KubeApiServer) -> None:
    status, body, _ = call(kube_api, "POST", "/api/v1/namespaces/nope/pods", pod("x"))
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'namespaces "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "namespaces"},
        "code": 404,
    }


def test_qos_classes(kube_api: KubeApiServer) -> None:
    guaranteed = pod("g")
    guaranteed["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    burstable = pod("b")
    burstable["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    assert call(kube_api, "POST", PODS, guaranteed)[1]["status"]["qosClass"] == "Guaranteed"
    assert call(kube_api, "POST", PODS, burstable)[1]["status"]["qosClass"] == "Burstable"


@pytest.mark.fake_kube_only("managedFields are not modelled by the fake")
def test_create_matches_recorded_real_create_response(kube_api: KubeApiServer) -> None:
    """The recorded audit event holds the request a controller sent and the response a real apiserver gave."""
    audit = json.loads(
        (FIXTURES / "k8s-audit/pod-create.requestresponse.audit-v1beta1.falco-minikube.json").read_text()
    )
    recorded = json.loads(
        (FIXTURES / "k8s-pods/pod-pending-unscheduled.create-response.falco-minikube.json").read_text()
    )
    assert audit["responseObject"]["metadata"]["uid"] == recorded["metadata"]["uid"]
    status, created, _ = call(kube_api, "POST", PODS, audit["requestObject"])
    assert status == audit["responseStatus"]["code"] == 201
    # selfLink was removed from responses in Kubernetes 1.20; everything else must match in shape.
    assert set(created["metadata"]) - {"generation"} == set(recorded["metadata"]) - {"selfLink"}
    assert created["status"] == recorded["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    # volumes/volumeMounts come from the ServiceAccount admission plugin, which the fake does not run.
    assert set(recorded["spec"]) - {"volumes"} <= set(created["spec"])
    assert set(recorded["spec"]["containers"][0]) - {"volumeMounts"} <= set(created["spec"]["containers"][0])
    assert created["spec"]["tolerations"] == recorded["spec"]["tolerations"]
    assert created["metadata"]["generateName"] == recorded["metadata"]["generateName"]
    assert created["metadata"]["ownerReferences"] == recorded["metadata"]["ownerReferences"]


def test_recorded_running_pod_can_be_seeded_and_keeps_status(kube_api: KubeApiServer) -> None:
    running = json.loads((FIXTURES / "k8s-pods/pod-running.gke.k9s-p1.json").read_text())
    with pytest.raises(KubeError) as refused:  # a read object cannot be created as is
        kube_api.create(running)
    assert refused.value.code == 500 and "resourceVersion should not be set" in refused.value.message
    del running["metadata"]["resourceVersion"]
    created = kube_api.create(running)
    assert created["status"]["phase"] == "Pending"
    updated = kube_api.update({**created, "status": running["status"]}, subresource="status")
    assert updated["status"]["phase"] == running["status"]["phase"] == "Running"
    assert updated["status"]["containerStatuses"] == running["status"]["containerStatuses"]


# ----- errors ------------------------------------------------------------------------------------------------------
def test_not_found_and_already_exists_bodies(kube_api: KubeApiServer) -> None:
    status, body, _ = call(kube_api, "GET", PODS + "/x")
    assert (
        status == 404 and body["message"] == 'pods "x" not found' and body["details"] == {"name": "x", "kind": "pods"}
    )
    make_pod(kube_api, "x")
    status, body, _ = call(kube_api, "POST", PODS, pod("x"))
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "x" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "x", "kind": "pods"},
        "code": 409,
    }
    status, body, _ = call(kube_api, "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l")
    assert body["message"] == 'leases.coordination.k8s.io "l" not found'
    assert body["details"] == {"name": "l", "group": "coordination.k8s.io", "kind": "leases"}


def test_invalid_pods_are_422_with_causes(kube_api: KubeApiServer) -> None:
    status, body, _ = call(kube_api, "POST", PODS, {"metadata": {"name": "p"}, "spec": {}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"] == 'Pod "p" is invalid: spec.containers: Required value'
    assert body["details"] == {
        "name": "p",
        "kind": "Pod",
        "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}],
    }
    status, body, _ = call(kube_api, "POST", PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{}]}})
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.containers[0].name", "spec.containers[0].image"]
    assert body["message"].startswith('Pod "p" is invalid: [spec.containers[0].name: Required value, ')
    status, body, _ = call(kube_api, "POST", PODS, pod("Bad_Name"))
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"
    assert call(kube_api, "POST", PODS, {"metadata": {}, "spec": pod("x")["spec"]})[0] == 422


@pytest.mark.fake_kube_only("fieldValidation is 1.25+; 1.20 ignores it")
def test_unknown_fields_are_dropped_warned_or_rejected(kube_api: KubeApiServer) -> None:
    body = pod("u")
    body["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    status, created, headers = call(kube_api, "POST", PODS + "?fieldValidation=Strict", body)
    assert status == 400
    assert 'strict decoding error: unknown field "spec.containers[0].imagePullPolcy"' in created["message"]
    status, created, headers = call(kube_api, "POST", PODS, body)
    assert status == 201 and "imagePullPolcy" not in created["spec"]["containers"][0]
    assert headers.get_all("Warning") == ['299 - "unknown field \\"spec.containers[0].imagePullPolcy\\""']


# ----- update / patch ---------------------------------------------------------------------------------------------
def test_put_conflict_on_stale_resource_version_and_noop_skips_rv(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    changed = copy.deepcopy(created)
    changed["metadata"]["labels"] = {"a": "1"}
    status, updated, _ = call(kube_api, "PUT", PODS + "/p", changed)
    assert status == 200 and int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    status, body, _ = call(kube_api, "PUT", PODS + "/p", changed)
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on pods "p": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert body["details"] == {"name": "p", "kind": "pods"}
    rv_before = kube_api.resource_version
    status, same, _ = call(kube_api, "PUT", PODS + "/p", updated)
    assert status == 200 and same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    assert kube_api.resource_version == rv_before


def test_put_name_mismatch_is_400(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    created["metadata"]["name"] = "q"
    status, body, _ = call(kube_api, "PUT", PODS + "/p", created)
    assert status == 400 and body["message"] == "the name of the object (q) does not match the name on the URL (p)"


@pytest.mark.fake_kube_only("pods carry metadata.generation from 1.33; 1.20 sets none")
def test_pod_spec_is_immutable_except_image(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    status, body, _ = call(
        kube_api, "PATCH", PODS + "/p", {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}, SMP
    )
    assert status == 200 and body["spec"]["containers"][0]["image"] == "nginx:2" and body["metadata"]["generation"] == 2
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", {"spec": {"nodeName": "n1"}}, MERGE)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec"
    assert "pod updates may not change fields" in body["message"]


@pytest.mark.fake_kube_only("server-side apply is not modelled (the fake answers 415)")
def test_patch_types(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", {"metadata": {"labels": {"a": "1", "b": "2"}}}, MERGE)
    assert status == 200 and body["metadata"]["labels"] == {"a": "1", "b": "2"}
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", [{"op": "remove", "path": "/metadata/labels/a"}], JSONPATCH)
    assert status == 200 and body["metadata"]["labels"] == {"b": "2"}
    status, body, _ = call(
        kube_api, "PATCH", PODS + "/p", [{"op": "test", "path": "/metadata/name", "value": "z"}], JSONPATCH
    )
    assert status == 422 and body["reason"] == "Invalid"
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", {"metadata": {"labels": None}}, SMP)
    assert status == 200 and "labels" not in body["metadata"]
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", {"spec": {}}, "application/apply-patch+yaml")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_patch_with_stale_resource_version_conflicts(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    rv = created["metadata"]["resourceVersion"]
    assert (
        call(kube_api, "PATCH", PODS + "/p", {"metadata": {"resourceVersion": rv, "labels": {"a": "1"}}}, MERGE)[0]
        == 200
    )
    status, body, _ = call(
        kube_api, "PATCH", PODS + "/p", {"metadata": {"resourceVersion": rv, "labels": {"a": "2"}}}, SMP
    )
    assert status == 409 and body["reason"] == "Conflict"


@pytest.mark.fake_kube_only(
    "the real server also returns lastProbeTime/lastTransitionTime: null in conditions; not modelled"
)
def test_status_patch_merges_conditions_by_type_and_replaces_container_statuses(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    path = PODS + "/p/status"
    first = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "a", "ready": False}],
        }
    }
    assert call(kube_api, "PATCH", path, first, SMP)[0] == 200
    second = {
        "status": {
            "$setElementOrder/conditions": [{"type": "PodScheduled"}, {"type": "Ready"}],
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "b", "ready": True}],
        }
    }
    status, body, _ = call(kube_api, "PATCH", path, second, SMP)
    assert status == 200
    assert body["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True"},
    ]
    assert body["status"]["containerStatuses"] == [{"name": "b", "ready": True}]  # atomic list in the schema
    delete = {"status": {"conditions": [{"type": "PodScheduled", "$patch": "delete"}]}}
    assert call(kube_api, "PATCH", path, delete, SMP)[1]["status"]["conditions"] == [
        {"type": "Ready", "status": "True"}
    ]
    # merge patch replaces lists whole
    merged = call(kube_api, "PATCH", path, {"status": {"conditions": [{"type": "X", "status": "True"}]}}, MERGE)[1]
    assert merged["status"]["conditions"] == [{"type": "X", "status": "True"}]


def test_strategic_merge_follows_schema_keys() -> None:
    schema = definitions()["io.k8s.api.core.v1.Pod"]
    original = {
        "metadata": {"finalizers": ["a"]},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "d", "image": "j"},
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"key": "x"}],
        },
    }
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                },
                {"name": "e", "image": "k"},
            ],
            "volumes": [{"name": "w", "configMap": {"name": "cm"}}],
            "tolerations": [{"key": "y"}],
        },
    }
    result = strategic_merge(original, patch, schema)
    containers = {c["name"]: c for c in result["spec"]["containers"]}
    assert list(containers) == ["c", "d", "e"]
    assert containers["c"]["env"] == [{"name": "B", "value": "3"}]
    assert containers["c"]["ports"] == [{"containerPort": 80, "name": "http"}]
    assert containers["c"]["image"] == "i"
    assert [v["name"] for v in result["spec"]["volumes"]] == ["v", "w"]
    assert result["spec"]["tolerations"] == [{"key": "y"}]
    assert result["metadata"]["finalizers"] == ["a", "b"]
    replaced = strategic_merge(
        original, {"spec": {"containers": [{"name": "z", "image": "q"}, {"$patch": "replace"}]}}, schema
    )
    assert replaced["spec"]["containers"] == [{"name": "z", "image": "q"}]
    map_replace = strategic_merge(original, {"spec": {"$patch": "replace", "containers": []}}, schema)
    assert map_replace["spec"] == {"containers": []}
    assert original["spec"]["containers"][0]["env"][0] == {"name": "A", "value": "1"}  # input untouched


@pytest.mark.fake_kube_only(
    "a real Node's status gets zero-valued nodeInfo/daemonEndpoints and allocatable=capacity; not modelled"
)
def test_status_and_main_resource_writes_are_separated(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    status_write = copy.deepcopy(created)
    status_write["spec"]["containers"][0]["image"] = "changed"
    status_write["status"]["phase"] = "Running"
    status, body, _ = call(kube_api, "PUT", PODS + "/p/status", status_write)
    assert status == 200 and body["status"]["phase"] == "Running" and body["spec"]["containers"][0]["image"] == "nginx"
    status, body, _ = call(kube_api, "PATCH", PODS + "/p", {"status": {"phase": "Failed"}}, MERGE)
    assert status == 200 and body["status"]["phase"] == "Running"
    assert body["metadata"]["resourceVersion"] == kube_api.get("pods", "default", "p")["metadata"]["resourceVersion"]
    node = kube_api.create({"kind": "Node", "metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4"}}})
    assert node["status"] == {"capacity": {"cpu": "4"}}
    status, body, _ = call(
        kube_api,
        "PATCH",
        "/api/v1/nodes/n1",
        {"status": {"capacity": {"cpu": "8"}}, "metadata": {"labels": {"x": "y"}}},
        SMP,
    )
    assert body["status"]["capacity"] == {"cpu": "4"} and body["metadata"]["labels"] == {"x": "y"}
    status, body, _ = call(
        kube_api,
        "PATCH",
        "/api/v1/nodes/n1/status",
        {"status": {"capacity": {"cpu": "8"}}, "spec": {"unschedulable": True}},
        SMP,
    )
    assert body["status"]["capacity"] == {"cpu": "8"} and "unschedulable" not in body["spec"]


# ----- list --------------------------------------------------------------------------------------------------------
def test_list_paging_and_resource_version(kube_api: KubeApiServer) -> None:
    for i in range(5):
        make_pod(kube_api, f"p{i}")
    status, page, _ = call(kube_api, "GET", PODS + "?limit=2")
    assert status == 200 and page["kind"] == "PodList" and page["apiVersion"] == "v1"
    assert [p["metadata"]["name"] for p in page["items"]] == ["p0", "p1"]
    assert page["metadata"]["remainingItemCount"] == 3
    list_rv = page["metadata"]["resourceVersion"]
    make_pod(kube_api, "p25")  # created after the first page: a consistent snapshot must not show it
    names = [p["metadata"]["name"] for p in page["items"]]
    token = page["metadata"]["continue"]
    while token:
        page = call(kube_api, "GET", f"{PODS}?limit=2&continue={token}")[1]
        assert page["metadata"]["resourceVersion"] == list_rv
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    all_ns = call(kube_api, "GET", "/api/v1/pods")[1]
    assert len(all_ns["items"]) == 6 and int(all_ns["metadata"]["resourceVersion"]) == kube_api.resource_version


def test_list_too_old_is_410() -> None:
    server = KubeApiServer(history_limit=3)
    server.start()
    try:
        first = make_pod(server, "a")
        make_pod(server, "b")
        page = call(server, "GET", PODS + "?limit=1")[1]
        for i in range(4):
            server.patch("pods", "default", "a", {"metadata": {"labels": {"n": str(i)}}})
        status, body, _ = call(server, "GET", f"{PODS}?limit=1&continue={page['metadata']['continue']}")
        assert (
            status == 410
            and body["reason"] == "Expired"
            and body["message"].startswith("The provided continue parameter is too old")
        )
        rv = first["metadata"]["resourceVersion"]
        status, body, _ = call(server, "GET", f"{PODS}?resourceVersion={rv}&resourceVersionMatch=Exact")
        assert status == 410 and re.fullmatch(rf"too old resource version: {rv} \(\d+\)", body["message"])
        status, body, _ = call(server, "GET", f"{PODS}?resourceVersion={rv}&resourceVersionMatch=NotOlderThan")
        assert status == 200 and len(body["items"]) == 2  # not-older-than an old RV is satisfied by now
        exact = call(
            server, "GET", f"{PODS}?resourceVersion={page['metadata']['resourceVersion']}&resourceVersionMatch=Exact"
        )
        assert exact[0] == 410  # 4 later writes of 3-event history compacted it
    finally:
        server.stop()


def test_list_exact_resource_version_is_a_snapshot(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "a")
    rv = kube_api.resource_version
    make_pod(kube_api, "b")
    kube_api.patch("pods", "default", "a", {"metadata": {"labels": {"x": "1"}}})
    _, body, _ = call(kube_api, "GET", f"{PODS}?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert [p["metadata"]["name"] for p in body["items"]] == ["a"] and "labels" not in body["items"][0]["metadata"]


def test_label_selectors(kube_api: KubeApiServer) -> None:
    for name, labels in (("a", {"app": "web", "tier": "fe"}), ("b", {"app": "db"}), ("c", {})):
        kube_api.create({"kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": pod(name)["spec"]})

    def names(selector: str) -> list[str]:
        status, body, _ = call(kube_api, "GET", PODS + "?labelSelector=" + urllib.request.quote(selector))
        assert status == 200, body
        return [p["metadata"]["name"] for p in body["items"]]

    assert names("app=web") == names("app==web") == ["a"]
    assert names("app!=web") == ["b", "c"]
    assert names("app in (web,db)") == ["a", "b"]
    assert names("app notin (web)") == ["b", "c"]
    assert names("app") == ["a", "b"]
    assert names("!app") == ["c"]
    assert names("app=web,tier=fe") == ["a"] and names("app,!tier") == ["b"]
    status, body, _ = call(kube_api, "GET", PODS + "?labelSelector=" + urllib.request.quote("app in web"))
    assert status == 400 and body["reason"] == "BadRequest" and "unable to parse requirement" in body["message"]


@pytest.mark.fake_kube_only("1.20 has fewer pod field labels than 1.32 (spec.hostNetwork is refused)")
def test_field_selectors(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "a", nodeName="n1")
    make_pod(kube_api, "b")
    kube_api.patch("pods", "default", "b", {"status": {"phase": "Running", "podIP": "10.0.0.2"}}, subresource="status")

    def names(path: str, selector: str) -> list[str]:
        status, body, _ = call(kube_api, "GET", path + "?fieldSelector=" + urllib.request.quote(selector))
        assert status == 200, body
        return [o["metadata"]["name"] for o in body["items"]]

    assert names("/api/v1/pods", "spec.nodeName=n1") == ["a"]
    assert names("/api/v1/pods", "spec.nodeName=") == ["b"]
    assert names("/api/v1/pods", "status.phase=Running,metadata.namespace=default") == ["b"]
    assert names("/api/v1/pods", "status.phase!=Running") == ["a"]
    assert names(PODS, "status.podIP=10.0.0.2") == ["b"]
    assert names(PODS, "spec.schedulerName=default-scheduler,spec.restartPolicy=Always") == ["a", "b"]
    assert names(PODS, "spec.serviceAccountName=default,status.nominatedNodeName=") == ["a", "b"]
    event = {
        "kind": "Event",
        "metadata": {"name": "a.1", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "a",
            "uid": "u1",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{c}",
            "resourceVersion": "7",
        },
        "reason": "Started",
        "type": "Normal",
        "source": {"component": "aci-connector"},
    }
    kube_api.create(event)
    sel = "involvedObject.kind=Pod,involvedObject.name=a,involvedObject.uid=u1,"
    sel += "involvedObject.namespace=default,reason=Started"
    assert names("/api/v1/namespaces/default/events", sel) == ["a.1"]
    sel = "involvedObject.apiVersion=v1,involvedObject.fieldPath=spec.containers{c},involvedObject.resourceVersion=7"
    assert names("/api/v1/events", sel + ",type=Normal,source=aci-connector") == ["a.1"]
    assert names("/api/v1/events", "type=Warning") == []
    assert names("/api/v1/configmaps", "metadata.name=x") == []
    generic = '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    for path, label, message in (
        (PODS, "spec.containers", "field label not supported: spec.containers"),
        ("/api/v1/nodes", "metadata.namespace", "field label not supported: metadata.namespace"),
        ("/api/v1/configmaps", "data.x", generic),  # no conversion of its own: runtime's default one words it
    ):
        status, body, _ = call(kube_api, "GET", f"{path}?fieldSelector={label}=1")
        assert status == 400 and body["message"] == message and body["reason"] == "BadRequest"


def test_table_output_for_kubectl(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "a", nodeName="n1")
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,"
    accept += "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    status, table, _ = call(kube_api, "GET", "/api/v1/pods", headers={"Accept": accept})
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    row = table["rows"][0]
    assert row["cells"][:3] == ["a", "0/1", "Pending"] and row["cells"][6] == "n1"
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["namespace"] == "default"
    assert call(kube_api, "GET", "/api/v1/pods", headers={"Accept": "application/json"})[1]["kind"] == "PodList"


# ----- delete ------------------------------------------------------------------------------------------------------
@pytest.mark.fake_kube_only("1.20 words precondition conflicts differently; the fake uses 1.32's wording")
def test_delete_preconditions(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    status, body, _ = call(kube_api, "DELETE", PODS + "/p", {"preconditions": {"uid": "other"}})
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        f'Operation cannot be fulfilled on pods "p": Precondition failed: UID in precondition: other, '
        f"UID in object meta: {created['metadata']['uid']}"
    )
    status, body, _ = call(kube_api, "DELETE", PODS + "/p", {"preconditions": {"resourceVersion": "1"}})
    assert status == 409 and "ResourceVersion in precondition: 1" in body["message"]
    status, body, _ = call(kube_api, "DELETE", PODS + "/p", {"propagationPolicy": "Sideways"})
    assert status == 422 and body["details"]["kind"] == "DeleteOptions"
    status, body, _ = call(
        kube_api,
        "DELETE",
        PODS + "/p",
        {"preconditions": {"uid": created["metadata"]["uid"]}, "propagationPolicy": "Background"},
    )
    assert status == 200 and body["kind"] == "Pod" and kube_api.get("pods", "default", "p") is None


def test_graceful_deletion_of_bound_pod(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p", nodeName="vk")
    make_pod(kube_api, "q")
    before = kube_api.resource_version
    status, body, _ = call(kube_api, "DELETE", PODS + "/p")
    assert status == 200 and body["kind"] == "Pod"
    assert body["metadata"]["deletionGracePeriodSeconds"] == 30 and RFC3339_Z.match(
        body["metadata"]["deletionTimestamp"]
    )
    assert int(body["metadata"]["resourceVersion"]) == before + 1
    assert (
        kube_api.get("pods", "default", "p")["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]
    )
    again = call(kube_api, "DELETE", PODS + "/p?gracePeriodSeconds=60")[1]
    assert again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]  # longer grace: no change
    status, body, _ = call(kube_api, "DELETE", PODS + "/p", {"gracePeriodSeconds": 0})
    assert status == 200 and kube_api.get("pods", "default", "p") is None
    status, body, _ = call(kube_api, "DELETE", PODS + "/q")  # unbound: removed at once
    assert status == 200 and kube_api.get("pods", "default", "q") is None
    make_pod(kube_api, "r", nodeName="vk")
    kube_api.patch("pods", "default", "r", {"status": {"phase": "Succeeded"}}, subresource="status")
    call(kube_api, "DELETE", PODS + "/r")  # terminal: removed at once
    assert kube_api.get("pods", "default", "r") is None


def test_finalizers_hold_deletion(kube_api: KubeApiServer) -> None:
    kube_api.create(
        {"kind": "ConfigMap", "metadata": {"name": "cm", "finalizers": ["example.com/x"]}, "data": {"a": "b"}}
    )
    status, body, _ = call(kube_api, "DELETE", "/api/v1/namespaces/default/configmaps/cm")
    assert status == 200 and body["metadata"]["deletionTimestamp"]
    assert kube_api.get("configmaps", "default", "cm") is not None
    status, body, _ = call(
        kube_api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm",
        {"metadata": {"finalizers": ["example.com/y"]}},
        MERGE,
    )
    assert status == 422 and "no new finalizers" in body["message"]
    call(kube_api, "PATCH", "/api/v1/namespaces/default/configmaps/cm", {"metadata": {"finalizers": None}}, MERGE)
    assert kube_api.get("configmaps", "default", "cm") is None


def test_delete_other_kinds_returns_status(kube_api: KubeApiServer) -> None:
    cm = kube_api.create({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}})
    status, body, _ = call(kube_api, "DELETE", "/api/v1/namespaces/default/configmaps/cm")
    assert status == 200
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "cm", "kind": "configmaps", "uid": cm["metadata"]["uid"]},
    }
    assert call(kube_api, "DELETE", "/api/v1/namespaces/default/configmaps/cm")[0] == 404


@pytest.mark.fake_kube_only("needs the namespace controller, which the test ground does not run")
def test_namespace_delete_cascades_and_system_namespaces_are_protected(kube_api: KubeApiServer) -> None:
    kube_api.create({"kind": "Namespace", "metadata": {"name": "team"}})
    kube_api.create({"kind": "Secret", "metadata": {"name": "s", "namespace": "team"}, "data": {"k": "dg=="}})
    assert call(kube_api, "DELETE", "/api/v1/namespaces/team")[0] == 200
    assert kube_api.get("secrets", "team", "s") is None and kube_api.get("namespaces", None, "team") is None
    status, body, _ = call(kube_api, "DELETE", "/api/v1/namespaces/default")
    assert status == 403 and body["reason"] == "Forbidden"


# ----- binding -----------------------------------------------------------------------------------------------------
@pytest.mark.fake_kube_only("pods carry metadata.generation from 1.33; 1.20 sets none")
def test_binding_sets_node_name_once(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "vk"},
    }
    status, body, _ = call(kube_api, "POST", PODS + "/p/binding", binding)
    assert status == 201 and body["status"] == "Success"
    bound = kube_api.get("pods", "default", "p")
    assert bound["spec"]["nodeName"] == "vk" and bound["metadata"]["generation"] == 1
    assert (
        bound["status"]["conditions"][0]["type"] == "PodScheduled"
        and bound["status"]["conditions"][0]["status"] == "True"
    )
    status, body, _ = call(kube_api, "POST", PODS + "/p/binding", binding)
    assert (
        status == 409
        and body["message"]
        == 'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "vk"'
    )
    assert kube_api.request_counts[("POST", "pods/binding")] == 2


# ----- watch -------------------------------------------------------------------------------------------------------
def test_watch_from_zero_replays_state_then_streams_live(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "a")
    request = urllib.request.Request(kube_api.url + PODS + "?watch=true&resourceVersion=0&timeoutSeconds=60")
    events: list[dict[str, Any]] = []
    with urlopen(kube_api, request) as response:  # read until the DELETED event, not until a server timeout
        for line in response:
            if not line.strip():
                continue
            events.append(json.loads(line))
            if len(events) == 1:  # the replayed ADDED came: the watch is live, so these changes are streamed
                kube_api.patch("pods", "default", "a", {"metadata": {"labels": {"x": "1"}}})
                kube_api.delete("pods", "default", "a")
            if events[-1]["type"] == "DELETED":
                break
    # An unscheduled pod is deleted through the graceful path too: MODIFIED (grace 0), then DELETED.
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["metadata"]["labels"] == {"x": "1"}
    marked = events[2]["object"]["metadata"]
    assert marked["deletionGracePeriodSeconds"] == 0 and marked["deletionTimestamp"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4


def test_watch_from_resource_version_and_selector_transitions(kube_api: KubeApiServer) -> None:
    start = kube_api.resource_version
    kube_api.create({"kind": "Pod", "metadata": {"name": "a", "labels": {"app": "x"}}, "spec": pod("a")["spec"]})
    kube_api.patch("pods", "default", "a", {"metadata": {"labels": {"app": "y"}}})
    kube_api.patch("pods", "default", "a", {"metadata": {"labels": {"app": "x"}}})
    kube_api.create({"kind": "Pod", "metadata": {"name": "b"}, "spec": pod("b")["spec"]})
    for namespace in ("default", "kube-system"):  # the sentinel each watch below ends on
        kube_api.create(
            {
                "kind": "Pod",
                "metadata": {"name": "z", "namespace": namespace, "labels": {"app": "x"}},
                "spec": pod("z")["spec"],
            }
        )
    watch = f"watch=1&resourceVersion={start}&timeoutSeconds=60"
    events = stream_until(kube_api, f"/api/v1/pods?{watch}&labelSelector=app%3Dx", "z")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("DELETED", "a"),
        ("ADDED", "a"),
    ]
    assert events[1]["object"]["metadata"]["labels"] == {"app": "x"}  # the last state that matched
    all_events = stream_until(kube_api, f"{PODS}?{watch}", "z")
    assert [e["type"] for e in all_events] == ["ADDED", "MODIFIED", "MODIFIED", "ADDED"]
    by_field = stream_until(kube_api, f"{PODS}?{watch}&fieldSelector=metadata.name%21%3Da", "z")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in by_field] == [("ADDED", "b")]
    assert stream_until(kube_api, f"/api/v1/namespaces/kube-system/pods?{watch}", "z") == []


def test_watch_bookmarks() -> None:
    server = KubeApiServer(bookmark_interval=0.2)
    server.start()
    try:
        make_pod(server, "a")
        path = f"{PODS}?watch=true&allowWatchBookmarks=true&resourceVersion={server.resource_version}"
        # The first two events, however long they take to come (a 1 s watch held two only on a fast machine).
        with urlopen(server, urllib.request.Request(server.url + path + "&timeoutSeconds=60")) as response:
            events = [json.loads(response.readline()) for _ in range(2)]
        assert {e["type"] for e in events} == {"BOOKMARK"}
        assert events[0]["object"] == {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(server.resource_version)},
        }
        assert stream(server, f"{PODS}?watch=true&resourceVersion={server.resource_version}&timeoutSeconds=1") == []
    finally:
        server.stop()


def test_watch_too_old_resource_version_sends_error_event() -> None:
    server = KubeApiServer(history_limit=2)
    server.start()
    try:
        first = make_pod(server, "a")
        for i in range(3):
            server.patch("pods", "default", "a", {"metadata": {"labels": {"n": str(i)}}})
        rv = first["metadata"]["resourceVersion"]
        events = stream(server, f"{PODS}?watch=true&resourceVersion={rv}&timeoutSeconds=5")
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        obj = events[0]["object"]
        assert (
            obj["kind"] == "Status" and obj["code"] == 410 and obj["reason"] == "Expired" and obj["status"] == "Failure"
        )
        assert re.fullmatch(rf"too old resource version: {rv} \(\d+\)", obj["message"])
        recent = server.resource_version - 1
        assert [e["type"] for e in stream(server, f"{PODS}?watch=true&resourceVersion={recent}&timeoutSeconds=1")] == [
            "MODIFIED"
        ]
    finally:
        server.stop()


def test_watch_with_table_accept_wraps_objects(kube_api: KubeApiServer) -> None:
    start = kube_api.resource_version  # from a version, the events come in order (the initial ones do not)
    make_pod(kube_api, "a")
    make_pod(kube_api, "z")
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    path = f"{PODS}?watch=true&timeoutSeconds=60&resourceVersion={start}"
    events = stream_until(kube_api, path, "z", headers={"Accept": accept})
    # Only the events about "a": the shared real server may also report an earlier test's pods going away.
    about_a = [e for e in events if "a" in [row["object"]["metadata"]["name"] for row in e["object"].get("rows", [])]]
    assert [e["type"] for e in about_a] == ["ADDED"]
    assert all(e["object"]["kind"] == "Table" for e in events)


# ----- faults, counts, lifecycle -----------------------------------------------------------------------------------
@pytest.mark.fake_kube_only("tests the fake's fault hooks")
def test_fault_injection_and_request_counts(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    kube_api.faults.inject(500, 2, verb="PATCH", resource="pods/status")
    kube_api.faults.inject(429, 1, path=r"/pods$", retry_after=3)
    patch = {"status": {"phase": "Running"}}
    assert [call(kube_api, "PATCH", PODS + "/p/status", patch, MERGE)[0] for _ in range(3)] == [500, 500, 200]
    status, body, headers = call(kube_api, "GET", PODS)
    assert status == 429 and headers["Retry-After"] == "3" and body["reason"] == "TooManyRequests"
    assert body["details"] == {"retryAfterSeconds": 3}
    assert call(kube_api, "GET", PODS)[0] == 200
    kube_api.faults.expire_next("LIST")
    status, body, _ = call(kube_api, "GET", PODS)
    assert status == 410 and body["reason"] == "Expired"
    kube_api.faults.expire_next("WATCH", resource="pods")
    events = stream(kube_api, PODS + "?watch=true&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["ERROR"] and events[0]["object"]["code"] == 410
    kube_api.faults.add_latency(0.3, verb="GET", count=1)
    started = time.monotonic()
    call(kube_api, "GET", PODS + "/p")
    assert time.monotonic() - started >= 0.3
    assert kube_api.request_counts[("PATCH", "pods/status")] == 3
    assert kube_api.request_counts[("LIST", "pods")] == 3
    assert kube_api.request_counts[("WATCH", "pods")] == 1
    assert kube_api.request_counts[("GET", "pods")] == 1
    assert kube_api.request_counts[("POST", "pods")] == 1


@pytest.mark.fake_kube_only("stops and restarts the apiserver (the real one is shared by the session)")
def test_restart_keeps_store_and_port(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    url = kube_api.url
    kube_api.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/version", timeout=2)
    assert kube_api.start() == url
    assert call(kube_api, "GET", PODS + "/p")[0] == 200
    make_pod(kube_api, "q")


@pytest.mark.fake_kube_only("stops the apiserver (the real one is shared by the session)")
def test_stop_ends_open_watch_streams(kube_api: KubeApiServer) -> None:
    result: list[Any] = []

    def watch() -> None:
        try:
            result.append(stream(kube_api, PODS + "?watch=true&timeoutSeconds=600"))
        except Exception as exc:  # the connection may also be cut mid-stream; either way the stream ends
            result.append(exc)

    thread = threading.Thread(target=watch)
    thread.start()
    deadline = time.monotonic() + 30  # bounds a hang only: the watch is open once the server holds its queue
    while not kube_api._watch_queues and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kube_api._watch_queues, "the watch never opened"
    kube_api.stop()
    thread.join(60)  # ended by the stop, not by its 600 s timeout
    assert not thread.is_alive()
    assert result


def test_concurrent_writes_get_unique_resource_versions(kube_api: KubeApiServer) -> None:
    def worker(prefix: str) -> None:
        for i in range(10):
            if prefix == "http":
                make_pod(kube_api, f"{prefix}-{i}")
            else:
                kube_api.create(pod(f"{prefix}-{i}"))

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("http", "direct-a", "direct-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = kube_api.list("pods", "default")
    rvs = [int(p["metadata"]["resourceVersion"]) for p in items]
    assert len(items) == 30 and len(set(rvs)) == 30


def test_store_access_helpers(kube_api: KubeApiServer) -> None:
    lease = kube_api.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "vk", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "vk"},
        }
    )
    assert kube_api.get("Lease", "kube-node-lease", "vk") == lease
    assert kube_api.get("leases", "kube-node-lease", "missing") is None
    kube_api.create(pod("x"))
    kube_api.bind("default", "x", "vk")
    assert kube_api.get("po", "default", "x")["spec"]["nodeName"] == "vk"
    assert kube_api.list("pods", label_selector="a=b") == []


def test_runs_standalone_and_prints_url_first() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.kube_api", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        with urllib.request.urlopen(url + "/api/v1/namespaces/default", timeout=5) as response:
            assert json.loads(response.read())["metadata"]["name"] == "default"
    finally:
        process.terminate()
        assert process.wait(10) == 0
