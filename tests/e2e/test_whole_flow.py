"""The whole connector at once: watch relay -> Azurite -> pod_events (as the host invokes it) -> fake ARM,
with the reconciler keeping the virtual node Ready and reporting only what ACI says."""

from __future__ import annotations

import pytest

from functions.pod_events import pod_events
from shared import worker
from shared.localhost.queue import QueueHost
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.retry import RetryPolicy
from shared.relay import Relay, RelayConfig
from shared.relay.putter import QueuePutter
from shared.worker import Context
from tests.fakes.connector_fixtures import NODE, make_pod
from tests.fakes.waiting import wait_for

pytestmark = pytest.mark.timeout(180)


def test_pod_lifecycle_through_relay_queue_worker_and_reconciler(
    app_env, kube_api, kube, arm, aci_adapter, queue_store, monkeypatch
):
    monkeypatch.setattr(worker, "DELETE_RECHECK_DELAY", 0.5)
    arm.timing.creating = 3600  # ACI keeps creating until the test says make_ready: no race with the clock
    ctx = Context(settings=app_env, aci=aci_adapter, queue=queue_store, kube=kube)
    reconciler = Reconciler(
        ctx,
        config=ReconcileConfig(
            retry=RetryPolicy(max_retries=1, backoff_seconds=0),
            unready_after_cycles=2,
            unready_after_seconds=0,
            lease_only_if_older_than=0,
        ),
    )
    relay = Relay(RelayConfig(nodes=(NODE,), coalesce_seconds=0.1, health_port=None), kube, QueuePutter(queue_store))
    host = QueueHost(queue_store, pod_events)
    relay.start()
    try:
        reconciler.run_cycle()
        node = kube_api.get("nodes", None, NODE)
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
        assert kube_api.get("leases", "kube-node-lease", NODE) is not None

        # kubectl create, then the scheduler binds the pod to the virtual node.
        unbound = make_pod(node=None)
        unbound["spec"]["tolerations"] = [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
        created = kube_api.create(unbound)
        kube_api.bind("default", "web", NODE)
        name = container_group_name(created)

        wait_for(lambda: arm.groups and ctx.aci.get(name), step=lambda: host.drain(timeout=2, idle=0.3), timeout=60)
        status = kube_api.get("pods", "default", "web")["status"]
        assert status["phase"] == "Pending"
        assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}

        reconciler.run_cycle()  # ACI still creating: nothing may claim Running
        assert kube_api.get("pods", "default", "web")["status"]["phase"] == "Pending"

        arm.make_ready(name)
        reconciler.run_cycle()
        running = kube_api.get("pods", "default", "web")["status"]
        assert running["phase"] == "Running"
        assert {c["type"]: c["status"] for c in running["conditions"]}["Ready"] == "True"
        assert running["podIP"] == ctx.aci.get(name)["properties"]["ipAddress"]["ip"]

        kube_api.delete("pods", "default", "web")  # kubectl delete pod web
        wait_for(
            lambda: kube_api.get("pods", "default", "web") is None,
            step=lambda: host.drain(timeout=2, idle=0.3),
            timeout=60,
        )
        assert ctx.aci.get(name) is None
        assert all(delivery.error is None for delivery in host.deliveries)
        assert not any(delivery.poisoned for delivery in host.deliveries)
    finally:
        relay.stop()
