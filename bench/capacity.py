"""GET /api/capacity: time per answer from cache and cold, and ARM reads per N requests.

Runs the real HTTP function against the fake ARM (TLS, usages) and the fake Kubernetes API
(pods bound to the virtual node), in-process. The baseline is the same service with its caches
disabled (every request reads ARM and lists pods), measured in the same run.

    .venv/bin/python -m bench.capacity [--pods 200] [--requests 500]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import azure.functions as func


def _timed(call: Callable[[], object], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _summary(label: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"{label:<44} median {statistics.median(samples):8.2f} ms   p99 {p99:8.2f} ms   n={len(samples)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=200, help="pods bound to the virtual node")
    parser.add_argument("--requests", type=int, default=500, help="requests per cached measurement")
    args = parser.parse_args()

    from functions.capacity import capacity
    from shared.azure.quota import CapacityService, set_capacity_service
    from tests.fakes.arm_fixtures import adapter_for, fake_arm
    from tests.fakes.connector_fixtures import kube_client_for, make_pod, settings_for
    from tests.fakes.kube_api import KubeApiServer

    arm, kube_api = fake_arm(), KubeApiServer()
    arm.start()
    kube_api.start()
    try:
        kube = kube_client_for(kube_api.url)
        aci = adapter_for(arm.url, arm.ca_pem_path)
        for index in range(args.pods):
            kube_api.create(make_pod(f"p{index}"))
        settings = settings_for(kube_api.url, arm)

        def request(fmt: str = "json") -> None:
            params = {"format": fmt} if fmt != "json" else {}
            response = capacity(func.HttpRequest("GET", "http://localhost/api/capacity", body=b"", params=params))
            assert response.status_code == 200, response.get_body()

        def fresh_service() -> CapacityService:
            service = CapacityService(settings, aci=lambda: aci, kube=lambda: kube)
            set_capacity_service(service)
            return service

        print(f"GET /api/capacity, fake ARM over TLS + fake Kubernetes API, {args.pods} pods on the node\n")
        fresh_service()
        request()  # warm imports, TLS sessions and connection pools once
        cold = []
        for _ in range(20):
            fresh_service()
            cold += _timed(request, 1)
        print(_summary("cold (ARM usages read + pod list)", cold))

        service = fresh_service()
        arm.counts.clear()
        cached = _timed(request, args.requests)
        prometheus = _timed(lambda: request("prometheus"), args.requests)
        print(_summary("cached, JSON", cached))
        print(_summary("cached, Prometheus text", prometheus))
        print(f"ARM usages reads for {2 * args.requests} requests within one window: {arm.counts['usages']}")

        service.quota_cache.ttl = 0
        for cache in service.pod_caches.values():
            cache.ttl = 0
        arm.counts.clear()
        uncached = _timed(request, min(args.requests, 100))
        print(_summary("baseline: caches disabled", uncached))
        print(f"ARM usages reads for {len(uncached)} uncached requests: {arm.counts['usages']}")
        print(f"\ncached vs uncached median: {statistics.median(uncached) / statistics.median(cached):.0f}x faster")
        set_capacity_service(None)
        aci.close()
    finally:
        kube_api.stop()
        arm.stop()


if __name__ == "__main__":
    main()
