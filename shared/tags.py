"""ARM tag keys the connector writes on every container group and reads back.

The reconciler and the worker find "their" groups and the pod behind each one by
these tags alone (a list call returns tags but no pod), so the keys live here,
shared by writer and readers. ARM tag keys may not contain < > % & \\ ? /, hence
the dashed names instead of Kubernetes-style prefixes; values are capped at 256
characters by ARM.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

TAG_OWNER = "aci-connector"
"""Present (value OWNER_VALUE) on every group this connector created: others' groups are never touched."""
OWNER_VALUE = "managed"
TAG_MODE = "aci-connector-mode"
"""MODE_CLUSTER for pods read from a cluster, MODE_STANDALONE for manifests submitted without one (no uid)."""
MODE_CLUSTER = "cluster"
MODE_STANDALONE = "standalone"
TAG_NAMESPACE = "k8s-namespace"
TAG_NAME = "k8s-pod-name"
TAG_UID = "k8s-pod-uid"
TAG_NODE = "k8s-node-name"
TAG_CREATED = "k8s-pod-created"

SPEC_HASH_ANNOTATION = "aci-connector.io/spec-hash"
"""Pod annotation, written with the status after a PUT: the spec-hash tag of the group built for this pod.

A repeat upsert whose translation hashes the same is then known to be a no-op from the pod alone, without an
ARM read (a relay restart re-announces every pod). Written by the connector, so never relayed as a change."""
QUEUED_UNTIL_ANNOTATION = "aci-connector.io/queued-until"
"""RFC 3339 time until which an intake message for this pod is known to be in flight (or its retry round is
waiting): the reconciler enqueues no other meanwhile. On the pod, so it holds across restarts and instances."""
ROUNDS_ANNOTATION = "aci-connector.io/intake-rounds"
"""How many times the reconciler restarted this pod's intake without getting it a group (issue: poisoned pods
are not resurrected forever); cleared when the group is created."""
CONNECTOR_ANNOTATIONS = frozenset({SPEC_HASH_ANNOTATION, QUEUED_UNTIL_ANNOTATION, ROUNDS_ANNOTATION})
"""Pod annotations the connector itself writes: the relay ignores changes to them (no self-inflicted messages)."""

TAG_CLUSTER = "aci-connector-cluster"
"""Which cluster's connector made the group (CLUSTER_ID, by default the kube-system namespace uid).

Two clusters may share a resource group and even virtual node names: every destructive path (orphan
delete, re-deploy, delete of an older incarnation) requires this tag to be ours. See `ownership`."""
STANDALONE_CLUSTER = "standalone"
"""The cluster identity of standalone mode (no cluster), unless CLUSTER_ID says otherwise."""

RESERVED_TAGS = frozenset({TAG_OWNER, TAG_MODE, TAG_NAMESPACE, TAG_NAME, TAG_UID, TAG_NODE, TAG_CREATED, TAG_CLUSTER})
"""Keys custom tags from annotations may not override."""
MAX_TAGS = 50
MAX_TAG_KEY = 512
MAX_TAG_VALUE = 256
FORBIDDEN_KEY_CHARS = frozenset("<>%&\\?/")


def group_tags(group: Mapping[str, Any]) -> dict[str, str]:
    """The tags of an ARM container group body (GET, list item or PUT body); {} when it has none."""
    return dict(group.get("tags") or {})


def is_managed(group: Mapping[str, Any]) -> bool:
    """True when this connector created the group (and may update or delete it)."""
    return group_tags(group).get(TAG_OWNER) == OWNER_VALUE


