"""Small facts the reconciler reads off a pod: its key, uid, phase, and whether it ever had a group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TERMINAL_PHASES = ("Succeeded", "Failed")
DELETED_REASON = "ContainerGroupDeleted"
PROVISIONING_FAILED_REASON = "ProviderFailed"


@dataclass
class _Pair:
    """A pod and the group the list says it has (None when missing)."""

    pod: dict[str, Any]
    group: dict[str, Any] | None


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _uid(pod: dict[str, Any]) -> str | None:
    return _meta(pod).get("uid")


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    return _meta(pod).get("namespace") or "default", _meta(pod)["name"]


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def had_group(pod: dict[str, Any]) -> bool:
    """True when the pod's status was written from a real group (the worker patches it right after the PUT)."""
    status = pod.get("status") or {}
    return bool(status.get("containerStatuses") or status.get("initContainerStatuses"))


def is_settled(pod: dict[str, Any], group: dict[str, Any]) -> bool:
    """Running, Ready and provisioned: nothing is expected to change soon, so round-robin refresh suffices."""
    if (group.get("properties") or {}).get("provisioningState") != "Succeeded":
        return False
    if _phase(pod) != "Running":
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
