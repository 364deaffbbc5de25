"""The fake Kubernetes API driven by the official `kubernetes` client and by kubectl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.fakes.kube_api import KubeApiServer

KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else None)


def pod_body(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def test_core_v1_crud(kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    created = core.create_namespaced_pod("default", pod_body("p", app="web"))
    assert created.metadata.uid and created.status.phase == "Pending" and created.status.qos_class == "BestEffort"
    assert core.read_namespaced_pod("p", "default").metadata.labels == {"app": "web"}
    listed = core.list_pod_for_all_namespaces(label_selector="app=web")
    assert [p.metadata.name for p in listed.items] == ["p"] and listed.metadata.resource_version
    patched = core.patch_namespaced_pod_status(
        "p", "default", {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    )
    assert patched.status.phase == "Running" and patched.status.conditions[0].type == "Ready"
    again = core.patch_namespaced_pod_status(
        "p", "default", {"status": {"conditions": [{"type": "Initialized", "status": "True"}]}}
    )
    assert {c.type for c in again.status.conditions} == {"Ready", "Initialized"}  # strategic merge by type
    core.create_namespaced_binding(
        "default",
        client.V1Binding(
            metadata=client.V1ObjectMeta(name="p"), target=client.V1ObjectReference(kind="Node", name="vk")
        ),
        _preload_content=False,
    )
    assert core.read_namespaced_pod("p", "default").spec.node_name == "vk"
    pods_on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=vk")
    assert [p.metadata.name for p in pods_on_node.items] == ["p"]
    deleted = core.delete_namespaced_pod("p", "default")
    assert deleted.metadata.deletion_timestamp is not None
    core.delete_namespaced_pod("p", "default", grace_period_seconds=0)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("p", "default")
    assert caught.value.status == 404 and json.loads(caught.value.body)["reason"] == "NotFound"


def test_client_sees_conflicts_and_invalid(kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    created = core.create_namespaced_pod("default", pod_body("p"))
    created.metadata.labels = {"a": "1"}
    core.replace_namespaced_pod("p", "default", created)
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_pod("p", "default", created)
    assert caught.value.status == 409 and json.loads(caught.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", {"metadata": {"name": "bad"}, "spec": {"containers": []}})
    assert caught.value.status == 422


def test_nodes_secrets_configmaps_serviceaccounts_events(kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_node(
        {
            "metadata": {"name": "vk", "labels": {"type": "virtual-kubelet"}},
            "spec": {"taints": [{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}]},
        }
    )
    node = core.patch_node_status("vk", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert node.status.conditions[0].status == "True" and node.spec.taints[0].key == "virtual-kubelet.io/provider"
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "data": {"k": "dg=="}})
    assert core.read_namespaced_secret("s", "default").type == "Opaque"
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    assert core.read_namespaced_config_map("cm", "default").data == {"a": "b"}
    core.create_namespaced_service_account("default", {"metadata": {"name": "default"}})
    assert core.list_namespaced_service_account("default").items[0].metadata.name == "default"
    event = {
        "metadata": {"generateName": "p."},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Scheduled",
        "message": "scheduled onto vk",
        "type": "Normal",
    }
    core.create_namespaced_event("default", event)
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=p,reason=Scheduled")
    assert len(events.items) == 1 and events.items[0].message == "scheduled onto vk"


def test_coordination_leases(kube_client: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(kube_client)
    body = {
        "metadata": {"name": "vk", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "vk", "leaseDurationSeconds": 40},
    }
    created = leases.create_namespaced_lease("kube-node-lease", body)
    # The client parses and re-serialises MicroTime with isoformat(), which drops a zero fraction: a real
    # apiserver cannot decode that ("cannot parse ... as \".000000\""), so it is a 400 here too.
    created.spec.renew_time = "2025-01-01T00:00:00.000000Z"
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("vk", "kube-node-lease", created)
    assert caught.value.status == 400 and 'cannot parse \\"+00:00\\" as \\".000000\\"' in caught.value.body
    created.spec.renew_time = "2025-01-01T00:00:00.250000Z"
    renewed = leases.replace_namespaced_lease("vk", "kube-node-lease", created)
    assert renewed.spec.renew_time is not None
    assert int(renewed.metadata.resource_version) > int(created.metadata.resource_version)
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("vk", "kube-node-lease", created)
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        leases.read_namespaced_lease("other", "kube-node-lease")
    assert caught.value.status == 404


@pytest.mark.fake_kube_only("the fake authenticates nobody; the real server needs its CA and a known token")
def test_bearer_token_is_accepted(kube_api: KubeApiServer) -> None:
    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.api_key = {"authorization": "Bearer some-token"}
    with client.ApiClient(configuration) as api_client:
        assert client.CoreV1Api(api_client).list_namespace().items


def test_official_watch_streams_events(kube_api: KubeApiServer, kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod("default", pod_body("a"))

    seen = []
    # The stream ends on the state (the DELETED event), not on a short server timeout a loaded machine can beat;
    # the changes are made once the first event shows the watch is live.
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, "default", timeout_seconds=60):
        seen.append((event["type"], event["object"].status.phase))
        if len(seen) == 1:
            kube_api.patch("pods", "default", "a", {"status": {"phase": "Running"}}, subresource="status")
            kube_api.delete("pods", "default", "a")
        if event["type"] == "DELETED":
            stream.stop()
    # Unscheduled: deleted at once, through the graceful path (MODIFIED with grace 0, then DELETED).
    assert seen == [("ADDED", "Pending"), ("MODIFIED", "Running"), ("MODIFIED", "Running"), ("DELETED", "Running")]


def test_official_watch_raises_410_on_expired() -> None:
    server = KubeApiServer(history_limit=2)
    server.start()
    try:
        configuration = client.Configuration()
        configuration.host = server.url
        with client.ApiClient(configuration) as api_client:
            core = client.CoreV1Api(api_client)
            first = core.create_namespaced_pod("default", pod_body("a"))
            for i in range(3):
                server.patch("pods", "default", "a", {"metadata": {"labels": {"n": str(i)}}})
            stream = watch.Watch().stream(
                core.list_namespaced_pod, "default", resource_version=first.metadata.resource_version, timeout_seconds=1
            )
            with pytest.raises(ApiException) as caught:
                next(stream)
            assert caught.value.status == 410 and "Expired: too old resource version" in caught.value.reason
    finally:
        server.stop()


def test_official_watch_follows_bookmarks() -> None:
    server = KubeApiServer(bookmark_interval=0.2)
    server.start()
    try:
        configuration = client.Configuration()
        configuration.host = server.url
        with client.ApiClient(configuration) as api_client:
            core = client.CoreV1Api(api_client)
            core.create_namespaced_pod("default", pod_body("a"))
            watcher = watch.Watch()
            events = []
            # Until the first bookmark, however long it takes (a 1 s watch got one only on a fast enough machine).
            for event in watcher.stream(
                core.list_namespaced_pod, "default", allow_watch_bookmarks=True, timeout_seconds=60
            ):
                events.append(event)
                if event["type"] == "BOOKMARK":
                    watcher.stop()
            assert events[0]["type"] == "ADDED" and events[-1]["type"] == "BOOKMARK"
            assert watcher.resource_version == str(server.resource_version)
    finally:
        server.stop()


# ----- kubectl -----------------------------------------------------------------------------------------------------
@pytest.fixture
def kubectl(kube_api: KubeApiServer, tmp_path: Path) -> Any:
    """Run kubectl against the fake with an empty kubeconfig and a private HOME (no user config or cache)."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [KUBECTL, "--server", kube_api.url, "--insecure-skip-tls-verify", "--token", "t", *args]
        return subprocess.run(command, input=stdin, env=env, capture_output=True, text=True, timeout=30, check=False)

    return run


