"""Faults and hostile input through the real worker, fake ARM and Kubernetes, and Azurite (issue 14)."""

from __future__ import annotations

import json

import pytest

from shared import tags
from shared.messages import Message, PodRef
from shared.naming import container_group_name
from shared.worker import process_message
from tests.fakes.connector_fixtures import make_pod


def _upsert_text(pod) -> str:
    meta = pod["metadata"]
    return Message(op="upsert", pod=PodRef(meta["namespace"], meta["name"], meta.get("uid")), source="watch").to_text()


def _secret(value: str) -> dict:
    import base64

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "data": {"password": base64.b64encode(value.encode()).decode()},
    }


def test_spec_tag_is_the_same_for_any_secret_value_and_rotation_still_redeploys(kube_api, arm, worker_context):
    kube_api.create(_secret("hunter2"))
    pod = make_pod()
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    pod = kube_api.create(pod)
    assert process_message(_upsert_text(pod), context=worker_context).action == "created"
    name = container_group_name(pod)
    tag = worker_context.aci.get(name)["tags"][tags.SPEC_HASH_TAG]
    # An ARM Reader sees the tag; hashing the same pod with a guessed secret must not reproduce it only for the
    # right guess: the tag does not depend on the secret value at all.
    from shared.translate import translate_pod

    secret = kube_api.get("secrets", "default", "db")
    for guess in ("hunter2", "letmein"):
        body = translate_pod(pod, secrets={"db": _secret(guess)}, settings=worker_context.settings).body
        assert tags.spec_hash(body, tags.references_version({"db": secret})) == tag
    assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"

    secret["data"] = _secret("rotated")["data"]
    kube_api.update(secret)
    assert process_message(_upsert_text(pod), context=worker_context).action == "updated"
    assert worker_context.aci.get(name)["tags"][tags.SPEC_HASH_TAG] != tag
    assert arm.counts["put"] == 2


HOSTILE_MESSAGES = [
    "not json",
    "[" * 30_000 + "]" * 30_000,
    '{"v":1,"op":"upsert","source":"cli","attempt":' + "9" * 5000 + "}",
    '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web","uid":"\\ud800"}}',
    '{"v":1,"op":"upsert","source":"cli","manifest":{"apiVersion":"v1","kind":"Pod","metadata":[1],'
    '"spec":{"containers":[{}]}}}',
    '{"v":1,"op":"upsert","source":"cli","manifest":{"apiVersion":"v1","kind":"Pod","metadata":{"name":null},'
    '"spec":{"containers":[{}]}}}',
    '{"v":1,"op":"upsert","source":"cli","attempt":1e400}',
    '{"v":1,"op":"sync","source":"eventgrid","group":"' + "<x>" * 20_000 + '"}',
]


def test_hostile_messages_are_dead_lettered_once_and_never_poisoned(app_env, kube_api, arm, queue_store):
    """End to end as the host runs the function: one dead letter per message, no retry, no poison."""
    from functions.pod_events import pod_events
    from shared.config import DEAD_LETTER_QUEUE, POISON_QUEUE
    from shared.localhost.queue import QueueHost

    for text in HOSTILE_MESSAGES:
        queue_store.send(text)
    host = QueueHost(queue_store, pod_events, visibility_timeout=1)
    host.drain(timeout=30, idle=1.5)
    assert [(d.error, d.dequeue_count, d.poisoned) for d in host.deliveries] == [(None, 1, False)] * len(
        HOSTILE_MESSAGES
    )
    dead = queue_store.peek(queue=DEAD_LETTER_QUEUE)
    assert len(dead) == len(HOSTILE_MESSAGES)
    for item in dead:
        record = json.loads(item.text)
        assert record["reason"] and len(record["reason"]) <= 1024
    assert queue_store.peek(queue=POISON_QUEUE) == []
    assert arm.counts["put"] == 0


class _Recorder:
    """Stands in for the Event Grid publisher: keeps what would be sent."""

    source = "aci-connector"

    def __init__(self) -> None:
        self.events: list[dict] = []

    def publish(self, event: dict) -> bool:
        self.events.append(event)
        return True


