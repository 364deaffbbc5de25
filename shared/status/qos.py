"""The pod's QoS class from its resource requests and limits, as Kubernetes assigns it."""

from __future__ import annotations

from decimal import Decimal

from shared.quantities import parse_quantity


def qos_class(pod: dict) -> str:
    """Kubernetes' ComputePodQOS: Guaranteed, Burstable or BestEffort from cpu/memory requests and limits."""
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    pod_resources = spec.get("resources")
    containers = (
        [{"resources": pod_resources}]
        if pod_resources
        else [
            *(spec.get("containers") or []),
            *(spec.get("initContainers") or []),
        ]
    )
    for container in containers:
        resources = container.get("resources") or {}
        for name, value in (resources.get("requests") or {}).items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                requests[name] = requests.get(name, Decimal(0)) + quantity
        found = set()
        for name, value in (resources.get("limits") or {}).items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + quantity
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == q for n, q in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"
