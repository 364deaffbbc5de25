"""Messages per second through the pod_events function, and the import time of function_app.

Setup: real Azurite, the fake Kubernetes API and the fake ARM (20 ms added to
every ARM answer, quotas lifted) each in its own process; the function is
invoked as the host does (shared/localhost/queue.py) with 1, 8 and 32 invocations at
once. Each message is a pod upsert that re-reads the pod, GETs the group,
PUTs it, re-reads the pod, patches its status and records an Event.

Run: .venv/bin/python -m bench.queue_throughput [--messages 200]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench.servers import ROOT, spawn

CONCURRENCY = (1, 8, 32)


def import_time() -> tuple[float, float]:
    """(cumulative import of function_app by -X importtime, whole process wall time) in seconds, best of 5."""
    cumulative, wall = [], []
    for _ in range(5):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import function_app"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall.append(time.perf_counter() - started)
        match = re.search(r"\|\s*(\d+)\s*\|\s*function_app\s*$", result.stderr, re.MULTILINE)
        assert match, result.stderr[-500:]
        cumulative.append(int(match.group(1)) / 1e6)
    return min(cumulative), min(wall)


def interpreter_start() -> float:
    """Wall time of `python -c pass`, best of 5: the part of the import figure that is not ours."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def spawn_emulator() -> Any:
    """The ACI emulator in its own process: 20 ms per ARM answer, quotas and throttling lifted, quick lifecycle."""
    return spawn(
        "emulator",
        *("--latency", "0.02", "--quota", "1000000", "--unthrottled"),
        *("--pending", "0.2", "--creating", "0.2", "--deleting", "0.2"),
        extra_lines=1,
    )


def run(messages: int) -> None:

    from functions.pod_events import pod_events
    from shared.azure.aci import set_aci_client
    from shared.azure.queue import QueueStore, set_queue_store
    from shared.config import reset_settings_cache
    from shared.kube import set_kube_client
    from shared.localhost.queue import QueueHost
    from shared.messages import Message, PodRef
    from tests.fakes.arm_fixtures import adapter_for
    from tests.fakes.azurite_fixtures import Azurite
    from tests.fakes.connector_fixtures import kube_client_for, make_pod

    azurite = Azurite().start()
    kube_server = spawn("tests.fakes.kube_api")
    arm_server = spawn_emulator()
    try:
        ca = arm_server.extra[0].removeprefix("ca=")
        os.environ.update(
            {
                "KUBE_API_URL": kube_server.url,
                "KUBE_BEARER_TOKEN": "bench",
                "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
                "ACI_RESOURCE_GROUP": "aci-connector-rg",
                "ACI_REGION": "westus",
                "ARM_ENDPOINT": arm_server.url,
                "AzureWebJobsStorage": azurite.connection_string,
            }
        )
        reset_settings_cache()
        kube = kube_client_for(kube_server.url)
        set_kube_client(kube)
        set_aci_client(adapter_for(arm_server.url, ca))
        store = QueueStore(azurite.connection_string)
        set_queue_store(store)
        store.ensure("pod-events")
        print(f"{messages} upsert messages per run; fake ARM adds 20 ms per call")
        rates: dict[int, float] = {}
        for concurrency in CONCURRENCY:
            namespace = f"bench-{concurrency}"
            kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
            texts = []
            for index in range(messages):
                pod = kube.request(
                    "POST", f"/api/v1/namespaces/{namespace}/pods", body=make_pod(f"p{index}", namespace=namespace)
                )
                meta = pod["metadata"]
                ref = PodRef(namespace, meta["name"], meta["uid"])
                texts.append(Message(op="upsert", pod=ref, source="watch").to_text())
            store.send_many(texts)
            host = QueueHost(store, pod_events)
            started = time.perf_counter()
            handled = host.drain(timeout=600, idle=0.5, concurrency=concurrency)
            elapsed = time.perf_counter() - started - 0.5  # the idle wait that ends the drain
            failures = [d for d in handled if d.error is not None]
            rates[concurrency] = len(handled) / elapsed
            print(
                f"concurrency {concurrency:>2}: {len(handled)} messages in {elapsed:6.2f} s = "
                f"{rates[concurrency]:7.1f} msg/s ({len(failures)} failed)"
            )
        for concurrency in CONCURRENCY[1:]:
            print(f"speed-up {concurrency:>2} vs 1: {rates[concurrency] / rates[1]:.1f}x")
    finally:
        kube_server.stop()
        arm_server.stop()
        azurite.stop()


