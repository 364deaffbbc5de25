"""The queue worker: one `pod-events` message in, the container group made to match the pod.

Level-triggered: the message only says *which* pod to look at; the pod is re-read and its current state
decides. Every step is safe to repeat and beside another instance (uid and cluster tags are checked before a
group is replaced or deleted): Functions scales out and Storage queues deliver at least once.
Failure policy, by error class (shared/errors.py; docs/operations.md, failure modes):
- InvalidMessage: dead-lettered once with the reason, never retried.
- ThrottledError (ARM 429, ACI quota): re-queued, 30 s doubling to 15 min, never before Retry-After;
  the pod stays Pending with reason WaitingForACICapacity. The connector's own ARM read budget
  (shared/azure/reads.py) spent: re-queued for just the seconds until a read is free.
- RetryableError (5xx, timeouts): re-queued with exponential backoff, up to MAX_ATTEMPTS; then the pod
  says ProviderUnavailable (Warning Event) and the reconciler restarts the chain later.
- PermanentError (ARM rejection, UnsupportedPodSpec, a forbidden read): pod Failed with the error's
  reason and a Warning Event; in standalone mode, dead-lettered.
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass
from typing import Any

from shared import tags
from shared.azure.eventgrid import publish_pod_transition
from shared.azure.reads import ReadBudgetExhausted
from shared.config import Settings
from shared.errors import (
    ConfigError,
    InvalidMessage,
    PermanentError,
    RetryableError,
    ThrottledError,
)
from shared.handlers import notes
from shared.handlers.notes import VOLUME_WAIT_REASON, WAITING_REASON, fields, key_name, key_ns, uid
from shared.kube import pod_inputs
from shared.kube.claims import ClaimPending
from shared.logs import log_with, subject_fields
from shared.messages import Message, PodRef, parse_message
from shared.naming import container_group_name
from shared.status import pod_status_from_container_group, status_differs
from shared.translate import translate_pod

log = logging.getLogger("aci_connector.worker")

MAX_ATTEMPTS = 8
"""Re-queues for transient errors before the host's own retry and poison queue take over."""
THROTTLE_DEFAULT_DELAY = 30.0
THROTTLE_MAX_DELAY = 900.0
"""Cap of the throttled re-queue backoff (30 s doubling); a longer Retry-After from ARM is still honoured."""
TERMINAL_PHASES = ("Succeeded", "Failed")
SPEC_HASH_TAG = tags.SPEC_HASH_TAG
with_spec_hash = tags.with_spec_hash
_same_spec = tags.same_spec
DELETE_RECHECK_DELAY = 5.0
MAX_DELETE_RECHECKS = 20
"""About 15 minutes of re-checks (5, 10, ... 60 s apart); a delete that takes longer is the reconciler's."""


@dataclass
class Context:
    """What a worker invocation talks to. `kube` is None in standalone mode."""

    settings: Settings
    aci: Any
    queue: Any
    kube: Any | None
    images: Any = None
    """The image config resolver (shared.registry); None: the process-wide one."""


@dataclass(frozen=True)
class Outcome:
    """What one message led to, for logs and tests."""

    action: str
    detail: str = ""
    group: str | None = None
    group_gone: bool = False


