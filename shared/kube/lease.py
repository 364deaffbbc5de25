"""Node Lease renewal (coordination.k8s.io/v1 in kube-node-lease), shared by the relay and the reconciler.

Kubernetes marks a node NotReady when its Lease is not renewed within the
grace period (about 40 s); the kubelet renews every 10 s. Two renewers exist
here: the relay (a long-running process, renews every 10 s when
RELAY_RENEW_LEASES is on) and the reconciler timer (the fallback). They never
fight because (1) the reconciler passes `only_if_older_than`, so it writes only
when the relay has not renewed recently, and (2) every write is an update
conditioned on the resourceVersion just read: a concurrent renewal makes the
loser's write fail with 409, and the loser re-reads and decides again (usually
"fresh enough, nothing to do").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from shared.kube import Conflict, KubeClient, NotFound

log = logging.getLogger("aci_connector.lease")

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
RENEW_INTERVAL_SECONDS = 10.0
"""What the kubelet does; the relay uses the same period."""
MAX_CONFLICT_ROUNDS = 5
"""Re-read-and-decide rounds after 409s; more means something is renewing in a hot loop."""


def micro_time(moment: datetime) -> str:
    """A MicroTime as the API serves it: microseconds, always six digits, UTC `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> datetime | None:
    """Parse a MicroTime or Time (`...Z`, with or without fraction); None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def lease_path(node_name: str, *, collection: bool = False) -> str:
    base = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"
    return base if collection else f"{base}/{quote(node_name, safe='')}"


def renew_lease(
    kube: KubeClient,
    node_name: str,
    holder: str,
    *,
    duration_seconds: int = LEASE_DURATION_SECONDS,
    only_if_older_than: float | None = None,
    now: datetime | None = None,
) -> bool:
    """Renew (or create) the node's Lease; True when this call wrote it.

    `only_if_older_than` (seconds) makes the call a fallback: a Lease renewed
    more recently than that is left alone (returns False). `now` fixes the
    clock for tests; by default every round reads the current time.
    """
    for _ in range(MAX_CONFLICT_ROUNDS):
        moment = now or datetime.now(UTC)
        current = kube.get(lease_path(node_name))
        if current is None:
            if _create(kube, node_name, holder, duration_seconds, moment):
                return True
            continue  # someone created it between our GET and POST: decide again on what they wrote
        if not _is_stale(current, only_if_older_than, moment):
            return False
        if _update(kube, current, holder, duration_seconds, moment):
            return True
    log.warning("lease %s/%s: gave up after %d conflicting renewals", LEASE_NAMESPACE, node_name, MAX_CONFLICT_ROUNDS)
    return False


def _is_stale(lease: dict[str, Any], only_if_older_than: float | None, moment: datetime) -> bool:
    if only_if_older_than is None:
        return True
    renewed = parse_micro_time((lease.get("spec") or {}).get("renewTime"))
    return renewed is None or moment - renewed >= timedelta(seconds=only_if_older_than)


def _create(kube: KubeClient, node_name: str, holder: str, duration: int, moment: datetime) -> bool:
    """POST a new Lease owned by the Node (garbage-collected with it, as the kubelet's is); False on AlreadyExists."""
    metadata: dict[str, Any] = {"name": node_name, "namespace": LEASE_NAMESPACE}
    node = kube.get(f"/api/v1/nodes/{quote(node_name, safe='')}")
    if node is not None and (node.get("metadata") or {}).get("uid"):
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node["metadata"]["uid"]}
        ]
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": _spec(holder, duration, moment),
    }
    try:
        kube.request("POST", lease_path(node_name, collection=True), body=body)
    except Conflict:
        return False
    return True


def _update(kube: KubeClient, current: dict[str, Any], holder: str, duration: int, moment: datetime) -> bool:
    """PUT with the resourceVersion we read: a 409 means another renewer won this round."""
    body = dict(current)
    body["spec"] = {**(current.get("spec") or {}), **_spec(holder, duration, moment)}
    name = current["metadata"]["name"]
    try:
        kube.request("PUT", lease_path(name), body=body)
    except Conflict:
        return False
    except NotFound:
        return False  # deleted under us: the next round creates it
    return True


def _spec(holder: str, duration: int, moment: datetime) -> dict[str, Any]:
    return {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": micro_time(moment)}
