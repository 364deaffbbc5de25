"""The watch relay against the fake Kubernetes API and real Azurite: what reaches `pod-events`, and when."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import tags
from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE
from shared.kube import KubeClient
from shared.messages import Message, parse_message
from shared.relay import Relay, RelayConfig
from shared.relay.putter import QueuePutter
from shared.worker import process_message
from tests.fakes.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

NODE = "aci-connector-linux"


def pod_manifest(name: str, *, node: str | None = NODE, namespace: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def drain(store: QueueStore, expected: int, *, timeout: float = 30.0, settle: float = 0.5) -> list[Message]:
    """Take messages off the queue until `expected` arrived and nothing more came for `settle` s (or timeout)."""
    client = store.client(POD_EVENTS_QUEUE)
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        batch = list(client.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
        for item in batch:
            got.append(parse_message(item.content))
            client.delete_message(item)
        if batch:
            quiet_since = None
            continue
        if len(got) >= expected:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                break
        time.sleep(0.05)
    return got


def summary(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.op, m.pod.name if m.pod else "") for m in messages]


@pytest.fixture
def relay_factory(kube_client, queue_store) -> Iterator:
    started: list[Relay] = []

    def make(*, clock: Callable[[], float] = time.monotonic, **overrides) -> Relay:
        options = {"nodes": (NODE,), "coalesce_seconds": 0.2, "health_port": 0, "flush_seconds": 5.0}
        options.update(overrides)
        relay = Relay(RelayConfig(**options), KubeClient(kube_client), QueuePutter(queue_store), clock=clock)
        relay.start()
        started.append(relay)
        wait_for(relay.ready)
        return relay

    yield make
    for relay in started:
        relay.stop()


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_pod_lifecycle_gives_one_message_per_change_in_order(kube_api, queue_store, relay_factory):
    relay = relay_factory()
    kube_api.create(pod_manifest("web", node=None))  # unscheduled: not ours yet
    kube_api.bind("default", "web", NODE)
    messages = drain(queue_store, 1, settle=0.0)  # each change waits for its message: none merged by the window
    kube_api.patch("pods", "default", "web", {"spec": {"activeDeadlineSeconds": 600}})
    messages += drain(queue_store, 1, settle=0.0)
    kube_api.patch("pods", "default", "web", {"status": {"phase": "Running"}}, subresource="status")
    kube_api.delete("pods", "default", "web")  # bound: graceful, deletionTimestamp set
    messages += drain(queue_store, 1, settle=0.0)
    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    messages += drain(queue_store, 1)

    assert summary(messages) == [("upsert", "web"), ("upsert", "web"), ("delete", "web"), ("delete", "web")]
    assert all(m.source == "watch" and m.node == NODE and m.pod and m.pod.uid for m in messages)
    versions = [int(m.resource_version or 0) for m in messages]
    assert versions == sorted(versions)
    assert relay.metrics.get("events_ignored") >= 1  # the status patch was seen and not relayed


def test_the_workers_own_writes_never_come_back_as_messages(kube_api, queue_store, relay_factory, worker_context):
    """Invariant: the worker's status patch (with its spec-hash annotation) is a watch MODIFIED event the relay
    sees and drops; only a user's change is relayed again."""
    relay = relay_factory()
    kube_api.create(pod_manifest("web"))
    [message] = drain(queue_store, 1, settle=0.0)
    assert process_message(message.to_text(), context=worker_context).action == "created"
    assert tags.SPEC_HASH_ANNOTATION in kube_api.get("pods", "default", "web")["metadata"]["annotations"]
    wait_for(lambda: relay.metrics.get("events_seen") >= 2)  # the worker's write reached the relay...
    assert relay.metrics.get("events_ignored") == 1 and drain(queue_store, 0, timeout=1.0) == []  # ...and died there
    kube_api.patch("pods", "default", "web", {"metadata": {"annotations": {"virtual-kubelet.io/priority": "Spot"}}})
    assert summary(drain(queue_store, 1)) == [("upsert", "web")]


def test_burst_for_one_pod_is_sent_at_once_then_merged_into_one_trailing_message(kube_api, queue_store, relay_factory):
    now = [0.0]  # the coalescing window's clock: only the test moves it
    relay = relay_factory(coalesce_seconds=1.0, clock=lambda: now[0])
    kube_api.create(pod_manifest("burst"))
    first = drain(queue_store, 1, settle=0.0)
    assert summary(first) == [("upsert", "burst")]  # not held back by the window: its clock has not moved
    for seconds in range(104, 99, -1):  # activeDeadlineSeconds may only go down
        kube_api.patch("pods", "default", "burst", {"spec": {"activeDeadlineSeconds": seconds}})
    latest = kube_api.get("pods", "default", "burst")["metadata"]["resourceVersion"]
    wait_for(lambda: relay.metrics.get("coalesced") == 4)  # all five held as one trailing message
    assert relay.coalescer.pending == 1 and drain(queue_store, 0, timeout=0.5, settle=0.0) == []
    now[0] = 1.0  # the window ends
    relay.coalescer.pump()
    rest = drain(queue_store, 1, settle=0.5)
    assert summary(rest) == [("upsert", "burst")]
    assert rest[0].resource_version == latest
    assert relay.metrics.get("coalesced") == 4


