"""The reconciler against the fake Kubernetes API, the fake ARM and real Azurite: whole pod lives, step by step."""

from __future__ import annotations

from typing import Any

import pytest

from shared import tags
from shared.config import POD_EVENTS_QUEUE
from shared.messages import parse_message
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.retry import TAG_RETRIES, RetryPolicy
from shared.translate import translate_pod
from shared.worker import Context, process_message
from tests.fakes.connector_fixtures import NODE, make_pod, make_spot_pod, settings_for
from tests.fakes.waiting import wait_for

PATCHES = ("PATCH", "pods/status")


@pytest.fixture
def ctx(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, queue_store: Any) -> Context:
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="6000")
    return Context(settings=settings, aci=aci_adapter, queue=queue_store, kube=kube)


def reconciler(ctx: Context, **config: Any) -> Reconciler:
    defaults: dict[str, Any] = {
        "retry": RetryPolicy(max_retries=1, backoff_seconds=0),
        "unready_after_cycles": 2,
        "unready_after_seconds": 0,
        "lease_only_if_older_than": 0,
    }
    defaults.update(config)
    return Reconciler(ctx, config=ReconcileConfig(**defaults))


def drain(ctx: Context) -> list[str]:
    """Run the queue worker on everything queued (the host would), returning the outcomes' actions."""
    client = ctx.queue.client(POD_EVENTS_QUEUE)
    actions = []
    for message in client.receive_messages(max_messages=32, visibility_timeout=5):
        actions.append(process_message(message.content, context=ctx).action)
        client.delete_message(message)
    return actions


def pod_of(kube_api: Any, name: str = "web") -> dict[str, Any] | None:
    return kube_api.get("pods", "default", name)


def started(kube_api: Any, ctx: Context, rec: Reconciler, pod: dict[str, Any]) -> str:
    """Create the pod's group through reconcile + worker and make it run; returns the group name."""
    assert rec.run_cycle().enqueued == 1
    assert drain(ctx) == ["created"]
    return container_group_name(pod)


def test_pod_goes_pending_running_succeeded_with_exact_statuses(kube_api, arm, ctx):
    arm.timing.creating = 3600  # ACI keeps creating until the test says make_ready: no race with the clock
    pod = kube_api.create(make_pod(restartPolicy="Never"))
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    uid = pod["metadata"]["uid"]

    report = rec.run_cycle()
    assert report.enqueued == 0  # the group exists now
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"] == [
        {
            "name": "nginx",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": "nginx:1.27",
            "imageID": "",
            "started": False,
        }
    ]

    arm.make_ready(name)
    report = rec.run_cycle()
    assert report.status_patches == 1
    status = pod_of(kube_api)["status"]
    ip = ctx.aci.get(name)["properties"]["ipAddress"]["ip"]
    [container] = status["containerStatuses"]
    assert status["phase"] == "Running"
    assert (status["podIP"], status["podIPs"], status["hostIP"]) == (ip, [{"ip": ip}], ip)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert container["state"]["running"]["startedAt"].endswith("Z")
    assert container["ready"] is True and container["started"] is True
    assert container["containerID"] == f"aci://{name}/nginx"
    assert container["restartCount"] == 0

    before = kube_api.request_counts[PATCHES]
    assert rec.run_cycle().status_patches == 0
    assert kube_api.request_counts[PATCHES] == before

    arm.terminate(name, exit_code=0)
    rec.run_cycle()
    status = pod_of(kube_api)["status"]
    [container] = status["containerStatuses"]
    assert status["phase"] == "Succeeded"
    terminated = container["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert container["containerID"] == f"aci://{name}/nginx"
    assert container["ready"] is False
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
    # A terminal pod is frozen: no more reads of its group, no more patches.
    reads = arm.counts["get"]
    assert rec.run_cycle().arm_reads == 0
    assert arm.counts["get"] == reads
    assert pod_of(kube_api)["metadata"]["uid"] == uid


def test_restart_never_exit_1_fails_with_exit_code(kube_api, arm, ctx):
    pod = kube_api.create(make_pod(restartPolicy="Never"))
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    arm.make_ready(name)
    rec.run_cycle()
    arm.terminate(name, exit_code=1)
    rec.run_cycle()
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Failed"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")