def test_a_crash_after_arm_accepted_the_put_still_announces_the_pod_once(kube_api, arm, worker_context, monkeypatch):
    """Issue 14, point 8: the redelivery found the group "unchanged" and never wrote ProviderCreated/Scheduled."""
    import pytest

    from shared.azure.eventgrid import set_publisher

    recorder = _Recorder()
    set_publisher(recorder)  # type: ignore[arg-type]
    try:
        pod = kube_api.create(make_pod(automountServiceAccountToken=False))
        real_get_pod = worker_context.kube.get_pod
        calls = []

        def dies_after_the_put(namespace, name):
            calls.append(name)
            if len(calls) == 2:  # the re-read right after ARM accepted the PUT
                raise RuntimeError("worker killed")
            return real_get_pod(namespace, name)

        monkeypatch.setattr(worker_context.kube, "get_pod", dies_after_the_put)
        with pytest.raises(RuntimeError):
            process_message(_upsert_text(pod), context=worker_context)
        monkeypatch.setattr(worker_context.kube, "get_pod", real_get_pod)
        assert arm.counts["put"] == 1
        assert recorder.events == []

        assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"
        assert process_message(_upsert_text(pod), context=worker_context).action == "unchanged"
        reasons = [
            e["reason"]
            for e in kube_api.list("events", "default")
            if e["involvedObject"]["uid"] == pod["metadata"]["uid"]
        ]
        assert sorted(reasons) == ["ClusterNetworkUnavailable", "ProviderCreated"]  # each once
        assert [e["type"].rsplit(".", 1)[1] for e in recorder.events] == ["Scheduled"]
        assert arm.counts["put"] == 1
    finally:
        set_publisher(None)


def test_cloud_event_ids_are_stable_per_pod_and_transition():
    from shared.azure.eventgrid import build_event

    pod = {"metadata": {"namespace": "default", "name": "web", "uid": "u-1"}}
    first, again = (build_event("scheduled", pod, source="aci-connector") for _ in range(2))
    assert first["id"] == again["id"]
    assert build_event("running", pod, source="aci-connector")["id"] != first["id"]


def _inline(op: str, pod: dict) -> str:
    from shared.messages import trim_manifest

    meta = pod["metadata"]
    return Message(
        op=op, pod=PodRef(meta["namespace"], meta["name"]), source="cli", manifest=trim_manifest(pod)
    ).to_text()


def test_standalone_delete_overtaking_a_throttled_upsert_wins(arm, standalone_context, queue_store, monkeypatch):
    """Issue 14, point 7: the re-queued upsert used to recreate the deleted pod's group, for good."""
    sent: list[str] = []
    real_send = queue_store.send
    monkeypatch.setattr(queue_store, "send", lambda text, **kw: sent.append(text) or real_send(text, **kw))
    arm.throttle.writes = (1, 0.2)  # one write token, refilling every 5 s
    first, pod = make_pod("first", node=None), make_pod("hello", node=None)
    assert process_message(_inline("upsert", first), context=standalone_context).action == "created"
    assert process_message(_inline("upsert", pod), context=standalone_context).action == "requeued"
    [requeued] = sent
    assert process_message(_inline("delete", pod), context=standalone_context).action == "deleted"
    arm.throttle.enabled = False

    outcome = process_message(requeued, context=standalone_context)
    assert outcome.action == "dropped"
    name = container_group_name(pod)
    assert standalone_context.aci.get(name) is None
    assert process_message(requeued, context=standalone_context).action == "dropped"  # a duplicate delivery too

    # A real resubmission after the delete runs again and clears the tombstone.
    assert process_message(_inline("upsert", pod), context=standalone_context).action == "created"
    assert standalone_context.queue.deleted_at(name) is None


def test_tombstones_expire(queue_store):
    from shared.azure import queue as queue_module

    old = queue_store.client(queue_module.tombstone_queue("old-group"))
    old.create_queue(metadata={"deletedat": "2020-01-01T00:00:00Z", "group": "old-group"})
    assert queue_store.deleted_at("old-group") == "2020-01-01T00:00:00Z"
    queue_store.mark_deleted("new-group", queue_module.utc_now_text())  # sweeps what expired
    assert queue_store.deleted_at("old-group") is None
    assert queue_store.deleted_at("new-group") is not None


def _pod_events(kube_api, pod) -> list[dict]:
    return [e for e in kube_api.list("events", "default") if e["involvedObject"]["uid"] == pod["metadata"]["uid"]]


