"""Resource types the fake Kubernetes API serves, and the discovery documents that describe them.

One table drives routing, discovery, field selectors and error messages, so that kubectl's discovery,
the official client's paths and the fake's own behaviour can never disagree about a resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

FULL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACED_META_FIELDS: frozenset[str] = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class ResourceType:
    """A REST resource (plural name under a group/version), with what a real apiserver knows about it."""

    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    definition: str
    short_names: tuple[str, ...] = ()
    subresources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    field_labels: frozenset[str] = NAMESPACED_META_FIELDS
    categories: tuple[str, ...] = ()
    has_status: bool = False
    verbs: tuple[str, ...] = FULL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The name used in error messages: `pods`, `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def details(self, name: str, *, kind_style: bool = False) -> dict[str, str]:
        """Status.details as the apiserver fills them: group omitted when empty, kind = resource (or Kind)."""
        out: dict[str, str] = {"name": name}
        if self.group:
            out["group"] = self.group
        out["kind"] = self.kind if kind_style else self.plural
        return out


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "namespaces",
        "namespace",
        "Namespace",
        "",
        "v1",
        False,
        "io.k8s.api.core.v1.Namespace",
        ("ns",),
        {"status": ("get", "patch", "update"), "finalize": ("update",)},
        frozenset({"metadata.name", "status.phase"}),
        has_status=True,
    ),
    ResourceType(
        "pods",
        "pod",
        "Pod",
        "",
        "v1",
        True,
        "io.k8s.api.core.v1.Pod",
        ("po",),
        {"status": ("get", "patch", "update"), "binding": ("create",)},
        frozenset(
            {
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",  # converted (for the downward API) but not selectable: it always compares as ""
                "status.nominatedNodeName",
            }
        ),
        ("all",),
        has_status=True,
    ),
    ResourceType(
        "nodes",
        "node",
        "Node",
        "",
        "v1",
        False,
        "io.k8s.api.core.v1.Node",
        ("no",),
        {"status": ("get", "patch", "update")},
        frozenset({"metadata.name", "spec.unschedulable"}),
        has_status=True,
    ),
    ResourceType(
        "events",
        "event",
        "Event",
        "",
        "v1",
        True,
        "io.k8s.api.core.v1.Event",
        ("ev",),
        {},
        frozenset(
            {
                "metadata.name",
                "metadata.namespace",
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            }
        ),
    ),
    ResourceType(
        "secrets",
        "secret",
        "Secret",
        "",
        "v1",
        True,
        "io.k8s.api.core.v1.Secret",
        (),
        {},
        frozenset({"metadata.name", "metadata.namespace", "type"}),
    ),
    ResourceType("configmaps", "configmap", "ConfigMap", "", "v1", True, "io.k8s.api.core.v1.ConfigMap", ("cm",)),
    ResourceType(
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        "",
        "v1",
        True,
        "io.k8s.api.core.v1.ServiceAccount",
        ("sa",),
        {"token": ("create",)},
    ),
    ResourceType(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        "",
        "v1",
        True,
        "io.k8s.api.core.v1.PersistentVolumeClaim",
        ("pvc",),
        {"status": ("get", "patch", "update")},
        has_status=True,
    ),
    ResourceType(
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        "",
        "v1",
        False,
        "io.k8s.api.core.v1.PersistentVolume",
        ("pv",),
        {"status": ("get", "patch", "update")},
        has_status=True,
    ),
    ResourceType("bindings", "binding", "Binding", "", "v1", True, "io.k8s.api.core.v1.Binding", verbs=("create",)),
    ResourceType("leases", "lease", "Lease", "coordination.k8s.io", "v1", True, "io.k8s.api.coordination.v1.Lease"),
)

BY_GROUP_VERSION: dict[tuple[str, str], dict[str, ResourceType]] = {}
for _rt in RESOURCES:
    BY_GROUP_VERSION.setdefault((_rt.group, _rt.version), {})[_rt.plural] = _rt

GROUPS: dict[str, str] = {"coordination.k8s.io": "v1"}


def resolve(name: str) -> ResourceType:
    """Find a resource by plural, singular, Kind or short name (the way tests naturally spell it)."""
    wanted = name.lower()
    for rt in RESOURCES:
        if wanted in (rt.plural, rt.singular, rt.kind.lower(), rt.qualified, *rt.short_names):
            return rt
    raise KeyError(f"unknown resource {name!r}")


def _resource_entries(rt: ResourceType) -> list[dict]:
    main = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub, verbs in rt.subresources.items():
        sub_kind = "Binding" if sub == "binding" else rt.kind
        entries.append(
            {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced, "kind": sub_kind}
            | {"verbs": list(verbs)}
        )
    return entries


def api_resource_list(group: str, version: str) -> dict | None:
    """APIResourceList for /api/v1 or /apis/<group>/<version>; None when the group/version is not served."""
    resources = BY_GROUP_VERSION.get((group, version))
    if resources is None:
        return None
    gv = f"{group}/{version}" if group else version
    entries = [entry for rt in resources.values() for entry in _resource_entries(rt)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


def api_versions(server_address: str) -> dict:
    """The /api document (APIVersions)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_doc(group: str, version: str) -> dict:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict:
    """The /apis document (APIGroupList)."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, v) for g, v in GROUPS.items()],
    }


def api_group(group: str) -> dict | None:
    """The /apis/<group> document (APIGroup)."""
    version = GROUPS.get(group)
    if version is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, version)}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_root() -> dict:
    """/openapi/v3: where each group/version document lives (kubectl create -f starts here)."""
    return {
        "paths": {
            _gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash=FAKE"}
            for g, v in BY_GROUP_VERSION
        }
    }


def openapi_v3_document(group: str, version: str) -> dict | None:
    """A minimal OpenAPI v3 document for a group/version: every item path with its PATCH operation and the
    fieldValidation query parameter, which is what kubectl checks before leaving validation to the server."""
    resources = BY_GROUP_VERSION.get((group, version))
    if resources is None:
        return None
    prefix = "/" + _gv_path(group, version)
    param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    paths: dict[str, dict] = {}
    for rt in resources.values():
        gvk = {"group": group, "version": version, "kind": rt.kind}
        item = (
            f"{prefix}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
            if rt.namespaced
            else f"{prefix}/{rt.plural}/{{name}}"
        )
        operation = {
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [param],
            "responses": {"200": {"description": "OK"}},
        }
        paths[item] = {"patch": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }
