"""The relay's pure parts: change detection, coalescing (on a fake clock), the bounded send buffer, metrics."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import defaultdict
from typing import Any

import pytest

from shared.messages import Message, PodRef, parse_message
from shared.relay import changes
from shared.relay.backoff import Backoff
from shared.relay.coalesce import Coalescer
from shared.relay.metrics import Metrics
from shared.relay.sender import Sender
from shared.tags import SPEC_HASH_ANNOTATION


def pod(name: str, *, uid: str = "u1", rv: str = "1", image: str = "nginx", deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid, "resourceVersion": rv}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-27T10:00:00Z"
    return {
        "metadata": metadata,
        "spec": {"nodeName": "vk", "containers": [{"name": "c", "image": image}]},
        "status": {"phase": "Pending"},
    }


def test_status_only_and_resource_version_only_changes_are_not_relayed():
    known: dict = {}
    assert changes.on_present(known, pod("a")).op == "upsert"  # type: ignore[union-attr]
    running = pod("a", rv="2")
    running["status"] = {"phase": "Running"}
    assert changes.on_present(known, running) is None
    assert changes.on_present(known, pod("a", rv="3", image="nginx:2")).op == "upsert"  # type: ignore[union-attr]
    assert changes.on_present(known, pod("a", rv="4", image="nginx:2", deleting=True)).op == "delete"  # type: ignore[union-attr]
    assert changes.on_deleted(known, pod("a", rv="5", deleting=True)).op == "delete"
    assert known == {}


def test_the_connectors_own_status_and_annotation_writes_are_not_relayed_but_a_users_annotation_is():
    known: dict = {}
    changes.on_present(known, pod("a"))
    ours = pod("a", rv="2")
    ours["status"] = {"phase": "Running"}
    ours["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: "0123456789abcdef"}
    assert changes.on_present(known, ours) is None
    users = pod("a", rv="3")
    users["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: "0123456789abcdef", "virtual-kubelet.io/priority": "Spot"}
    assert changes.on_present(known, users).op == "upsert"  # type: ignore[union-attr]


def test_relist_diff_relays_only_differences():
    known: dict = {}
    for item in (pod("same"), pod("changed"), pod("gone"), pod("recreated", uid="old")):
        changes.on_present(known, item)
    listed = [pod("same", rv="9"), pod("changed", image="v2"), pod("recreated", uid="new"), pod("new")]
    fresh, messages = changes.relist_diff(known, listed)
    got = sorted((m.op, m.pod.name, m.pod.uid) for m in messages if m.pod)
    assert got == [
        ("delete", "gone", "u1"),
        ("delete", "recreated", "old"),
        ("upsert", "changed", "u1"),
        ("upsert", "new", "u1"),
        ("upsert", "recreated", "new"),
    ]
    assert set(fresh) == {("default", n) for n in ("same", "changed", "recreated", "new")}
    assert changes.relist_diff(fresh, listed)[1] == []


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def msg(name: str, rv: str, op: str = "upsert") -> Message:
    return Message(op=op, pod=PodRef("default", name, "u"), source="watch", resource_version=rv)


def test_coalescer_sends_the_first_event_at_once_and_merges_the_rest_into_one_trailing_message():
    clock, sent = Clock(), []
    metrics = Metrics()
    coalescer = Coalescer(0.2, lambda key, m: sent.append((key, m.resource_version)), metrics=metrics, clock=clock)
    coalescer.offer("a", msg("a", "1"))
    assert sent == [("a", "1")]
    clock.now += 0.05
    coalescer.offer("a", msg("a", "2"))
    coalescer.offer("a", msg("a", "3"))
    coalescer.offer("b", msg("b", "4"))  # another pod is not held back
    assert sent == [("a", "1"), ("b", "4")]
    assert coalescer.pump() == pytest.approx(100.2)
    clock.now = 100.2
    coalescer.pump()
    assert sent[-1] == ("a", "3") and len(sent) == 3
    assert metrics.get("coalesced") == 1
    clock.now = 100.5  # quiet for a window since the trailing message: the next one goes at once again
    coalescer.offer("a", msg("a", "5"))
    assert sent[-1] == ("a", "5")


def test_coalescer_flush_releases_held_messages_and_then_passes_everything_through():
    clock, sent = Clock(), []
    coalescer = Coalescer(10.0, lambda key, m: sent.append(m.resource_version), clock=clock)
    coalescer.offer("a", msg("a", "1"))
    coalescer.offer("a", msg("a", "2"))
    assert coalescer.flush() == 1
    coalescer.offer("a", msg("a", "3"))
    assert sent == ["1", "2", "3"]


def test_sender_keeps_one_message_per_pod_drops_the_oldest_when_full_and_counts_it():
    metrics = Metrics()
    written: list[str] = []
    sender = Sender(written.append, capacity=2, metrics=metrics)  # threads not started yet: everything is held
    sender.put("a", msg("a", "1"))
    sender.put("a", msg("a", "2"))
    sender.put("b", msg("b", "3"))
    assert sender.size == 2 and metrics.get("coalesced") == 1
    sender.put("c", msg("c", "4"))
    assert sender.size == 2 and metrics.get("dropped") == 1
    sender.start()
    assert sender.flush(5)
    assert sorted(parse_message(text).resource_version or "" for text in written) == ["3", "4"]


def test_sender_retries_in_order_while_storage_fails_and_reports_it():
    failures = {"left": 3}
    written: list[str] = []
    lock = threading.Lock()

    def flaky(text: str) -> None:
        with lock:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionError("Storage down")
            written.append(text)

    metrics = Metrics()
    sender = Sender(flaky, capacity=10, metrics=metrics, workers=3, initial_backoff=0.01, max_backoff=0.02)
    for index in range(5):
        sender.put(f"p{index}", msg(f"p{index}", str(index)))
    sender.start()
    assert sender.flush(5)
    assert len(written) == 5 and metrics.get("send_retries") == 3 and metrics.get("messages_sent") == 5
    assert sender.storage_ok and metrics.snapshot()["storage_up"] == 1.0


def test_concurrent_async_sends_never_reorder_or_overlap_one_pods_messages():
    """Invariant behind the relay's concurrency: sends overlap across pods, never within one pod.

    Four pods (fewer than the send slots, so a pod's next message is always
    eligible) get 60 changes each while earlier ones are in flight (the writer
    sleeps a random few ms, and fails one write in ten). For every pod, what
    Storage received is in the order it was put, ends with the latest change,
    and no two of its writes were ever in flight together.
    """
    rng = random.Random(15)
    written: dict[str, list[int]] = defaultdict(list)
    active: set[str] = set()
    overlaps: list[str] = []
    peak = {"now": 0, "max": 0}

    async def write(text: str) -> None:
        message = parse_message(text)
        assert message.pod is not None
        name = message.pod.name
        if name in active:
            overlaps.append(name)
        active.add(name)
        peak["now"] += 1
        peak["max"] = max(peak["max"], peak["now"])
        try:
            await asyncio.sleep(rng.uniform(0, 0.003))
            if rng.random() < 0.1:
                raise ConnectionError("Storage hiccup")
            written[name].append(int(message.resource_version or 0))
        finally:
            active.discard(name)
            peak["now"] -= 1

    metrics = Metrics()
    sender = Sender(write, capacity=1000, metrics=metrics, workers=8, initial_backoff=0.001, max_backoff=0.005)
    sender.start()
    last_put: dict[str, int] = {}
    for version in range(1, 61):
        for index in range(4):
            name = f"p{index}"
            sender.put(name, msg(name, str(version), op="delete" if version == 60 else "upsert"))
            last_put[name] = version
            time.sleep(rng.uniform(0, 0.001))
    assert sender.flush(20)
    assert not overlaps
    assert 1 < peak["max"] <= 4
    assert metrics.get("send_retries") > 0
    for name, versions in written.items():
        assert versions == sorted(set(versions)), (name, versions)
    assert {name: versions[-1] for name, versions in written.items()} == last_put


def test_metrics_render_prometheus_text():
    metrics = Metrics()
    metrics.inc("relists", 2)
    metrics.gauge("buffer_size", lambda: 7)
    text = metrics.render()
    assert "# TYPE aci_relay_relists_total counter\naci_relay_relists_total 2.0\n" in text
    assert "# TYPE aci_relay_buffer_size gauge\naci_relay_buffer_size 7.0\n" in text
    with pytest.raises(KeyError):
        metrics.inc("no_such_counter")


def test_backoff_grows_jittered_and_capped():
    backoff = Backoff(1.0, 4.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and all(d <= 4.0 for d in delays)
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_relay_help_prints_usage_and_starts_nothing():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "shared.relay", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m shared.relay")
    assert "KUBE_IN_CLUSTER" in result.stdout
    assert "relay cannot start" not in result.stderr


def test_metrics_keep_every_digit_of_large_counts():
    from prometheus_client.parser import text_string_to_metric_families

    metrics = Metrics()
    metrics.inc("messages_sent", 1_234_567)
    families = {family.name: family for family in text_string_to_metric_families(metrics.render())}
    (sample,) = families["aci_relay_messages_sent"].samples
    assert sample.value == 1_234_567
