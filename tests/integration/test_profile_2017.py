"""Issue 20 on the test ground (Kubernetes API, ARM, Azurite): the 2017 walkthrough's pod under each profile.

Under VIRTUAL_NODE_PROFILE=aci-connector-2017 the pod pinned to `aci-connector-1` runs as a Windows group with
port 80 on its public IP and a Normal Event saying why; under the default profile it gets one Warning Event
(VirtualNodeNotServed) from the reconciler's first cycle, and never a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.config import POD_EVENTS_QUEUE
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.unserved import REASON, event_name
from shared.worker import Context, process_message
from tests.fakes.connector_fixtures import settings_for

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "iis-2017.yaml"
ISSUE_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: iis-winsvrcore
spec:
  containers:
  - image: microsoft/iis:windowsservercore
    imagePullPolicy: Always
    name: iis-winsvrcore
  dnsPolicy: ClusterFirst
  nodeName: aci-connector-1
"""
"""The walkthrough's YAML exactly as issue 20 quotes it."""


def context(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, queue_store: Any, **extra: str) -> Context:
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="6000", **extra)
    return Context(settings=settings, aci=aci_adapter, queue=queue_store, kube=kube)


def reconciler(ctx: Context) -> Reconciler:
    return Reconciler(ctx, config=ReconcileConfig(lease_only_if_older_than=0))


def create_walkthrough_pod(kube_api: Any) -> dict[str, Any]:
    pod = yaml.safe_load(EXAMPLE.read_text())
    pod["metadata"]["namespace"] = "default"  # what kubectl apply adds from the context
    return kube_api.create(pod)


def events(kube_api: Any, reason: str | None = None) -> list[dict[str, Any]]:
    return [e for e in kube_api.list("events", "default") if reason is None or e.get("reason") == reason]


def drain(ctx: Context) -> list[str]:
    client = ctx.queue.client(POD_EVENTS_QUEUE)
    actions = []
    for message in client.receive_messages(max_messages=32, visibility_timeout=5):
        actions.append(process_message(message.content, context=ctx).action)
        client.delete_message(message)
    return actions


def test_example_is_the_issue_yaml_word_for_word():
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    assert "".join(line for line in lines if not line.startswith("#")) == ISSUE_YAML  # a header comment aside


def test_without_the_profile_the_pod_is_told_once_within_one_cycle(kube_api, kube, arm, aci_adapter, queue_store):
    ctx = context(kube_api, kube, arm, aci_adapter, queue_store, VIRTUAL_NODE_OS="linux,windows")
    pod = create_walkthrough_pod(kube_api)
    rec = reconciler(ctx)

    report = rec.run_cycle()
    assert report.unserved_told == 1, report.errors
    (warning,) = events(kube_api, REASON)
    assert warning["type"] == "Warning"
    assert warning["metadata"]["name"] == event_name(pod)
    assert warning["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert "aci-connector-1" in warning["message"]
    assert "aci-connector-linux (Linux), aci-connector-windows (Windows)" in warning["message"]
    assert "VIRTUAL_NODE_PROFILE=aci-connector-2017" in warning["message"]
    assert report.enqueued == 0 and arm.counts["put"] == 0  # not ours: nothing is created
    assert kube_api.get("pods", "default", "iis-winsvrcore")["status"].get("phase", "Pending") == "Pending"

    posts = kube_api.request_counts[("POST", "events")]
    assert rec.run_cycle().unserved_told == 0
    assert kube_api.request_counts[("POST", "events")] == posts  # remembered: not even a POST
    assert reconciler(ctx).run_cycle().unserved_told == 0  # another instance: the 409 says it was told
    assert len(events(kube_api, REASON)) == 1
    assert events(kube_api, REASON)[0].get("count", 1) == 1


def test_only_virtual_looking_names_without_a_node_are_told(kube_api, kube, arm, aci_adapter, queue_store):
    ctx = context(kube_api, kube, arm, aci_adapter, queue_store)
    base = yaml.safe_load(EXAMPLE.read_text())
    for name, node in (("real", "aks-nodepool1-0"), ("vk", "virtual-kubelet-aci"), ("other", "aci-connector-9")):
        pod = {**base, "metadata": {"name": name, "namespace": "default"}, "spec": {**base["spec"], "nodeName": node}}
        kube_api.create(pod)
    kube_api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "aci-connector-9"}})

    assert reconciler(ctx).run_cycle().unserved_told == 1
    (warning,) = events(kube_api, REASON)
    assert warning["involvedObject"]["name"] == "vk"
    assert "VIRTUAL_NODE_NAME_LINUX" in warning["message"]


def test_the_2017_profile_runs_the_walkthrough(kube_api, kube, arm, aci_adapter, queue_store):
    ctx = context(kube_api, kube, arm, aci_adapter, queue_store, VIRTUAL_NODE_PROFILE="aci-connector-2017")
    rec = reconciler(ctx)
    rec.run_cycle()
    nodes = {n["metadata"]["name"]: n for n in kube_api.list("nodes")}
    assert set(nodes) >= {"aci-connector-0", "aci-connector-1"}
    for name, os_name in (("aci-connector-0", "linux"), ("aci-connector-1", "windows")):
        assert nodes[name]["metadata"]["labels"]["beta.kubernetes.io/os"] == os_name
        keys = {t["key"] for t in nodes[name]["spec"]["taints"]}
        assert {"azure.com/aci", "virtual-kubelet.io/provider"} <= keys

    pod = create_walkthrough_pod(kube_api)
    report = rec.run_cycle()
    assert report.enqueued == 1 and report.unserved_told == 0
    assert drain(ctx) == ["created"]
    group = ctx.aci.get(container_group_name(pod))
    properties = group["properties"]
    assert properties["osType"] == "Windows"
    (container,) = properties["containers"]
    assert container["properties"]["resources"]["requests"] == {"cpu": 1.0, "memoryInGB": 1.5}
    assert properties["ipAddress"]["type"] == "Public"
    assert properties["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    (opened,) = events(kube_api, "DefaultPortOpened")
    assert opened["type"] == "Normal"
    assert "port 80/TCP" in opened["message"] and "VIRTUAL_NODE_PROFILE=aci-connector-2017" in opened["message"]
    assert events(kube_api, REASON) == []