POD_YAML = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kube-system
spec:
  containers:
  - name: c
    image: nginx:1.25
"""


@pytest.mark.fake_kube_only("runs kubectl with any token and no CA, which only the fake accepts")
def test_kubectl_create_get_delete(kubectl: Any, kube_api: KubeApiServer, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_YAML)
    created = kubectl("create", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "pod/web created"
    kube_api.create({"kind": "Pod", "metadata": {"name": "api"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    listed = kubectl("get", "pods", "-A")
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.strip().splitlines()]
    assert lines[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [line[:4] for line in lines[1:]] == [
        ["default", "api", "0/1", "Pending"],
        ["kube-system", "web", "0/1", "Pending"],
    ]
    as_json = kubectl("get", "pod", "web", "-n", "kube-system", "-o", "json")
    assert json.loads(as_json.stdout)["status"]["phase"] == "Pending"
    duplicate = kubectl("create", "-f", str(manifest))
    assert duplicate.returncode != 0 and 'pods "web" already exists' in duplicate.stderr
    deleted = kubectl("delete", "pod", "web", "-n", "kube-system", "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == 'pod "web" deleted'
    assert kube_api.get("pods", "kube-system", "web") is None
    missing = kubectl("delete", "pod", "web", "-n", "kube-system")
    assert missing.returncode != 0 and 'pods "web" not found' in missing.stderr


LEASE_YAML = """apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: vk
  namespace: kube-node-lease
spec:
  holderIdentity: vk
"""


@pytest.mark.fake_kube_only("runs kubectl with any token and no CA, which only the fake accepts")
def test_kubectl_strict_validation_and_other_resources(kubectl: Any) -> None:
    bad = kubectl(
        "create", "-f", "-", stdin=POD_YAML.replace("image: nginx:1.25", "image: nginx:1.25\n    imagePolicy: x")
    )
    assert bad.returncode != 0 and 'unknown field "spec.containers[0].imagePolicy"' in bad.stderr
    lease = kubectl(
        "create",
        "-f",
        "-",
        stdin=LEASE_YAML,
    )
    assert lease.returncode == 0, lease.stderr
    got = kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name")
    assert got.stdout.strip() == "lease.coordination.k8s.io/vk"
    namespaces = kubectl("get", "ns")
    assert "kube-node-lease" in namespaces.stdout and "Active" in namespaces.stdout
