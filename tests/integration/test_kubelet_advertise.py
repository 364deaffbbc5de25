"""The virtual Nodes point at the relay serving their kubelet API, and the address follows the live relay."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from shared.kube import KubeClient
from shared.node import READY, build_node, kubelet_endpoint, status_patch
from shared.relay.kubelet.advertise import Advertiser, Claim, should_claim
from tests.fakes.connector_fixtures import NODE

CAPACITY = {"cpu": "10", "memory": "10Gi", "pods": "100"}


def _node(kube_api: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = build_node(
        os_name="linux",
        node_name=NODE,
        taint="virtual-kubelet.io/provider=azure:NoSchedule",
        capacity=CAPACITY,
        allocatable=CAPACITY,
        readiness=READY,
        now=now,
    )
    return kube_api.create(body)


def _relay_pod(kube_api: Any, name: str, ip: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "aci-connector"},
        "spec": {"containers": [{"name": "relay", "image": "relay"}], "nodeName": "real-node"},
    }
    kube_api.create(pod)
    kube_api.patch("pods", "aci-connector", name, {"status": {"podIP": ip}}, subresource="status")


def test_claim_rule() -> None:
    mine = Claim("10.0.0.2", 10250, "aci-connector/relay-b", "2026-01-01T00:00:02.000000Z")
    older = {
        "address": "10.0.0.1",
        "port": 10250,
        "holder": "aci-connector/relay-a",
        "since": "2026-01-01T00:00:01.000000Z",
    }
    newer = {**older, "since": "2026-01-01T00:00:03.000000Z"}
    assert should_claim(None, mine, True)
    assert should_claim(older, mine, True), "the newer relay takes over"
    assert not should_claim(newer, mine, True), "an older relay leaves a newer one alone"
    assert should_claim(newer, mine, False), "unless that one is gone"
    assert not should_claim({**older, "holder": mine.holder, "address": mine.address}, mine, True)


def test_address_follows_the_live_relay_and_the_reconciler_agrees(kube_api: Any, kube: KubeClient) -> None:
    _node(kube_api)
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "aci-connector"}})
    _relay_pod(kube_api, "relay-a", "10.0.0.1")
    stop = threading.Event()
    a = Advertiser(
        kube, {NODE: Claim("10.0.0.1", 10250, "aci-connector/relay-a", "2026-01-01T00:00:01.000000Z")}, stop=stop
    )
    assert a.check(NODE)
    node = kube_api.get("nodes", None, NODE)
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.0.0.1"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert not a.check(NODE), "no write when nothing changed"

    desired = build_node(
        os_name="linux",
        node_name=NODE,
        taint="virtual-kubelet.io/provider=azure:NoSchedule",
        capacity=CAPACITY,
        allocatable=CAPACITY,
        readiness=READY,
        now=datetime.now(UTC),
        current=node,
    )
    patch = status_patch(node, desired, now=datetime.now(UTC))
    assert patch is None or patch["status"]["addresses"] == node["status"]["addresses"]

    _relay_pod(kube_api, "relay-b", "10.0.0.2")
    b = Advertiser(
        kube, {NODE: Claim("10.0.0.2", 10250, "aci-connector/relay-b", "2026-01-01T00:00:02.000000Z")}, stop=stop
    )
    assert b.check(NODE)
    assert not a.check(NODE), "the older relay does not take the node back"
    assert kubelet_endpoint(kube_api.get("nodes", None, NODE))["address"] == "10.0.0.2"

    kube_api.delete("pods", "aci-connector", "relay-b", grace_period_seconds=0)
    assert a.check(NODE), "the holder is gone: the surviving relay takes over"
    a.withdraw()
    node = kube_api.get("nodes", None, NODE)
    assert kubelet_endpoint(node) is None
    assert node["status"]["addresses"] == [{"type": "Hostname", "address": NODE}]


def test_relay_serves_the_kubelet_api_and_advertises_its_bound_port(
    kube_api: Any, kube: KubeClient, aci_adapter: Any, tmp_path: Any
) -> None:
    import requests
    import trustme

    from shared.relay.app import Relay, RelayConfig
    from shared.relay.kubelet.config import KubeletConfig

    _node(kube_api)
    ca = trustme.CA()
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    kubelet = KubeletConfig(nodes=(NODE,), port=0, host="127.0.0.1", address="127.0.0.1", client_ca=str(ca_file))
    config = RelayConfig(nodes=(NODE,), health_port=None, kubelet=kubelet, pod_name="aci-connector/relay-x")
    relay = Relay(config, kube, lambda _text: None, aci=aci_adapter)
    relay.start()
    try:
        port = relay.kubelet.ports[NODE]
        deadline = time.monotonic() + 30
        node = kube_api.get("nodes", None, NODE)
        while node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] != port and time.monotonic() < deadline:
            time.sleep(0.02)
            node = kube_api.get("nodes", None, NODE)
        assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == port
        assert kubelet_endpoint(node)["holder"] == "aci-connector/relay-x"
        assert (
            requests.get(f"https://127.0.0.1:{port}/healthz", verify=relay.kubelet.cert_file, timeout=5).status_code
            == 401
        )
        assert not relay.liveness_problems()
        assert "aci_relay_kubelet_follows 0.0" in relay.metrics.render()
    finally:
        relay.stop()
    assert kubelet_endpoint(kube_api.get("nodes", None, NODE)) is None, "a stopping relay withdraws its address"


def test_kubelet_settings_need_the_pod_ip() -> None:
    import pytest

    from shared.config import load_settings
    from shared.errors import ConfigError
    from shared.relay.app import RelayConfig

    assert RelayConfig.from_settings(load_settings({})).kubelet is None, "off unless enabled"
    with pytest.raises(ConfigError, match="RELAY_POD_IP"):
        RelayConfig.from_settings(load_settings({"RELAY_KUBELET_ENABLED": "true"}))
    env = {"RELAY_KUBELET_ENABLED": "true", "RELAY_POD_IP": "10.1.2.3", "VIRTUAL_NODE_OS": "linux,windows"}
    kubelet = RelayConfig.from_settings(load_settings(env)).kubelet
    assert kubelet is not None
    assert (kubelet.nodes, kubelet.port, kubelet.address) == (
        ("aci-connector-linux", "aci-connector-windows"),
        10250,
        "10.1.2.3",
    )
