"""Capacity math of the virtual nodes: what they advertise, what their pods request, what is left.

Pure functions on raw JSON (Pod objects as the API server returns them, ARM usage lists as
ARM sends them), shared by `GET /api/capacity` and by the reconciler that fills
Node.status.capacity/allocatable, so both always tell the same story.

Requests are summed the way kube-scheduler does (k8s.io/component-helpers resource.PodRequests):
per pod, the larger of the app containers' sum and the peak of the init phase (restartable
"sidecar" init containers keep running, so they add to both), plus spec.overhead; pod-level
spec.resources.requests replace the container aggregate where set; terminal pods count for
nothing. All values are exact `Decimal`s (shared.quantities), so "0.1" + "0.2" is 0.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from shared.quantities import parse_quantity

if TYPE_CHECKING:
    from shared.config import Settings

__all__ = [
    "RESOURCE_NAMES",
    "AciQuota",
    "NodeResources",
    "Resources",
    "format_quantity",
    "is_terminal",
    "node_allocatable",
    "node_capacity",
    "node_resources",
    "parse_quantity",
    "parse_usages",
    "pod_requests",
    "sum_requests",
]

RESOURCE_NAMES = ("cpu", "memory", "pods", "ephemeral-storage")
"""The resources a virtual node advertises, by their Kubernetes names (and this order)."""
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_ZERO = Decimal(0)
_BINARY_SUFFIXES = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL_SUFFIXES = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


@dataclass(frozen=True)
class Resources:
    """An amount of each node resource: cpu in cores, memory and ephemeral storage in bytes, pods as a count."""

    cpu: Decimal = _ZERO
    memory: Decimal = _ZERO
    pods: Decimal = _ZERO
    ephemeral_storage: Decimal = _ZERO

    @classmethod
    def from_quantities(cls, values: Mapping[str, Any]) -> Resources:
        """From a Kubernetes resource map ({"cpu": "500m", ...}); other resources (GPUs, hugepages) are ignored."""
        return cls(**{_field(name): parse_quantity(values[name]) for name in RESOURCE_NAMES if name in values})

    def get(self, name: str) -> Decimal:
        return getattr(self, _field(name))

    def __add__(self, other: Resources) -> Resources:
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other: Resources) -> Resources:
        return self._combine(other, lambda a, b: a - b)

    def max(self, other: Resources) -> Resources:
        return self._combine(other, max)

    def min(self, other: Resources) -> Resources:
        return self._combine(other, min)

    def _combine(self, other: Resources, op: Any) -> Resources:
        return Resources(**{f.name: op(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})

    def quantities(self) -> dict[str, str]:
        """Quantity strings keyed by resource name, as Node.status.capacity wants them."""
        return {name: format_quantity(name, self.get(name)) for name in RESOURCE_NAMES}

    def numbers(self) -> dict[str, float | int]:
        """Plain JSON numbers: cpu in cores (float), memory/ephemeral-storage in bytes and pods as integers."""
        out: dict[str, float | int] = {}
        for name in RESOURCE_NAMES:
            value = self.get(name)
            out[name] = float(value) if name == "cpu" else int(value.to_integral_value(rounding=ROUND_CEILING))
        return out


def _field(name: str) -> str:
    return name.replace("-", "_")


def format_quantity(name: str, value: Decimal) -> str:
    """A canonical Kubernetes quantity: cpu as whole cores or millicores, bytes with the largest exact suffix.

    Rounds up (to 1m of cpu, to a whole byte) like the API server does when it canonicalises.
    """
    sign = "-" if value < 0 else ""
    magnitude = -value if value < 0 else value
    if name == "cpu":
        millis = int((magnitude * 1000).to_integral_value(rounding=ROUND_CEILING))
        return f"{sign}{millis // 1000}" if millis % 1000 == 0 else f"{sign}{millis}m"
    whole = int(magnitude.to_integral_value(rounding=ROUND_CEILING))
    if name == "pods" or whole == 0:
        return f"{sign}{whole}"
    for suffixes in (_BINARY_SUFFIXES, _DECIMAL_SUFFIXES):
        for suffix, factor in suffixes:
            if whole % factor == 0:
                return f"{sign}{whole // factor}{suffix}"
    return f"{sign}{whole}"


# -- pods ----------------------------------------------------------------------------------------------------------


def is_terminal(pod: Mapping[str, Any]) -> bool:
    """Succeeded and Failed pods hold no resources on their node (the scheduler skips them too)."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def _container_requests(container: Mapping[str, Any]) -> Resources:
    """A container's requests; a resource with only a limit requests the limit (the API server's defaulting)."""
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return Resources.from_quantities(merged)


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """What one pod takes from its node, exactly as kube-scheduler adds it up (pods = 1)."""
    spec = pod.get("spec") or {}
    total = Resources()
    for container in spec.get("containers") or []:
        total += _container_requests(container)
    sidecars = Resources()
    init_peak = Resources()
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            total += requests
            sidecars += requests
            init_peak = init_peak.max(sidecars)
        else:
            init_peak = init_peak.max(requests + sidecars)
    total = total.max(init_peak)
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    if pod_level:
        total = replace(total, **{_field(n): parse_quantity(pod_level[n]) for n in RESOURCE_NAMES if n in pod_level})
    total += Resources.from_quantities(spec.get("overhead") or {})
    return replace(total, pods=Decimal(1))