@pytest.mark.fake_kube_only("forces a 410 mid-burst")
def test_forced_410_mid_burst_relists_and_relays_only_differences(kube_api, queue_store, relay_factory):
    now = [0.0]  # the coalescing window's clock stays put: a pod's later events are held and merged, whatever the load
    relay = relay_factory(watch_timeout_seconds=1, clock=lambda: now[0])
    for index in range(15):
        kube_api.create(pod_manifest(f"p{index}"))
    wait_for(lambda: relay.metrics.get("messages_sent") >= 15)
    kube_api.faults.expire_next("WATCH")  # the next re-watch (within 1 s) gets ERROR 410
    for index in range(15, 30):
        kube_api.create(pod_manifest(f"p{index}"))
    for index in range(0, 30, 10):
        kube_api.delete("pods", "default", f"p{index}", grace_period_seconds=0)
    wait_for(lambda: relay.metrics.get("relists") >= 1)
    kube_api.create(pod_manifest("last"))  # a new pod goes out at once, after everything before it was handled
    messages: list[Message] = []
    wait_for(
        lambda: (
            messages.extend(drain(queue_store, 0, timeout=0.5, settle=0.0)) or ("upsert", "last") in summary(messages)
        )
    )
    now[0] = 1.0  # the window ends: each deleted pod's held delete (MODIFIED, then DELETED) goes out as one
    relay.coalescer.pump()
    messages += drain(queue_store, 3)
    counts = Counter(summary(messages))
    assert relay.metrics.get("relists") == 1
    assert {name for op, name in counts if op == "upsert"} == {f"p{i}" for i in range(30)} | {"last"}
    assert all(count == 1 for count in counts.values()), counts  # nothing doubled
    assert {name for op, name in counts if op == "delete"} == {"p0", "p10", "p20"}


@pytest.mark.fake_kube_only("stops and restarts the apiserver (the real one is shared by the session)")
def test_apiserver_restart_resumes_from_last_resource_version(kube_api, queue_store, relay_factory):
    relay = relay_factory()
    kube_api.create(pod_manifest("before"))
    assert summary(drain(queue_store, 1)) == [("upsert", "before")]
    kube_api.stop()
    kube_api.create(pod_manifest("while-down"))  # written to the store: the watch must catch it on resume
    wait_for(lambda: not relay.ready())
    kube_api.start()
    kube_api.create(pod_manifest("after"))
    messages = drain(queue_store, 2)
    assert sorted(summary(messages)) == [("upsert", "after"), ("upsert", "while-down")]
    assert relay.metrics.get("relists") == 0
    wait_for(relay.ready)


def test_health_endpoints_and_metrics(kube_api, queue_store, relay_factory):
    relay = relay_factory()
    assert relay.health is not None
    port = relay.health.port
    assert http_get(port, "/healthz")[0] == 200
    status, body = http_get(port, "/readyz")
    assert status == 200 and json.loads(body) == {"ok": True, "problems": []}
    kube_api.create(pod_manifest("m"))
    wait_for(lambda: relay.metrics.get("messages_sent") == 1)
    status, text = http_get(port, "/metrics")
    assert status == 200
    assert "aci_relay_messages_sent_total 1.0\n" in text
    assert "aci_relay_events_seen_total 1.0\n" in text
    for name in ("relists_total", "send_retries_total", "dropped_total", "buffer_size", "lag_seconds", "storage_up"):
        assert f"# TYPE aci_relay_{name} " in text
    assert http_get(port, "/nope")[0] == 404


def test_lease_renewal_when_configured(kube_api, queue_store, relay_factory):
    relay = relay_factory(renew_leases=True, lease_interval=0.2)
    lease = wait_for(lambda: kube_api.get("leases", "kube-node-lease", NODE))
    first = lease["spec"]["renewTime"]
    assert lease["spec"]["holderIdentity"] == NODE and lease["spec"]["leaseDurationSeconds"] == 40
    wait_for(lambda: kube_api.get("leases", "kube-node-lease", NODE)["spec"]["renewTime"] != first)
    # The server has the renewal before the relay counts it: wait for the count, do not read it at once.
    wait_for(lambda: relay.metrics.get("lease_renewals") >= 2)
