"""Every ARM read of the connector against one budget: the sweep, the worker's creates and the capacity endpoint.

    .venv/bin/python -m bench.reconcile --mode budget [--sizes 5000] [--latency 0.2] [--creates 60]

The fakes run in their own process (bench/reconcile_servers.py) with N Running pods and their groups. In
this process, as on one Functions instance: the timer's cycle every 10 s of real time, a stream of new
pods on the virtual node each handled by the queue worker (`process_message`: its GET, then the PUT), and
the capacity endpoint asked once per cycle. All three share the process's `ArmReadBudget`
(shared/azure/reads.py). ARM's reads are counted at the emulator every cycle, and the table shows the most
reads any 60 s (six consecutive cycles) saw, by kind, against ARM_READS_PER_MINUTE, and the longest cycle.

The baseline, in the same run and on the same fakes: the connector as it was before every read was
budgeted (the sweep alone spent ARM_READS_PER_MINUTE, the worker and capacity read outside it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from shared.azure.quota import CapacityService
from shared.azure.reads import WORKER, ArmReadBudget, reconciler_share
from shared.messages import Message, PodRef, parse_message
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.budget import ReadBudget
from shared.worker import Context, process_message
from tests.fakes.arm_fixtures import adapter_for
from tests.fakes.connector_fixtures import kube_client_for, make_pod, settings_for

COUNTED = ("get", "list", "usages", "put")


@dataclass
class Requeues:
    """The worker's queue: what it re-queues comes back after its visibility delay (real seconds)."""

    due: deque[tuple[float, str]] = field(default_factory=deque)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, text: str, *, delay_seconds: float = 0, **_: Any) -> str:
        with self.lock:
            self.sent += 1
            self.due.append((time.monotonic() + delay_seconds, text))
        return "requeued"

    def dead_letter(self, text: str, **kwargs: Any) -> None:
        raise RuntimeError(f"dead-lettered in the bench: {kwargs}")

    def ready(self) -> list[str]:
        now = time.monotonic()
        with self.lock:
            out = [text for at, text in self.due if at <= now]
            self.due = deque((at, text) for at, text in self.due if at > now)
        return out


class Stream:
    """New pods at a steady rate, each handed to the worker as its upsert message (re-queues honoured)."""

    def __init__(self, ctx: Context, per_minute: float, prefix: str) -> None:
        self.ctx, self.gap, self.prefix = ctx, 60.0 / per_minute, prefix
        self.stop = threading.Event()
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        index, next_at = 0, time.monotonic()
        started: dict[str, float] = {}
        while not self.stop.is_set():
            for text in self.ctx.queue.ready():
                self.handle(text, started)
            if time.monotonic() >= next_at:
                pod = make_pod(name=f"{self.prefix}{index:05d}", automountServiceAccountToken=False)
                made = self.ctx.kube.request("POST", "/api/v1/namespaces/default/pods", body=pod)
                meta = made["metadata"]
                text = Message(op="upsert", pod=PodRef("default", meta["name"], meta["uid"]), source="watch").to_text()
                started[meta["name"]] = time.monotonic()
                self.handle(text, started)
                index, next_at = index + 1, next_at + self.gap
            self.stop.wait(0.02)

    def handle(self, text: str, started: dict[str, float]) -> None:
        outcome = process_message(text, context=self.ctx)
        self.outcomes[outcome.action] = self.outcomes.get(outcome.action, 0) + 1
        name = parse_message(text).pod.name  # type: ignore[union-attr]
        if outcome.action in ("created", "updated") and name in started:
            self.latencies.append(time.monotonic() - started.pop(name))


def _window_max(samples: list[dict[str, int]], cycles: int) -> dict[str, int]:
    """The 60 s (six cycles) with the most reads, by kind: samples are counts at each cycle start."""
    best: dict[str, int] = {}
    for start in range(0, max(1, len(samples) - cycles)):
        end = min(start + cycles, len(samples) - 1)
        window = {k: samples[end][k] - samples[start][k] for k in COUNTED}
        reads = window["get"] + window["list"] + window["usages"]
        if not best or reads > best["reads"]:
            best = {**window, "reads": reads}
    return best


