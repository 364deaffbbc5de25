"""Run every benchmark in turn (`make bench`); each prints its own figures. Not part of the test suite."""

from __future__ import annotations

import subprocess
import sys

from bench.servers import ROOT

BENCHES: tuple[tuple[str, ...], ...] = (
    ("bench.translate",),
    ("bench.queue_throughput",),
    ("bench.capacity",),
    ("bench.relay",),
    ("bench.reconcile",),
    ("bench.reconcile", "--sizes", "5000", "--latency", "0.2", "--baseline-max", "0"),
    ("bench.reconcile", "--sizes", "20000", "--latency", "0.2", "--baseline-max", "0"),
    ("bench.reconcile", "--mode", "freshness", "--sizes", "1000,5000", "--minutes", "4"),
    ("bench.reconcile", "--mode", "budget", "--sizes", "5000", "--latency", "0.2"),
    ("bench.kubelet_api",),
    ("bench.registry",),
)
"""About how long each reconcile run takes on the shared 2-core machine is in docs/performance.md; the 20,000-pod
freshness runs (`bench.reconcile --mode freshness --sizes 20000 --feed on|off --minutes 4`) are run by hand."""


def main() -> int:
    failed = []
    for module, *args in BENCHES:
        label = " ".join((module, *args))
        print(f"\n== {label}", flush=True)
        if subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=False).returncode != 0:
            failed.append(label)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
