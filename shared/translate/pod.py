"""Kubernetes Pod JSON -> ARM request body of an ACI container group (PUT .../containerGroups/{name}).

Pure and fast: no I/O, no SDK imports. The caller passes the Secrets and ConfigMaps of the
pod's namespace it read (by name); anything the pod references and the caller did not pass
counts as missing, exactly as the kubelet would see it. Every Pod field is decided one way
or another (docs/pod-spec-support.md): mapped to an ACI field, ignored (with a warning when
the pod loses behaviour it asked for) or refused with `UnsupportedPodSpec` naming the field
path, so a pod never runs on ACI differently from what it says without somebody being told.
Pod annotations add ACI-only choices (docs/annotations.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.naming import container_group_name
from shared.translate.annotations import (
    ANNOTATION_GPU_TYPE,
    ANNOTATION_INJECT_KUBE_PROXY,
    _credentials,
    _diagnostics,
    _encryption,
    _identity,
    _sku_and_priority,
    _tags,
    _zones,
)
from shared.translate.common import ANNOTATION_UNENFORCEABLE, Context, TranslateOptions, reject
from shared.translate.containers import _container, _init_container
from shared.translate.defaults import with_api_defaults
from shared.translate.limits import check_container_count, check_spot
from shared.translate.networking import _network, kube_proxy_extension
from shared.translate.resources import resolve_resources
from shared.translate.security import _pod_security_context
from shared.translate.volumes import translate_volumes

__all__ = [
    "TranslateOptions",
    "Translation",
    "pod_os",
    "pod_to_container_group",
    "translate_pod",
]


CONTAINER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


DEFAULT_GRACE_SECONDS = 30


@dataclass
class Translation:
    """The ARM body, the group name, the pod fields dropped or changed (each "path: reason"), and the
    choices made for the pod that it is told about in Normal Events ((reason, message), e.g. a port opened)."""

    name: str
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unenforced: list[str] = field(default_factory=list)
    """Hardening the pod asked for that runs without enforcement (UNENFORCEABLE_POD_FIELDS=warn), each "path: why"."""
    notices: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message) of Normal Events: choices made for the pod that it should hear about (a port opened)."""


def pod_os(pod: Mapping[str, Any], options: TranslateOptions) -> str:
    """ "Windows" when the pod targets the Windows virtual node (or asks for Windows without a node), else "Linux"."""
    spec = pod.get("spec") or {}
    node = spec.get("nodeName") or ""
    asked = (spec.get("os") or {}).get("name") or ""
    selector = spec.get("nodeSelector") or {}
    selected = selector.get("kubernetes.io/os") or selector.get("beta.kubernetes.io/os") or ""
    if node and node == options.windows_node:
        chosen = "Windows"
    elif node and node == options.linux_node:
        chosen = "Linux"
    else:
        chosen = "Windows" if "windows" in (asked.lower(), selected.lower()) else "Linux"
    if asked and asked.lower() != chosen.lower():
        reject("spec.os.name", f"the pod asks for {asked} but its node {node!r} runs {chosen}")
    return chosen


