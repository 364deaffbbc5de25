"""The pod's QoS class from its resource requests and limits, as Kubernetes assigns it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes resource.Quantity ("250m", "1Gi", "1e3") as an exact Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise ValueError(f"not a quantity: {value!r}") from exc
    return base * (Decimal(10) ** int(exponent[1:]) if exponent else _SUFFIX[suffix])


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
