"""Pod annotations -> ACI-only group settings: identity, registry credentials, SKU, logs, encryption, zones, tags."""

from __future__ import annotations

import re
from typing import Any

from shared import tags as tag_keys
from shared.translate.common import Context, reject
from shared.translate.volumes import registry_credentials

# Annotation names: upstream names where virtual-kubelet azure-aci or AKS virtual nodes v2 have one.
ANNOTATION_DNS_NAME_LABEL = "virtualkubelet.io/dnsnamelabel"
ANNOTATION_DNS_NAME_LABEL_ALIAS = "virtual-kubelet.io/dns-name-label"
ANNOTATION_CCE_POLICY = "microsoft.containerinstance.virtualnode.ccepolicy"
ANNOTATION_CCE_POLICY_VK = "virtual-kubelet.io/confidential-compute-cce-policy"
ANNOTATION_CONTAINER_SKU = "virtual-kubelet.io/container-sku"
ANNOTATION_IDENTITY = "microsoft.containerinstance.virtualnode.identity"
ANNOTATION_SUBNET = "microsoft.containerinstance.virtualnode.subnets.primary"
ANNOTATION_INJECT_DNS = "microsoft.containerinstance.virtualnode.injectdns"
ANNOTATION_INJECT_KUBE_PROXY = "microsoft.containerinstance.virtualnode.injectkubeproxy"
ANNOTATION_ZONES = "microsoft.containerinstance.virtualnode.zones"
AVAILABILITY_ZONES = ("1", "2", "3")
"""Azure availability zone names within a region (logical zones)."""
ANNOTATION_CUSTOM_TAGS = "microsoft.containerinstance.virtualnode.customtags"
ANNOTATION_CMK_VAULT = "microsoft.containerinstance.virtualnode.cmk.vaultbaseurl"
ANNOTATION_CMK_KEY = "microsoft.containerinstance.virtualnode.cmk.keyname"
ANNOTATION_CMK_VERSION = "microsoft.containerinstance.virtualnode.cmk.keyversion"
ANNOTATION_CMK_IDENTITY = "microsoft.containerinstance.virtualnode.cmk.identity"
ANNOTATION_GPU_TYPE = "virtual-kubelet.io/gpu-type"
ANNOTATION_PRIORITY = "aci-connector.io/priority"
ANNOTATION_PRIORITY_ALIAS = "virtual-kubelet.io/priority"
ANNOTATION_ACR_IDENTITY = "aci-connector.io/acr-identity"
ANNOTATION_IP_ADDRESS = "aci-connector.io/ip-address"
ANNOTATION_DEFAULT_PORT = "aci-connector.io/default-port"
ANNOTATION_LOG_ANALYTICS = "aci-connector.io/log-analytics-secret"


_USER_IDENTITY = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$",
    re.IGNORECASE,
)
_ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")


def _annotation_path(name: str) -> str:
    return f"metadata.annotations['{name}']"


def _identity(ctx: Context, annotations: dict[str, Any]) -> dict[str, Any] | None:
    entries = [part.strip() for part in str(annotations.get(ANNOTATION_IDENTITY) or "").split(",") if part.strip()]
    for key in (ANNOTATION_ACR_IDENTITY, ANNOTATION_CMK_IDENTITY):
        extra = str(annotations.get(key) or "").strip()
        if extra and not _USER_IDENTITY.match(extra):
            reject(_annotation_path(key), "must be the resource id of a user-assigned managed identity")
        if extra and extra not in entries:
            entries.append(extra)
    if not entries:
        return None
    system = any(entry.lower() == "systemassigned" for entry in entries)
    users = [entry for entry in entries if entry.lower() != "systemassigned"]
    for entry in users:
        if not _USER_IDENTITY.match(entry):
            reject(
                _annotation_path(ANNOTATION_IDENTITY), f"{entry!r} is not SystemAssigned or a user-assigned identity id"
            )
    kinds = (["SystemAssigned"] if system else []) + (["UserAssigned"] if users else [])
    identity: dict[str, Any] = {"type": ", ".join(kinds)}
    if users:
        identity["userAssignedIdentities"] = {entry: {} for entry in users}
    return identity


def _registry(image: str) -> str:
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "index.docker.io"