def sum_requests(pods: Iterable[Mapping[str, Any]]) -> Resources:
    """The requests of every non-terminal pod, summed."""
    total = Resources()
    for pod in pods:
        if not is_terminal(pod):
            total += pod_requests(pod)
    return total


# -- ACI quota -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AciQuota:
    """The region's ACI usage against its limits, per subscription (ARM `locations/{region}/usages`)."""

    region: str
    cores_used: Decimal
    cores_limit: Decimal
    groups_used: Decimal
    groups_limit: Decimal

    @property
    def cores_left(self) -> Decimal:
        return max(_ZERO, self.cores_limit - self.cores_used)

    @property
    def groups_left(self) -> Decimal:
        return max(_ZERO, self.groups_limit - self.groups_used)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "standardCores": {"used": float(self.cores_used), "limit": float(self.cores_limit)},
            "containerGroups": {"used": int(self.groups_used), "limit": int(self.groups_limit)},
        }


def parse_usages(items: Iterable[Mapping[str, Any]], region: str) -> AciQuota:
    """Pick StandardCores and ContainerGroups out of ARM's usage list; ValueError when either is missing."""
    found: dict[str, tuple[Decimal, Decimal]] = {}
    for item in items:
        name = str(((item.get("name") or {}).get("value")) or "").lower()
        if name in ("standardcores", "containergroups"):
            try:
                found[name] = (Decimal(str(item["currentValue"])), Decimal(str(item["limit"])))
            except (KeyError, ArithmeticError, ValueError) as error:
                raise ValueError(f"usage {name} has no numeric currentValue/limit: {item!r}") from error
    missing = [key for key in ("standardcores", "containergroups") if key not in found]
    if missing:
        raise ValueError(f"ARM usage list lacks {', '.join(missing)}")
    (cores_used, cores_limit), (groups_used, groups_limit) = found["standardcores"], found["containergroups"]
    return AciQuota(region, cores_used, cores_limit, groups_used, groups_limit)


# -- the node ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeResources:
    capacity: Resources
    allocatable: Resources


def configured_capacity(settings: Settings) -> Resources:
    """NODE_CPU, NODE_MEMORY, NODE_PODS and NODE_EPHEMERAL_STORAGE as one Resources."""
    return Resources(
        cpu=Decimal(settings["NODE_CPU"]),
        memory=parse_quantity(settings["NODE_MEMORY"]),
        pods=Decimal(settings["NODE_PODS"]),
        ephemeral_storage=parse_quantity(settings["NODE_EPHEMERAL_STORAGE"]),
    )


def node_resources(settings: Settings, quota: AciQuota | None = None, in_use: Resources | None = None) -> NodeResources:
    """Capacity and allocatable of a virtual node.

    Without quota capping (NODE_CAPACITY_FROM_QUOTA false, or no quota reading) both are the
    configured values. With it, cpu and pods are capped so the scheduler stops placing pods
    where ACI would refuse them: capacity at the regional limit, allocatable at the limit minus
    what *other* groups in the region use. `in_use` is what the connector's own pods request
    (the scheduler subtracts that itself, so it must not be subtracted twice); ACI may count
    cores rounded up per group, so this is an estimate erring by less than a core per group.
    """
    configured = configured_capacity(settings)
    if quota is None or not settings["NODE_CAPACITY_FROM_QUOTA"]:
        return NodeResources(configured, configured)
    ours = in_use or Resources()
    capacity = replace(
        configured, cpu=min(configured.cpu, quota.cores_limit), pods=min(configured.pods, quota.groups_limit)
    )
    others_cores = max(_ZERO, quota.cores_used - ours.cpu)
    others_groups = max(_ZERO, quota.groups_used - ours.pods)
    allocatable = replace(
        capacity,
        cpu=max(_ZERO, min(capacity.cpu, quota.cores_limit - others_cores)),
        pods=max(_ZERO, min(capacity.pods, quota.groups_limit - others_groups)),
    )
    return NodeResources(capacity, allocatable)


