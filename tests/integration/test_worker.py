"""The queue worker against the fake Kubernetes API, the fake ARM and real Azurite."""

from __future__ import annotations

import json
import threading

from shared import tags
from shared.config import DEAD_LETTER_QUEUE
from shared.messages import Message, PodRef
from shared.naming import container_group_name
from shared.worker import process_message
from tests.fakes.connector_fixtures import make_pod
from tests.fakes.waiting import wait_for


def _create(kube_api, pod):
    return kube_api.create(pod)


def _upsert_text(pod, **extra) -> str:
    meta = pod["metadata"]
    return Message(
        op="upsert", pod=PodRef(meta["namespace"], meta["name"], meta.get("uid")), source="watch", **extra
    ).to_text()


def _delete_text(pod) -> str:
    meta = pod["metadata"]
    return Message(op="delete", pod=PodRef(meta["namespace"], meta["name"], meta.get("uid")), source="watch").to_text()


def _events(kube_api, pod):
    return [
        e
        for e in kube_api.list("events", pod["metadata"]["namespace"])
        if e["involvedObject"]["uid"] == pod["metadata"]["uid"]
    ]


def test_upsert_creates_the_group_and_reports_pending_truthfully(kube_api, arm, worker_context):
    kube_api.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}}
    )
    pod = _create(kube_api, make_pod(automountServiceAccountToken=False))
    outcome = process_message(_upsert_text(pod), context=worker_context)
    name = container_group_name(pod)
    assert (outcome.action, outcome.group) == ("created", name)
    group = arm.group(name)
    assert group is not None
    body = worker_context.aci.get(name)
    assert body["tags"][tags.TAG_UID] == pod["metadata"]["uid"]
    assert body["tags"][tags.TAG_OWNER] == tags.OWNER_VALUE
    container = body["properties"]["containers"][0]
    assert container["properties"]["image"] == "nginx:1.27"
    assert container["properties"]["resources"]["requests"] == {"cpu": 0.5, "memoryInGB": 0.6}
    status = kube_api.get("pods", "default", "web")["status"]
    assert status["phase"] == "Pending"
    [container_status] = status["containerStatuses"]
    assert container_status["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert container_status["ready"] is False
    # not in a virtual network: the pod is told that cluster Services are out of reach
    assert sorted(e["reason"] for e in _events(kube_api, pod)) == ["ClusterNetworkUnavailable", "ProviderCreated"]


def test_duplicate_delivery_puts_once(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    first = process_message(_upsert_text(pod), context=worker_context)
    second = process_message(_upsert_text(pod), context=worker_context)
    assert (first.action, second.action) == ("created", "unchanged")
    assert arm.counts["put"] == 1


def test_repeat_upsert_is_answered_from_the_pod_without_an_arm_read(kube_api, arm, worker_context):
    """A relay restart re-announces every pod: the spec-hash annotation written with the status makes each
    repeat cost one pod GET and no ARM read; a changed spec still reaches ARM."""
    pod = _create(kube_api, make_pod())
    assert process_message(_upsert_text(pod), context=worker_context).action == "created"
    stored = kube_api.get("pods", "default", "web")
    digest = stored["metadata"]["annotations"][tags.SPEC_HASH_ANNOTATION]
    assert digest == arm.group(container_group_name(pod)).spec["tags"]["aci-connector-spec"]
    reads = arm.counts["get"]
    assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"
    assert (arm.counts["get"], arm.counts["put"]) == (reads, 1)
    changed = kube_api.get("pods", "default", "web")
    changed["spec"]["containers"][0]["image"] = "nginx:1.28"  # one of the few mutable pod fields
    kube_api.update(changed)
    assert process_message(_upsert_text(pod), context=worker_context).action == "updated"
    assert (arm.counts["get"], arm.counts["put"]) == (reads + 1, 2)
    updated = kube_api.get("pods", "default", "web")["metadata"]["annotations"][tags.SPEC_HASH_ANNOTATION]
    assert updated == arm.group(container_group_name(pod)).spec["tags"]["aci-connector-spec"] != digest


def test_a_pod_without_the_annotation_gets_it_once_its_group_is_found_unchanged(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    process_message(_upsert_text(pod), context=worker_context)
    kube_api.patch("pods", "default", "web", {"metadata": {"annotations": {tags.SPEC_HASH_ANNOTATION: None}}})
    assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"  # asked ARM
    reads = arm.counts["get"]
    assert tags.SPEC_HASH_ANNOTATION in kube_api.get("pods", "default", "web")["metadata"]["annotations"]
    assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"
    assert arm.counts["get"] == reads


def test_concurrent_upserts_leave_one_group(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    outcomes: list = []
    errors: list = []

    def run() -> None:
        try:
            outcomes.append(process_message(_upsert_text(pod), context=worker_context))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {o.action for o in outcomes} <= {"created", "unchanged", "updated"}
    assert [key[2] for key in arm.groups] == [container_group_name(pod)]


def test_upsert_for_a_pod_deleted_meanwhile_leaves_no_group(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod(node=None))  # unbound pods are deleted at once
    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "deleted"
    assert arm.groups == {}


def test_delete_racing_upsert_undoes_the_put(kube_api, arm, worker_context, monkeypatch):
    pod = _create(kube_api, make_pod())
    original_put = worker_context.aci.begin_create_or_update

    def put_then_pod_deleted(name, body):
        accepted = original_put(name, body)
        kube_api.delete("pods", "default", "web")  # graceful: deletionTimestamp is set
        return accepted

    monkeypatch.setattr(worker_context.aci, "begin_create_or_update", put_then_pod_deleted)
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "undone"
    assert arm.counts["delete"] == 1


def test_recreated_pod_gets_its_own_group_and_the_old_one_goes(kube_api, arm, worker_context):
    old = _create(kube_api, make_pod())
    process_message(_upsert_text(old), context=worker_context)
    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    new = _create(kube_api, make_pod())
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    process_message(_upsert_text(new), context=worker_context)
    assert len(arm.groups) == 2
    outcome = process_message(_delete_text(old), context=worker_context)
    assert outcome.action == "deleted"
    wait_for(lambda: worker_context.aci.get(container_group_name(old)) is None)  # the fake's delete LRO, as ARM's
    assert worker_context.aci.get(container_group_name(new))["tags"][tags.TAG_UID] == new["metadata"]["uid"]


def test_graceful_delete_removes_group_then_pod(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    process_message(_upsert_text(pod), context=worker_context)
    kube_api.delete("pods", "default", "web")
    deleting = kube_api.get("pods", "default", "web")
    assert deleting["metadata"]["deletionTimestamp"]
    outcome = process_message(_delete_text(pod), context=worker_context)
    if outcome.action == "deleting":  # the delete LRO had not finished: a delayed re-check is queued
        wait_for(lambda: worker_context.aci.get(container_group_name(pod)) is None)
        assert worker_context.queue.peek() == []  # invisible for DELETE_RECHECK_DELAY
        outcome = process_message(_delete_text(pod), context=worker_context)
    assert outcome.action == "deleted"
    assert kube_api.get("pods", "default", "web") is None
    assert worker_context.aci.get(container_group_name(pod)) is None


def test_delete_of_a_live_pod_is_refused(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    process_message(_upsert_text(pod), context=worker_context)
    outcome = process_message(_delete_text(pod), context=worker_context)
    assert outcome.action == "skipped"
    assert worker_context.aci.get(container_group_name(pod)) is not None


def test_pod_on_another_node_is_skipped(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod(node="aks-nodepool1-0"))
    assert process_message(_upsert_text(pod), context=worker_context).action == "skipped"
    assert arm.counts["put"] == 0


def test_throttled_put_is_requeued_with_retry_after_not_poisoned(kube_api, arm, worker_context):
    arm.throttle.writes = (1, 0.2)  # a one-token write bucket refilling every 5 s
    first = _create(kube_api, make_pod("first"))
    assert process_message(_upsert_text(first), context=worker_context).action == "created"
    pod = _create(kube_api, make_pod())
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "requeued"
    assert "retry in 30 s" in outcome.detail  # backoff starts at 30 s; a longer Retry-After would win
    assert worker_context.queue.peek() == []  # invisible for Retry-After seconds
    waiting = kube_api.get("pods", "default", "web")["status"]
    assert (waiting["phase"], waiting["reason"]) == ("Pending", "WaitingForACICapacity")
    assert "Waiting for ACI capacity" in waiting["message"]
    arm.throttle.enabled = False  # capacity is back: the re-queued message goes through and clears the note
    assert process_message(_upsert_text(pod), context=worker_context).action == "created"
    created = kube_api.get("pods", "default", "web")["status"]
    assert "reason" not in created and "message" not in created
    assert created["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"


def test_throttled_delete_leaves_the_pod_status_alone(kube_api, arm, worker_context):
    pods = [_create(kube_api, make_pod(name)) for name in ("first", "web")]
    for pod in pods:
        process_message(_upsert_text(pod), context=worker_context)
        arm.make_ready(container_group_name(pod))
    kube_api.patch("pods", "default", "web", {"status": {"phase": "Running"}}, subresource="status")
    arm.throttle.deletes = (1, 0.2)  # one delete token, refilling every 5 s
    for name in ("first", "web"):
        kube_api.delete("pods", "default", name)
    assert process_message(_delete_text(pods[0]), context=worker_context).action in ("deleting", "deleted")
    before = kube_api.get("pods", "default", "web")
    outcome = process_message(_delete_text(pods[1]), context=worker_context)
    assert outcome.action == "requeued"
    after = kube_api.get("pods", "default", "web")
    assert after["status"] == before["status"]
    assert after["status"]["phase"] == "Running"


def test_server_error_then_success(kube_api, arm, worker_context):
    pod = _create(kube_api, make_pod())
    arm.faults.fail("put", status=500, count=1)
    outcome = process_message(_upsert_text(pod), context=worker_context)
    if outcome.action == "requeued":  # the adapter's own retry may already have absorbed the 500
        outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "created"
    assert arm.group(container_group_name(pod)) is not None


def test_arm_rejection_fails_the_pod_with_an_event(kube_api, arm, worker_context):
    arm.reject_image("registry.invalid/nope:1")
    pod = make_pod()
    pod["spec"]["containers"][0]["image"] = "registry.invalid/nope:1"
    pod = _create(kube_api, pod)
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "failed"
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ProviderFailed")
    assert "registry.invalid/nope:1" in status["message"] or "InaccessibleImage" in status["message"]
    [event] = _events(kube_api, pod)
    assert (event["type"], event["reason"]) == ("Warning", "ProviderFailed")


def test_unsupported_pod_spec_fails_the_pod_naming_the_field(kube_api, arm, worker_context):
    pod = make_pod()
    pod["spec"]["containers"][0]["workingDir"] = "/srv"
    pod = _create(kube_api, pod)
    assert process_message(_upsert_text(pod), context=worker_context).action == "failed"
    status = kube_api.get("pods", "default", "web")["status"]
    assert status["phase"] == "Failed"
    assert "spec.containers[0].workingDir" in status["message"]
    assert arm.counts["put"] == 0


def test_invalid_json_and_wrong_version_are_dead_lettered_once(worker_context):
    for text in ("{not json", '{"v": 2, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}}'):
        assert process_message(text, context=worker_context, dequeue_count=1).action == "dead-lettered"
    parked = [json.loads(m.text) for m in worker_context.queue.peek(queue=DEAD_LETTER_QUEUE)]
    assert [p["original"] for p in parked] == [
        "{not json",
        '{"v": 2, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}}',
    ]
    assert "not JSON" in parked[0]["reason"]
    assert parked[1]["field"] == "v"


def test_standalone_upsert_and_delete_need_no_cluster(kube_api, arm, standalone_context):
    pod = make_pod(node=None)
    text = Message(op="upsert", pod=None, source="cli", manifest=pod).to_text()
    outcome = process_message(text, context=standalone_context)
    assert outcome.action == "created"
    group = standalone_context.aci.get(outcome.group)
    assert group["tags"][tags.TAG_MODE] == tags.MODE_STANDALONE
    assert sum(kube_api.request_counts.values()) == 0
    delete = Message(op="delete", pod=PodRef("default", "web"), source="cli").to_text()
    assert process_message(delete, context=standalone_context).action == "deleted"
    wait_for(lambda: standalone_context.aci.get(outcome.group) is None)


def test_standalone_rejection_is_dead_lettered_with_reason(arm, standalone_context):
    pod = make_pod(node=None)
    pod["spec"]["containers"][0]["workingDir"] = "/srv"
    text = Message(op="upsert", pod=None, source="cli", manifest=pod).to_text()
    assert process_message(text, context=standalone_context).action == "dead-lettered"
    [parked] = standalone_context.queue.peek(queue=DEAD_LETTER_QUEUE)
    assert "workingDir" in json.loads(parked.text)["reason"]


def test_logs_name_the_pod_and_group_and_never_a_secret(kube_api, arm, worker_context, caplog):
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "default"},
            "data": {"password": "czNjcjN0LXZhbHVl"},  # s3cr3t-value
        }
    )
    pod = make_pod()
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    pod = _create(kube_api, pod)
    caplog.set_level("DEBUG")
    assert process_message(_upsert_text(pod), context=worker_context).action == "created"
    worker_lines = [r for r in caplog.records if r.name.startswith("aci_connector")]
    assert worker_lines
    assert all(f"pod=default/web uid={pod['metadata']['uid']}" in r.getMessage() for r in worker_lines)
    assert all("s3cr3t-value" not in r.getMessage() for r in caplog.records)
    body = worker_context.aci.get(container_group_name(pod))
    [env] = body["properties"]["containers"][0]["properties"]["environmentVariables"]
    assert env == {"name": "DB_PASSWORD"}  # a secure value comes back without its value, as from ARM


def test_dropped_fields_are_listed_in_a_warning_event(kube_api, arm, worker_context):
    pod = make_pod()
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    pod = _create(kube_api, pod)
    assert process_message(_upsert_text(pod), context=worker_context).action == "created"
    ignored = [e for e in _events(kube_api, pod) if e["reason"] == "FieldsIgnored"]
    [event] = ignored
    assert event["type"] == "Warning"
    assert "spec.containers[0].lifecycle" in event["message"]


def test_delete_rechecks_are_bounded_then_left_to_the_reconciler(kube_api, arm, worker_context):
    from shared.worker import MAX_DELETE_RECHECKS

    arm.delete_mode = "202"  # ARM may answer 202 and take its time
    arm.timing.deleting = 3600.0  # a delete that never finishes (a group keeps the timing it was created with)
    pod = _create(kube_api, make_pod())
    process_message(_upsert_text(pod), context=worker_context)
    kube_api.delete("pods", "default", "web")
    meta = pod["metadata"]
    first = Message(op="delete", pod=PodRef("default", "web", meta["uid"]), source="watch")
    assert process_message(first.to_text(), context=worker_context).action == "deleting"
    last = Message(op="delete", pod=PodRef("default", "web", meta["uid"]), source="worker", attempt=MAX_DELETE_RECHECKS)
    outcome = process_message(last.to_text(), context=worker_context)
    assert (outcome.action, "reconciler" in outcome.detail) == ("deleting", True)
    assert kube_api.get("pods", "default", "web") is not None  # not removed while its group may still run
