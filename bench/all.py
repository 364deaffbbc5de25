"""Run every benchmark in turn (`make bench`); each prints its own figures. Not part of the test suite."""

from __future__ import annotations

import subprocess
import sys

from bench.servers import ROOT

BENCHES = (
    "bench.translate",
    "bench.queue_throughput",
    "bench.capacity",
    "bench.relay",
    "bench.reconcile",
    "bench.kubelet_api",
    "bench.registry",
)


def main() -> int:
    failed = []
    for module in BENCHES:
        print(f"\n== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], cwd=ROOT, check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
