"""Reconciler cost per cycle vs. per-pod polling, on the fakes with 30 ms ARM latency (or --latency).

    .venv/bin/python -m bench.reconcile [--sizes 100,1000,5000] [--latency 0.03]

For each N: seed N running pods and their groups straight into the fakes' stores
(HTTP seeding of 5,000 pods would dominate the run), then measure one steady
cycle and one cycle where 5% of the groups changed (a container restarted;
Event Grid would flag them, so they are passed as hot names), for:

- the reconciler (budgeted reads, ARM_READS_PER_MINUTE=300, 10 s schedule), with its
  default pool of concurrent GETs and with one GET at a time (the earlier, sequential
  reconciler), and
- a per-pod polling baseline (list pods, GET every group every cycle, patch on
  change), as virtual-kubelet's ACI provider does; it gets 16 threads so its
  cycle finishes at all at 5,000 pods.

ARM throttling and quotas of the fake are off (the baseline would be throttled
first). Peak memory is measured with tracemalloc in a separate cycle (it slows
Python down) and includes the in-process fake servers' allocations.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from emulator.server import ArmServer
from shared.kube import Conflict, NotFound
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.status import pod_status_from_container_group, status_differs
from shared.translate import translate_pod
from shared.worker import Context, with_spec_hash
from tests.fakes.arm_fixtures import adapter_for, fake_arm
from tests.fakes.connector_fixtures import NODE, kube_client_for, make_pod, settings_for
from tests.fakes.kube_api import KubeApiServer


def seed(kube_api: KubeApiServer, arm: ArmServer, settings: Any, count: int) -> list[str]:
    """N Running pods and their Succeeded groups, written to the stores directly."""
    names = []
    now = arm.state.now()
    for index in range(count):
        pod = kube_api.create(make_pod(name=f"p{index:05d}"))
        name = container_group_name(pod)
        body = with_spec_hash(translate_pod(pod, settings=settings).body)
        record, _, _ = arm.state.upsert(arm.subscription_id, arm.resource_group, name, body)
        record.created = now - 60
        status = pod_status_from_container_group(arm.state.render(record, instance_view=True), pod)
        kube_api.patch("pods", "default", pod["metadata"]["name"], {"status": status}, subresource="status")
        names.append(name)
    return names


def churn(arm: ArmServer, names: list[str], fraction: float, cycle: int) -> list[str]:
    """A container restarts in `fraction` of the groups (ACI's restartPolicy Always brings it back)."""
    step = max(1, round(1 / fraction))
    changed = names[cycle % step :: step]
    for name in changed:
        arm.terminate(name, exit_code=1)
    return changed


def totals(kube_api: KubeApiServer, arm: ArmServer) -> tuple[int, int, int, int]:
    kube_calls = sum(kube_api.request_counts.values())
    patches = kube_api.request_counts[("PATCH", "pods/status")]
    arm_reads = arm.counts["get"]
    arm_pages = arm.counts["list"]
    return kube_calls, patches, arm_reads, arm_pages


def measure(label: str, kube_api: KubeApiServer, arm: ArmServer, run: Any) -> dict[str, Any]:
    before = totals(kube_api, arm)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    after = totals(kube_api, arm)
    kube_calls, patches, reads, pages = (a - b for a, b in zip(after, before, strict=True))
    return {"label": label, "arm_gets": reads, "arm_pages": pages, "kube": kube_calls, "patches": patches, "s": seconds}


def polling_cycle(ctx: Context, threads: int = 16) -> None:
    """The baseline: every pod's group read every cycle, status patched when it differs."""
    pods, _ = ctx.kube.list_pods(field_selector=f"spec.nodeName={NODE}")

    def one(pod: dict[str, Any]) -> None:
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
    kube_api = KubeApiServer()
    kube_api.start()
    arm = fake_arm()
    arm.start()
    arm.throttle.enabled = False
    arm.state.emit_events = True
    try:
        settings = settings_for(kube_api.url, arm)
        names = seed(kube_api, arm, settings, count)
        kube = kube_client_for(kube_api.url)
        ctx = Context(settings=settings, aci=adapter_for(arm.url, arm.ca_pem_path), queue=None, kube=kube)
        arm.faults.latency = latency
        rec = Reconciler(ctx, config=ReconcileConfig())
        rec.budget.per_minute = count * 6  # warm-up: read every group once (first-seen events are written once)
        rec.run_cycle()
        rec.budget = type(rec.budget)(settings["ARM_READS_PER_MINUTE"], rec.interval)
        rows = [measure("reconciler steady", kube_api, arm, rec.run_cycle)]
        changed = churn(arm, names, 0.05, 1)
        report_holder: dict[str, Any] = {}

        def churn_cycle() -> None:
            report_holder["r"] = rec.run_cycle(hot=changed)

        rows.append(measure("reconciler 5% changed", kube_api, arm, churn_cycle))
        rows[-1]["deferred"] = report_holder["r"].deferred_reads
        rows[0]["mib"] = peak_memory(rec.run_cycle)
        rec.config = replace(rec.config, read_workers=1)  # the same process, reading one group at a time
        rows.append(measure("sequential steady", kube_api, arm, rec.run_cycle))
        changed = churn(arm, names, 0.05, 3)
        rows.append(measure("sequential 5% changed", kube_api, arm, churn_cycle))
        rows[-1]["deferred"] = report_holder["r"].deferred_reads
        polling_cycle(ctx)  # settle what the reconciler deferred, so the baseline starts steady
        polling = measure("polling steady", kube_api, arm, lambda: polling_cycle(ctx))
        rows.append(polling)
        churn(arm, names, 0.05, 2)
        rows.append(measure("polling 5% changed", kube_api, arm, lambda: polling_cycle(ctx)))
        polling["mib"] = peak_memory(lambda: polling_cycle(ctx))
        for row in rows:
            row["n"] = count
        return rows
    finally:
        arm.stop()
        kube_api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--latency", type=float, default=0.03)
    args = parser.parse_args()
    header = f"{'N':>5} {'mode':<24} {'ARM GET':>8} {'ARM pages':>9} {'kube':>6} {'PATCH':>6} {'wall s':>7} {'MiB':>6}"
    print(header)
    for count in (int(n) for n in args.sizes.split(",")):
        rows = bench_size(count, args.latency)
        for row in rows:
            mib = f"{row['mib']:.1f}" if "mib" in row else ""
            deferred = f"  (deferred {row['deferred']})" if "deferred" in row else ""
            print(
                f"{count:>5} {row['label']:<24} {row['arm_gets']:>8} {row['arm_pages']:>9} {row['kube']:>6} "
                f"{row['patches']:>6} {row['s']:>7.2f} {mib:>6}{deferred}"
            )
        by_label = {row["label"]: row for row in rows}
        ours, theirs = by_label["reconciler steady"], by_label["polling steady"]
        gets = theirs["arm_gets"] / max(ours["arm_gets"], 1)
        kube = theirs["kube"] / max(ours["kube"], 1)
        wall = theirs["s"] / max(ours["s"], 1e-9)
        print(f"{count:>5} steady polling/reconciler: GETs {gets:.1f}x, kube {kube:.1f}x, wall {wall:.1f}x")
        sequential = by_label["sequential steady"]["s"] / max(ours["s"], 1e-9)
        hot = by_label["sequential 5% changed"]["s"] / max(by_label["reconciler 5% changed"]["s"], 1e-9)
        print(f"{count:>5} sequential/concurrent reconciler wall: steady {sequential:.1f}x, 5% changed {hot:.1f}x")


if __name__ == "__main__":
    main()
