"""Pods bound to a virtual node that this connector does not serve: told once, not left Pending in silence.

A pod pinned with `spec.nodeName` never meets the scheduler: if the name is a virtual node nobody runs (the
2017 walkthrough's `aci-connector-1` while this connector serves `aci-connector-windows`), the pod stays
Pending forever and no component says why. Each cycle lists the Pending pods bound to some node other than
ours (one field-selected list, answered from the apiserver's cache) and, for a node name that looks like a
virtual node's (`aci-connector-*`, `virtual-kubelet*`) when no Node of that name exists, records one Warning
Event on the pod naming the nodes served here and the settings that change them.

Once per pod: the Event's name is derived from the pod uid alone and created with POST (409 means it was
told already, by this or another instance); a memory of told uids spares even the POST afterwards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from shared.errors import RetryableError
from shared.kube import Conflict, KubeApiError, KubeClient
from shared.kube.recorder import COMPONENT, pod_event
from shared.node import PROFILES
from shared.reconcile.report import CycleReport

REASON = "VirtualNodeNotServed"
LOOKS_VIRTUAL = re.compile(r"^(aci-connector-|virtual-kubelet)")
"""Names of virtual nodes: the 2017 connector's, virtual-kubelet's and AKS virtual nodes' (virtual-kubelet-*)."""


def event_name(pod: Mapping[str, Any]) -> str:
    """Deterministic per pod incarnation, so a second cycle or instance cannot tell the same pod twice."""
    metadata = pod.get("metadata") or {}
    digest = hashlib.sha256(f"{metadata.get('uid', '')}/{REASON}".encode()).hexdigest()[:10]
    return f"{metadata.get('name', 'pod')}.{digest}"


def explain(node: str, served: Mapping[str, str]) -> str:
    """Which nodes this connector serves and which setting would make it serve `node`."""
    ours = ", ".join(f"{name} ({os_name.capitalize()})" for os_name, name in served.items())
    remedy = "set VIRTUAL_NODE_NAME_LINUX or VIRTUAL_NODE_NAME_WINDOWS (and VIRTUAL_NODE_OS) to serve it"
    for profile in PROFILES.values():
        for os_name, name in profile.node_names.items():
            if name == node:
                names = " and ".join(profile.node_names.values())
                remedy = (
                    f"set VIRTUAL_NODE_PROFILE={profile.name} to serve the names {names}"
                    f" (or VIRTUAL_NODE_NAME_{os_name.upper()}={node}; VIRTUAL_NODE_OS must include {os_name})"
                )
    return (
        f"The pod is bound to node {node}, which does not exist and which this ACI connector does not serve: "
        f"it serves {ours}. The pod stays Pending until a node named {node} runs it. To run it on ACI, {remedy}, "
        f"or re-create the pod bound to a served node."
    )


class UnservedNodes:
    """Remembers which pods were told, across the cycles of this process."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.told: set[str] = set()

    def check(self, served: Mapping[str, str], report: CycleReport) -> int:
        """One pass; returns how many pods were told now. Errors are counted in the report, retried next cycle."""
        others = [f"spec.nodeName!={name}" for name in served.values()]
        selector = ",".join(["status.phase=Pending", "spec.nodeName!=", *others])
        try:
            pods, _ = self.kube.list_pods(field_selector=selector)
        except (KubeApiError, RetryableError) as error:
            report.errors.append(f"list pods bound to other nodes: {error}")
            return 0
        bound = [p for p in pods if LOOKS_VIRTUAL.match(_node(p)) and not _meta(p).get("deletionTimestamp")]
        self.told &= {_meta(p).get("uid") for p in bound}
        waiting = [p for p in bound if _meta(p).get("uid") not in self.told]
        told = 0
        missing: dict[str, bool] = {}
        for pod in waiting:
            node = _node(pod)
            try:
                if node not in missing:
                    missing[node] = not self._node_exists(node)
                if missing[node] and self._tell(pod, served):
                    told += 1
            except (KubeApiError, RetryableError) as error:
                report.errors.append(f"tell pod {_meta(pod).get('namespace')}/{_meta(pod).get('name')}: {error}")
        return told

    def _node_exists(self, name: str) -> bool:
        """A list narrowed to one name: RBAC lets the connector get only its own Nodes, but list any."""
        page = self.kube.request("GET", "/api/v1/nodes", query={"fieldSelector": f"metadata.name={name}"}) or {}
        return bool(page.get("items"))

    def _tell(self, pod: dict[str, Any], served: Mapping[str, str]) -> bool:
        """POST the Warning Event; False when it existed already (told before this process started)."""
        event = pod_event(pod, reason=REASON, message=explain(_node(pod), served), event_type="Warning")
        event["metadata"]["name"] = event_name(pod)
        event["source"]["host"] = ""  # not reported by the node it names: that node does not exist
        event["reportingInstance"] = COMPONENT
        namespace = _meta(pod).get("namespace") or "default"
        try:
            self.kube.request("POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/events", body=event)
            created = True
        except Conflict:
            created = False
        self.told.add(_meta(pod).get("uid") or "")
        return created


def _meta(pod: Mapping[str, Any]) -> dict[str, Any]:
    return pod.get("metadata") or {}


def _node(pod: Mapping[str, Any]) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""