class Counting:
    """Wraps an adapter (KubeClient, AciClient) and counts its calls by method name: every read is counted."""

    def __init__(self, inner: Any, counts: Counter[str], prefix: str) -> None:
        self._inner, self._counts, self._prefix = inner, counts, prefix
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._counts[f"{self._prefix}.{name}"] += 1
            return attribute(*args, **kwargs)

        return counted


def through_relay(pods: int, concurrency: int = 8) -> tuple[dict[str, float], dict[str, float]]:
    """Pods created on the virtual node, end to end: watch relay -> queue -> worker -> ARM -> status patch.

    Returns (per created pod, totals of a relay restart). Per created pod: worker invocations and the calls
    the connector made, counted at its adapters (Kubernetes pod GETs, ARM GETs and PUTs, ...), until the
    queue stayed empty for 3 s (what the connector's own writes would feed back has arrived by then). Then
    the relay is restarted (it relists and re-announces every pod) and the same counts are totalled.
    """
    from functions.pod_events import pod_events
    from shared.azure.aci import set_aci_client
    from shared.azure.queue import QueueStore, set_queue_store
    from shared.config import POD_EVENTS_QUEUE, reset_settings_cache
    from shared.kube import set_kube_client
    from shared.localhost.queue import QueueHost
    from shared.relay import Relay, RelayConfig
    from shared.relay.putter import QueuePutter
    from tests.fakes.arm_fixtures import adapter_for
    from tests.fakes.azurite_fixtures import Azurite
    from tests.fakes.connector_fixtures import NODE, kube_client_for, make_pod

    azurite = Azurite().start()
    kube_server = spawn("tests.fakes.kube_api")
    arm_server = spawn_emulator()
    counts: Counter[str] = Counter()
    relay = None
    try:
        os.environ.update(
            {
                "KUBE_API_URL": kube_server.url,
                "KUBE_BEARER_TOKEN": "bench",
                "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
                "ACI_RESOURCE_GROUP": "aci-connector-rg",
                "ACI_REGION": "westus",
                "ARM_ENDPOINT": arm_server.url,
                "AzureWebJobsStorage": azurite.connection_string,
            }
        )
        reset_settings_cache()
        kube = kube_client_for(kube_server.url)
        set_kube_client(Counting(kube, counts, "kube"))
        set_aci_client(Counting(adapter_for(arm_server.url, arm_server.extra[0].removeprefix("ca=")), counts, "arm"))
        store = QueueStore(azurite.connection_string)
        set_queue_store(store)
        store.ensure(POD_EVENTS_QUEUE)
        config = RelayConfig(nodes=(NODE,), health_port=None)
        relay = Relay(config, kube_client_for(kube_server.url), QueuePutter(store))
        relay.start()
        while not relay.ready():
            time.sleep(0.05)
        kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "e2e"}})
        for index in range(pods):
            kube.request("POST", "/api/v1/namespaces/e2e/pods", body=make_pod(f"p{index}", namespace="e2e"))
        host = QueueHost(store, pod_events)
        handled = host.drain(timeout=600, idle=3.0, concurrency=concurrency)
        listed = kube.request("GET", "/api/v1/namespaces/e2e/pods")["items"]
        created = {name: count / pods for name, count in sorted(counts.items())}
        created["invocations"] = len(handled) / pods
        created["pods with a status"] = sum(1 for pod in listed if (pod.get("status") or {}).get("phase"))
        # A relay restart: it relists and re-announces every pod; what does that cost?
        relay.stop()
        counts.clear()
        relay = Relay(config, kube_client_for(kube_server.url), QueuePutter(store))
        relay.start()
        restarted = {"invocations": len(host.drain(timeout=600, idle=3.0, concurrency=concurrency))}
        restarted.update(sorted(counts.items()))
    finally:
        if relay is not None:
            relay.stop()
        kube_server.stop()
        arm_server.stop()
        azurite.stop()
    return created, restarted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--e2e-pods", type=int, default=200, help="pods for the end-to-end run through the relay")
    args = parser.parse_args()
    created, restarted = through_relay(args.e2e_pods)
    print(f"end to end through the relay, {args.e2e_pods} pods created on the virtual node; per created pod:")
    for name, value in created.items():
        print(f"  {name:<32} {value:.2f}")
    print(f"relay restart with those {args.e2e_pods} pods on the node; totals:")
    for name, value in restarted.items():
        print(f"  {name:<32} {value:.0f}")
    cumulative, wall = import_time()
    baseline = interpreter_start()
    print(f"import function_app: {cumulative * 1000:.0f} ms (-X importtime cumulative, best of 5; limit 600 ms)")
    print(
        f"python -c 'import function_app': {wall * 1000:.0f} ms wall; bare interpreter start {baseline * 1000:.0f} ms"
    )
    run(args.messages)


if __name__ == "__main__":
    main()