_cluster_ids: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""Per client object, not per id(): an id is reused once its object is freed, and would hand a new client
(another cluster's, in tests) the old one's uid."""


def cluster_id(settings: Settings, kube: Any | None) -> str:
    """CLUSTER_ID, else the kube-system namespace uid (stable for the cluster's life, read once per client),
    else (standalone mode) tags.STANDALONE_CLUSTER: the value of every group's aci-connector-cluster tag."""
    if settings["CLUSTER_ID"] or kube is None:
        return settings["CLUSTER_ID"] or tags.STANDALONE_CLUSTER
    if kube not in _cluster_ids:
        uid = kube.namespace_uid("kube-system")
        if not uid:
            raise ConfigError("CLUSTER_ID is empty and the kube-system namespace has no uid to default to: set it")
        _cluster_ids[kube] = uid
    return _cluster_ids[kube]


def default_context() -> Context:
    """The process-wide clients, built lazily from the app settings."""
    from shared.azure.aci import get_aci_client
    from shared.azure.queue import get_queue_store
    from shared.config import get_settings
    from shared.kube import get_kube_client

    settings = get_settings()
    kube = get_kube_client(settings) if settings.cluster_configured else None
    return Context(settings=settings, aci=get_aci_client(settings), queue=get_queue_store(settings), kube=kube)


def process_message(text: str | bytes, *, dequeue_count: int = 1, context: Context | None = None) -> Outcome:
    """Handle one queue message end to end; raises only when the host should retry it."""
    ctx = context or default_context()
    try:
        message = parse_message(text)
    except InvalidMessage as error:
        original = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
        ctx.queue.dead_letter(original, reason=str(error), field=error.field, dequeue_count=dequeue_count)
        log_with(log, logging.WARNING, "dead-lettered invalid message: %s", error, fields={})
        return Outcome("dead-lettered", str(error))
    try:
        return _dispatch(message, ctx)
    except ThrottledError as error:
        delay = throttle_delay(message.attempt, error.retry_after)
        if isinstance(error, ReadBudgetExhausted):  # our own budget, not ARM's: back as soon as a read is free
            delay = float(max(1, math.ceil(error.retry_after or 1.0)))
        ctx.queue.send(message.next_attempt().to_text(), delay_seconds=delay)
        notes.note_waiting(message, ctx, f"Waiting for ACI capacity: {error}", delay)
        log_with(
            log,
            logging.INFO,
            "throttled, re-queued %s in %.0f s: %s",
            message.op,
            delay,
            error,
            fields=fields(message),
        )
        return Outcome("requeued", f"throttled: retry in {delay:.0f} s")
    except RetryableError as error:
        if message.attempt >= MAX_ATTEMPTS:
            log_with(
                log,
                logging.ERROR,
                "giving up re-queueing %s after %d attempts: %s",
                message.op,
                message.attempt,
                error,
                fields=fields(message),
            )
            if not notes.note_gave_up(message, ctx, error):
                raise  # no pod to tell (standalone, sync): the host's retries and poison queue keep the record
            return Outcome("gave-up", f"ARM kept failing after {message.attempt} attempts: {error}")
        delay = min(2.0 ** (message.attempt + 1), 300.0)
        ctx.queue.send(message.next_attempt().to_text(), delay_seconds=delay)
        notes.note_waiting(message, ctx, None, delay)
        log_with(
            log,
            logging.WARNING,
            "transient failure in %s, re-queued in %.0f s: %s",
            message.op,
            delay,
            error,
            fields=fields(message),
        )
        return Outcome("requeued", f"transient: retry in {delay:.0f} s")


def throttle_delay(attempt: int, retry_after: float | None) -> float:
    """30 s doubling per re-queue up to THROTTLE_MAX_DELAY, never sooner than ARM's Retry-After."""
    backoff = min(THROTTLE_DEFAULT_DELAY * 2.0 ** min(attempt, 16), THROTTLE_MAX_DELAY)
    return max(retry_after or 0.0, backoff)


def _dispatch(message: Message, ctx: Context) -> Outcome:
    if message.op == "sync":
        from shared.handlers.sync import handle

        return handle(message, ctx)
    if ctx.kube is None:
        from shared.handlers.standalone import handle

        return handle(message, ctx)
    assert message.pod is not None
    pod = ctx.kube.get_pod(message.pod.namespace, message.pod.name)
    if message.op == "delete":
        return _delete(message.pod, pod, ctx, attempt=message.attempt)
    return _upsert(message.pod, pod, ctx)


# -- cluster mode ----------------------------------------------------------------------------------------------------


def _on_our_node(pod: dict[str, Any], settings: Settings) -> bool:
    return (pod.get("spec") or {}).get("nodeName") in settings.node_names.values()


def _annotations(pod: dict[str, Any]) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("annotations") or {}


def _tags(group: dict[str, Any]) -> dict[str, str]:
    return group.get("tags") or {}


def _upsert(ref: PodRef, pod: dict[str, Any] | None, ctx: Context) -> Outcome:
    if pod is None:
        # The pod is gone: make sure the incarnation the message named leaves no group behind.
        if ref.uid:
            return _delete_group_of(_stub_pod(ref), ctx, reason="pod no longer exists")
        return Outcome("skipped", "pod not found")
    if not _on_our_node(pod, ctx.settings):
        return Outcome("skipped", "pod is not bound to a virtual node of this connector")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return _delete(ref, pod, ctx)
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return Outcome("skipped", "pod is terminal")
    try:
        return _create_group(pod, ctx)
    except PermanentError as error:
        notes.fail_pod(pod, ctx, error)
        return Outcome("failed", str(error))


def _create_group(pod: dict[str, Any], ctx: Context) -> Outcome:
    name = container_group_name(pod)
    try:
        inputs = pod_inputs.gather(ctx.kube, pod, ctx.settings, pod_inputs.resolver(ctx.images, ctx.settings))
    except ClaimPending as waiting:  # a kubelet waits for the volume too; the reconciler enqueues the pod again
        note = {"phase": "Pending", "reason": VOLUME_WAIT_REASON, "message": str(waiting)}
        # Waiting for a volume is not a failed intake round: reset the count, so the wait is never given up.
        marks = {tags.ROUNDS_ANNOTATION: None} if tags.ROUNDS_ANNOTATION in _annotations(pod) else None
        if (pod.get("status") or {}).get("message") != str(waiting) or marks:
            notes.patch_status(
                ctx, pod, note if (pod.get("status") or {}).get("message") != str(waiting) else None, annotations=marks
            )
        return Outcome("waiting", str(waiting))
    draft = translate_pod(inputs.pod, settings=ctx.settings, **inputs.draft())  # placeholder credentials
    in_subnet = bool(draft.body["properties"].get("subnetIds"))
    cluster = cluster_id(ctx.settings, ctx.kube)
    version = tags.references_version(inputs.secrets, inputs.config_maps)
    body = tags.with_cluster(with_spec_hash(draft.body, version), cluster)
    built = {tags.SPEC_HASH_ANNOTATION: body["tags"][SPEC_HASH_TAG]}
    if _annotations(pod).get(tags.SPEC_HASH_ANNOTATION) == built[tags.SPEC_HASH_ANNOTATION]:
        # We PUT this very spec for this pod incarnation and said so on the pod: no ARM read needed (a relay
        # restart re-announces every pod). A group deleted behind our back is the reconciler's: its list sees it.
        return Outcome("unchanged", "the pod records that its group was built from this spec", group=name)
    existing = ctx.aci.get(name)
    if existing is not None:
        owner_uid = _tags(existing).get(tags.TAG_UID) if tags.is_managed(existing) else None
        if owner_uid != uid(pod) or tags.ownership(existing, cluster, [uid(pod)]) == tags.FOREIGN:
            owner = _tags(existing).get(tags.TAG_CLUSTER) or "something else"
            raise PermanentError(
                f"container group {name} exists and belongs to {owner_uid or owner} (cluster {owner}), "
                f"not pod uid {uid(pod)} of this cluster"
            )
        if _same_spec(existing, body):
            # A worker that died after ARM accepted the PUT left the announcements undone: finish them now,
            # before the annotation that lets the next repeat skip this read.
            events = pod_inputs.limit_events(draft, inputs, {}, in_subnet)
            notes.announce_created(ctx, pod, name, events, notices=draft.notices)
            notes.patch_status(ctx, pod, None, annotations=built)  # once: the next repeat is answered from the pod
            return Outcome("unchanged", "group already matches the pod", group=name)
    tokens, proxy = pod_inputs.credentials(ctx.kube, inputs, ctx.settings, in_subnet=in_subnet)
    translation = translate_pod(inputs.pod, settings=ctx.settings, **inputs.final(tokens, proxy))
    accepted = ctx.aci.begin_create_or_update(name, {**translation.body, "tags": body["tags"]})
    log_with(log, logging.INFO, "container group accepted by ARM", fields=subject_fields(pod, group=name))
    # Close the race with a delete that ran before our PUT landed: re-read, and undo if the pod went away.
    current = ctx.kube.get_pod(key_ns(pod), key_name(pod))
    if current is None or uid(current) != uid(pod) or (current.get("metadata") or {}).get("deletionTimestamp"):
        ctx.aci.begin_delete(name)
        return Outcome("undone", "pod was deleted while its group was being created", group=name)
    if existing is None:  # before the spec-hash annotation: once it is written, a repeat skips the ARM read
        events = pod_inputs.limit_events(translation, inputs, tokens, in_subnet)
        notes.announce_created(ctx, pod, name, events, notices=translation.notices, known_missing=True)
    status = pod_status_from_container_group(accepted, current)
    if (current.get("status") or {}).get("reason") == WAITING_REASON:
        status = {**status, "reason": None, "message": None}  # merge patch: null removes the stale wait note
    marks = {
        key: None for key in (tags.QUEUED_UNTIL_ANNOTATION, tags.ROUNDS_ANNOTATION) if key in _annotations(current)
    }
    if status_differs(current.get("status") or {}, status):
        notes.patch_status(ctx, pod, status, annotations={**built, **marks})
    elif marks or _annotations(current).get(tags.SPEC_HASH_ANNOTATION) != built[tags.SPEC_HASH_ANNOTATION]:
        notes.patch_status(ctx, pod, None, annotations={**built, **marks})  # the group exists: intake is done
    return Outcome("created" if existing is None else "updated", group=name)


def _delete(ref: PodRef, pod: dict[str, Any] | None, ctx: Context, *, attempt: int = 0) -> Outcome:
    if pod is None:
        if ref.uid:
            return _delete_group_of(_stub_pod(ref), ctx, reason="pod no longer exists")
        return Outcome("skipped", "pod not found and the message has no uid to find its group")
    if ref.uid and ref.uid != uid(pod):
        # The named incarnation is gone; a new pod took its name. Remove only the old one's group.
        return _delete_group_of(_stub_pod(ref), ctx, reason="pod was re-created")
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if not deleting:
        return Outcome("skipped", "pod still exists and is not being deleted: delete the pod in Kubernetes")
    outcome = _delete_group_of(pod, ctx, reason="pod is being deleted", live=True)
    if outcome.group_gone:
        removed = ctx.kube.delete_pod_now(key_ns(pod), key_name(pod), uid(pod))
        if removed:
            publish_pod_transition("deleted", pod, group_name=container_group_name(pod))
        return Outcome("deleted", "group gone; pod removed" if removed else "group gone", group=outcome.group)
    if attempt >= MAX_DELETE_RECHECKS:
        return Outcome("deleting", "group still deleting; the reconciler finishes the pod", group=outcome.group)
    # The group's deletion is still running: look again shortly, a little later each time.
    recheck = Message(
        op="delete", pod=PodRef(key_ns(pod), key_name(pod), uid(pod)), source="worker", attempt=attempt + 1
    )
    ctx.queue.send(recheck.to_text(), delay_seconds=min(DELETE_RECHECK_DELAY * (attempt + 1), 60.0))
    return Outcome("deleting", "group deletion accepted; pod removal re-checked shortly", group=outcome.group)


def _delete_group_of(pod: dict[str, Any], ctx: Context, *, reason: str, live: bool = False) -> Outcome:
    """Delete the pod's group if it is ours; `live` says the pod still exists here (may adopt an untagged group)."""
    name = container_group_name(pod)
    group = ctx.aci.get(name)
    if group is None:
        return Outcome("deleted", f"no group ({reason})", group=name, group_gone=True)
    verdict = tags.ownership(group, cluster_id(ctx.settings, ctx.kube), [uid(pod)] if live else [])
    if verdict == tags.UNCLAIMED and ctx.kube is None and _tags(group).get(tags.TAG_MODE) == tags.MODE_STANDALONE:
        verdict = tags.ADOPTED  # standalone groups carry no uid: a standalone delete names its own group
    if verdict == tags.FOREIGN:
        return Outcome("skipped", f"group {name} belongs to another connector or cluster: left alone", group=name)
    if verdict == tags.UNCLAIMED:
        log_with(
            log,
            logging.WARNING,
            "group %s has no cluster tag and its pod is not live here: left alone (docs/operations.md, upgrades)",
            name,
            fields=subject_fields(pod, group=name),
        )
        return Outcome("skipped", f"group {name} has no cluster tag: left alone", group=name)
    owner_uid = _tags(group).get(tags.TAG_UID)
    if owner_uid and uid(pod) and owner_uid != uid(pod):
        return Outcome("skipped", f"group {name} belongs to another pod incarnation", group=name)
    ctx.aci.begin_delete(name)
    log_with(log, logging.INFO, "deleting container group: %s", reason, fields=subject_fields(pod, group=name))
    return Outcome("deleted", reason, group=name)


def _stub_pod(ref: PodRef) -> dict[str, Any]:
    return {"metadata": {"namespace": ref.namespace, "name": ref.name, "uid": ref.uid}}
