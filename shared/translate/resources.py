"""CPU and memory of each container, on ACI's grid, never below what the pod asked for.

Rules (docs/pod-spec-support.md, "Resources"):
* request = requests.x, else limits.x (Kubernetes defaulting), else the DEFAULT_CPU /
  DEFAULT_MEMORY_GB settings; rounded *up* to 0.01 core / 0.1 decimal GB.
* ACI limits default to the request; a pod limit is carried (rounded up) but ACI refuses a
  container limit above the group's total request, so such a limit is lowered to that total
  with a warning (the container can still use every core the group has).
* ACI init containers have no resources field and run inside the group's allocation; when
  the largest init request exceeds the group total (Kubernetes reserves max(init, sum(app))),
  the first app container's request grows by the difference, with a warning.
* Group totals above ACI_MAX_CPU / ACI_MAX_MEMORY_GB (4 cores / 16 GB by default) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.quantities import BYTES_PER_GB, cpu_to_aci, memory_to_aci_gb, parse_quantity
from shared.translate.common import Context, reject

_IGNORED_RESOURCES = {"ephemeral-storage": "ACI gives every group its own fixed scratch disk"}


@dataclass
class ContainerResources:
    """One container's resources in ACI units (cores, decimal GB)."""

    cpu: Decimal
    memory_gb: Decimal
    cpu_limit: Decimal | None = None
    memory_limit_gb: Decimal | None = None

    def value(self, resource: str) -> Decimal:
        """requests.cpu / limits.memory / ... in Kubernetes base units (cores, bytes) as the container gets them."""
        kind, _, name = resource.partition(".")
        if name == "cpu":
            limit = self.cpu_limit if self.cpu_limit is not None else self.cpu
            return self.cpu if kind == "requests" else limit
        limit_gb = self.memory_limit_gb if self.memory_limit_gb is not None else self.memory_gb
        return (self.memory_gb if kind == "requests" else limit_gb) * BYTES_PER_GB

    def to_aci(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requests": {"cpu": float(self.cpu), "memoryInGB": float(self.memory_gb)}}
        limits: dict[str, float] = {}
        if self.cpu_limit is not None:
            limits["cpu"] = float(self.cpu_limit)
        if self.memory_limit_gb is not None:
            limits["memoryInGB"] = float(self.memory_limit_gb)
        if limits:
            out["limits"] = limits
        return out


def _quantity(ctx: Context, value: Any, path: str) -> Decimal:
    try:
        number = parse_quantity(value)
    except ValueError:
        reject(path, f"{value!r} is not a Kubernetes quantity")
    if number < 0:
        reject(path, "must not be negative")
    return number


def _check_names(ctx: Context, section: dict[str, Any], path: str) -> None:
    for name in section:
        if name in ("cpu", "memory"):
            continue
        if name == "nvidia.com/gpu":
            reject(f"{path}['{name}']", "GPU container groups are retired in ACI; GPUs cannot be requested")
        if name in _IGNORED_RESOURCES:
            ctx.warn(f"{path}['{name}']", f"ignored: {_IGNORED_RESOURCES[name]}")
            continue
        reject(f"{path}['{name}']", "ACI offers only cpu and memory; this resource cannot be provided")


def container_resources(ctx: Context, container: dict[str, Any], path: str) -> ContainerResources:
    """ACI requests/limits of one container, after Kubernetes defaulting and rounding up."""
    resources = container.get("resources") or {}
    if resources.get("claims"):
        reject(f"{path}.resources.claims", "dynamic resource claims are not available on ACI")
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    _check_names(ctx, requests, f"{path}.resources.requests")
    _check_names(ctx, limits, f"{path}.resources.limits")
    values: dict[str, tuple[Decimal, Decimal | None]] = {}
    for name, default in (("cpu", ctx.options.default_cpu), ("memory", ctx.options.default_memory_gb * BYTES_PER_GB)):
        limit = _quantity(ctx, limits[name], f"{path}.resources.limits.{name}") if name in limits else None
        if name in requests:
            request = _quantity(ctx, requests[name], f"{path}.resources.requests.{name}")
        else:
            request = limit if limit is not None else default
        if limit is not None and request > limit:
            reject(f"{path}.resources.requests.{name}", f"must be less than or equal to the {name} limit")
        values[name] = (request, limit)
    cpu, cpu_limit = values["cpu"]
    memory, memory_limit = values["memory"]
    return ContainerResources(
        cpu=cpu_to_aci(cpu),
        memory_gb=memory_to_aci_gb(memory),
        cpu_limit=cpu_to_aci(cpu_limit) if cpu_limit is not None else None,
        memory_limit_gb=memory_to_aci_gb(memory_limit) if memory_limit is not None else None,
    )


def resolve_resources(ctx: Context) -> dict[str, ContainerResources]:
    """Resources by container name (app and init), with group-level rules applied to app containers."""
    spec = ctx.spec
    if spec.get("resources"):
        reject("spec.resources", "pod-level resources are not supported; set resources on each container")
    containers = spec.get("containers") or []
    app = [container_resources(ctx, c, f"spec.containers[{i}]") for i, c in enumerate(containers)]
    init: dict[str, ContainerResources] = {}
    for i, container in enumerate(spec.get("initContainers") or []):
        path = f"spec.initContainers[{i}]"
        init[container.get("name", "")] = container_resources(ctx, container, path)
        if container.get("resources"):
            ctx.warn(f"{path}.resources", "dropped: ACI init containers have no resources and share the group's")
    if app:
        _cover_init_containers(ctx, app, list(init.values()))
        _check_totals(ctx, app)
    result = {c.get("name", ""): r for c, r in zip(containers, app, strict=True)}
    for name, resources in init.items():
        result.setdefault(name, resources)
    return result


def _cover_init_containers(ctx: Context, app: list[ContainerResources], init: list[ContainerResources]) -> None:
    if not init:
        return
    first = app[0]
    cpu_gap = max(r.cpu for r in init) - sum(r.cpu for r in app)
    memory_gap = max(r.memory_gb for r in init) - sum(r.memory_gb for r in app)
    if cpu_gap > 0:
        first.cpu += cpu_gap
        ctx.warn(
            "spec.containers[0].resources.requests.cpu", f"raised by {cpu_gap} so the group covers its init containers"
        )
    if memory_gap > 0:
        first.memory_gb += memory_gap
        ctx.warn(
            "spec.containers[0].resources.requests.memory",
            f"raised by {memory_gap} GB so the group covers its init containers",
        )
    if first.cpu_limit is not None and first.cpu_limit < first.cpu:
        first.cpu_limit = first.cpu
    if first.memory_limit_gb is not None and first.memory_limit_gb < first.memory_gb:
        first.memory_limit_gb = first.memory_gb


def _check_totals(ctx: Context, app: list[ContainerResources]) -> None:
    total_cpu = sum((r.cpu for r in app), Decimal(0))
    total_memory = sum((r.memory_gb for r in app), Decimal(0))
    options = ctx.options
    if total_cpu > options.max_cpu:
        reject(
            "spec.containers[].resources.requests.cpu",
            f"the group needs {total_cpu} CPU in total but an ACI container group has at most {options.max_cpu}",
        )
    if total_memory > options.max_memory_gb:
        reject(
            "spec.containers[].resources.requests.memory",
            f"the group needs {total_memory} GB in total but an ACI container group has at most "
            f"{options.max_memory_gb} GB",
        )
    for i, resources in enumerate(app):
        if resources.cpu_limit is not None and resources.cpu_limit > total_cpu:
            ctx.warn(
                f"spec.containers[{i}].resources.limits.cpu",
                f"lowered from {resources.cpu_limit} to the group's total request {total_cpu} (ACI's maximum)",
            )
            resources.cpu_limit = total_cpu
        if resources.memory_limit_gb is not None and resources.memory_limit_gb > total_memory:
            ctx.warn(
                f"spec.containers[{i}].resources.limits.memory",
                f"lowered from {resources.memory_limit_gb} GB to the group's total request {total_memory} GB "
                "(ACI's maximum)",
            )
            resources.memory_limit_gb = total_memory