def run_phase(servers: Any, label: str, count: int, creates: float, minutes: int, *, shared: bool) -> dict[str, Any]:
    """`minutes` of the timer on real time, the worker's stream and capacity beside it; reads counted at ARM."""
    arm = servers.arm
    settings = settings_for(servers.kube_url, arm, NODE_CAPACITY_FROM_QUOTA="true")
    per_minute = settings["ARM_READS_PER_MINUTE"]
    budget = ArmReadBudget(per_minute) if shared else None
    aci = adapter_for(arm.url, arm.ca, read_budget=budget)
    kube = kube_client_for(servers.kube_url)
    ctx = Context(settings=settings, aci=aci, queue=Requeues(), kube=kube)
    rec = Reconciler(ctx, config=ReconcileConfig())
    warm = Reconciler(Context(settings=settings, aci=adapter_for(arm.url, arm.ca), queue=None, kube=kube))
    servers.ask("latency 0")
    warm.budget.per_minute = count * 60
    for _ in range(50):  # every group read once (first-seen events written) before the measured minutes
        warm.run_cycle()
        if warm.lister.full_lists and len(warm.last_read) >= count:
            break
    rec.last_read, rec.lister.view = dict(warm.last_read), warm.lister.view
    rec.budget = ReadBudget(
        reconciler_share(per_minute) if shared else per_minute, rec.interval, shared=budget
    )  # before: the sweep alone spent the whole budget
    servers.ask(f"latency {servers.latency}")
    capacity = CapacityService(settings, aci=lambda: aci, kube=lambda: kube)
    stream = Stream(ctx, creates, prefix=f"{label[:1]}n")
    samples: list[dict[str, int]] = []
    walls: list[float] = []
    reports: list[Any] = []
    stream.thread.start()
    try:
        tick = time.monotonic()
        for _ in range(round(minutes * 60 / rec.interval)):
            samples.append({k: servers.ask("counts")[k] for k in COUNTED})
            started = time.perf_counter()
            reports.append(rec.run_cycle())
            walls.append(time.perf_counter() - started)
            capacity.report()
            tick += rec.interval
            time.sleep(max(0.0, tick - time.monotonic()))
        samples.append({k: servers.ask("counts")[k] for k in COUNTED})
    finally:
        stream.stop.set()
        stream.thread.join(timeout=30)
    worst = _window_max(samples, round(60 / rec.interval))
    lat = sorted(stream.latencies)
    return {
        "label": label,
        "n": count,
        "budget": per_minute,
        **worst,
        "longest": max(walls),
        "walls": walls,
        "slowest": reports[walls.index(max(walls))].summary(),
        "created": stream.outcomes.get("created", 0),
        "waited": budget.waited[WORKER] if budget else 0,
        "refused": budget.refused[WORKER] if budget else 0,
        "p50": lat[len(lat) // 2] if lat else 0.0,
        "p99": lat[max(0, int(len(lat) * 0.99) - 1)] if lat else 0.0,
    }


def budget_table(servers_for: Any, sizes: list[int], latency: float, creates: float, minutes: int) -> None:
    print(
        f"every ARM read against one budget: timer every 10 s (real time), {creates:.0f} new pods a minute through "
        f"the worker, capacity asked every cycle; ARM latency {latency * 1000:.0f} ms; reads = the busiest 60 s"
    )
    print(
        f"{'N':>6} {'mode':<34} {'reads/min':>9} {'budget':>6} {'GET':>5} {'pages':>5} {'usages':>6} {'PUT':>5} "
        f"{'longest cycle s':>15} {'created':>7} {'worker waited/refused':>21} {'create p50/p99 s':>17}"
    )
    for count in sizes:
        servers = servers_for(count)
        servers.latency = latency
        try:
            rows = [
                run_phase(servers, "shared budget (all consumers)", count, creates, minutes, shared=True),
                run_phase(servers, "before: sweep-only budget", count, creates, minutes, shared=False),
            ]
        finally:
            servers.process.stop()
        for row in rows:
            print(
                f"{count:>6} {row['label']:<34} {row['reads']:>9} {row['budget']:>6} {row['get']:>5} "
                f"{row['list']:>5} {row['usages']:>6} {row['put']:>5} {row['longest']:>15.2f} {row['created']:>7} "
                f"{str(row['waited']) + '/' + str(row['refused']):>21} {row['p50']:>8.2f}/{row['p99']:<8.2f}",
                flush=True,
            )
        for row in rows:
            slow = row["slowest"]
            print(
                f"{count:>6}   {row['label']}: cycles {' '.join(f'{w:.1f}' for w in row['walls'])} s; the slowest "
                f"read {slow['arm_reads']} + {slow['arm_list_pages']} pages, patched {slow['status_patches']}, "
                f"events {slow['events_written']}, enqueued {slow['enqueued']}, {slow['errors']} errors",
                flush=True,
            )
        ours, before = rows
        print(
            f"{count:>6} reads per minute, all consumers: {ours['reads']} of ARM_READS_PER_MINUTE {ours['budget']} "
            f"({ours['reads'] / ours['budget']:.2f}x the budget; before {before['reads'] / before['budget']:.2f}x), "
            f"longest cycle {ours['longest']:.2f} s of 10 s",
            flush=True,
        )
