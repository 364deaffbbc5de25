"""The relay's kubelet API: what a scrape, a log read and a follow cost in calls to Azure, and how long they take.

Runs the real kubelet server (TLS, client certificate, TokenReview/SubjectAccessReview) against the fake
apiserver and the ACI emulator (logs, batch metrics), in-process. Baselines in the same run: /healthz for
latency (authn + authz only), the stats cache disabled for metrics calls, and unbounded polling for follow.

    .venv/bin/python -m bench.kubelet_api [--pods 80] [--scrapes 100] [--followers 20] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _timed(call: Callable[[], object], count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _line(label: str, samples: list[float]) -> str:
    return f"{label:<46} median {statistics.median(samples):7.2f} ms   n={len(samples)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=80, help="at most 100: ACI creates per 5 min")
    parser.add_argument("--scrapes", type=int, default=100)
    parser.add_argument("--followers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    import requests
    import trustme

    from shared.naming import container_group_name
    from shared.relay.kubelet.budget import ReadBudget
    from shared.relay.kubelet.config import KubeletConfig
    from shared.relay.kubelet.server import KubeletServer
    from shared.translate import pod_to_container_group
    from tests.fakes.arm_fixtures import adapter_for, fake_arm
    from tests.fakes.connector_fixtures import NODE, kube_client_for, make_pod, settings_for
    from tests.fakes.kube_api import KubeApiServer

    work = Path(tempfile.mkdtemp(prefix="bench-kubelet-"))
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(work / "ca.crt"))
    issued = ca.issue_cert(common_name="apiserver")
    issued.cert_chain_pems[0].write_to_path(str(work / "c.crt"))
    issued.private_key_pem.write_to_path(str(work / "c.key"))
    cert = (str(work / "c.crt"), str(work / "c.key"))
    arm, kube_api = fake_arm(), KubeApiServer()
    arm.start()
    kube_api.start()
    for verb in ("get",):
        for sub in ("proxy", "stats", "metrics"):
            kube_api.reviews.grant("apiserver", verb, f"nodes/{sub}")
    aci = adapter_for(arm.url, arm.ca_pem_path)
    config = KubeletConfig(
        nodes=(NODE,),
        port=0,
        host="127.0.0.1",
        address="127.0.0.1",
        client_ca=str(work / "ca.crt"),
        log_poll_seconds=0.1,
        metrics_endpoint=arm.url,
    )
    server = KubeletServer(config, kube_client_for(kube_api.url), aci)
    server.start()
    try:
        for index in range(args.pods):
            pod = kube_api.create(make_pod(f"p{index}"))
            group = container_group_name(pod)
            aci.begin_create_or_update(group, pod_to_container_group(pod, settings=settings_for(None, arm)))
            arm.make_ready(group)
            arm.metrics.set(group, "nginx", 100 + index, 2**20 * (index + 1))
            arm.set_logs(group, "nginx", "".join(f"line {n}\n" for n in range(200)))
        session = requests.Session()
        session.cert = cert
        verify = server.cert_file  # per request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        base = f"https://127.0.0.1:{server.ports[NODE]}"

        def get(path: str) -> None:
            answer = session.get(base + path, timeout=30, verify=verify)
            assert answer.status_code == 200, answer.text

        print(f"pods on the node: {args.pods}")
        health = _timed(lambda: get("/healthz"), 200)
        print(_line("GET /healthz (authn+authz, baseline)", health))
        budget = server.budget
        server.budget = ReadBudget(10**9)  # latency alone; the shared bucket is measured with the followers below
        for source in server.log_sources.values():
            source.budget = server.budget
        reads = arm.counts["logs"]
        logs = _timed(lambda: get("/containerLogs/default/p0/nginx?tailLines=10"), 200)
        print(_line("GET /containerLogs ?tailLines=10", logs))
        for source in server.log_sources.values():
            source.budget = budget
        server.budget = budget
        print(
            f"  ARM reads per log request: {(arm.counts['logs'] - reads) / 200:.2f}; ratio to /healthz "
            f"{statistics.median(logs) / statistics.median(health):.1f}x"
        )
        print(f"  review calls for {len(health) + len(logs)} requests: {dict(server.gate.reviews)}")

        calls = arm.metrics.calls
        cached = _timed(lambda: get("/stats/summary"), args.scrapes)
        cached_calls = arm.metrics.calls - calls
        server.stats.refresh = 0
        calls = arm.metrics.calls
        uncached = _timed(lambda: get("/stats/summary"), args.scrapes)
        uncached_calls = arm.metrics.calls - calls
        print(_line("GET /stats/summary, cached round", cached))
        print(_line("GET /stats/summary, a round per scrape (baseline)", uncached))
        print(
            f"  Azure Monitor batch calls for {args.scrapes} scrapes: cached {cached_calls}, baseline "
            f"{uncached_calls} (= {math.ceil(args.pods / 50)} per round of {args.pods} groups)"
        )
        server.stats.refresh = 60

        arm.counts["logs"] = 0
        stop = threading.Event()

        def follow(index: int) -> None:
            with (
                contextlib.suppress(requests.RequestException),
                session.get(
                    base + f"/containerLogs/default/p{index % args.pods}/nginx?follow=true&tailLines=1",
                    stream=True,
                    verify=verify,
                ) as answer,
            ):
                for _ in answer.iter_lines():
                    if stop.is_set():
                        return

        threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(args.followers)]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        spent = arm.counts["logs"]
        unbounded = args.followers * (1 + args.seconds / config.log_poll_seconds)
        bound = config.arm_reads_per_minute / 6 + config.arm_reads_per_minute / 60 * args.seconds
        print(
            f"{args.followers} followers for {args.seconds:.0f} s, poll {config.log_poll_seconds} s: "
            f"{spent} ARM log reads (budget allows {bound:.0f}; unbounded polling would be {unbounded:.0f}, "
            f"ratio {spent / unbounded:.3f})"
        )
    finally:
        server.stop()
        arm.stop()
        kube_api.stop()


if __name__ == "__main__":
    main()
