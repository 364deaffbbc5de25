"""The virtual Node objects, built from settings and what the reconciler knows (pure: dicts in, dicts out).

Kubernetes decides where pods go and whether to evict them from what a Node says:
labels and taints steer scheduling, capacity/allocatable bound it, and the Ready
condition (backed by the Lease in kube-node-lease) keeps the node lifecycle
controller from evicting everything. So the Node must never lie: Ready is False
with a reason when ACI cannot be reached, and heartbeats only move when the
connector really looked. The Lease itself is renewed by shared.kube.lease.

The kubelet API (`kubectl logs/exec/top`) is served by the relay when RELAY_KUBELET_ENABLED
is set: the relay records where it listens in the Node annotation `KUBELET_ENDPOINT_ANNOTATION`
and both it and the reconciler derive `status.addresses` (InternalIP) and the kubelet port
from that annotation, so neither undoes the other's write. Without it the Node has only a
Hostname address: a made-up IP would send the apiserver nowhere.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.quantities import parse_quantity

CONNECTOR_VERSION = "0.1.0"
KUBELET_VERSION = f"v1.30.0-aci-connector-functions-{CONNECTOR_VERSION}"
"""Shown by `kubectl get nodes`; the suffix tells operators this is not a real kubelet."""
KUBELET_PORT = 10250
KUBELET_ENDPOINT_ANNOTATION = "aci-connector.io/kubelet-endpoint"
"""JSON {"address", "port", "holder", "since"}: the relay pod now serving this node's kubelet API."""
NODE_STATUS_REPORT_SECONDS = 300.0
"""The kubelet's nodeStatusReportFrequency: with a Lease, status is re-posted only on change or after 5 min."""
ROLE = "agent"
ARCHITECTURE = "amd64"
CONTAINER_RUNTIME = "aci://2023-05-01"
OS_IMAGE = "Azure Container Instances"

_TAINT = re.compile(r"^(?P<key>[^=:]+)(=(?P<value>[^:]*))?:(?P<effect>NoSchedule|PreferNoSchedule|NoExecute)$")

PRESSURE_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "ACI allocates memory per container group"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "ACI allocates storage per container group"),
    ("PIDPressure", "KubeletHasSufficientPID", "ACI isolates processes per container group"),
    ("NetworkUnavailable", "RouteCreated", "ACI gives each container group its own network"),
)


@dataclass(frozen=True)
class NodeProfile:
    """What VIRTUAL_NODE_PROFILE selects: the nodes' names and OSes (when not set one by one), extra taints,
    and the port opened for a pod that declares none ("" opens nothing)."""

    name: str
    node_names: Mapping[str, str]
    os_list: tuple[str, ...]
    extra_taints: tuple[str, ...] = ()
    default_port: str = ""


DEFAULT_PROFILE = "default"
PROFILE_2017 = "aci-connector-2017"
PROFILES: dict[str, NodeProfile] = {
    DEFAULT_PROFILE: NodeProfile(
        DEFAULT_PROFILE, {"linux": "aci-connector-linux", "windows": "aci-connector-windows"}, ("linux",)
    ),
    # The December 2017 walkthrough: two connectors, aci-connector-0 (Linux) and aci-connector-1 (Windows),
    # tainted azure.com/aci, and a public IP with port 80 for a pod that declared no ports.
    PROFILE_2017: NodeProfile(
        PROFILE_2017,
        {"linux": "aci-connector-0", "windows": "aci-connector-1"},
        ("linux", "windows"),
        extra_taints=("azure.com/aci:NoSchedule",),
        default_port="80/TCP",
    ),
}


def node_profile(name: str) -> NodeProfile:
    """The profile called `name`; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(PROFILES)}") from None


@dataclass(frozen=True)
class Readiness:
    """The Ready condition's value: ready or not, why, and a sentence for `kubectl describe node`."""

    ready: bool
    reason: str
    message: str


