"""The relay bench's Kubernetes side, in its own process so the relay measured has its CPU to itself.

`python -m bench.relay_load --port 0 fake`: the fake Kubernetes API; prints its URL, then for every
`burst N NODE` line on stdin creates N pods on NODE straight into its store (no HTTP: all N exist within a
fraction of a second, faster than any apiserver) and prints one JSON line {pod name: creation time}.

`python -m bench.relay_load --port 0 real`: a real kube-apiserver 1.20 + etcd (tests/fakes/kube_real.py);
prints its URL and the file of its CA, then for every `burst N NODE` line creates N pods with
`CONCURRENT_CREATES` POSTs in flight over keep-alive connections, as fast as the apiserver accepts them, and
prints {pod name: time the apiserver acknowledged the create}. The apiserver and etcd share the machine's
two cores with the relay and Azurite (in a cluster they would not).

Times are `time.time()`: the processes share the machine's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

CONCURRENT_CREATES = 32


def pod(name: str, node: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def serve_bursts(create_burst: Callable[[list[str], str], dict[str, float]]) -> None:
    """Answer each `burst N NODE` line on stdin with the JSON of the pods' creation times."""
    for batch, line in enumerate(sys.stdin):
        _, count, node = line.split()
        names = [f"burst{batch}-{index}" for index in range(int(count))]
        print(json.dumps(create_burst(names, node)), flush=True)


def fake(port: int) -> None:
    from tests.fakes.kube_api import KubeApiServer

    server = KubeApiServer(port=port, history_limit=50_000)
    print(server.start(), flush=True)

    def create_burst(names: list[str], node: str) -> dict[str, float]:
        created: dict[str, float] = {}
        for name in names:
            created[name] = time.time()
            server.create(pod(name, node))
        return created

    try:
        serve_bursts(create_burst)
    finally:
        server.stop()


async def create_concurrently(server: Any, names: list[str], node: str) -> dict[str, float]:
    """POST every pod, CONCURRENT_CREATES at a time over keep-alive TLS connections; the time of each 201."""
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=server.ca_file)
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    created: dict[str, float] = {}
    slots = asyncio.Semaphore(CONCURRENT_CREATES)
    connector = aiohttp.TCPConnector(ssl=context, limit=CONCURRENT_CREATES)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def create(name: str) -> None:
            async with slots, session.post(f"{server.url}/api/v1/namespaces/default/pods", json=pod(name, node)) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"creating pod {name}: HTTP {r.status}")
                created[name] = time.time()

        await asyncio.gather(*(create(name) for name in names))
    return created


def real() -> None:
    from tests.fakes.kube_real import RealKube, RealKubeUnavailable

    try:
        server = RealKube(audit_log=False).start()
    except RealKubeUnavailable as error:
        print(f"real kube-apiserver unavailable: {error}", flush=True)
        return
    print(server.url, flush=True)
    print(server.ca_file, flush=True)
    try:
        serve_bursts(lambda names, node: asyncio.run(create_concurrently(server, names, node)))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", choices=("fake", "real"))
    parser.add_argument("--port", type=int, default=0, help="fake: port to serve on (0: any free one)")
    args = parser.parse_args()
    # The bench stops this process with SIGTERM; exiting through SystemExit runs the `finally` that stops the
    # servers (a real kube-apiserver and etcd run in their own sessions and would otherwise be left running).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.source == "fake":
        fake(args.port)
    else:
        real()


if __name__ == "__main__":
    main()
