"""The relay bench's load and observer, each in its own process so the relay measured has its CPU to itself.

`python -m bench.relay_load --port 0 cluster`: the fake Kubernetes API; prints its URL, then for every
`burst N NODE` line on stdin creates N pods on NODE straight into its store (as fast as an apiserver
accepting many clients' creates) and prints one JSON line {pod name: creation time}.

`python -m bench.relay_load observe --connection-string ... --count N`: receives from `pod-events` until
N distinct pods were seen and prints one JSON line {pod name: time first visible}.

Times are `time.time()`: the processes share the machine's clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from shared.config import POD_EVENTS_QUEUE


def pod(name: str, node: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def cluster(port: int) -> None:
    from tests.fakes.kube_api import KubeApiServer

    server = KubeApiServer(port=port, history_limit=50_000)
    print(server.start(), flush=True)
    batch = 0
    try:
        for line in sys.stdin:
            _, count, node = line.split()
            created: dict[str, float] = {}
            for index in range(int(count)):
                name = f"burst{batch}-{index}"
                created[name] = time.time()
                server.create(pod(name, node))
            batch += 1
            print(json.dumps(created), flush=True)
    finally:
        server.stop()


def observe(connection_string: str, count: int, timeout: float) -> None:
    from shared.azure.queue import QueueStore

    queue = QueueStore(connection_string).client(POD_EVENTS_QUEUE)
    visible: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    print("ready", flush=True)
    while len(visible) < count and time.monotonic() < deadline:
        batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300))
        now = time.time()
        for item in batch:
            visible.setdefault(json.loads(item.content)["pod"]["name"], now)
        if not batch:
            time.sleep(0.005)
    print(json.dumps(visible), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=("cluster", "observe"))
    parser.add_argument("--port", type=int, default=0, help="cluster: port to serve on (0: any free one)")
    parser.add_argument("--connection-string", help="observe: the Storage account holding pod-events")
    parser.add_argument("--count", type=int, default=0, help="observe: distinct pods to wait for")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if args.role == "cluster":
        cluster(args.port)
    else:
        observe(args.connection_string, args.count, args.timeout)


if __name__ == "__main__":
    main()