def pod_key(group: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the pod behind a managed group, or None when the tags do not say."""
    tags = group_tags(group)
    namespace, name = tags.get(TAG_NAMESPACE), tags.get(TAG_NAME)
    if not namespace or not name:
        return None
    return namespace, name


def pod_tags(pod: Mapping[str, Any]) -> dict[str, str]:
    """The connector's own tags for a pod: owner marker, identity of the pod, node and creation time."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    uid = metadata.get("uid") or ""
    tags = {
        TAG_OWNER: OWNER_VALUE,
        TAG_MODE: MODE_CLUSTER if uid else MODE_STANDALONE,
        TAG_NAMESPACE: metadata.get("namespace") or "default",
        TAG_NAME: metadata.get("name") or "",
    }
    if uid:
        tags[TAG_UID] = uid
    if spec.get("nodeName"):
        tags[TAG_NODE] = spec["nodeName"]
    if metadata.get("creationTimestamp"):
        tags[TAG_CREATED] = metadata["creationTimestamp"]
    return {key: value[:MAX_TAG_VALUE] for key, value in tags.items()}


SPEC_HASH_TAG = "aci-connector-spec"
"""Hash of the group's spec: a repeat PUT of the same spec is skipped (ACI restarts containers on some updates)."""
SECRET_FIELDS = frozenset({"secureValue", "password", "storageAccountKey", "workspaceKey"})
"""Keys of an ARM container group body whose values are secret (env, registry, Azure Files, Log Analytics)."""
REDACTED = "<secret>"


def redact(value: Any) -> Any:
    """The body with every secret value replaced by a placeholder; a `secret` volume keeps only its file names."""
    if isinstance(value, list):
        return [redact(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in SECRET_FIELDS and isinstance(item, str):
            out[key] = REDACTED
        elif key == "secret" and isinstance(item, dict):
            out[key] = dict.fromkeys(sorted(item), REDACTED)
        else:
            out[key] = redact(item)
    return out


def references_version(
    secrets: Mapping[str, Mapping[str, Any]] | None = None, config_maps: Mapping[str, Mapping[str, Any]] | None = None
) -> list[list[str]]:
    """Which Secret/ConfigMap versions a spec was built from: names, uids and resourceVersions, never data.

    A rotated Secret gets a new resourceVersion, so the spec hash still changes when a secret value does,
    without the hash ever depending on the value itself.
    """
    version: list[list[str]] = []
    for kind, by_name in (("Secret", secrets), ("ConfigMap", config_maps)):
        for name, obj in sorted((by_name or {}).items()):
            metadata = (obj or {}).get("metadata") or {}
            version.append([kind, name, str(metadata.get("uid") or ""), str(metadata.get("resourceVersion") or "")])
    return version


def spec_hash(body: Mapping[str, Any], references: Iterable[Iterable[str]] = ()) -> str:
    """16 hex digits over the body without its tags and secret values, plus the referenced objects' versions.

    The result is written where anyone with ARM Reader (or pod read access) sees it, so it must not be an
    oracle: hashing a secureValue would let a low-entropy secret be recovered offline by guessing.
    """
    untagged = {key: value for key, value in body.items() if key != "tags"}
    material = {"body": redact(untagged), "references": [list(item) for item in references]}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def with_spec_hash(body: dict[str, Any], references: Iterable[Iterable[str]] = ()) -> dict[str, Any]:
    """The body tagged with its spec hash (see `spec_hash`)."""
    return {**body, "tags": {**(body.get("tags") or {}), SPEC_HASH_TAG: spec_hash(body, references)}}


def same_spec(existing: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """The group was built from this very spec: ACI restarts containers on some updates, so never PUT twice."""
    theirs = group_tags(existing).get(SPEC_HASH_TAG)
    return theirs is not None and theirs == group_tags(body).get(SPEC_HASH_TAG)


OURS, ADOPTED, UNCLAIMED, FOREIGN = "ours", "adopted", "unclaimed", "foreign"


def ownership(group: Mapping[str, Any], cluster_id: str, live_uids: Iterable[str | None] = ()) -> str:
    """Whose group this is, for anything that would replace or delete it.

    OURS: managed and tagged with our cluster. FOREIGN: not managed, or tagged with another cluster:
    never touched. A managed group without the cluster tag was made by a connector older than the tag:
    ADOPTED when its pod uid is a live pod of this cluster (uids are unique across clusters), else
    UNCLAIMED: left alone and reported, since it may be another cluster's.
    """
    if not is_managed(group):
        return FOREIGN
    owner = group_tags(group).get(TAG_CLUSTER)
    if owner is not None:
        return OURS if owner == cluster_id else FOREIGN
    uid = group_tags(group).get(TAG_UID)
    live = live_uids if isinstance(live_uids, set | frozenset) else set(live_uids)  # a cycle asks for every group
    return ADOPTED if uid and uid in live else UNCLAIMED


def with_cluster(body: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    """The body tagged with the cluster identity (outside the spec hash: tags are not hashed)."""
    return {**body, "tags": {**(body.get("tags") or {}), TAG_CLUSTER: cluster_id[:MAX_TAG_VALUE]}}