def test_image_pull_failure_is_shown_retried_then_failed(kube_api, arm, ctx):
    """A Spot group: its containers carry ACI's events, so the pull failure and its message are visible."""
    pod = kube_api.create(make_spot_pod(image="nope.example/missing:1"))
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    arm.fail_image_pull(name)
    arm.make_ready(name)

    report = rec.run_cycle()
    assert report.retries == 1
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Pending"
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert "Failed to pull image" in waiting["message"]
    assert ctx.aci.get(name)["tags"][TAG_RETRIES] == "1"
    reasons = {e["reason"] for e in kube_api.list("events", "default")}
    assert {"Failed", "ProvisioningRetry"} <= reasons  # ACI's own event, and ours

    arm.fail_image_pull(name)  # the retry fails the same way
    arm.make_ready(name)
    report = rec.run_cycle()
    assert report.pods_failed == 1
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Failed"
    assert status["reason"] == "ProviderFailed"
    assert "Failed to pull image" in status["message"]
    assert rec.run_cycle().status_patches == 0


def test_image_pull_failure_of_a_regular_group_is_told_from_provisioning_state(kube_api, arm, ctx):
    """A Regular group shows no events: the pod still says its group failed, then fails with the reason."""
    pod = kube_api.create(make_pod(image="nope.example/missing:1"))
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    arm.fail_image_pull(name)
    arm.make_ready(name)
    assert rec.run_cycle().retries == 1
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"] == {
        "reason": "ContainerGroupFailed",
        "message": "ACI container group provisioningState is Failed",
    }
    assert "Failed" not in {e["reason"] for e in kube_api.list("events", "default")}  # ACI sent no event

    arm.fail_image_pull(name)
    arm.make_ready(name)
    assert rec.run_cycle().pods_failed == 1
    status = pod_of(kube_api)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ProviderFailed")
    assert "provisioningState is Failed" in status["message"]


def test_events_are_written_once_and_not_rewritten(kube_api, arm, ctx):
    pod = kube_api.create(make_spot_pod())  # Regular groups carry no container events: nothing to write
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    arm.make_ready(name)
    first = rec.run_cycle().events_written
    assert first >= 2  # Pulling/Pulled from the container's instance view
    posts = kube_api.request_counts[("POST", "events")]
    assert rec.run_cycle().events_written == 0
    assert kube_api.request_counts[("POST", "events")] == posts
    # A fresh process (memory lost) re-reads and finds them already there: no duplicates, no count bump.
    fresh = reconciler(ctx)
    fresh.run_cycle()
    ours = [e for e in kube_api.list("events", "default") if e["involvedObject"]["uid"] == pod["metadata"]["uid"]]
    assert len({e["metadata"]["name"] for e in ours}) == len(ours)
    assert all(
        e["count"] == 1
        for e in ours
        if e["source"]["component"] == "aci-connector" and e["reason"] != "ProviderCreated"
    )


def test_group_deleted_out_of_band_fails_the_pod(kube_api, arm, ctx):
    pod = kube_api.create(make_pod())
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    arm.make_ready(name)
    rec.run_cycle()
    assert pod_of(kube_api)["status"]["phase"] == "Running"

    arm.delete_out_of_band(name)
    report = rec.run_cycle()
    assert (report.pods_failed, report.enqueued) == (1, 0)  # not silently re-created
    status = pod_of(kube_api)["status"]
    assert status["phase"] == "Failed"
    assert status["reason"] == "ContainerGroupDeleted"
    assert name in status["message"]
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "ContainerStatusUnknown")


