"""ACI's service limits a translated group must respect: Spot's exclusions, 60 containers, int32 numbers.

The REST spec types these fields but does not state the rules; ACI's documentation does (quotas and
limits; Spot containers). Checking them here turns what ARM would answer with a 400 into a clear
`UnsupportedPodSpec` naming the pod fields involved.
"""

from __future__ import annotations

from typing import Any

from shared.translate.annotations import (
    ANNOTATION_CCE_POLICY,
    ANNOTATION_CCE_POLICY_VK,
    ANNOTATION_CONTAINER_SKU,
    ANNOTATION_IP_ADDRESS,
    ANNOTATION_PRIORITY,
    ANNOTATION_PRIORITY_ALIAS,
    ANNOTATION_SUBNET,
    ANNOTATION_ZONES,
    _annotation_path,
)
from shared.translate.common import Context, reject

MAX_CONTAINERS = 60  # per group, init containers included (ACI quotas and limits)
INT32_MAX = 2**31 - 1
SPOT_DOC = "https://learn.microsoft.com/azure/container-instances/container-instances-spot-containers-overview"


def int32(value: Any, path: str, *, minimum: int = 0) -> int:
    """A whole number ACI can carry (`format: int32` in the spec), or a rejection naming the field."""
    if isinstance(value, bool):
        reject(path, f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        reject(path, f"{value!r} is not a whole number")
    if isinstance(value, float) and not value.is_integer():
        reject(path, f"{value!r} is not a whole number")
    if not minimum <= number <= INT32_MAX:
        reject(path, f"{number} is outside {minimum}..{INT32_MAX}")
    return number


def check_container_count(spec: dict[str, Any]) -> None:
    """At most 60 containers per group; ACI counts init containers, which run in the same group."""
    containers, init = len(spec.get("containers") or []), len(spec.get("initContainers") or [])
    if containers + init > MAX_CONTAINERS:
        field = "spec.containers" if containers > MAX_CONTAINERS or not init else "spec.initContainers"
        reject(
            field,
            f"{containers + init} containers ({containers} + {init} init containers); "
            f"an ACI container group holds at most {MAX_CONTAINERS}",
        )


def _first_port_path(spec: dict[str, Any]) -> str:
    for i, container in enumerate(spec.get("containers") or []):
        if container.get("ports"):
            return f"spec.containers[{i}].ports"
    return "spec.containers[0].ports"


def check_spot(ctx: Context, annotations: dict[str, Any], body: dict[str, Any]) -> None:
    """Spot groups have no public IP, virtual network, Confidential SKU or zone (ACI's Spot documentation)."""
    properties = body["properties"]
    if properties.get("priority") != "Spot":
        return
    key = ANNOTATION_PRIORITY if annotations.get(ANNOTATION_PRIORITY) else ANNOTATION_PRIORITY_ALIAS
    path = _annotation_path(key)
    conflicts = []
    if (properties.get("ipAddress") or {}).get("type") == "Public":
        conflicts.append(
            f"{_first_port_path(ctx.spec)} (a container port gives the group a public IP; "
            f"set {_annotation_path(ANNOTATION_IP_ADDRESS)} to 'none' to run without one)"
        )
    if properties.get("subnetIds"):
        source = _annotation_path(ANNOTATION_SUBNET) if annotations.get(ANNOTATION_SUBNET) else "ACI_SUBNET_IDS"
        conflicts.append(f"{source} (a virtual network)")
    if properties.get("sku") == "Confidential":
        sku_keys = (ANNOTATION_CONTAINER_SKU, ANNOTATION_CCE_POLICY, ANNOTATION_CCE_POLICY_VK)
        conflicts.append(f"{_annotation_path(next(k for k in sku_keys if annotations.get(k)))} (the Confidential SKU)")
    if body.get("zones"):
        conflicts.append(f"{_annotation_path(ANNOTATION_ZONES)} (an availability zone)")
    if conflicts:
        reject(path, f"Spot priority cannot be combined with {'; '.join(conflicts)}: see {SPOT_DOC}")
