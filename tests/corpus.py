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
    for volume in spec.get("volumes") or []:
        if set(volume) == {"name"}:
            volume["emptyDir"] = {}  # the apiserver's defaulting of a volume without a source
    if doc.get("kind") == "StatefulSet":
        # The StatefulSet controller adds a claim per volumeClaimTemplate (<template>-<set>-<ordinal>).
        named = {volume.get("name") for volume in spec.get("volumes") or []}
        for claim in (doc.get("spec") or {}).get("volumeClaimTemplates") or []:
            claim_name = (claim.get("metadata") or {}).get("name")
            if claim_name and claim_name not in named:
                source = {"claimName": f"{claim_name}-{name}-0"}
                spec.setdefault("volumes", []).append({"name": claim_name, "persistentVolumeClaim": source})
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


# ----- the measurement reported in docs/pod-spec-support.md ---------------------------------------------------------

REPORT_BEGIN = "<!-- corpus-report:begin (python -m tests.corpus) -->"
REPORT_END = "<!-- corpus-report:end -->"


@dataclass
class Outcome:
    """What the translator made of one template: a body (validated by the ACI emulator) or a rejection."""

    real: RealPod
    mode: str
    body: dict[str, Any] | None = None
    rejection: str | None = None
    unenforced: tuple[str, ...] = ()


def _recorded_images(pods: list[RealPod]) -> dict[str, dict[str, Any]]:
    """Image configs for every args-without-command image, resolved through fake registries serving the
    recorded images (tests/fixtures/registry/images.json); images not recorded there come back as errors."""
    from shared.registry import ImageResolver, RegistryClient, images_to_resolve, resolve_pod_images
    from tests.fakes.registry import FIXTURE, FakeRegistry

    registries = sorted({image["registry"] for image in json.loads(FIXTURE.read_text())["images"]})
    fakes = {name: FakeRegistry(auth="bearer" if name in ("docker.io", "ghcr.io") else "none") for name in registries}
    try:
        for name, fake in fakes.items():
            fake.start()
            fake.load_fixture(name)
        resolver = ImageResolver(RegistryClient(endpoints={name: fake.url for name, fake in fakes.items()}))
        images: dict[str, dict[str, Any]] = {}
        for real in pods:
            if images_to_resolve(real.pod):
                images.update(resolve_pod_images(real.pod, {}, resolver, "linux"))
        return images
    finally:
        for fake in fakes.values():
            fake.stop()


def translate_corpus(pods: list[RealPod] | None = None) -> list[Outcome]:
    """Every template translated with the default settings and with UNENFORCEABLE_POD_FIELDS=warn."""
    from emulator.validate import validate_put
    from shared.config import load_settings
    from shared.errors import UnsupportedPodSpec
    from shared.translate import translate_pod

    pods = real_pods() if pods is None else pods
    images = _recorded_images(pods)
    outcomes: list[Outcome] = []
    warn = load_settings({"UNENFORCEABLE_POD_FIELDS": "warn"})
    for mode, settings in (("default", load_settings({})), ("warn", warn), ("warn+files", warn)):
        for real in pods:
            secrets, config_maps = cluster_objects(real)
            claims = _azure_files_claims(real.pod) if mode == "warn+files" else {}
            try:
                translation = translate_pod(
                    real.pod, secrets=secrets, config_maps=config_maps, settings=settings, images=images, claims=claims
                )
            except UnsupportedPodSpec as error:
                outcomes.append(Outcome(real, mode, rejection=str(error)))
                continue
            validate_put(translation.name, translation.body)
            outcomes.append(Outcome(real, mode, body=translation.body, unenforced=tuple(translation.unenforced)))
    return outcomes


def _azure_files_claims(pod: dict[str, Any]) -> dict[str, Any]:
    """Every claim of the pod as if bound to an Azure Files share (what shared/kube/claims.py would find)."""
    from shared.kube.claims import claim_names

    share = {"shareName": "share", "storageAccountName": "account", "storageAccountKey": "a2V5"}
    return {name: {"azureFile": dict(share)} for name in claim_names(pod)}


def _reason(rejection: str) -> str:
    """`spec.containers[2].securityContext.privileged: ACI does not...` -> the field path with [] indices."""
    import re

    path = rejection.split(": ", 1)[0]
    return re.sub(r"\[\d+\]", "[]", path)


def report(outcomes: list[Outcome]) -> str:
    """The Markdown table of docs/pod-spec-support.md "Real-world pods" (between the corpus markers)."""
    from collections import Counter

    default = [o for o in outcomes if o.mode == "default"]
    warn = [o for o in outcomes if o.mode == "warn"]
    total = len(default)
    sources = {o.real.source.split("/")[0] + "/" + o.real.source.split("/")[1] for o in default}
    ok_default = sum(o.body is not None for o in default)
    ok_warn = sum(o.body is not None for o in warn)
    ok_files = sum(o.body is not None for o in outcomes if o.mode == "warn+files")
    unenforced = Counter(_reason(field) for o in warn for field in o.unenforced)
    rejected = Counter(_reason(o.rejection or "") for o in warn if o.rejection)
    lines = [
        REPORT_BEGIN,
        f"{total} distinct pod templates from {len(sources)} repositories (tests/fixtures/real-pods/MANIFEST.md):",
        "",
        "| outcome | pods | share |",
        "|---|---|---|",
        f"| translated with the default settings | {ok_default} | {ok_default * 100 // total}% |",
        f"| translated with `UNENFORCEABLE_POD_FIELDS=warn` | {ok_warn} | {ok_warn * 100 // total}% |",
        f"| rejected even with `warn` | {total - ok_warn} | {(total - ok_warn) * 100 // total}% |",
        f"| translated with `warn` once every PersistentVolumeClaim is bound to an Azure Files share | {ok_files} "
        f"| {ok_files * 100 // total}% |",
        "",
        "Every translated body is accepted by the ACI emulator's validation of the 2023-05-01 contract; no",
        "template makes the translator fail other than with `UnsupportedPodSpec`.",
        "",
        "Fields run without enforcement under `warn` (pods with the field):",
        "",
        "| field | pods |",
        "|---|---|",
        *[f"| `{field}` | {count} |" for field, count in sorted(unenforced.items(), key=lambda kv: (-kv[1], kv[0]))],
        "",
        "Why the rest are rejected (first refusal per pod, with `warn`):",
        "",
        "| field | pods |",
        "|---|---|",
        *[f"| `{field}` | {count} |" for field, count in sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))],
        REPORT_END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(translate_corpus()))
