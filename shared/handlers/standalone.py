"""Standalone mode (no cluster): the inline manifest is the truth, and a delete outranks older upserts.

Without a cluster there is no pod to re-read, so message order is all the worker has. An upsert that
was throttled and re-queued can reach the worker after a later delete of the same pod; replaying it
would recreate a group nobody will ever remove. So a delete leaves a tombstone (shared.azure.queue:
a marker in the Storage account holding the delete's time), and an upsert produced before that
time (its `ts`, which a re-queue keeps) is dropped. A newer upsert (a real resubmission) clears it.
Failures are dead-lettered, since no pod can show them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared import tags
from shared.errors import PermanentError
from shared.kube import pod_inputs
from shared.logs import log_with, subject_fields
from shared.messages import Message, PodRef
from shared.naming import container_group_name
from shared.translate import translate_pod
from shared.worker import Context, Outcome, _delete_group_of, _same_spec, _stub_pod, cluster_id, with_spec_hash

log = logging.getLogger("aci_connector.worker")


def handle(message: Message, ctx: Context) -> Outcome:
    """One standalone message: create, update or delete the group of its inline manifest."""
    manifest = message.manifest
    if manifest is None and not (message.op == "delete" and message.pod is not None):
        reason = "standalone mode needs the pod manifest inline (field manifest)"
        ctx.queue.dead_letter(message.encoded(), reason=reason, field="manifest")
        return Outcome("dead-lettered", reason)
    assert message.pod is not None
    subject = manifest if manifest is not None else _stub_pod(message.pod)
    name = container_group_name(subject)
    if message.op == "delete":
        ctx.queue.mark_deleted(name, message.ts)
        return _delete_group_of(subject, ctx, reason="delete requested")
    deleted_at = ctx.queue.deleted_at(name)
    if deleted_at is not None:
        if _older(message, deleted_at):
            log_with(log, logging.INFO, "dropped an upsert older than the pod's delete", fields=_fields(message.pod))
            return Outcome("dropped", f"upsert from {message.ts} is older than the delete at {deleted_at}", group=name)
        ctx.queue.clear_deleted(name)
    try:
        resolver = pod_inputs.resolver(ctx.images, ctx.settings)
        images = pod_inputs.standalone_images(manifest, {}, resolver, pod_inputs.node_os(manifest, ctx.settings))
        body = with_spec_hash(translate_pod(manifest, settings=ctx.settings, images=images).body)
        body = tags.with_cluster(body, cluster_id(ctx.settings, None))
        existing = ctx.aci.get(name)
        if existing is not None and _same_spec(existing, body):
            return Outcome("unchanged", "group already matches the manifest", group=name)
        ctx.aci.begin_create_or_update(name, body)
    except PermanentError as error:
        ctx.queue.dead_letter(message.encoded(), reason=str(error), field=getattr(error, "field", None))
        return Outcome("dead-lettered", str(error))
    return Outcome("created" if existing is None else "updated", group=name)


def _older(message: Message, deleted_at: str) -> bool:
    """Produced before the delete; at the same second, only a re-queued copy counts as older."""
    produced, deleted = _time(message.ts), _time(deleted_at)
    if produced is None or deleted is None:
        return message.attempt > 0
    return produced < deleted or (produced == deleted and message.attempt > 0)


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _fields(ref: PodRef) -> dict[str, str]:
    return subject_fields(namespace=ref.namespace, name=ref.name, uid=ref.uid)
