"""Reconciler cost per cycle vs. azure-aci's per-pod polling, fakes in their own process, 30 ms ARM latency.

    .venv/bin/python -m bench.reconcile [--sizes 100,1000,5000] [--latency 0.03]

For each N, bench/reconcile_servers.py runs the fake Kubernetes API and the ACI
emulator in a separate process (as in production the servers are elsewhere: the
connector measured here has the CPU and memory of this process to itself) and
seeds N Running pods with their groups. Then one steady cycle and one cycle where
5% of the groups changed (a container restarted; Event Grid would flag them, so
they are passed as hot names) are measured for:

- the reconciler (budgeted reads, ARM_READS_PER_MINUTE=300, 10 s schedule), with its
  default pool of concurrent GETs and with one GET at a time (the earlier, sequential
  reconciler), and
- the baseline: virtual-kubelet's ACI provider (azure-aci), whose pod status loop reads
  each pod's group twice every 5 s (2 GETs per pod per 5 s); it gets 16 threads so its
  cycle finishes at all at 5,000 pods.

Every ARM read is counted, list pages included, and the ratios compare reads per
minute at each side's own cadence. ARM throttling and quotas of the emulator are
off (the baseline would be throttled first). MiB: tracemalloc peak of one steady
cycle in this process; RSS: this process's peak resident size.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

from bench.servers import Spawned, spawn
from emulator.server import DEFAULT_LOCATION, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION
from shared.kube import Conflict, NotFound
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.status import pod_status_from_container_group, status_differs
from shared.worker import Context
from tests.fakes.arm_fixtures import adapter_for
from tests.fakes.connector_fixtures import NODE, kube_client_for, settings_for

POLL_SECONDS = 5.0
"""azure-aci's pod status cadence: every pod's group is read twice per period."""
GETS_PER_POLL = 2


@dataclass
class Servers:
    """The fakes' process and its stdin/stdout command channel (bench/reconcile_servers.py)."""

    process: Spawned

    @classmethod
    def start(cls, pods: int) -> Servers:
        return cls(spawn("bench.reconcile_servers", "--pods", str(pods), extra_lines=2, stdin=True))

    @property
    def kube_url(self) -> str:
        return self.process.url

    @property
    def arm(self) -> Any:
        url, ca = (line.split("=", 1)[1] for line in self.process.extra)
        return SimpleNamespace(
            url=url,
            ca=ca,
            subscription_id=DEFAULT_SUBSCRIPTION,
            resource_group=DEFAULT_RESOURCE_GROUP,
            location=DEFAULT_LOCATION,
        )

    def ask(self, command: str) -> dict[str, Any]:
        stdin, stdout = self.process.process.stdin, self.process.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(command + "\n")
        stdin.flush()
        return json.loads(stdout.readline())


def measure(label: str, servers: Servers, run: Any) -> dict[str, Any]:
    before = servers.ask("counts")
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    after = servers.ask("counts")
    delta = {key: after[key] - before[key] for key in after}
    return {
        "label": label,
        "arm_gets": delta["get"],
        "arm_pages": delta["list"],
        "kube": delta["kube"],
        "patches": delta["patches"],
        "s": seconds,
    }


def polling_cycle(ctx: Context, threads: int = 16) -> None:
    """The baseline's 5 s period: every pod's group read twice, status patched when it differs."""
    pods, _ = ctx.kube.list_pods(field_selector=f"spec.nodeName={NODE}")

    def one(pod: dict[str, Any]) -> None:
        for _ in range(GETS_PER_POLL - 1):
            ctx.aci.get(container_group_name(pod))
        group = ctx.aci.get(container_group_name(pod))
        if group is None:
            return
        desired = pod_status_from_container_group(group, pod)
        if status_differs(pod.get("status") or {}, desired):
            meta = pod["metadata"]
            try:
                ctx.kube.patch_pod_status(meta["namespace"], meta["name"], meta["uid"], desired)
            except (NotFound, Conflict):
                return

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, pods))


def peak_memory(run: Any) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 2**20


