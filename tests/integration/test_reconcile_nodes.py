"""The virtual Node and its Lease, kept by the reconciler on the fake API server; Ready follows ARM's health."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.kube.lease import lease_path, parse_micro_time, renew_lease
from shared.node import KUBELET_VERSION
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.nodes import LEASE_HOLDER
from shared.worker import Context
from tests.fakes.connector_fixtures import NODE, settings_for
from tests.fakes.waiting import wait_for


@pytest.fixture
def ctx(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, queue_store: Any) -> Context:
    return Context(settings=settings_for(kube_api.url, arm), aci=aci_adapter, queue=queue_store, kube=kube)


def reconciler(ctx: Context, **config: Any) -> Reconciler:
    defaults: dict[str, Any] = {"unready_after_cycles": 2, "unready_after_seconds": 0, "lease_only_if_older_than": 0}
    defaults.update(config)
    return Reconciler(ctx, config=ReconcileConfig(**defaults))


def ready(node: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def test_node_is_created_complete_and_left_alone_when_current(kube_api, ctx):
    rec = reconciler(ctx)
    report = rec.run_cycle()
    assert report.node_writes == [f"{NODE}:create"]
    node = kube_api.get("nodes", None, NODE)
    labels = node["metadata"]["labels"]
    assert labels["type"] == "virtual-kubelet"
    assert labels["kubernetes.io/os"] == labels["beta.kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/role"] == "agent"
    assert labels["kubernetes.io/hostname"] == NODE
    assert labels["node.kubernetes.io/exclude-from-external-load-balancers"] == "true"
    assert node["spec"]["taints"] == [
        {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"},
        # Added by the apiserver's TaintNodesByCondition admission; the node lifecycle controller lifts it.
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
    ]
    # Sent as 10000 and 5000; the apiserver stores quantities canonically.
    assert node["status"]["capacity"] == {"cpu": "10k", "memory": "4Ti", "pods": "5k", "ephemeral-storage": "100Ti"}
    assert node["status"]["allocatable"] == node["status"]["capacity"]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
        "NetworkUnavailable": "False",
    }
    info = node["status"]["nodeInfo"]
    assert (info["kubeletVersion"], info["operatingSystem"], info["architecture"]) == (
        KUBELET_VERSION,
        "linux",
        "amd64",
    )
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert node["status"]["addresses"] == [{"type": "Hostname", "address": NODE}]

    patches = kube_api.request_counts[("PATCH", "nodes/status")] + kube_api.request_counts[("PATCH", "nodes")]
    assert rec.run_cycle().node_writes == []
    assert kube_api.request_counts[("PATCH", "nodes/status")] + kube_api.request_counts[("PATCH", "nodes")] == patches


def test_foreign_labels_and_taints_are_kept_and_ours_restored(kube_api, ctx):
    rec = reconciler(ctx)
    rec.run_cycle()
    node = kube_api.get("nodes", None, NODE)
    node["metadata"]["labels"]["team"] = "infra"
    node["metadata"]["labels"]["type"] = "something-else"
    node["spec"]["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    kube_api.update(node)
    assert rec.run_cycle().node_writes == [f"{NODE}:meta"]
    node = kube_api.get("nodes", None, NODE)
    assert node["metadata"]["labels"]["team"] == "infra"
    assert node["metadata"]["labels"]["type"] == "virtual-kubelet"
    assert {t["key"] for t in node["spec"]["taints"]} == {
        "node.kubernetes.io/unschedulable",
        "virtual-kubelet.io/provider",
    }


def test_lease_is_renewed_every_cycle_and_owned_by_the_node(kube_api, ctx):
    rec = reconciler(ctx)
    rec.run_cycle()
    lease = kube_api.get("leases", "kube-node-lease", NODE)
    node = kube_api.get("nodes", None, NODE)
    assert lease["spec"]["holderIdentity"] == LEASE_HOLDER
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    first = parse_micro_time(lease["spec"]["renewTime"])
    time.sleep(0.01)
    assert rec.run_cycle().lease_renewals == 1
    second = parse_micro_time(kube_api.get("leases", "kube-node-lease", NODE)["spec"]["renewTime"])
    assert second > first


def test_lease_is_renewed_during_a_long_cycle(kube_api, ctx, monkeypatch):
    """A cycle lasts as long as ARM makes it; the Lease must not wait for its end. Here the cycle's work waits
    until the Lease has been renewed twice more, so the test ends only if renewals go on during the cycle (on
    a slow ARM list of fixed length, a loaded machine renewed fewer times than a fixed count)."""
    rec = reconciler(ctx, lease_interval=0.15)
    renewed: list[str] = []

    def renew_time() -> str:
        return kube_api.get("leases", "kube-node-lease", NODE)["spec"]["renewTime"]

    def renewed_twice_more() -> bool:
        seen = renew_time()
        if not renewed or seen != renewed[-1]:
            renewed.append(seen)
        return len(renewed) >= 3

    cycle = rec._cycle

    def long_cycle(report: Any, hot: set[str]) -> None:
        wait_for(renewed_twice_more, timeout=60)
        cycle(report, hot)

    monkeypatch.setattr(rec, "_cycle", long_cycle)
    report = rec.run_cycle()
    assert report.lease_renewals >= 3


def test_a_fresh_relay_lease_is_left_to_the_relay(kube_api, ctx, kube):
    rec = reconciler(ctx, lease_only_if_older_than=25.0)
    rec.run_cycle()  # creates node and lease
    assert renew_lease(kube, NODE, "relay-pod")
    assert rec.run_cycle().lease_renewals == 0
    assert kube_api.get("leases", "kube-node-lease", NODE)["spec"]["holderIdentity"] == "relay-pod"
    assert kube.get(lease_path(NODE)) is not None


def test_node_goes_not_ready_when_arm_fails_and_back(kube_api, arm, ctx):
    rec = reconciler(ctx)
    rec.run_cycle()
    healthy_since = ready(kube_api.get("nodes", None, NODE))["lastTransitionTime"]

    arm.faults.fail("list", count=100, status=503)
    first = rec.run_cycle()
    assert not first.arm_list_ok
    assert ready(kube_api.get("nodes", None, NODE))["status"] == "True"  # one failed cycle is a blip
    rec.run_cycle()
    condition = ready(kube_api.get("nodes", None, NODE))
    assert (condition["status"], condition["reason"]) == ("False", "AciUnreachable")
    assert "503" in condition["message"] or "ServiceUnavailable" in condition["message"]
    assert kube_api.get("leases", "kube-node-lease", NODE)["spec"]["holderIdentity"] == LEASE_HOLDER

    arm.faults.clear()
    time.sleep(1.0)  # transition times have whole-second resolution
    report = rec.run_cycle()
    assert report.arm_list_ok
    condition = ready(kube_api.get("nodes", None, NODE))
    assert (condition["status"], condition["reason"]) == ("True", "KubeletReady")
    assert condition["lastTransitionTime"] > healthy_since


def test_throttled_list_is_not_an_outage(kube_api, arm, ctx):
    rec = reconciler(ctx)
    rec.run_cycle()
    arm.faults.fail("list", count=100, status=429)
    for _ in range(3):
        report = rec.run_cycle()
        assert not report.arm_list_ok
    assert ready(kube_api.get("nodes", None, NODE))["status"] == "True"
    assert rec.budget.begin_cycle() == 0  # reads paused while Retry-After runs
