"""The reconciler under faults (issue 14): two clusters on one resource group, throttling, poisoned pods."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from shared import tags
from shared.naming import container_group_name
from shared.reconcile import intake
from shared.translate import translate_pod
from shared.worker import Context
from tests.fakes.connector_fixtures import make_pod
from tests.integration.test_reconcile import ctx, drain, reconciler  # noqa: F401 - ctx is a fixture


def _other_clusters_group(context: Context, pod: dict, cluster: str | None) -> str:
    """A running group another cluster's connector made for its own pod (or an older, untagged one)."""
    body = translate_pod(pod, settings=context.settings).body
    body["tags"].pop(tags.TAG_CLUSTER, None)
    if cluster is not None:
        body["tags"][tags.TAG_CLUSTER] = cluster
    name = container_group_name(pod)
    context.aci.begin_create_or_update(name, body)
    return name


def test_two_clusters_sharing_a_resource_group_never_delete_each_others_groups(kube_api, arm, ctx):  # noqa: F811
    """Point 1: same virtual node names, one resource group: the first reconcile deleted the other's groups."""
    theirs = make_pod("web")
    theirs["metadata"]["uid"] = "9d9c0f52-0000-4000-8000-00000000000a"
    legacy = make_pod("api")
    legacy["metadata"]["uid"] = "9d9c0f52-0000-4000-8000-00000000000b"
    other = _other_clusters_group(ctx, theirs, "the-other-cluster")
    untagged = _other_clusters_group(ctx, legacy, None)
    mine = kube_api.create(make_pod("mine"))
    rec = reconciler(ctx)
    for _ in range(3):
        report = rec.run_cycle()
    assert ctx.aci.get(other) is not None
    assert ctx.aci.get(untagged) is not None
    assert report.orphans_deleted == 0
    assert report.unclaimed_groups == 1
    assert arm.counts["delete"] == 0
    drain(ctx)
    assert (
        ctx.aci.get(container_group_name(mine))["tags"][tags.TAG_CLUSTER]
        == kube_api.get("namespaces", None, "kube-system")["metadata"]["uid"]
    )


def test_an_untagged_group_of_a_live_pod_is_adopted_and_its_orphan_cleaned(kube_api, arm, ctx):  # noqa: F811
    pod = kube_api.create(make_pod())
    name = _other_clusters_group(ctx, pod, None)
    rec = reconciler(ctx)
    assert rec.run_cycle().enqueued == 0  # adopted: the pod has its group
    kube_api.delete("pods", "default", "web")
    rec.run_cycle()
    assert arm.counts["delete"] == 1, name


class _Wall:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_throttling_never_multiplies_messages_across_cycles_and_restarts(kube_api, arm, ctx, monkeypatch):  # noqa: F811
    """Point 2: every enqueue_every_seconds the reconciler added a fresh upsert for each waiting pod."""
    arm.throttle.container_groups_quota = 0  # ACI quota exhausted for the whole test
    pods = [kube_api.create(make_pod(name)) for name in ("web", "api")]
    sent: list[str] = []
    real_send = ctx.queue.send
    monkeypatch.setattr(ctx.queue, "send", lambda text, **kw: sent.append(text) or real_send(text, **kw))
    clock = [0.0]
    first = reconciler(ctx)
    first.clock = lambda: clock[0]
    assert first.run_cycle().enqueued == 2
    assert sorted(drain(ctx)) == ["requeued", "requeued"]  # the worker owns them now, re-queued with a delay
    for cycle in range(12):  # restarts and scale-out: a fresh reconciler each time, an hour of monotonic time
        clock[0] += 300
        rec = reconciler(ctx)
        rec.clock = lambda: clock[0]
        assert rec.run_cycle().enqueued == 0, cycle
    per_pod = {}
    for text in sent:
        key = json.loads(text)["pod"]["name"]
        per_pod[key] = per_pod.get(key, 0) + 1
    assert per_pod == {"web": 2, "api": 2}  # one enqueue, one worker re-queue: one live message each
    for pod in pods:
        annotations = kube_api.get("pods", "default", pod["metadata"]["name"])["metadata"]["annotations"]
        assert tags.QUEUED_UNTIL_ANNOTATION in annotations


def test_poisoned_pods_get_bounded_rounds_with_backoff_then_fail(kube_api, arm, ctx):  # noqa: F811
    """Point 6: the reconciler re-enqueued a poisoned pod every cycle, forever."""
    pod = kube_api.create(make_pod())
    wall = _Wall()
    enqueued_at: list[datetime] = []
    for _ in range(200):  # every message dies (nobody creates the group); a fresh reconciler per cycle
        rec = reconciler(ctx)
        rec.wall = wall
        if rec.run_cycle().enqueued:
            enqueued_at.append(wall.now)
        current = kube_api.get("pods", "default", "web")
        if current["status"].get("phase") == "Failed":
            break
        wall.now += timedelta(seconds=30)
    assert len(enqueued_at) == intake.MAX_ROUNDS
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(enqueued_at)]
    assert gaps == sorted(gaps) and gaps[-1] >= 8 * gaps[0]
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Failed", intake.GAVE_UP_REASON)
    assert f"{intake.MAX_ROUNDS} rounds" in status["message"]
    events = [e for e in kube_api.list("events", "default") if e["involvedObject"]["uid"] == pod["metadata"]["uid"]]
    assert [e["type"] for e in events if e["reason"] == intake.GAVE_UP_REASON] == ["Warning"]
    for _ in range(3):
        wall.now += timedelta(hours=1)
        rec = reconciler(ctx)
        rec.wall = wall
        assert rec.run_cycle().enqueued == 0


def test_a_created_group_clears_the_intake_marks(kube_api, arm, ctx):  # noqa: F811
    kube_api.create(make_pod())
    assert reconciler(ctx).run_cycle().enqueued == 1
    marked = kube_api.get("pods", "default", "web")["metadata"]["annotations"]
    assert marked[tags.ROUNDS_ANNOTATION] == "1"
    assert drain(ctx) == ["created"]
    annotations = kube_api.get("pods", "default", "web")["metadata"].get("annotations") or {}
    assert tags.ROUNDS_ANNOTATION not in annotations and tags.QUEUED_UNTIL_ANNOTATION not in annotations


def test_a_pod_waiting_for_its_volume_is_polled_not_given_up(kube_api, arm, ctx):  # noqa: F811
    """Waiting for a claim is not a dying intake: the rounds reset, the pod stays Pending, one message a round."""
    pod = make_pod()
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "missing"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    kube_api.create(pod)
    wall = _Wall()
    outcomes: list[str] = []
    for _ in range(intake.MAX_ROUNDS * 3):
        rec = reconciler(ctx)
        rec.wall = wall
        rec.run_cycle()
        outcomes += drain(ctx)
        wall.now += timedelta(minutes=5)
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Pending", "WaitingForVolume")
    assert outcomes == ["waiting"] * (intake.MAX_ROUNDS * 3)
