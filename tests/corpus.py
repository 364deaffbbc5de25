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
    neighbours: tuple[dict[str, Any], ...] = ()
    """ConfigMaps and Secrets defined in the same file (applied with the workload)."""


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
        docs = list(_documents(path))
        neighbours = tuple(doc for doc in docs if doc.get("kind") in ("ConfigMap", "Secret"))
        for doc in docs:
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
            pod = _as_pod(doc, template, node)
            pods.append(RealPod(str(path.relative_to(ROOT)), workload, pod, neighbours))
    return pods


def cluster_objects(real: RealPod) -> tuple[dict[str, Any], dict[str, Any]]:
    """(secrets, config maps) by name as the worker would read them: the file's own, else stand-ins.

    A manifest names Secrets and ConfigMaps its users create separately (kubectl create secret ...);
    a stand-in holds every key the pod references, with placeholder values, so the measurement is about
    the pod spec, not about objects missing from an example repository.
    """
    secrets: dict[str, Any] = {}
    config_maps: dict[str, Any] = {}
    for obj in real.neighbours:
        name = (obj.get("metadata") or {}).get("name")
        if name:
            (secrets if obj["kind"] == "Secret" else config_maps)[name] = obj
    wanted = _referenced_keys(real.pod)
    for (kind, name), keys in wanted.items():
        target = secrets if kind == "Secret" else config_maps
        if name in target:
            continue
        if kind == "Secret" and name in _pull_secret_names(real.pod):
            target[name] = _pull_secret(name)
            continue
        field = "stringData" if kind == "Secret" else "data"
        target[name] = {"kind": kind, "metadata": {"name": name}, field: {key: f"{key}-value" for key in keys}}
    return secrets, config_maps


def _pull_secret_names(pod: dict[str, Any]) -> set[str]:
    return {ref.get("name") or "" for ref in pod["spec"].get("imagePullSecrets") or []}


def _pull_secret(name: str) -> dict[str, Any]:
    import base64

    auth = base64.b64encode(b"user:password").decode()
    config = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}}).encode()
    data = {".dockerconfigjson": base64.b64encode(config).decode()}
    return {"kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "metadata": {"name": name}, "data": data}


def _referenced_keys(pod: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> keys the pod's env, envFrom, volumes and projections name."""
    wanted: dict[tuple[str, str], set[str]] = {}

    def want(kind: str, ref: Any, *keys: str) -> None:
        name = (ref or {}).get("name") or (ref or {}).get("secretName")
        if name:
            wanted.setdefault((kind, name), set()).update(k for k in keys if k)

    def items(ref: Any) -> list[str]:
        return [item.get("key") or "" for item in (ref or {}).get("items") or []]

    spec = pod["spec"]
    for ref in spec.get("imagePullSecrets") or []:
        want("Secret", ref)
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if source.get(key):
                    want(kind, source[key], source[key].get("key") or "")
        for env_from in container.get("envFrom") or []:
            want("Secret", env_from.get("secretRef"), "value")
            want("ConfigMap", env_from.get("configMapRef"), "value")
    for volume in spec.get("volumes") or []:
        want("Secret", volume.get("secret"), *items(volume.get("secret")))
        want("ConfigMap", volume.get("configMap"), *items(volume.get("configMap")))
        if (volume.get("azureFile") or {}).get("secretName"):
            want("Secret", volume["azureFile"], "azurestorageaccountname", "azurestorageaccountkey")
        for source in (volume.get("projected") or {}).get("sources") or []:
            want("Secret", source.get("secret"), *items(source.get("secret")))
            want("ConfigMap", source.get("configMap"), *items(source.get("configMap")))
    return wanted
