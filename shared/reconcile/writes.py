"""The reconciler's writes for one pod: enqueue a create, delete groups, finish deletions, patch or fail pods."""

from __future__ import annotations

import logging
from typing import Any

from shared import tags
from shared.azure.eventgrid import publish_pod_transition, transition_for
from shared.errors import ConnectorError, PermanentError, RetryableError, ThrottledError
from shared.kube import Conflict, KubeApiError, NotFound
from shared.messages import upsert
from shared.naming import container_group_name
from shared.reconcile.intake import GAVE_UP_REASON as INTAKE_GAVE_UP_REASON
from shared.reconcile.intake import GIVE_UP, SKIP, gave_up_message, plan_intake
from shared.reconcile.pods import DELETED_REASON, PROVISIONING_FAILED_REASON, TERMINAL_PHASES, _key, _meta, _phase, _uid
from shared.reconcile.report import CycleReport, ReconcileConfig
from shared.reconcile.retry import retry_tags
from shared.status import pod_status_for_missing_group, status_differs
from shared.worker import Context

log = logging.getLogger("aci_connector.reconcile")


class PodWrites:
    """Mixin of Reconciler: every change one reconcile decision makes to a pod or its group."""

    ctx: Context
    config: ReconcileConfig
    clock: Any
    wall: Any
    enqueued: dict[str, float]
    deleting: dict[str, float]

    def _enqueue_create(self, pod: dict[str, Any], report: CycleReport) -> None:
        """Start (or restart) a group-less pod's intake unless a message for it is in flight (reconcile.intake)."""
        uid = _uid(pod) or ""
        now = self.clock()
        last = self.enqueued.get(uid)
        if last is not None and now - last < self.config.enqueue_every_seconds:
            return
        plan = plan_intake(pod, self.wall())
        if plan.action == SKIP:
            return
        if plan.action == GIVE_UP:
            self._fail_pod(pod, INTAKE_GAVE_UP_REASON, gave_up_message(pod, plan.rounds), report)
            return
        if self.ctx.queue is None:
            report.errors.append(f"no queue to enqueue {_key(pod)} for creation")
            return
        try:  # the mark first: a mark without a message only delays the next round, the reverse could double
            self.ctx.kube.patch_pod_status(*_key(pod), _uid(pod), {}, annotations=plan.marks)
            self.ctx.queue.send(upsert(pod, source="reconcile").to_text())
        except (NotFound, Conflict):
            return  # deleted or re-created since the list
        except Exception as error:  # Storage or apiserver trouble: the next cycle tries again
            report.errors.append(f"enqueue {_key(pod)}: {type(error).__name__}: {error}")
            return
        self.enqueued[uid] = now
        report.enqueued += 1

    def _finish_deletion(
        self, name: str, pod: dict[str, Any], group: dict[str, Any] | None, report: CycleReport
    ) -> None:
        """Pod is terminating: group first, then the pod itself once ACI no longer has the group."""
        if group is not None:
            if self._delete_group(name, report):
                report.groups_deleted += 1
            return
        try:
            if self.ctx.kube.delete_pod_now(*_key(pod), _uid(pod)):
                report.pods_removed += 1
                publish_pod_transition("deleted", pod, group_name=container_group_name(pod))
        except (KubeApiError, RetryableError) as error:
            report.errors.append(f"remove pod {_key(pod)}: {error}")

    def _delete_group(self, name: str, report: CycleReport) -> bool:
        """DELETE unless one was accepted recently; the list's tags were checked by the caller."""
        now = self.clock()
        since = self.deleting.get(name)
        if since is not None and now - since < self.config.delete_every_seconds:
            return False
        try:
            self.ctx.aci.begin_delete(name)
        except ThrottledError as error:
            report.errors.append(f"delete {name} throttled: {error}")
            return False
        except ConnectorError as error:
            report.errors.append(f"delete {name}: {error}")
            return False
        report.arm_writes += 1
        self.deleting[name] = now
        log.info("deleting container group %s", name)
        return True

    def _orphan(self, group: dict[str, Any], report: CycleReport) -> None:
        """A managed group no listed pod claims: delete it, unless a re-read shows its pod after all."""
        group_tags = group.get("tags") or {}
        if group_tags.get(tags.TAG_MODE) == tags.MODE_STANDALONE:
            return
        if group_tags.get(tags.TAG_NODE) not in self.ctx.settings.node_names.values():
            return  # another connector's node (sharing the resource group): not ours to judge
        key = tags.pod_key(group)
        pod = None
        if key is not None:
            try:
                pod = self.ctx.kube.get_pod(*key)
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"re-read pod {key} of group {group.get('name')}: {error}")
                return
            if (
                pod is not None
                and _uid(pod) == group_tags.get(tags.TAG_UID)
                and not _meta(pod).get("deletionTimestamp")
            ):
                return  # created after our pod list: not an orphan
        if self._delete_group(group["name"], report):
            report.orphans_deleted += 1
            if key is not None and (pod is None or _uid(pod) != group_tags.get(tags.TAG_UID)):
                # The pod went away without us seeing it (a finished pod is deleted at once): say so once.
                gone = {
                    "metadata": {"namespace": key[0], "name": key[1], "uid": group_tags.get(tags.TAG_UID)},
                    "spec": {"nodeName": group_tags.get(tags.TAG_NODE)},
                }
                publish_pod_transition("deleted", gone, group_name=group["name"])

    def _group_vanished(self, name: str, pod: dict[str, Any], report: CycleReport) -> None:
        """ARM says the group is gone: re-read the pod (it may be terminating or re-created) before failing it."""
        current = self.ctx.kube.get_pod(*_key(pod))
        if current is None or _uid(current) != _uid(pod) or _meta(current).get("deletionTimestamp"):
            return
        message = f"The ACI container group {name} was deleted outside the connector"
        self._fail_pod(current, DELETED_REASON, message, report)

    def _patch_status(self, pod: dict[str, Any], desired: dict[str, Any], report: CycleReport) -> None:
        if not status_differs(pod.get("status") or {}, desired):
            return
        try:
            self.ctx.kube.patch_pod_status(*_key(pod), _uid(pod), desired)
        except (NotFound, Conflict):
            return  # deleted or re-created since the list: the next cycle sees the new truth
        report.status_patches += 1
        transition = transition_for(pod.get("status"), desired)
        if transition:
            publish_pod_transition(
                transition,
                pod,
                group_name=container_group_name(pod),
                reason=desired.get("reason"),
                message=desired.get("message"),
            )
        pod["status"] = desired

    def _fail_pod(self, pod: dict[str, Any], reason: str, message: str, report: CycleReport) -> None:
        """Final word: Failed with a reason a human can act on, and a Warning Event saying the same."""
        if _phase(pod) in TERMINAL_PHASES:
            return
        before = report.status_patches
        self._patch_status(
            pod, pod_status_for_missing_group(pod, reason=reason, message=message, now=self.wall()), report
        )
        if report.status_patches > before:
            report.pods_failed += 1
            self._record(pod, reason, message, "Warning")

    def _record(self, pod: dict[str, Any], reason: str, message: str, kind: str) -> None:
        from shared.kube.recorder import pod_event

        try:
            self.ctx.kube.create_event(_key(pod)[0], pod_event(pod, reason=reason, message=message, event_type=kind))
        except (KubeApiError, RetryableError) as error:
            log.warning("could not record event %s on %s: %s", reason, _key(pod), error)

    def _retry(self, name: str, pod: dict[str, Any], group: dict[str, Any], report: CycleReport) -> None:
        """Re-deploy a Failed group: the same translated spec, with the attempt counted in its tags."""
        from shared.kube import pod_inputs
        from shared.kube.claims import ClaimPending
        from shared.worker import cluster_id

        try:
            translation, inputs = pod_inputs.translate_for_create(self.ctx.kube, pod, self.ctx.settings)
            body = tags.with_spec_hash(translation.body, tags.references_version(inputs.secrets, inputs.config_maps))
        except ClaimPending:
            return  # the claim went away meanwhile: a later cycle retries
        except PermanentError as error:
            self._fail_pod(pod, PROVISIONING_FAILED_REASON, str(error), report)
            return
        body = tags.with_cluster(body, cluster_id(self.ctx.settings, self.ctx.kube))
        body["tags"] = {**body.get("tags", {}), **retry_tags(group, now=self.wall())}
        self.ctx.aci.begin_create_or_update(name, body)
        report.arm_writes += 1
        report.retries += 1
        attempt = body["tags"]["aci-connector-retries"]
        self._record(
            pod, "ProvisioningRetry", f"ACI provisioning failed; re-deploying {name} (attempt {attempt})", "Warning"
        )