def test_orphan_groups_are_deleted_but_standalone_and_foreign_ones_kept(kube_api, arm, ctx):
    pod = kube_api.create(make_pod())
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    solo = translate_pod(make_pod(name="solo"), settings=ctx.settings)
    assert solo.body["tags"][tags.TAG_MODE] == tags.MODE_STANDALONE
    ctx.aci.begin_create_or_update(solo.name, solo.body)
    foreign = translate_pod(make_pod(name="foreign"), settings=ctx.settings)
    ctx.aci.begin_create_or_update("someone-elses", {**foreign.body, "tags": {"team": "data"}})

    kube_api.delete("pods", "default", "web", grace_period_seconds=0)  # gone without the connector seeing it
    report = rec.run_cycle()
    assert report.orphans_deleted == 1
    wait_for(lambda: ctx.aci.get(name) is None, timeout=60)  # the emulator finishes deleting the group
    left = sorted(g["name"] for g in ctx.aci.list_groups())
    assert left == sorted([solo.name, "someone-elses"])
    assert name not in left


def test_pod_deleted_while_group_creating(kube_api, arm, ctx):
    arm.timing.creating = 30.0
    pod = kube_api.create(make_pod())
    rec = reconciler(ctx)
    name = started(kube_api, ctx, rec, pod)
    assert ctx.aci.get(name)["properties"]["provisioningState"] in ("Pending", "Creating")

    kube_api.delete("pods", "default", "web")  # graceful: the pod waits for its node
    assert pod_of(kube_api)["metadata"]["deletionTimestamp"]
    report = rec.run_cycle()
    assert (report.groups_deleted, report.pods_removed) == (1, 0)
    assert pod_of(kube_api) is not None  # not removed before its group is gone

    wait_for(lambda: ctx.aci.get(name) is None, timeout=60)  # the emulator finishes deleting the group
    report = rec.run_cycle()
    assert report.pods_removed == 1
    assert pod_of(kube_api) is None
    assert ctx.aci.get(name) is None


def test_pod_recreated_with_same_name_gets_a_new_group(kube_api, arm, ctx):
    old = kube_api.create(make_pod())
    rec = reconciler(ctx)
    old_name = started(kube_api, ctx, rec, old)
    arm.make_ready(old_name)
    rec.run_cycle()

    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    new = kube_api.create(make_pod())
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    new_name = container_group_name(new)
    assert new_name != old_name
    report = rec.run_cycle()
    assert (report.orphans_deleted, report.enqueued) == (1, 1)
    assert drain(ctx) == ["created"]
    wait_for(lambda: ctx.aci.get(old_name) is None, timeout=60)
    groups = {g["name"]: g for g in ctx.aci.list_groups()}
    assert set(groups) == {new_name}
    assert groups[new_name]["tags"][tags.TAG_UID] == new["metadata"]["uid"]


def test_orphan_check_rereads_the_pod_before_deleting(kube_api, arm, ctx):
    """A group created by a worker after the reconciler listed pods is not an orphan."""
    rec = reconciler(ctx)
    rec.run_cycle()
    pod = kube_api.create(make_pod())
    name = container_group_name(pod)
    body = translate_pod(pod, settings=ctx.settings).body
    ctx.aci.begin_create_or_update(name, body)
    pods_listed = rec._list_pods
    rec._list_pods = lambda report: ({NODE: []}, True)  # the list happened before the pod existed
    try:
        report = rec.run_cycle()
    finally:
        rec._list_pods = pods_listed
    assert report.orphans_deleted == 0
    assert ctx.aci.get(name) is not None


def test_pod_without_group_is_enqueued_once_per_interval(kube_api, arm, ctx):
    kube_api.create(make_pod())
    rec = reconciler(ctx)
    assert rec.run_cycle().enqueued == 1
    assert rec.run_cycle().enqueued == 0  # already asked; the worker may be busy
    [message] = ctx.queue.peek()
    parsed = parse_message(message.text)
    assert (parsed.op, parsed.source, parsed.pod.name) == ("upsert", "reconcile", "web")
