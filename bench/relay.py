"""Benchmarks of the relay and the audit webhook: `python -m bench.relay`.

1. Watch shape: events and bytes one node's watch receives with a server-side
   field selector vs one unfiltered watch of all pods, while the cluster runs
   mostly other nodes' pods (why the relay opens one watch per node).
2. Relay: 1,000 pods created in a burst, messages per second reaching real
   Azurite and creation-to-visible latency (p50/p99), against the baseline of a
   bare sequential send loop to the same Azurite, for two sources of the burst:
   the fake API (all pods exist within a fraction of a second: the relay is
   saturated, which is what its throughput is measured on) and a real
   kube-apiserver + etcd (pods arrive as fast as a real apiserver creates them).
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
from bench.servers import Spawned, spawn
from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE, load_settings, reset_settings_cache
from shared.kube import KubeClient, build_api_client
from shared.messages import upsert
from shared.relay import Relay, RelayConfig
from shared.relay.putter import QueuePutter
from tests.fakes.azurite_fixtures import Azurite
from tests.fakes.kube_api import KubeApiServer
from tests.fakes.kube_real import TEST_TOKEN

NODE = "aci-connector-linux"
BURST = 1000
SOURCE_NAMES = {"fake": "fake-api", "real": "real-apiserver"}


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (/proc), e.g. Azurite's one Node thread."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_sends(store: QueueStore, count: int, azurite_pid: int) -> dict[str, float]:
    """The bare sequential `send_message` loop (the SDK's default client) the relay must outrun."""
    client = store.client("bench-baseline")
    client.create_queue()
    texts = [sample_text(index) for index in range(count)]
    started, cpu, azurite = time.perf_counter(), time.process_time(), cpu_seconds(azurite_pid)
    for text in texts:
        client.send_message(text)
    elapsed = time.perf_counter() - started
    figures = {
        "rate": count / elapsed,
        "cpu_ms": 1000 * (time.process_time() - cpu) / count,
        "azurite_ms": 1000 * (cpu_seconds(azurite_pid) - azurite) / count,
    }
    client.delete_queue()
    return figures


def count_messages(store: QueueStore, pods: set[str]) -> int:
    """How many of `pods` have a message in `pod-events` (received, never deleted: the count is all we need)."""
    queue, seen = store.client(POD_EVENTS_QUEUE), set()
    while batch := list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300)):
        seen.update(json.loads(item.content)["pod"]["name"] for item in batch)
    return len(seen & pods)


class SourceUnavailable(RuntimeError):
    """The burst's source cannot run here (no kube-apiserver build): the other figures are still printed."""


def kubernetes(source: str) -> tuple[Spawned, KubeClient]:
    """The burst's apiserver in its own process (bench/relay_load.py) and the relay's client for it."""
    if source == "fake":
        cluster = spawn("bench.relay_load", "fake", stdin=True)
        settings = {"KUBE_API_URL": cluster.url, "KUBE_BEARER_TOKEN": TEST_TOKEN}
    else:
        try:
            cluster = spawn("bench.relay_load", "real", stdin=True, extra_lines=1)
        except RuntimeError as error:
            raise SourceUnavailable(str(error)) from None
        with open(cluster.extra[0]) as ca:
            settings = {"KUBE_API_URL": cluster.url, "KUBE_BEARER_TOKEN": TEST_TOKEN, "KUBE_CA_CERT": ca.read()}
    return cluster, KubeClient(build_api_client(load_settings(settings)))


def relay_burst(storage: Azurite, count: int, workers: int, source: str) -> dict[str, float]:
    """`count` pods created at once in the `source` apiserver's own process, relayed by a Relay in this process.

    A message is visible in the queue once Storage acknowledged its Put Message (a message put without a
    visibility timeout is visible at once), so the time of each acknowledgement is taken in the relay's
    writer; a poller here would compete with the relay for Azurite's one thread and its CPU. After the
    burst the queue is read to check every pod's message is really there.
    """
    cluster, kube = kubernetes(source)
    store = QueueStore(storage.connection_string)
    store.ensure(POD_EVENTS_QUEUE)
    store.client(POD_EVENTS_QUEUE).clear_messages()
    writer = QueuePutter(store)
    visible: dict[str, float] = {}
    sizes: list[int] = []
    all_sent = threading.Event()

    async def timed_write(text: str) -> None:
        await writer(text)
        visible.setdefault(json.loads(text)["pod"]["name"], time.time())
        sizes.append(len(text.encode()))
        if len(visible) >= count:
            all_sent.set()

    timed_write.close = writer.close  # type: ignore[attr-defined]  # the sender closes the client at shutdown
    config = RelayConfig(nodes=(NODE,), health_port=None, send_workers=workers)
    relay = Relay(config, kube, timed_write)
    try:
        relay.start()
        while not relay.ready():
            time.sleep(0.05)
        assert cluster.process.stdin is not None and cluster.process.stdout is not None
        cpu, azurite = time.process_time(), cpu_seconds(storage.pid)
        cluster.process.stdin.write(f"burst {count} {NODE}\n")
        cluster.process.stdin.flush()
        created: dict[str, float] = json.loads(cluster.process.stdout.readline())
        all_sent.wait(300)
        cpu, azurite = time.process_time() - cpu, cpu_seconds(storage.pid) - azurite
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
        "azurite_ms": 1000 * azurite / max(1, len(visible)),
        "create_s": max(created.values()) - started,
        "create_rate": count / max(1e-9, max(created.values()) - started),
        "message_bytes": statistics.mean(sizes),
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


