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
import math
import random
import resource
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bench.reconcile_servers import WORKSPACE
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
DRAIN_MINUTES = 4
"""Freshness: simulated minutes run after the last exit, so exits near the end can still show."""


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
        url, ca = (line.split("=", 1)[1] for line in self.process.extra[:2])
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


def rss_now() -> float:
    """This process's resident size now (MiB), from /proc; ru_maxrss is the peak over its whole life."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_memory(run: Any) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 2**20


class Schedule:
    """The reconciler's clock: real time plus one schedule interval per cycle, so cycles run back to back here
    meet the read budget's 60 s window as the timer's cycles would, 10 s apart."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def warm_up(rec: Reconciler, servers: Servers, schedule: Schedule, count: int) -> None:
    """Read every group once at no latency (first-seen events are written once), then the real budget."""
    servers.ask("latency 0")
    share = rec.budget.per_minute  # the sweep's share of ARM_READS_PER_MINUTE (shared/azure/reads.py)
    rec.budget.per_minute = count * 60
    for _ in range(200):
        schedule.offset += rec.interval
        rec.run_cycle()
        if rec.lister.full_lists and len(rec.last_read) >= count:
            break
    rec.budget = type(rec.budget)(share, rec.interval, clock=schedule, shared=rec.budget.shared)


def steady_minute(label: str, rec: Reconciler, servers: Servers, schedule: Schedule) -> dict[str, Any]:
    """One minute of the timer (6 cycles at 10 s): every ARM read of that minute, and the longest cycle."""
    walls: list[float] = []

    def minute() -> None:
        for _ in range(round(60 / rec.interval)):
            schedule.offset += rec.interval
            started = time.perf_counter()
            rec.run_cycle()
            walls.append(time.perf_counter() - started)

    row = measure(label, servers, minute)
    row["s"] = max(walls)
    row["per_minute"] = True
    return row