def test_persistent_arm_errors_end_with_a_reason_and_an_event_not_silence(kube_api, arm, worker_context, monkeypatch):
    """Issue 14, point 5a: after the last re-queue the message was poisoned and the pod stayed plain Pending."""
    from shared import worker

    pod = kube_api.create(make_pod())
    arm.faults.fail("put", status=500, count=10_000)
    sent: list[str] = []
    monkeypatch.setattr(worker_context.queue, "send", lambda text, **kw: sent.append(text) or "id")
    text, outcomes = _upsert_text(pod), []
    for _ in range(worker.MAX_ATTEMPTS + 1):
        outcomes.append(process_message(text, context=worker_context).action)
        if outcomes[-1] != "requeued":
            break
        text = sent[-1]
    assert outcomes == ["requeued"] * worker.MAX_ATTEMPTS + ["gave-up"]
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Pending", "ProviderUnavailable")
    assert "500" in status["message"] or "ARM" in status["message"]
    [event] = [e for e in _pod_events(kube_api, pod) if e["reason"] == "ProviderUnavailable"]
    assert event["type"] == "Warning"


@pytest.mark.fake_kube_only("injects a 403 on secrets")
def test_a_forbidden_secret_read_fails_the_pod_once_with_the_reason(kube_api, arm, worker_context):
    """Issue 14, point 5b: a 403 on a referenced Secret went to poison after five silent deliveries."""
    kube_api.create(_secret("x"))
    pod = make_pod()
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    pod = kube_api.create(pod)
    kube_api.faults.inject(403, 100, verb="GET", resource="secrets")
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action == "failed"
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ReferenceForbidden")
    assert "Secret or ConfigMap" in status["message"] and "403" not in status["reason"]
    assert [e["type"] for e in _pod_events(kube_api, pod) if e["reason"] == "ReferenceForbidden"] == ["Warning"]
    assert arm.counts["put"] == 0
    kube_api.faults.clear()


def test_throttled_requeues_back_off_to_a_cap_and_honour_retry_after():
    from shared.worker import THROTTLE_MAX_DELAY, throttle_delay

    assert [throttle_delay(n, 5) for n in range(7)] == [30, 60, 120, 240, 480, 900, 900]
    assert throttle_delay(10_000, None) == THROTTLE_MAX_DELAY
    assert throttle_delay(2, 3600) == 3600


def _foreign_group(worker_context, pod: dict, cluster: str | None) -> str:
    """A group as another cluster's connector (or an older, untagged version) would have made it."""
    from shared.translate import translate_pod

    body = translate_pod(pod, settings=worker_context.settings).body
    body["tags"].pop(tags.TAG_CLUSTER, None)
    if cluster is not None:
        body["tags"][tags.TAG_CLUSTER] = cluster
    name = container_group_name(pod)
    worker_context.aci.begin_create_or_update(name, body)
    return name


def test_groups_carry_the_cluster_identity(kube_api, arm, worker_context):
    pod = kube_api.create(make_pod())
    process_message(_upsert_text(pod), context=worker_context)
    kube_system = kube_api.get("namespaces", None, "kube-system")
    assert worker_context.aci.get(container_group_name(pod))["tags"][tags.TAG_CLUSTER] == kube_system["metadata"]["uid"]


def test_the_worker_never_deletes_another_clusters_or_an_unclaimed_group(kube_api, arm, worker_context):
    """Issue 14, point 1: a message naming a pod this cluster does not have must not remove another's group."""
    elsewhere = make_pod("web")
    elsewhere["metadata"]["uid"] = "0b9c1a52-0000-4000-8000-000000000001"  # a pod of the other cluster
    legacy = make_pod("old")
    legacy["metadata"]["uid"] = "0b9c1a52-0000-4000-8000-000000000002"
    other = _foreign_group(worker_context, elsewhere, "the-other-cluster")
    untagged = _foreign_group(worker_context, legacy, None)
    for pod in (elsewhere, legacy):
        outcome = process_message(_upsert_text(pod), context=worker_context)  # pod gone here: "delete its group"
        assert outcome.action == "skipped", outcome
    assert worker_context.aci.get(other) is not None
    assert worker_context.aci.get(untagged) is not None
    assert arm.counts["delete"] == 0


def test_an_untagged_group_of_a_live_pod_is_adopted(kube_api, arm, worker_context):
    pod = kube_api.create(make_pod())
    name = _foreign_group(worker_context, pod, None)  # made by a version without the cluster tag
    assert process_message(_upsert_text(pod), context=worker_context).action in ("unchanged", "updated")
    kube_api.delete("pods", "default", "web")
    outcome = process_message(_upsert_text(pod), context=worker_context)
    assert outcome.action in ("deleting", "deleted"), outcome
    assert arm.counts["delete"] == 1
    assert name == outcome.group
