"""Benchmarks of the relay and the audit webhook: `python -m bench.relay`.

1. Watch shape: events and bytes one node's watch receives with a server-side
   field selector vs one unfiltered watch of all pods, while the cluster runs
   mostly other nodes' pods (why the relay opens one watch per node).
2. Relay: 1,000 pods created in a burst on the fake API; messages per second
   reaching real Azurite and creation-to-visible latency (p50/p99), against the
   baseline of a bare sequential send loop to the same Azurite.
3. Audit webhook: handler time for a 1,000-event batch (median of 5).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from typing import Any

from kubernetes import client as k8s

from shared.config import POD_EVENTS_QUEUE, reset_settings_cache
from shared.kube import KubeClient
from shared.queue import QueueStore
from shared.relay import Relay, RelayConfig
from shared.relay.sender import queue_writer
from tests.fakes.azurite_fixtures import Azurite
from tests.fakes.kube_api import KubeApiServer

NODE = "aci-connector-linux"
BURST = 1000


def pod(name: str, node: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def api_client(server: KubeApiServer) -> Any:
    configuration = k8s.Configuration()
    configuration.host = server.url
    return k8s.ApiClient(configuration)


def watch_shape() -> dict[str, float]:
    """Events/bytes seen by a node-filtered watch and by an all-pods watch for 1,000 foreign + 100 own pods."""
    server = KubeApiServer(history_limit=5000)
    server.start()
    kube = KubeClient(api_client(server))
    seen: dict[str, list[int]] = {"filtered": [0, 0], "all": [0, 0]}

    def run(label: str, query: dict[str, Any]) -> None:
        for event in kube.watch("/api/v1/pods", query=query, timeout_seconds=4):
            seen[label][0] += 1
            seen[label][1] += len(json.dumps(event))

    threads = [
        threading.Thread(target=run, args=("filtered", {"fieldSelector": f"spec.nodeName={NODE}"})),
        threading.Thread(target=run, args=("all", {})),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    for index in range(1000):
        server.create(pod(f"other-{index}", "worker-1"))
    for index in range(100):
        server.create(pod(f"ours-{index}", NODE))
    for thread in threads:
        thread.join()
    server.stop()
    return {
        "filtered_events": seen["filtered"][0],
        "filtered_kib": seen["filtered"][1] / 1024,
        "all_events": seen["all"][0],
        "all_kib": seen["all"][1] / 1024,
    }


def baseline_sends(store: QueueStore, count: int) -> float:
    client = store.client("bench-baseline")
    client.create_queue()
    started = time.perf_counter()
    for index in range(count):
        client.send_message(f'{{"n":{index}}}')
    elapsed = time.perf_counter() - started
    client.delete_queue()
    return count / elapsed


def relay_burst(storage: Azurite) -> dict[str, float]:
    server = KubeApiServer(history_limit=5000)
    server.start()
    store = QueueStore(storage.connection_string)
    store.ensure(POD_EVENTS_QUEUE)
    relay = Relay(RelayConfig(nodes=(NODE,), health_port=None), KubeClient(api_client(server)), queue_writer(store))
    relay.start()
    while not relay.ready():
        time.sleep(0.05)
    created: dict[str, float] = {}
    visible: dict[str, float] = {}
    done = threading.Event()

    def drain() -> None:
        queue = store.client(POD_EVENTS_QUEUE)
        while not done.is_set():
            batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300))
            now = time.time()
            for item in batch:
                visible.setdefault(json.loads(item.content)["pod"]["name"], now)
            if len(visible) >= BURST:
                done.set()
            if not batch:
                time.sleep(0.01)

    reader = threading.Thread(target=drain)
    reader.start()
    started = time.time()
    for index in range(BURST):
        name = f"burst-{index}"
        created[name] = time.time()
        server.create(pod(name, NODE))
    reader.join(120)
    done.set()
    finished = max(visible.values())
    relay.stop()
    server.stop()
    latencies = sorted(visible[name] - created[name] for name in visible)
    return {
        "delivered": len(visible),
        "rate": len(visible) / (finished - started),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
    }


def audit_batch() -> float:
    import azure.functions as func

    from functions.audit import audit
    from tests.unit.test_audit import TOKEN, binding, event_list

    os.environ["AUDIT_BEARER_TOKEN"] = TOKEN
    reset_settings_cache()
    handler = audit._function.get_user_function()
    body = event_list(*[binding(f"pod-{i}", uid=f"u{i}") for i in range(BURST)])

    class Collected(func.Out):
        def set(self, val: list[str]) -> None:
            self.value = val

        def get(self) -> list[str]:
            return self.value

    times = []
    for _ in range(6):
        request = func.HttpRequest(
            "POST",
            "http://localhost/api/audit",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            body=body,
        )
        started = time.perf_counter()
        response = handler(request, Collected())
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return 1000 * statistics.median(times[1:])


def main() -> None:
    shape = watch_shape()
    print("watch shape (1,000 pods on another node + 100 on ours):")
    print(
        f"  one watch per node (fieldSelector): {shape['filtered_events']:.0f} events, {shape['filtered_kib']:.0f} KiB"
    )
    print(f"  one unfiltered watch:              {shape['all_events']:.0f} events, {shape['all_kib']:.0f} KiB")
    print(f"  ratio: {shape['all_kib'] / shape['filtered_kib']:.1f}x more bytes without the selector")
    storage = Azurite().start()
    try:
        baseline = baseline_sends(QueueStore(storage.connection_string), BURST)
        burst = relay_burst(storage)
    finally:
        storage.stop()
    print(f"relay, {BURST} pods created in a burst (fake API -> relay -> Azurite):")
    print(f"  delivered {burst['delivered']:.0f}, {burst['rate']:.0f} messages/s")
    print(f"  baseline: bare sequential send loop {baseline:.0f} messages/s (ratio {burst['rate'] / baseline:.2f})")
    print(f"  creation -> visible in queue: p50 {burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms")
    print(f"audit webhook, {BURST}-event batch: {audit_batch():.1f} ms per call (median)")


if __name__ == "__main__":
    main()