def bench_size(count: int, latency: float, baseline: bool) -> list[dict[str, Any]]:
    servers = Servers.start(count)
    try:
        arm = servers.arm
        settings = settings_for(servers.kube_url, arm)
        kube = kube_client_for(servers.kube_url)
        ctx = Context(settings=settings, aci=adapter_for(arm.url, arm.ca), queue=None, kube=kube)
        schedule = Schedule()
        rec = Reconciler(ctx, config=ReconcileConfig(), clock=schedule)
        servers.ask(f"latency {latency}")
        cold = measure("reconciler, first cycle (cold)", servers, rec.run_cycle)
        warm_up(rec, servers, schedule, count)
        servers.ask(f"latency {latency}")
        rows = [steady_minute("reconciler, a steady minute", rec, servers, schedule), cold]
        rows[0]["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows[0]["rss_now"] = rss_now()
        changed = servers.ask("churn 0.05 1")["changed"]
        report_holder: dict[str, Any] = {}

        def churn_cycle() -> None:
            schedule.offset += rec.interval
            report_holder["r"] = rec.run_cycle(hot=changed)

        rows.append(measure("reconciler 5% changed", servers, churn_cycle))
        rows[-1]["deferred"] = report_holder["r"].deferred_reads
        rows[0]["mib"] = peak_memory(churn_cycle)
        if rec.pod_view is not None and count >= rec.pod_view.watch_from:  # the pod view against relisting
            rec.pod_view.watch_from = count + 1  # every node relisted every cycle, as before the view
            rows.append(steady_minute("relisting pods every cycle", rec, servers, schedule))
            rec.pod_view.watch_from = rec.config.watch_pods_from
        if baseline:
            rec.config = replace(rec.config, read_workers=1)  # the same process, reading one group at a time
            rows.append(steady_minute("sequential, a steady minute", rec, servers, schedule))
            polling_cycle(ctx)  # settle what the reconciler deferred, so the baseline starts steady
            polling = measure("azure-aci polling steady", servers, lambda: polling_cycle(ctx))
            rows.append(polling)
            servers.ask("churn 0.05 2")
            rows.append(measure("azure-aci polling 5% changed", servers, lambda: polling_cycle(ctx)))
            polling["mib"] = peak_memory(lambda: polling_cycle(ctx))
        for row in rows:
            row["n"] = count
            row["interval"] = rec.interval
            row["budget"] = settings["ARM_READS_PER_MINUTE"]
            row["share"] = rec.budget.per_minute
        return rows
    finally:
        servers.process.stop()


def freshness(count: int, latency: float, delay: float, minutes: int, feed_on: bool) -> dict[str, Any]:
    """Containers exit at random (1% of pods per minute) while the timer runs on simulated time.

    Returns p50/p95 seconds from an exit to the pod status showing it (an exit not shown by DRAIN_MINUTES after
    the last one counts as never),
    the most ARM reads one cycle spent (list pages included) and the longest cycle's wall time.
    """
    from shared.azure.changefeed import ContainerEventFeed, logs_client
    from shared.reconcile.feed import FeedDriver, NodeWatermark
    from tests.fakes.arm_fixtures import StaticTokenCredential

    servers = Servers(
        spawn(
            "bench.reconcile_servers", "--pods", str(count), "--ingestion-delay", str(delay), extra_lines=3, stdin=True
        )
    )
    try:
        arm = servers.arm
        workspace_url, workspace_ca, start = servers.process.extra[2].removeprefix("workspace=").split()
        sim = {"now": float(start)}

        def wall() -> datetime:
            return datetime.fromtimestamp(sim["now"], UTC)

        settings = settings_for(servers.kube_url, arm)
        kube = kube_client_for(servers.kube_url)
        ctx = Context(settings=settings, aci=adapter_for(arm.url, arm.ca), queue=None, kube=kube)
        feed = None
        if feed_on:
            client = logs_client(workspace_url, credential=StaticTokenCredential(), connection_verify=workspace_ca)
            feed = FeedDriver(ContainerEventFeed(WORKSPACE, client, NodeWatermark(kube, NODE), now=wall))
        schedule = Schedule()
        rec = Reconciler(ctx, config=ReconcileConfig(), clock=schedule, wall=wall, feed=feed)
        warm_up(rec, servers, schedule, count)
        servers.ask(f"latency {latency}")
        groups = sorted(rec.last_read)
        rng = random.Random(count)
        per_cycle = count * 0.01 * rec.interval / 60
        carry, exits, shown = 0.0, 0, []
        pending: dict[str, tuple[float, int]] = {}
        expected: dict[str, int] = {}
        most_reads, longest = 0, 0.0
        exit_cycles = round(minutes * 60 / rec.interval)
        for cycle in range(exit_cycles + round(DRAIN_MINUTES * 60 / rec.interval)):
            carry += per_cycle if cycle < exit_cycles else 0.0  # then no more exits: what is left may still show
            batch = rng.sample(groups, int(carry))
            carry -= len(batch)
            if batch:
                servers.ask("exit " + " ".join(batch))
            for name in batch:
                expected[name] = expected.get(name, 0) + 1
                pending.setdefault(name, (sim["now"], expected[name]))
            exits += len(batch)
            sim["now"] = servers.ask(f"advance {rec.interval}")["now"]
            schedule.offset += rec.interval
            before = servers.ask("counts")
            started = time.perf_counter()
            rec.run_cycle()
            longest = max(longest, time.perf_counter() - started)
            after = servers.ask("counts")
            most_reads = max(most_reads, after["get"] - before["get"] + after["list"] - before["list"])
            if pending:
                restarts = servers.ask("restarts " + " ".join(pending))
                for name, seen in restarts.items():
                    at, needed = pending[name]
                    if seen >= needed:
                        shown.append(sim["now"] - at)
                        del pending[name]
                        if seen < expected[name]:
                            pending[name] = (at, expected[name])  # a later exit of the same group still to show
        delays = sorted(shown) + [math.inf] * len(pending)
        return {
            "n": count,
            "feed": feed_on,
            "exits": exits,
            "p50": delays[len(delays) // 2] if delays else 0.0,
            "p95": delays[max(0, math.ceil(len(delays) * 0.95) - 1)] if delays else 0.0,
            "unseen": len(pending),
            "reads": most_reads,
            "budget": rec.budget.per_cycle,
            "longest": longest,
        }
    finally:
        servers.process.stop()


def freshness_table(sizes: list[int], latency: float, delay: float, minutes: int, feeds: tuple[bool, ...]) -> None:
    print(
        f"freshness: 1% of pods' containers exit per minute, {minutes} simulated minutes, ARM latency "
        f"{latency * 1000:.0f} ms, Log Analytics ingestion delay {delay:.0f} s (exit -> pod status, seconds; "
        f"inf: not shown within the run, {DRAIN_MINUTES} minutes after the last exit)"
    )
    print(
        f"{'N':>6} {'change feed':<12} {'exits':>6} {'p50 s':>7} {'p95 s':>7} {'unseen':>7} "
        f"{'reads/cycle':>12} {'longest cycle s':>16}"
    )
    for count in sizes:
        for feed_on in feeds:
            row = freshness(count, latency, delay, minutes, feed_on)
            print(
                f"{count:>6} {'on' if feed_on else 'off':<12} {row['exits']:>6} {row['p50']:>7.0f} {row['p95']:>7.0f} "
                f"{row['unseen']:>7} {str(row['reads']) + ' of ' + str(row['budget']):>12} {row['longest']:>16.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument(
        "--baseline-max", type=int, default=5000, help="largest N the polling baseline runs at (it is slow)"
    )
    parser.add_argument("--mode", choices=("cost", "freshness", "budget"), default="cost")
    parser.add_argument("--creates", type=float, default=60.0, help="budget: new pods a minute through the worker")
    parser.add_argument("--budget-minutes", type=int, default=2, help="budget: real minutes measured per mode")
    parser.add_argument("--ingestion-delay", type=float, default=60.0, help="freshness: Log Analytics delay (s)")
    parser.add_argument("--minutes", type=int, default=6, help="freshness: simulated minutes per run")
    parser.add_argument("--feed", choices=("both", "on", "off"), default="both", help="freshness: with the feed?")
    args = parser.parse_args()
    if args.mode == "budget":  # every consumer's reads against one budget (bench/read_budget.py)
        from bench.read_budget import budget_table

        sizes = [int(n) for n in args.sizes.split(",")]
        budget_table(Servers.start, sizes, args.latency, args.creates, args.budget_minutes)
        return
    if args.mode == "freshness":
        sizes = [int(n) for n in args.sizes.split(",")]
        feeds = {"both": (False, True), "on": (True,), "off": (False,)}[args.feed]
        freshness_table(sizes, args.latency, args.ingestion_delay, args.minutes, feeds)
        return
    print("'a steady minute' rows: reads and calls of one minute of the timer (6 cycles), wall = longest cycle")
    header = f"{'N':>6} {'mode':<30} {'ARM GET':>8} {'ARM pages':>9} {'kube':>6} {'PATCH':>6} {'wall s':>7} {'MiB':>6}"
    print(header)
    for count in (int(n) for n in args.sizes.split(",")):
        rows = bench_size(count, args.latency, baseline=count <= args.baseline_max)
        for row in rows:
            mib = f"{row['mib']:.1f}" if "mib" in row else ""
            extra = f"  (deferred {row['deferred']})" if "deferred" in row else ""
            extra += f"  (peak RSS {row['rss']:.0f} MiB, now {row['rss_now']:.0f} MiB)" if "rss" in row else ""
            print(
                f"{count:>6} {row['label']:<30} {row['arm_gets']:>8} {row['arm_pages']:>9} {row['kube']:>6} "
                f"{row['patches']:>6} {row['s']:>7.2f} {mib:>6}{extra}",
                flush=True,
            )
        by_label = {row["label"]: row for row in rows}
        ours = by_label["reconciler, a steady minute"]
        ours_per_minute = ours["arm_gets"] + ours["arm_pages"]
        line = (
            f"{count:>6} ARM reads per minute, list pages included: reconciler {ours_per_minute} "
            f"(ARM_READS_PER_MINUTE {ours['budget']}, the sweep's share {ours['share']}); "
            f"longest cycle {ours['s']:.2f} s of its {ours['interval']:.0f} s"
        )
        theirs = by_label.get("azure-aci polling steady")
        if theirs is not None:
            theirs_per_minute = (theirs["arm_gets"] + theirs["arm_pages"]) * 60 / POLL_SECONDS
            line += (
                f"; azure-aci {theirs_per_minute:.0f} ({theirs_per_minute / max(ours_per_minute, 1):.1f}x), "
                f"its cycle {theirs['s']:.2f} s of its {POLL_SECONDS:.0f} s"
            )
            sequential = by_label["sequential, a steady minute"]["s"] / max(ours["s"], 1e-9)
            line += f"; sequential/concurrent longest cycle {sequential:.1f}x"
        relisting = by_label.get("relisting pods every cycle")
        if relisting is not None:
            line += (
                f"; relisting pods every cycle: {relisting['kube']} Kubernetes calls a minute "
                f"({relisting['kube'] / max(ours['kube'], 1):.1f}x), longest cycle {relisting['s']:.2f} s "
                f"({relisting['s'] / max(ours['s'], 1e-9):.2f}x)"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
