"""`sync` messages (from Event Grid's ARM events): refresh one pod's status from its group right away.

The reconciler reads each group on a budget; an ARM event says a group just changed, so the worker reads
that one group now. Only status is patched: a sync never creates, replaces or deletes anything.
"""

from __future__ import annotations

from shared import tags
from shared.handlers.notes import patch_status
from shared.messages import Message
from shared.naming import container_group_name
from shared.status import pod_status_from_container_group, status_differs
from shared.worker import Context, Outcome


def handle(message: Message, ctx: Context) -> Outcome:
    """Refresh one group's pod status now instead of at the reconciler's next budgeted read."""
    if ctx.kube is None:
        return Outcome("skipped", "standalone mode has no pod status to refresh")
    if message.group:
        group = ctx.aci.get(message.group)
        if group is None:
            return Outcome("skipped", "group not found", group=message.group)
        group_tags = tags.group_tags(group)
        namespace, name = group_tags.get(tags.TAG_NAMESPACE), group_tags.get(tags.TAG_NAME)
        if not namespace or not name:
            return Outcome("skipped", "group is not managed by this connector", group=message.group)
        pod = ctx.kube.get_pod(namespace, name)
    else:
        assert message.pod is not None
        pod = ctx.kube.get_pod(message.pod.namespace, message.pod.name)
        group = ctx.aci.get(container_group_name(pod)) if pod is not None else None
    if (
        pod is None
        or group is None
        or tags.group_tags(group).get(tags.TAG_UID) != (pod.get("metadata") or {}).get("uid")
    ):
        return Outcome("skipped", "no matching pod and group")
    status = pod_status_from_container_group(group, pod)
    if not status_differs(pod.get("status") or {}, status):
        return Outcome("unchanged", group=container_group_name(pod))
    patch_status(ctx, pod, status)
    return Outcome("synced", group=container_group_name(pod))