def report(source: str, burst: dict[str, float], baseline: float, count: int, workers: int) -> None:
    label = {"fake": "fake API (instant burst)", "real": "real kube-apiserver + etcd"}[source]
    print(f"relay, {count} pods created in a burst by the {label} -> relay -> Azurite:")
    print(
        f"  pods created in {burst['create_s']:.2f} s ({burst['create_rate']:.0f}/s); delivered "
        f"{burst['delivered']:.0f}, {burst['rate']:.0f} messages/s of {burst['message_bytes']:.0f} bytes, "
        f"{workers} sends in flight; "
        f"ratio to the baseline {burst['rate'] / baseline:.2f}"
    )
    bound = 1000 / burst["azurite_ms"]
    print(
        f"  CPU per message: relay process {burst['cpu_ms']:.2f} ms, Azurite {burst['azurite_ms']:.2f} ms: "
        f"Azurite's one Node thread, with a core to itself, serves at most {bound:.0f} messages/s "
        f"({bound / baseline:.2f}x the baseline), the relay reached {burst['rate'] / bound:.0%} of that"
    )
    floor = 1000 * max(0.0, 0.99 * count / bound - 0.99 * burst["create_s"])
    print(
        f"  creation -> visible in queue (Put Message acknowledged): "
        f"p50 {burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms (at Azurite's bound the 99th percentile "
        f"pod's message could not be visible sooner than {floor:.0f} ms after its creation)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=BURST)
    parser.add_argument("--workers", type=int, default=RelayConfig.send_workers, help="relay sends in flight")
    parser.add_argument("--relay-only", action="store_true", help="skip the watch-shape and audit figures")
    parser.add_argument(
        "--source",
        choices=("both", "fake", "real"),
        default="both",
        help="who creates the burst: the fake API, a real kube-apiserver, or both (default); the last line's "
        "JSON has the fake API's figures at the top when it ran, and every source's under by_source",
    )
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
    sources = ("fake", "real") if args.source == "both" else (args.source,)
    storage = Azurite().start()
    try:
        store = QueueStore(storage.connection_string)
        baselines = [baseline_sends(store, args.burst, storage.pid)]
        bursts = {}
        for source in sources:
            try:
                bursts[source] = relay_burst(storage, args.burst, args.workers, source)
            except SourceUnavailable as error:  # no kube-apiserver build on this machine: say so, keep the rest
                if args.source != "both":
                    raise
                print(f"{SOURCE_NAMES[source]} burst not measured: {error}")
                continue
            baselines.append(baseline_sends(store, args.burst, storage.pid))
    finally:
        storage.stop()
    baseline = statistics.mean(b["rate"] for b in baselines)
    runs = ", ".join(f"{b['rate']:.0f}" for b in baselines)
    print(
        f"baseline: bare sequential send_message loop {baseline:.0f} messages/s (runs {runs}, before and after "
        f"each burst), CPU per message: "
        f"loop {statistics.mean(b['cpu_ms'] for b in baselines):.2f} ms, "
        f"Azurite {statistics.mean(b['azurite_ms'] for b in baselines):.2f} ms"
    )
    for source, burst in bursts.items():
        report(source, burst, baseline, args.burst, args.workers)
    headline = bursts.get("fake") or bursts["real"]  # the definition (an instant burst) when it ran

    def figures_of(burst: dict[str, float]) -> dict[str, float]:
        return {
            "p50_ms": round(burst["p50_ms"], 1),
            "p99_ms": round(burst["p99_ms"], 1),
            "msgs_per_s": round(burst["rate"], 1),
            "relay_cpu_ms_per_msg": round(burst["cpu_ms"], 3),
            "azurite_cpu_ms_per_msg": round(burst["azurite_ms"], 3),
            "azurite_bound_msgs_per_s": round(1000 / burst["azurite_ms"], 1),
            "pods_created_per_s": round(burst["create_rate"], 1),
        }

    figures: dict[str, Any] = {
        "burst": args.burst,
        "p50_ms": round(headline["p50_ms"], 1),
        "p99_ms": round(headline["p99_ms"], 1),
        "msgs_per_s": round(headline["rate"], 1),
        "baseline_msgs_per_s": round(baseline, 1),
        "source": "fake-api" if "fake" in bursts else "real-apiserver",
        "by_source": {SOURCE_NAMES[source]: figures_of(burst) for source, burst in bursts.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
