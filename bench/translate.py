"""Pods translated per second: a busy pod (5 containers x 20 env vars, 6 volumes) and the minimal nginx pod.

Run: .venv/bin/python -m bench.translate
"""

from __future__ import annotations

import time

from shared.translate import TranslateOptions, pod_to_container_group
from tests.unit.test_translate_samples import MINIMAL_NGINX_POD, rich_pod


def rate(label: str, call, seconds: float = 1.5) -> float:
    call()  # warm up caches (default options, imports)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            call()
        count += 50
    per_second = count / elapsed
    print(f"{label:<48} {per_second:>10,.0f} pods/s  ({1e6 / per_second:,.0f} us/pod)")
    return per_second


def main() -> None:
    options = TranslateOptions()
    pod, secrets, config_maps = rich_pod(containers=5, env_vars=20)
    rate(
        "busy pod (5 containers, 20 env vars, 6 volumes)",
        lambda: pod_to_container_group(pod, secrets=secrets, config_maps=config_maps, settings=options),
    )
    rate("minimal nginx pod", lambda: pod_to_container_group(MINIMAL_NGINX_POD, settings=options))


if __name__ == "__main__":
    main()