def translate_pod(
    pod: dict[str, Any],
    *,
    secrets: Mapping[str, Any] | None = None,
    config_maps: Mapping[str, Any] | None = None,
    settings: Any = None,
    images: Mapping[str, Any] | None = None,
    tokens: Mapping[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
    kube_proxy: str | None = None,
) -> Translation:
    """The container group for a pod, with the warnings to report on the pod (as an Event).

    The worker resolves what needs I/O and passes it in: `images` (image -> config with Entrypoint/Cmd,
    or {"error": why}) for containers with args and no command, `tokens` ("<volume>/<path>" -> token) for
    projected serviceAccountToken sources, `claims` (claim -> {"azureFile": ...} or {"error": why}) and
    `kube_proxy` (the kubeconfig of the kube-proxy extension, for groups in a virtual network).
    """
    if not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
        reject("spec", "a Pod object with a spec is required")
    pod = with_api_defaults(pod)  # a standalone manifest never met an API server
    options = TranslateOptions.from_settings(settings)
    ctx = Context(
        pod=pod,
        secrets=secrets or {},
        config_maps=config_maps or {},
        options=options,
        images=images or {},
        tokens=tokens or {},
        claims=claims or {},
    )
    ctx.lenient = _lenient(ctx)
    os_type = pod_os(pod, options)
    ctx.windows = os_type == "Windows"
    spec = ctx.spec
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        reject("spec.containers", "at least one container is required")
    _check_pod_fields(ctx)
    annotations = ctx.metadata.get("annotations") or {}
    resources = resolve_resources(ctx)
    volumes = translate_volumes(ctx, resources)
    _check_names(spec)
    check_container_count(spec)
    aci_containers = [
        _container(ctx, container, f"spec.containers[{i}]", resources, volumes)
        for i, container in enumerate(containers)
    ]
    init_containers = [
        _init_container(ctx, container, f"spec.initContainers[{i}]", resources, volumes)
        for i, container in enumerate(spec.get("initContainers") or [])
    ]
    if ctx.windows and len(aci_containers) > 1:
        reject("spec.containers", "a Windows container group on ACI runs exactly one container")
    if ctx.windows and init_containers:
        reject("spec.initContainers", "Windows container groups on ACI cannot have init containers")
    properties: dict[str, Any] = {
        "containers": aci_containers,
        "osType": os_type,
        "restartPolicy": _restart_policy(spec),
        "sku": "Standard",
    }
    if init_containers:
        properties["initContainers"] = init_containers
    if volumes.volumes:
        properties["volumes"] = volumes.volumes
    body: dict[str, Any] = {"location": options.region, "tags": _tags(ctx, annotations), "properties": properties}
    identity = _identity(ctx, annotations)
    credentials = _credentials(ctx, annotations, identity)
    if credentials:
        properties["imageRegistryCredentials"] = credentials
    if identity:
        body["identity"] = identity
    _network(ctx, annotations, aci_containers, properties)
    _sku_and_priority(ctx, annotations, properties)
    _diagnostics(ctx, annotations, properties)
    _encryption(annotations, properties)
    zones = _zones(annotations)
    if zones:
        body["zones"] = zones
    check_spot(ctx, annotations, body)
    inject = str(annotations.get(ANNOTATION_INJECT_KUBE_PROXY, "true")).strip().lower() != "false"
    if kube_proxy and inject and properties.get("subnetIds") and not ctx.windows:
        properties["extensions"] = [kube_proxy_extension(kube_proxy, options.cluster_cidr)]
    return Translation(
        name=container_group_name(pod),
        body=body,
        warnings=ctx.warnings,
        unenforced=ctx.unenforced,
        notices=ctx.notices,
    )


def _lenient(ctx: Context) -> bool:
    """UNENFORCEABLE_POD_FIELDS, unless the pod's annotation chooses for itself."""
    asked = str((ctx.metadata.get("annotations") or {}).get(ANNOTATION_UNENFORCEABLE, "")).strip().lower()
    if asked not in ("", "warn", "reject"):
        reject(f"metadata.annotations['{ANNOTATION_UNENFORCEABLE}']", f"{asked!r} is not warn or reject")
    return (asked or ctx.options.unenforceable) == "warn"


def pod_to_container_group(
    pod: dict[str, Any],
    *,
    secrets: Mapping[str, Any] | None = None,
    config_maps: Mapping[str, Any] | None = None,
    settings: Any = None,
    images: Mapping[str, Any] | None = None,
    tokens: Mapping[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
    kube_proxy: str | None = None,
) -> dict[str, Any]:
    """The ARM request body only (see translate_pod for the warnings and the resolved inputs)."""
    translation = translate_pod(
        pod,
        secrets=secrets,
        config_maps=config_maps,
        settings=settings,
        images=images,
        tokens=tokens,
        claims=claims,
        kube_proxy=kube_proxy,
    )
    return translation.body


def _restart_policy(spec: dict[str, Any]) -> str:
    policy = spec.get("restartPolicy") or "Always"
    if policy not in ("Always", "OnFailure", "Never"):
        reject("spec.restartPolicy", f"{policy!r} is not Always, OnFailure or Never")
    return policy


_POD_REJECTED = {
    "hostNetwork": "ACI groups have their own network namespace; the node's cannot be shared",
    "hostPID": "there is no host process namespace to share on ACI",
    "hostIPC": "there is no host IPC namespace to share on ACI",
    "shareProcessNamespace": "ACI containers of a group do not share a process namespace",
    "hostAliases": "ACI cannot add entries to /etc/hosts",
    "runtimeClassName": "ACI chooses the container runtime itself",
    "resourceClaims": "dynamic resource allocation is not available on ACI",
}
_POD_WARNED = {
    "hostname": "ACI sets the hostname of the group itself",
    "subdomain": "ACI sets the hostname of the group itself",
    "setHostnameAsFQDN": "ACI sets the hostname of the group itself",
    "hostnameOverride": "ACI sets the hostname of the group itself",
    "ephemeralContainers": "containers cannot be added to a running ACI group",
    "readinessGates": "the connector reports readiness from ACI probes only",
    "activeDeadlineSeconds": "not enforced by ACI; the group runs until it ends or the pod is deleted",
    "hostUsers": "ACI runs every group in its own sandbox; user namespaces cannot be chosen",
}


def _check_pod_fields(ctx: Context) -> None:
    spec = ctx.spec
    for name, reason in _POD_REJECTED.items():
        if spec.get(name):
            reject(f"spec.{name}", reason)
    for name, reason in _POD_WARNED.items():
        value = spec.get(name)
        if name == "hostUsers":
            if value is False:
                ctx.warn(f"spec.{name}", f"ignored: {reason}")
            continue
        if value is None or value is False or value == []:
            continue
        ctx.warn(f"spec.{name}", f"ignored: {reason}")
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace != DEFAULT_GRACE_SECONDS:
        ctx.warn("spec.terminationGracePeriodSeconds", "ignored: ACI stops containers on its own schedule")
    annotations = ctx.metadata.get("annotations") or {}
    if annotations.get(ANNOTATION_GPU_TYPE):
        reject(f"metadata.annotations['{ANNOTATION_GPU_TYPE}']", "GPU container groups are retired in ACI")
    _pod_security_context(ctx)


def _check_names(spec: dict[str, Any]) -> None:
    seen: set[str] = set()
    for section in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(section) or []):
            name = container.get("name") or ""
            if not CONTAINER_NAME.match(name):
                reject(f"spec.{section}[{i}].name", f"{name!r} is not a valid container name (lowercase DNS label)")
            if name in seen:
                reject(f"spec.{section}[{i}].name", f"duplicate container name {name!r}")
            seen.add(name)