def node_capacity(settings: Settings, quota: AciQuota | None = None, in_use: Resources | None = None) -> dict[str, str]:
    """Node.status.capacity: quantity strings for cpu, memory, pods and ephemeral-storage."""
    return node_resources(settings, quota, in_use).capacity.quantities()


def node_allocatable(
    settings: Settings, quota: AciQuota | None = None, in_use: Resources | None = None
) -> dict[str, str]:
    """Node.status.allocatable: quantity strings for cpu, memory, pods and ephemeral-storage."""
    return node_resources(settings, quota, in_use).allocatable.quantities()


# -- the report ----------------------------------------------------------------------------------------------------


def _amounts(resources: Resources | None) -> dict[str, Any] | None:
    if resources is None:
        return None
    return {"quantities": resources.quantities(), "numbers": resources.numbers()}


def node_report(
    settings: Settings,
    *,
    node: str,
    os_name: str,
    quota: AciQuota | None,
    requested: Resources | None,
    in_use: Resources | None,
) -> dict[str, Any]:
    """One virtual node's entry of GET /api/capacity; `requested` None means "not known" (standalone mode)."""
    resources = node_resources(settings, quota, in_use)
    remaining = None if requested is None else resources.allocatable - requested
    return {
        "name": node,
        "os": os_name,
        "capacity": _amounts(resources.capacity),
        "allocatable": _amounts(resources.allocatable),
        "requested": _amounts(requested),
        "remaining": _amounts(remaining),
        "quotaCapped": bool(settings["NODE_CAPACITY_FROM_QUOTA"] and quota is not None),
    }


def capacity_report(
    settings: Settings,
    *,
    requested: Mapping[str, Resources | None],
    quota: AciQuota | None,
    quota_status: Mapping[str, Any],
    only_node: str | None = None,
) -> dict[str, Any]:
    """The whole answer of GET /api/capacity[/{node}] (KeyError for a node this connector does not run)."""
    names = settings.node_names
    if only_node is not None and only_node not in names.values():
        raise KeyError(only_node)
    known = [r for r in requested.values() if r is not None]
    in_use = sum(known, Resources()) if known else None
    nodes = [
        node_report(settings, node=node, os_name=os_name, quota=quota, requested=requested.get(node), in_use=in_use)
        for os_name, node in names.items()
        if only_node in (None, node)
    ]
    quota_json: dict[str, Any] = {"region": settings["ACI_REGION"], **(quota.to_json() if quota else {})}
    quota_json.update(quota_status)
    return {
        "mode": "cluster" if settings.cluster_configured else "standalone",
        "nodes": nodes,
        "quota": quota_json,
    }


_PROM_UNITS = {"cpu": "cores", "memory": "bytes", "pods": "pods", "ephemeral-storage": "bytes"}
_PROM_HELP = {
    "capacity": "Resources the virtual node advertises as capacity.",
    "allocatable": "Resources the virtual node advertises as allocatable.",
    "requested": "Resources requested by the non-terminal pods bound to the virtual node.",
    "remaining": "Allocatable minus requested (negative when overcommitted).",
}


def to_prometheus(report: Mapping[str, Any]) -> str:
    """The same report in Prometheus text exposition format 0.0.4 (gauges, one family per section).

    prometheus_client does the escaping and number formatting; it is imported here, on the first
    `?format=prometheus` request, so JSON callers and cold start never pay for it.
    """
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    families: list[GaugeMetricFamily] = []
    for section, text in _PROM_HELP.items():
        family = GaugeMetricFamily(f"aci_connector_node_{section}", text, labels=["node", "os", "resource", "unit"])
        for node in report["nodes"]:
            if node[section] is None:
                continue
            for name, value in node[section]["numbers"].items():
                family.add_metric([node["name"], node["os"], name, _PROM_UNITS[name]], float(value))
        if family.samples:
            families.append(family)
    quota = report["quota"]
    region = str(quota.get("region") or "")
    quotas = (("standardCores", "StandardCores"), ("containerGroups", "ContainerGroups"))
    present = [(key, name) for key, name in quotas if key in quota]
    for kind in ("used", "limit") if present else ():
        family = GaugeMetricFamily(
            f"aci_connector_aci_quota_{kind}", f"ACI regional quota {kind} (ARM usages).", labels=["region", "quota"]
        )
        for key, name in present:
            family.add_metric([region, name], float(quota[key][kind]))
        families.append(family)
    if quota.get("ageSeconds") is not None:
        family = GaugeMetricFamily(
            "aci_connector_aci_quota_age_seconds", "Age of the cached ARM usage reading.", labels=["region"]
        )
        family.add_metric([region], float(quota["ageSeconds"]))
        families.append(family)

    class _Report:
        def collect(self) -> list[GaugeMetricFamily]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Report())
    return generate_latest(registry).decode("utf-8")