READY = Readiness(True, "KubeletReady", "aci-connector-functions is posting ready status; ACI is reachable")


def kube_time(moment: datetime) -> str:
    """metav1.Time: whole seconds, UTC, 'Z' (what the API server stores and returns)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_kube_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def parse_taint(text: str) -> dict[str, str]:
    """`key[=value]:Effect` (the VIRTUAL_NODE_TAINT setting) as a Node spec taint."""
    match = _TAINT.match(text.strip())
    if match is None:
        raise ValueError(f"expected key[=value]:Effect, got {text!r}")
    taint = {"key": match["key"], "effect": match["effect"]}
    if match["value"]:
        taint["value"] = match["value"]
    return taint


def node_labels(os_name: str, node_name: str) -> dict[str, str]:
    """The labels virtual-kubelet's ACI provider sets, so existing nodeSelectors keep matching."""
    return {
        "type": "virtual-kubelet",
        "kubernetes.io/os": os_name,
        "beta.kubernetes.io/os": os_name,
        "kubernetes.io/arch": ARCHITECTURE,
        "beta.kubernetes.io/arch": ARCHITECTURE,
        "kubernetes.io/role": ROLE,
        "kubernetes.io/hostname": node_name,
        # Cloud load balancers must not send traffic through a node that has no kube-proxy.
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
    }


def node_conditions(
    readiness: Readiness, now: datetime, current: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """All five conditions; lastTransitionTime moves only when a condition's status flips."""
    previous = {c.get("type"): c for c in current or []}
    stamp = kube_time(now)

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        before = previous.get(kind) or {}
        transition = before.get("lastTransitionTime") if before.get("status") == status else None
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": transition or stamp,
            "reason": reason,
            "message": message,
        }

    out = [condition("Ready", "True" if readiness.ready else "False", readiness.reason, readiness.message)]
    out += [condition(kind, "False", reason, message) for kind, reason, message in PRESSURE_CONDITIONS]
    return out


def node_info(os_name: str) -> dict[str, str]:
    """NodeSystemInfo: every field is required by the schema; ACI has no machine or kernel to name."""
    return {
        "machineID": "",
        "systemUUID": "",
        "bootID": "",
        "kernelVersion": "",
        "osImage": OS_IMAGE,
        "containerRuntimeVersion": CONTAINER_RUNTIME,
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": "",
        "operatingSystem": os_name,
        "architecture": ARCHITECTURE,
    }