def bench_size(count: int, latency: float) -> list[dict[str, Any]]:
    servers = Servers.start(count)
    try:
        arm = servers.arm
        settings = settings_for(servers.kube_url, arm)
        kube = kube_client_for(servers.kube_url)
        ctx = Context(settings=settings, aci=adapter_for(arm.url, arm.ca), queue=None, kube=kube)
        servers.ask(f"latency {latency}")
        rec = Reconciler(ctx, config=ReconcileConfig())
        rec.budget.per_minute = count * 6  # warm-up: read every group once (first-seen events are written once)
        rec.run_cycle()
        rec.budget = type(rec.budget)(settings["ARM_READS_PER_MINUTE"], rec.interval)
        rows = [measure("reconciler steady", servers, rec.run_cycle)]
        changed = servers.ask("churn 0.05 1")["changed"]
        report_holder: dict[str, Any] = {}

        def churn_cycle() -> None:
            report_holder["r"] = rec.run_cycle(hot=changed)

        rows.append(measure("reconciler 5% changed", servers, churn_cycle))
        rows[-1]["deferred"] = report_holder["r"].deferred_reads
        rows[0]["mib"] = peak_memory(rec.run_cycle)
        rows[0]["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rec.config = replace(rec.config, read_workers=1)  # the same process, reading one group at a time
        rows.append(measure("sequential steady", servers, rec.run_cycle))
        changed = servers.ask("churn 0.05 3")["changed"]
        rows.append(measure("sequential 5% changed", servers, churn_cycle))
        rows[-1]["deferred"] = report_holder["r"].deferred_reads
        polling_cycle(ctx)  # settle what the reconciler deferred, so the baseline starts steady
        polling = measure("azure-aci polling steady", servers, lambda: polling_cycle(ctx))
        rows.append(polling)
        servers.ask("churn 0.05 2")
        rows.append(measure("azure-aci polling 5% changed", servers, lambda: polling_cycle(ctx)))
        polling["mib"] = peak_memory(lambda: polling_cycle(ctx))
        for row in rows:
            row["n"] = count
            row["interval"] = rec.interval
        return rows
    finally:
        servers.process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--latency", type=float, default=0.03)
    args = parser.parse_args()
    header = f"{'N':>5} {'mode':<28} {'ARM GET':>8} {'ARM pages':>9} {'kube':>6} {'PATCH':>6} {'wall s':>7} {'MiB':>6}"
    print(header)
    for count in (int(n) for n in args.sizes.split(",")):
        rows = bench_size(count, args.latency)
        for row in rows:
            mib = f"{row['mib']:.1f}" if "mib" in row else ""
            extra = f"  (deferred {row['deferred']})" if "deferred" in row else ""
            extra += f"  (peak RSS {row['rss']:.0f} MiB)" if "rss" in row else ""
            print(
                f"{count:>5} {row['label']:<28} {row['arm_gets']:>8} {row['arm_pages']:>9} {row['kube']:>6} "
                f"{row['patches']:>6} {row['s']:>7.2f} {mib:>6}{extra}"
            )
        by_label = {row["label"]: row for row in rows}
        ours, theirs = by_label["reconciler steady"], by_label["azure-aci polling steady"]
        ours_per_minute = (ours["arm_gets"] + ours["arm_pages"]) * 60 / ours["interval"]
        theirs_per_minute = (theirs["arm_gets"] + theirs["arm_pages"]) * 60 / POLL_SECONDS
        print(
            f"{count:>5} steady ARM reads per minute, list pages included: reconciler {ours_per_minute:.0f}, "
            f"azure-aci {theirs_per_minute:.0f} ({theirs_per_minute / max(ours_per_minute, 1):.1f}x); "
            f"cycle wall: reconciler {ours['s']:.2f} s of its {ours['interval']:.0f} s, "
            f"azure-aci {theirs['s']:.2f} s of its {POLL_SECONDS:.0f} s"
        )
        sequential = by_label["sequential steady"]["s"] / max(ours["s"], 1e-9)
        hot = by_label["sequential 5% changed"]["s"] / max(by_label["reconciler 5% changed"]["s"], 1e-9)
        print(f"{count:>5} sequential/concurrent reconciler wall: steady {sequential:.1f}x, 5% changed {hot:.1f}x")


if __name__ == "__main__":
    main()
