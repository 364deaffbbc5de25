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

import argparse
import json
import os
import statistics
import threading
import time
from typing import Any

from kubernetes import client as k8s

from bench.relay_load import pod
from bench.servers import spawn
from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE, reset_settings_cache
from shared.kube import KubeClient
from shared.messages import upsert
from shared.relay import Relay, RelayConfig
from shared.relay.sender import queue_writer
from tests.fakes.azurite_fixtures import Azurite
from tests.fakes.connector_fixtures import kube_client_for
from tests.fakes.kube_api import KubeApiServer

NODE = "aci-connector-linux"
BURST = 1000


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


def sample_text(index: int) -> str:
    """A message exactly as the relay writes it for a fresh pod (same size on the wire as the relayed ones)."""
    manifest = pod(f"baseline-{index}", NODE)
    manifest["metadata"].update({"uid": f"00000000-0000-0000-0000-{index:012d}", "resourceVersion": str(index)})
    return upsert(manifest, source="watch").to_text()


def baseline_sends(store: QueueStore, count: int) -> float:
    """The bare sequential `send_message` loop (the SDK's default client) the relay must outrun."""
    client = store.client("bench-baseline")
    client.create_queue()
    texts = [sample_text(index) for index in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        client.send_message(text)
    elapsed = time.perf_counter() - started
    client.delete_queue()
    print(f"  (baseline loop: {1000 * (time.process_time() - cpu) / count:.2f} ms CPU per message)")
    return count / elapsed


def count_messages(store: QueueStore, pods: set[str]) -> int:
    """How many of `pods` have a message in `pod-events` (received, never deleted: the count is all we need)."""
    queue, seen = store.client(POD_EVENTS_QUEUE), set()
    while batch := list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300)):
        seen.update(json.loads(item.content)["pod"]["name"] for item in batch)
    return len(seen & pods)


def relay_burst(storage: Azurite, count: int, workers: int) -> dict[str, float]:
    """`count` pods created at once in the fake API's own process, relayed by a Relay in this process.

    A message is visible in the queue once Storage acknowledged its Put Message (a message put without a
    visibility timeout is visible at once), so the time of each acknowledgement is taken in the relay's
    writer; a poller here would compete with the relay for Azurite's one thread and its CPU. After the
    burst the queue is read to check every pod's message is really there.
    """
    cluster = spawn("bench.relay_load", "cluster", stdin=True)
    store = QueueStore(storage.connection_string)
    store.ensure(POD_EVENTS_QUEUE)
    store.client(POD_EVENTS_QUEUE).clear_messages()
    writer = queue_writer(store)
    visible: dict[str, float] = {}
    all_sent = threading.Event()

    async def timed_write(text: str) -> None:
        await writer(text)
        visible.setdefault(json.loads(text)["pod"]["name"], time.time())
        if len(visible) >= count:
            all_sent.set()

    timed_write.close = writer.close  # type: ignore[attr-defined]  # the sender closes the client at shutdown
    config = RelayConfig(nodes=(NODE,), health_port=None, send_workers=workers)
    relay = Relay(config, kube_client_for(cluster.url), timed_write)
    try:
        relay.start()
        while not relay.ready():
            time.sleep(0.05)
        assert cluster.process.stdin is not None and cluster.process.stdout is not None
        cpu = time.process_time()
        cluster.process.stdin.write(f"burst {count} {NODE}\n")
        cluster.process.stdin.flush()
        created: dict[str, float] = json.loads(cluster.process.stdout.readline())
        all_sent.wait(300)
        cpu = time.process_time() - cpu
    finally:
        relay.stop()
        cluster.stop()
    started, finished = min(created.values()), max(visible.values())
    latencies = sorted(visible[name] - created[name] for name in visible)
    return {
        "delivered": count_messages(store, set(created)),
        "rate": len(visible) / (finished - started),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "cpu_ms": 1000 * cpu / max(1, len(visible)),
        "create_s": max(created.values()) - started,
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=BURST)
    parser.add_argument("--workers", type=int, default=RelayConfig.send_workers, help="relay sends in flight")
    parser.add_argument("--relay-only", action="store_true", help="skip the watch-shape and audit figures")
    args = parser.parse_args()
    if not args.relay_only:
        shape = watch_shape()
        print("watch shape (1,000 pods on another node + 100 on ours):")
        print(
            f"  one watch per node (fieldSelector): {shape['filtered_events']:.0f} events, "
            f"{shape['filtered_kib']:.0f} KiB"
        )
        print(f"  one unfiltered watch:              {shape['all_events']:.0f} events, {shape['all_kib']:.0f} KiB")
        print(f"  ratio: {shape['all_kib'] / shape['filtered_kib']:.1f}x more bytes without the selector")
        print(f"audit webhook, {BURST}-event batch: {audit_batch():.1f} ms per call (median)")
    storage = Azurite().start()
    try:
        store = QueueStore(storage.connection_string)
        before = baseline_sends(store, args.burst)
        burst = relay_burst(storage, args.burst, args.workers)
        after = baseline_sends(store, args.burst)
    finally:
        storage.stop()
    baseline = (before + after) / 2
    print(f"relay, {args.burst} pods created in a burst (fake API process -> relay -> Azurite):")
    print(f"  delivered {burst['delivered']:.0f}, {burst['rate']:.0f} messages/s, {args.workers} sends in flight")
    print(
        f"  baseline: bare sequential send loop {baseline:.0f} messages/s (before {before:.0f}, after {after:.0f}); "
        f"ratio {burst['rate'] / baseline:.2f}"
    )
    print(f"  relay process CPU {burst['cpu_ms']:.2f} ms per message; pods created in {burst['create_s']:.2f} s")
    print(
        f"  creation -> visible in queue (Put Message acknowledged): "
        f"p50 {burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms"
    )
    figures = {
        "burst": args.burst,
        "p50_ms": round(burst["p50_ms"], 1),
        "p99_ms": round(burst["p99_ms"], 1),
        "msgs_per_s": round(burst["rate"], 1),
        "baseline_msgs_per_s": round(baseline, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
