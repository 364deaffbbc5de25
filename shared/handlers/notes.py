"""What the worker writes on a pod: status notes, Events, the Scheduled CloudEvent, and its intake marks.

Every write names the pod's uid, so a pod deleted or re-created meanwhile refuses it; Events have
deterministic names and the CloudEvent a deterministic id, so repeating a write after a crash is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import tags
from shared.azure.eventgrid import publish_pod_transition, transition_for
from shared.errors import PermanentError, RetryableError
from shared.kube.recorder import pod_event
from shared.logs import log_with, subject_fields
from shared.messages import Message
from shared.naming import container_group_name
from shared.status import kube_time

if TYPE_CHECKING:
    from shared.worker import Context

log = logging.getLogger("aci_connector.worker")

WAITING_REASON = "WaitingForACICapacity"
"""status.reason while ARM throttles or the ACI quota is exhausted; cleared once the group is accepted."""
VOLUME_WAIT_REASON = "WaitingForVolume"
"""status.reason while a PersistentVolumeClaim of the pod is unbound or missing (the kubelet waits too)."""
GAVE_UP_REASON = "ProviderUnavailable"
"""status.reason (pod stays Pending) and Warning Event when ARM kept failing for MAX_ATTEMPTS re-queues."""
IN_FLIGHT_GRACE = 120.0
"""Seconds a re-queued message is still counted in flight after it becomes visible (time to be handled)."""


def uid(pod: dict[str, Any] | None) -> str | None:
    return ((pod or {}).get("metadata") or {}).get("uid")


def fields(message: Message) -> dict[str, str]:
    ref = message.pod
    if ref is None:
        return subject_fields(group=message.group)
    return subject_fields(namespace=ref.namespace, name=ref.name, uid=ref.uid, group=message.group)


def announce_created(
    ctx: Context,
    pod: dict[str, Any],
    name: str,
    events: list[tuple[str, str]],
    *,
    notices: Sequence[tuple[str, str]] = (),
    known_missing: bool = False,
) -> None:
    """The Scheduled CloudEvent, then the Warning Events (FieldsIgnored, UnenforcedFields, ... from
    shared/kube/pod_inputs.py limit_events), the Normal ones (the translation's notices: a port opened for a pod
    that declared none) and ProviderCreated, each at most once per pod uid.

    Event names are deterministic (shared.kube.recorder) and so is the CloudEvent id, so a redelivered message
    checks for the ProviderCreated Event (written last) and repeats whatever a crash cut short.
    """
    created = pod_event(pod, reason="ProviderCreated", message=f"Created ACI container group {name}")
    if not known_missing and ctx.kube.get_namespaced("events", key_ns(pod), created["metadata"]["name"]):
        return
    publish_pod_transition("scheduled", pod, group_name=name)
    for reason, text in events:
        record(ctx, pod, reason, text, "Warning")
    for reason, text in notices:
        record(ctx, pod, reason, text, "Normal")
    ctx.kube.create_event(key_ns(pod), created)


def fail_pod(pod: dict[str, Any], ctx: Context, error: PermanentError) -> None:
    """The connector cannot run this pod: say so in its status and in an Event, never silently."""
    status = {"phase": "Failed", "reason": error.reason, "message": str(error)[:4000]}
    patch_status(ctx, pod, status)
    record(ctx, pod, error.reason, str(error), "Warning")
    log_with(log, logging.WARNING, "pod failed: %s", error, fields=subject_fields(pod))


def note_waiting(message: Message, ctx: Context, text: str | None, delay: float) -> None:
    """Best effort: mark the re-queued message as in flight on the pod (the reconciler then sends no other)
    and, for throttling (`text`), tell a pod still waiting for its group why.

    Only an upsert for a live incarnation is marked, and only a Pending one gets the wait note; a failure
    here never changes the message's fate.
    """
    if ctx.kube is None or message.pod is None or message.op != "upsert":
        return
    from shared.kube import KubeApiError

    until = kube_time(datetime.now(UTC) + timedelta(seconds=delay + IN_FLIGHT_GRACE))
    try:
        pod = ctx.kube.get_pod(message.pod.namespace, message.pod.name)
        if pod is None or (message.pod.uid and uid(pod) != message.pod.uid):
            return
        status = pod.get("status") or {}
        note = None
        if (
            text
            and not (pod.get("metadata") or {}).get("deletionTimestamp")
            and status.get("phase", "Pending") == "Pending"
        ):
            note = {"phase": "Pending", "reason": WAITING_REASON, "message": text}
            if status.get("reason") == WAITING_REASON and status.get("message") == text:
                note = None
        patch_status(ctx, pod, note, annotations={tags.QUEUED_UNTIL_ANNOTATION: until})
    except (KubeApiError, RetryableError) as error:
        log_with(log, logging.INFO, "could not note the wait on the pod: %s", error, fields=fields(message))


def note_gave_up(message: Message, ctx: Context, error: Exception) -> bool:
    """ARM kept failing: the pod says so (Pending, reason ProviderUnavailable) with a Warning Event.

    True when the pod was told (or has nothing left to tell: gone, re-created, terminal); the reconciler
    restarts the chain later, with its own per-pod backoff. False means there is no pod to tell.
    """
    if ctx.kube is None or message.pod is None or message.op != "upsert":
        return False
    pod = ctx.kube.get_pod(message.pod.namespace, message.pod.name)
    if pod is None or (message.pod.uid and uid(pod) != message.pod.uid):
        return True
    if (pod.get("status") or {}).get("phase", "Pending") != "Pending":
        return True
    text = f"ARM kept failing after {message.attempt} attempts: {error}"[:1024]
    patch_status(ctx, pod, {"phase": "Pending", "reason": GAVE_UP_REASON, "message": text})
    record(ctx, pod, GAVE_UP_REASON, text, "Warning")
    return True


def patch_status(
    ctx: Context,
    pod: dict[str, Any],
    status: dict[str, Any] | None,
    *,
    annotations: dict[str, str | None] | None = None,
) -> bool:
    """Patch this incarnation's status (None: leave it) and our annotations in one write.

    A pod deleted or re-created meanwhile refuses it (uid precondition), and that is fine.
    """
    from shared.kube import Conflict, NotFound

    try:
        ctx.kube.patch_pod_status(key_ns(pod), key_name(pod), uid(pod), status or {}, annotations=annotations)
    except (Conflict, NotFound) as error:
        log_with(
            log, logging.INFO, "status not patched, the pod changed meanwhile: %s", error, fields=subject_fields(pod)
        )
        return False
    if not status:
        return True
    transition = transition_for(pod.get("status"), {**(pod.get("status") or {}), **status})
    if transition:
        publish_pod_transition(
            transition,
            pod,
            group_name=container_group_name(pod),
            reason=status.get("reason"),
            message=status.get("message"),
        )
    return True


def record(ctx: Context, pod: dict[str, Any], reason: str, message: str, event_type: str) -> None:
    if ctx.kube is not None:
        ctx.kube.create_event(key_ns(pod), pod_event(pod, reason=reason, message=message, event_type=event_type))


def key_ns(pod: dict[str, Any]) -> str:
    return pod["metadata"].get("namespace") or "default"


def key_name(pod: dict[str, Any]) -> str:
    return pod["metadata"]["name"]
