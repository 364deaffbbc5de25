"""Per-kind rules the apiserver applies on write: name and field validation, defaulting, status reset, QoS.

These mirror pkg/apis/core validation and defaulting closely enough that code which builds a Pod or
patches its status gets the same answers (and the same 422 causes) here as from a real cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes import kube_validate
from tests.fakes.kube_errors import Cause
from tests.fakes.kube_resources import ResourceType
from tests.fakes.kube_validate import DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_MSG, SUBDOMAIN_MSG

TERMINAL_PHASES = ("Succeeded", "Failed")
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def validate_name(rt: ResourceType, name: str) -> list[Cause]:
    """Names: DNS-1123 labels for namespaces, subdomains elsewhere (253 chars)."""
    if not name:
        return [Cause("metadata.name", "Required value", "name or generateName is required")]
    if rt.plural == "events":
        return kube_validate.validate_event_name(name)
    if rt.plural == "namespaces":
        if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
            return [Cause("metadata.name", "Invalid value", LABEL_MSG, name)]
        return []
    if len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
        return [Cause("metadata.name", "Invalid value", SUBDOMAIN_MSG, name)]
    return []


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Field validation of a defaulted object (see kube_validate for the rules and their sources)."""
    return kube_validate.validate(rt, obj, old)


def apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Defaulting runs when the body is decoded, so validation always sees defaulted pods."""
    if rt.plural == "pods":
        default_pod(obj)


NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def admit_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Mutating admission on create: TaintNodesByCondition gives every new Node the not-ready:NoSchedule
    taint (the node lifecycle controller lifts it once Ready); checked against kube-apiserver 1.20."""
    if rt.plural == "nodes":
        spec = obj.setdefault("spec", {})
        taints = spec.get("taints") or []
        if not any(t.get("key") == NOT_READY_TAINT["key"] and t.get("effect") == "NoSchedule" for t in taints):
            spec["taints"] = [*taints, dict(NOT_READY_TAINT)]


def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_container(container: dict[str, Any]) -> None:
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = _image_pull_policy(str(container.get("image", "")))
    for port in container.get("ports") or []:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    resources = container["resources"]
    limits = resources.get("limits") or {}
    if limits:
        requests = resources.setdefault("requests", {})
        for key, value in limits.items():
            requests.setdefault(key, value)


def default_pod(pod: dict[str, Any]) -> None:
    """Defaulting applied on every decode (create and update), as seen in every pod a real cluster returns."""
    spec = pod.setdefault("spec", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(container, dict):
            _default_container(container)
    if not spec.get("restartPolicy"):  # Go defaults the empty string too
        spec["restartPolicy"] = "Always"
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if "serviceAccountName" not in spec:
        spec["serviceAccountName"] = spec.get("serviceAccount", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


def admit_pod(pod: dict[str, Any]) -> None:
    """DefaultTolerationSeconds admission: runs on create only, so updates must keep these tolerations."""
    tolerations = pod["spec"].setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations if isinstance(t, dict)):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed when every container's cpu+memory limits equal requests, BestEffort when none set any."""
    containers = (pod.get("spec") or {}).get("containers") or []
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in limits or str(requests.get(res, limits[res])) != str(limits[res]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def prepare_create(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Defaults and the status a new object starts with (pods: Pending + qosClass; namespaces: Active).

    Go never omits struct-typed fields, so spec/status come back as `{}` even when nobody set them.
    """
    if rt.plural in ("pods", "nodes", "namespaces", "leases"):
        obj.setdefault("spec", {})
    if rt.has_status:
        obj.setdefault("status", {})
    if rt.plural == "pods":
        default_pod(obj)
        admit_pod(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
        obj["metadata"]["generation"] = 1
    elif rt.plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif rt.plural == "secrets":
        obj.setdefault("type", "Opaque")


def _mutable_view(spec: dict[str, Any]) -> dict[str, Any]:
    view = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for container in view.get(key) or []:
            container.pop("image", None)
    view.pop("activeDeadlineSeconds", None)
    view.pop("tolerations", None)
    return view


def validate_pod_update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """Pod spec is immutable apart from images, activeDeadlineSeconds and added tolerations."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if _mutable_view(old_spec) != _mutable_view(new_spec):
        return [Cause("spec", "Forbidden", POD_UPDATE_FORBIDDEN)]
    deadline = _active_deadline_update(old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds"))
    if deadline:
        return deadline
    old_tol = old_spec.get("tolerations") or []
    if any(t not in (new_spec.get("tolerations") or []) for t in old_tol):
        return [
            Cause(
                "spec.tolerations", "Forbidden", "existing toleration can not be modified except its tolerationSeconds"
            )
        ]
    return []


def _active_deadline_update(old: Any, new: Any) -> list[Cause]:
    """ValidatePodUpdate: activeDeadlineSeconds may be set or shortened, never raised or removed."""
    field = "spec.activeDeadlineSeconds"
    if isinstance(new, int) and not isinstance(new, bool):
        if new < 0 or new > 2**31 - 1:
            return [Cause(field, "Invalid value", "must be between 0 and 2147483647, inclusive", new)]
        if isinstance(old, int) and old < new:
            return [Cause(field, "Invalid value", "must be less than or equal to previous value", new)]
    elif new is None and old is not None:
        return [Cause(field, "Invalid value", "must not update from a positive integer to nil value", None)]
    return []
