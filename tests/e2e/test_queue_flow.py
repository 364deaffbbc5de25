"""End to end: CLI -> Azurite queue -> the pod_events function as the host invokes it -> fake ARM and cluster."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from functions.pod_events import pod_events
from shared import cli, tags, worker
from shared.config import reset_settings_cache
from shared.localhost.queue import QueueHost
from shared.naming import container_group_name
from tests.fakes.connector_fixtures import make_pod
from tests.fakes.waiting import wait_for


def _write(tmp_path, pod) -> str:
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(pod))
    return str(path)


@pytest.fixture
def fast_recheck(monkeypatch):
    monkeypatch.setattr(worker, "DELETE_RECHECK_DELAY", 1.0)


def test_cluster_pod_becomes_a_group_and_goes_away(
    app_env, kube_api, arm, azurite, queue_store, tmp_path, fast_recheck
):
    pod = kube_api.create(make_pod())
    assert cli.main(["--connection-string", azurite.connection_string, "submit", "-f", _write(tmp_path, pod)]) == 0
    [queued] = queue_store.peek()
    assert "manifest" not in json.loads(queued.text)  # cluster mode sends a reference, the worker re-reads

    host = QueueHost(queue_store, pod_events)
    host.drain(timeout=10)
    [delivery] = host.deliveries
    assert (delivery.error, delivery.dequeue_count) == (None, 1)
    name = container_group_name(pod)
    group = arm.group(name)
    assert group is not None
    status = kube_api.get("pods", "default", "web")["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"

    kube_api.delete("pods", "default", "web")  # kubectl delete: graceful, the node agent finishes it
    assert kube_api.get("pods", "default", "web")["metadata"]["deletionTimestamp"]
    assert (
        cli.main(
            ["--connection-string", azurite.connection_string, "delete", "default/web", "--uid", pod["metadata"]["uid"]]
        )
        == 0
    )
    wait_for(
        lambda: kube_api.get("pods", "default", "web") is None, step=lambda: host.drain(timeout=2, idle=0.3), timeout=60
    )
    assert arm.counts["delete"] >= 1
    assert all(key[2] != name for key in arm.groups)
    assert all(d.error is None for d in host.deliveries)


def test_standalone_manifest_becomes_a_group(monkeypatch, arm, azurite, queue_store, aci_adapter, kube_api, tmp_path):
    for name, value in {
        "AZURE_SUBSCRIPTION_ID": arm.subscription_id,
        "ACI_RESOURCE_GROUP": arm.resource_group,
        "ACI_REGION": arm.location,
        "ARM_ENDPOINT": arm.url,
        "AzureWebJobsStorage": azurite.connection_string,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("KUBE_API_URL", "KUBE_BEARER_TOKEN", "KUBECONFIG", "KUBE_IN_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    try:
        pod = make_pod("hello", node=None)
        assert cli.main(["submit", "-f", _write(tmp_path, pod)]) == 0
        [queued] = queue_store.peek()
        assert json.loads(queued.text)["manifest"]["metadata"]["name"] == "hello"
        host = QueueHost(queue_store, pod_events)
        host.drain(timeout=10)
        name = container_group_name(pod)
        group = aci_adapter.get(name)
        assert group["tags"][tags.TAG_MODE] == tags.MODE_STANDALONE
        assert cli.main(["delete", "default/hello"]) == 0
        host.drain(timeout=10)
        deadline = time.monotonic() + 30
        while aci_adapter.get(name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert aci_adapter.get(name) is None
        assert sum(kube_api.request_counts.values()) == 0  # nothing tried to reach a cluster
    finally:
        reset_settings_cache()


def test_poison_only_after_max_dequeue_for_real_bugs(queue_store):
    """A handler that keeps raising is retried by the host and lands in the poison queue, not lost."""
    calls: list[int] = []

    def broken(message) -> None:
        calls.append(message.dequeue_count)
        raise RuntimeError("bug")

    queue_store.send('{"v":1}')
    host = QueueHost(queue_store, broken, visibility_timeout=1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(d.poisoned for d in host.deliveries):
        host.run_once()
        time.sleep(0.2)
    assert calls == [1, 2, 3, 4, 5]
    assert [m.text for m in queue_store.peek(queue="pod-events-poison")] == ['{"v":1}']