def _credentials(ctx: Context, annotations: dict[str, Any], identity: dict[str, Any] | None) -> list[dict[str, str]]:
    credentials = registry_credentials(ctx)
    acr_identity = str(annotations.get(ANNOTATION_ACR_IDENTITY) or "").strip()
    if not acr_identity:
        return credentials
    covered = {credential["server"] for credential in credentials}
    spec = ctx.spec
    images = [c.get("image") or "" for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
    added = False
    for image in images:
        server = _registry(image.strip())
        if server.endswith(_ACR_SUFFIXES) and server not in covered:
            credentials.append({"server": server, "identity": acr_identity})
            covered.add(server)
            added = True
    if not added:
        ctx.warn(_annotation_path(ANNOTATION_ACR_IDENTITY), "ignored: no image of the pod comes from an uncovered ACR")
    return credentials


def _sku_and_priority(ctx: Context, annotations: dict[str, Any], properties: dict[str, Any]) -> None:
    policy = annotations.get(ANNOTATION_CCE_POLICY) or annotations.get(ANNOTATION_CCE_POLICY_VK)
    sku = str(annotations.get(ANNOTATION_CONTAINER_SKU) or "").strip()
    if sku and sku.lower() not in ("standard", "confidential", "dedicated"):
        reject(_annotation_path(ANNOTATION_CONTAINER_SKU), f"{sku!r} is not Standard, Confidential or Dedicated")
    if policy or sku.lower() == "confidential":
        if ctx.windows:
            reject(_annotation_path(ANNOTATION_CCE_POLICY), "confidential container groups run Linux only")
        properties["sku"] = "Confidential"
        if policy:
            properties["confidentialComputeProperties"] = {"ccePolicy": str(policy).strip()}
    elif sku:
        properties["sku"] = sku.capitalize()
    priority_key = ANNOTATION_PRIORITY if annotations.get(ANNOTATION_PRIORITY) else ANNOTATION_PRIORITY_ALIAS
    priority = str(annotations.get(priority_key) or "").strip()
    if priority:
        if priority.lower() not in ("regular", "spot"):
            reject(_annotation_path(priority_key), f"{priority!r} is not Regular or Spot")
        properties["priority"] = priority.capitalize()


def _diagnostics(ctx: Context, annotations: dict[str, Any], properties: dict[str, Any]) -> None:
    secret_name = str(annotations.get(ANNOTATION_LOG_ANALYTICS) or "").strip()
    if not secret_name:
        workspace_id, workspace_key = ctx.options.change_feed_workspace
        if workspace_id and workspace_key:  # the connector's change feed reads this workspace's ContainerEvent
            log = {"workspaceId": workspace_id, "workspaceKey": workspace_key, "logType": "ContainerInstanceLogs"}
            properties["diagnostics"] = {"logAnalytics": log}
        return
    path = _annotation_path(ANNOTATION_LOG_ANALYTICS)
    data = ctx.secret_data(secret_name)
    if data is None:
        reject(path, f"Secret {secret_name!r} not found in the pod's namespace")

    def read(*keys: str) -> str:
        for key in keys:
            if key in data:
                return data[key].decode("utf-8", "replace").strip()
        return ""

    workspace_id, workspace_key = read("workspace-id", "workspaceId"), read("workspace-key", "workspaceKey")
    if not workspace_id or not workspace_key:
        reject(path, f"Secret {secret_name!r} needs keys workspace-id and workspace-key")
    analytics = {"workspaceId": workspace_id, "workspaceKey": workspace_key}
    log_type = read("log-type", "logType")
    if log_type:
        if log_type not in ("ContainerInsights", "ContainerInstanceLogs"):
            reject(path, f"log-type {log_type!r} is not ContainerInsights or ContainerInstanceLogs")
        analytics["logType"] = log_type
    properties["diagnostics"] = {"logAnalytics": analytics}


def _encryption(annotations: dict[str, Any], properties: dict[str, Any]) -> None:
    values = {
        "vaultBaseUrl": str(annotations.get(ANNOTATION_CMK_VAULT) or "").strip(),
        "keyName": str(annotations.get(ANNOTATION_CMK_KEY) or "").strip(),
        "keyVersion": str(annotations.get(ANNOTATION_CMK_VERSION) or "").strip(),
    }
    identity = str(annotations.get(ANNOTATION_CMK_IDENTITY) or "").strip()
    if not any(values.values()) and not identity:
        return
    missing = [key for key, value in values.items() if not value]
    if missing:
        reject(
            _annotation_path(ANNOTATION_CMK_VAULT), "customer-managed keys need vaultbaseurl, keyname and keyversion"
        )
    if identity:
        values["identity"] = identity
    properties["encryptionProperties"] = values


def _zones(annotations: dict[str, Any]) -> list[str]:
    """azure-aci's annotation: zones separated by ';' (',' is read as a separator too, never as part of one)."""
    raw = str(annotations.get(ANNOTATION_ZONES) or "")
    zones = [zone.strip() for zone in raw.replace(",", ";").split(";") if zone.strip()]
    if len(zones) > 1:
        reject(_annotation_path(ANNOTATION_ZONES), f"ACI places a group in one zone, got {len(zones)}: {raw[:40]!r}")
    if zones and zones[0] not in AVAILABILITY_ZONES:
        reject(_annotation_path(ANNOTATION_ZONES), f"an availability zone is 1, 2 or 3, got {zones[0][:20]!r}")
    return zones


def _tags(ctx: Context, annotations: dict[str, Any]) -> dict[str, str]:
    result = tag_keys.pod_tags(ctx.pod)
    raw = str(annotations.get(ANNOTATION_CUSTOM_TAGS) or "")
    path = _annotation_path(ANNOTATION_CUSTOM_TAGS)
    for entry in (part.strip() for part in raw.split(";")):
        if not entry:
            continue
        key, eq, value = entry.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            reject(path, f"{entry!r} is not key=value")
        if set(key) & tag_keys.FORBIDDEN_KEY_CHARS or len(key) > tag_keys.MAX_TAG_KEY:
            reject(path, f"{key!r} is not a valid ARM tag name")
        if len(value) > tag_keys.MAX_TAG_VALUE:
            reject(path, f"the value of {key!r} is longer than {tag_keys.MAX_TAG_VALUE} characters")
        if key in tag_keys.RESERVED_TAGS:
            reject(path, f"{key!r} is a tag the connector sets itself")
        result[key] = value
    if len(result) > tag_keys.MAX_TAGS:
        reject(path, f"{len(result)} tags; ARM allows {tag_keys.MAX_TAGS}")
    return result
