"""Image config resolution (args without command): what a registry round trip costs and what the cache saves.

Against the fake registry on 127.0.0.1 (Docker Hub's token flow, a manifest list, the blob redirect), so the
numbers are the connector's own overhead plus loopback HTTP, not Internet latency: multiply the request
counts by a real registry's round trip (typically 50-200 ms) for production. Printed per resolution:
requests made and time, for a cold process, a warm cache (tag: one HEAD) and a pinned digest (no request).

Run: .venv/bin/python -m bench.registry
"""

from __future__ import annotations

import time

from shared.registry import ImageResolver, RegistryClient
from tests.fakes.registry import FakeRegistry

ROUNDS = 200


def measure(label: str, registry: FakeRegistry, resolver: ImageResolver, image: str, baseline: float) -> float:
    registry.requests.clear()
    start = time.perf_counter()
    for _ in range(ROUNDS):
        resolver.resolve(image)
    per_call = (time.perf_counter() - start) / ROUNDS
    ratio = f"{baseline / per_call:>6.0f}x faster"
    print(f"{label:<44} {per_call * 1e3:>7.2f} ms  {len(registry.requests) / ROUNDS:>5.2f} requests  {ratio}")
    return per_call


def main() -> None:
    with FakeRegistry(auth="bearer") as registry:
        registry.load_fixture("docker.io")
        endpoints = {"docker.io": registry.url}
        digest = registry.repositories["library/nginx"].tags["1.29"]
        shared = ImageResolver(RegistryClient(endpoints=endpoints))
        shared.resolve(f"nginx@{digest}")
        shared.resolve("nginx:1.29")
        # every call from a brand-new resolver: the cost of the first pod of a process (token, HEAD, index,
        # platform manifest, config blob through the redirect)
        rounds = ROUNDS // 4
        registry.requests.clear()
        start = time.perf_counter()
        for _ in range(rounds):
            ImageResolver(RegistryClient(endpoints=endpoints)).resolve("nginx:1.29")
        first = (time.perf_counter() - start) / rounds
        per = len(registry.requests) / rounds
        print(f"{'first pod of a process':<44} {first * 1e3:>7.2f} ms  {per:>5.2f} requests  baseline")
        measure("warm cache, tag (one HEAD)", registry, shared, "nginx:1.29", first)
        measure("warm cache, pinned digest (no request)", registry, shared, f"nginx@{digest}", first)


if __name__ == "__main__":
    main()
