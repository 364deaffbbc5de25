"""The real-pods corpus: pod templates from public example repositories, as Pods the apiserver would hold.

tests/fixtures/real-pods holds workload manifests copied verbatim (sources in its MANIFEST.md). Each
Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and CronJob yields its
pod template, turned into the Pod a controller would create (name, namespace, uid, template labels and
annotations, the template's spec, scheduled onto the virtual node). Identical specs count once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parent / "fixtures" / "real-pods"
WORKLOADS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "ReplicationController")


@dataclass(frozen=True)
class RealPod:
    """One pod template: where it came from (file relative to ROOT, kind/name) and the Pod JSON."""

    source: str
    workload: str
    pod: dict[str, Any]


def _template(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return {"metadata": doc.get("metadata") or {}, "spec": spec}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return template if isinstance(template, dict) else None


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            yield from (item for item in doc.get("items") or [] if isinstance(item, dict))
        elif isinstance(doc, dict):
            yield doc


def _as_pod(doc: dict[str, Any], template: dict[str, Any], node: str) -> dict[str, Any]:
    meta = doc.get("metadata") or {}
    tmeta = template.get("metadata") or {}
    name = str(meta.get("name") or "pod")
    namespace = str(meta.get("namespace") or "default")
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}/{doc.get('kind')}"))
    spec = json.loads(json.dumps(template.get("spec") or {}))
    spec["nodeName"] = node
    metadata: dict[str, Any] = {"name": f"{name}-0" if doc.get("kind") != "Pod" else name, "namespace": namespace}
    metadata["uid"] = uid
    metadata["creationTimestamp"] = "2026-01-01T00:00:00Z"
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            metadata[key] = dict(tmeta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def real_pods(node: str = "aci-connector-linux") -> list[RealPod]:
    """Every distinct pod template of the corpus, in a stable order."""
    seen: set[str] = set()
    pods: list[RealPod] = []
    for path in sorted(ROOT.rglob("*.y*ml")):
        for doc in _documents(path):
            if doc.get("kind") not in WORKLOADS:
                continue
            template = _template(doc)
            if not template or not (template.get("spec") or {}).get("containers"):
                continue
            key = json.dumps(template.get("spec"), sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            workload = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name')}"
            pods.append(RealPod(str(path.relative_to(ROOT)), workload, _as_pod(doc, template, node)))
    return pods