def kubelet_endpoint(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The relay's advertisement on a Node (address, port, holder, since), or None when absent or unreadable."""
    annotations = ((node or {}).get("metadata") or {}).get("annotations") or {}
    try:
        value = json.loads(annotations.get(KUBELET_ENDPOINT_ANNOTATION) or "null")
        ipaddress.ip_address(value["address"])
        port = int(value["port"])
    except (ValueError, TypeError, KeyError):
        return None
    return {**value, "port": port} if 0 < port < 65536 else None


def endpoint_status(node_name: str, endpoint: Mapping[str, Any] | None) -> dict[str, Any]:
    """`addresses` and `daemonEndpoints` of a Node: the relay's IP as InternalIP when it serves the kubelet API."""
    addresses = [{"type": "InternalIP", "address": endpoint["address"]}] if endpoint else []
    addresses.append({"type": "Hostname", "address": node_name})
    port = endpoint["port"] if endpoint else KUBELET_PORT
    return {"addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}


def node_status(
    *,
    os_name: str,
    node_name: str,
    capacity: Mapping[str, str],
    allocatable: Mapping[str, str],
    readiness: Readiness,
    now: datetime,
    current: Mapping[str, Any] | None = None,
    endpoint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """NodeStatus as the connector reports it; `current` (the stored status) keeps transition times."""
    return {
        "capacity": dict(capacity),
        "allocatable": dict(allocatable),
        "conditions": node_conditions(readiness, now, (current or {}).get("conditions")),
        **endpoint_status(node_name, endpoint),
        "nodeInfo": node_info(os_name),
    }


def build_node(
    *,
    os_name: str,
    node_name: str,
    taint: str,
    capacity: Mapping[str, str],
    allocatable: Mapping[str, str],
    readiness: Readiness,
    now: datetime,
    current: Mapping[str, Any] | None = None,
    extra_taints: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole Node as the connector wants it (POST body when missing; compared field by field otherwise).

    `extra_taints` are the profile's (the 2017 `azure.com/aci:NoSchedule`), carried beside VIRTUAL_NODE_TAINT.
    """
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name, "labels": node_labels(os_name, node_name)},
        "spec": {"taints": [parse_taint(text) for text in (taint, *extra_taints)]},
        "status": node_status(
            os_name=os_name,
            node_name=node_name,
            capacity=capacity,
            allocatable=allocatable,
            readiness=readiness,
            now=now,
            current=(current or {}).get("status"),
            endpoint=kubelet_endpoint(current),
        ),
    }


# --------------------------------------------------------------------------- what to write


def metadata_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch for labels and taints, or None when the Node already carries them.

    Labels and taints others added (kubectl label, cordon taints) are kept: only
    ours are asserted. Our taint list is the configured taint plus any foreign
    taint already present (e.g. node.kubernetes.io/unschedulable, not-ready).
    """
    labels = (current.get("metadata") or {}).get("labels") or {}
    wanted_labels = desired["metadata"]["labels"]
    label_patch = {k: v for k, v in wanted_labels.items() if labels.get(k) != v}
    taints = list((current.get("spec") or {}).get("taints") or [])
    ours = desired["spec"]["taints"]
    missing = [t for t in ours if not any(_same_taint(t, have) for have in taints)]
    patch: dict[str, Any] = {}
    if label_patch:
        patch["metadata"] = {"labels": label_patch}
    if missing:
        patch["spec"] = {"taints": taints + missing}
    return patch or None


def _same_taint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a.get("key"), a.get("value") or "", a.get("effect")) == (
        b.get("key"),
        b.get("value") or "",
        b.get("effect"),
    )


def _without_heartbeats(status: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(status))
    conditions = sorted(out.get("conditions") or [], key=lambda c: str(c.get("type")))
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in conditions]
    return out


def _owned(status: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("capacity", "allocatable", "conditions", "addresses", "daemonEndpoints", "nodeInfo")
    return {k: status.get(k) for k in keys}


def _comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    """Owned status without heartbeats, quantities as values: the apiserver stores quantities canonically
    ("10000" comes back as "10k"), and a string compare would rewrite the status every cycle."""
    out = _without_heartbeats(status)
    for key in ("capacity", "allocatable"):
        if isinstance(out.get(key), Mapping):
            out[key] = {name: _quantity_value(value) for name, value in out[key].items()}
    return out


def _quantity_value(value: Any) -> Any:
    try:
        return parse_quantity(value)
    except ValueError:
        return value


def status_patch(
    current: Mapping[str, Any],
    desired: Mapping[str, Any],
    *,
    now: datetime,
    report_every: float = NODE_STATUS_REPORT_SECONDS,
) -> dict[str, Any] | None:
    """The status to write, or None: only on a real change, or to refresh heartbeats older than `report_every`.

    This is the kubelet's rule since node leases: status updates are rare, the Lease
    is the 10-second heartbeat. Writing status every cycle would wake every Node
    watcher in the cluster for nothing.
    """
    have = _owned(current.get("status") or {})
    want = _owned(desired["status"])
    if _comparable(have) != _comparable(want):
        return {"status": want}
    ready = next((c for c in have.get("conditions") or [] if c.get("type") == "Ready"), {})
    beat = parse_kube_time(ready.get("lastHeartbeatTime"))
    if beat is None or (now - beat).total_seconds() >= report_every:
        return {"status": want}
    return None
