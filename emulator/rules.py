"""ACI's service rules that the REST specification cannot express, each with its source.

The spec (see spec.py) has types, required lists and enums, but no patterns, limits or
cross-field rules. These come from Microsoft's ACI documentation and from error answers real ARM
gave (quoted in public bug reports). Codes marked "recorded" were seen in real answers; the others
follow ACI's naming and are listed as unverified in docs/testing.md. They run after the body
deserialized (spec.check_against_spec) and before the per-container checks of validate.py.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from emulator.validate import MAX_CONTAINERS, ArmError

SPOT_DOC = "https://learn.microsoft.com/azure/container-instances/container-instances-spot-containers-overview"


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _containers(props: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    return [(c, False) for c in props.get("containers") or []] + [(c, True) for c in props.get("initContainers") or []]


def check_container_count(group: str, props: dict[str, Any]) -> None:
    """Quotas and limits: 60 containers per group. ACI counts init containers too (they run in the group)."""
    count = len(props.get("containers") or []) + len(props.get("initContainers") or [])
    if count > MAX_CONTAINERS:
        raise _bad(
            "TooManyContainers",
            f"The number of containers '{count}' (containers and init containers) in container group '{group}' "
            f"exceeds the limit '{MAX_CONTAINERS}'.",
        )


def check_limits_not_below_requests(group: str, props: dict[str, Any]) -> None:
    """Recorded (virtual-kubelet#143, docker compose-cli#357): a limit below its request is refused."""
    for container in props.get("containers") or []:
        resources = container["properties"].get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for key, label in (("cpu", "Cpu"), ("memoryInGB", "MemoryInGB")):
            limit, request = limits.get(key), requests.get(key)
            if isinstance(limit, int | float) and isinstance(request, int | float) and limit < request:
                shown = json.dumps(resources, separators=(",", ":"))
                raise _bad(
                    "ResourceLimitsLessThanRequests",
                    f"The resource requirement '{shown}' in container '{container['name']}' of contain group "
                    f"'{group}' is invalid. The '{label}' limit value must be greater than or equal to the request "
                    "value.",
                )


def check_network(group: str, props: dict[str, Any]) -> None:
    """Virtual network scenarios: a group in subnets has a private IP only; a private IP needs a subnet.

    Recorded: "Private IP address is only supported when network profile is defined" (portainer#4040);
    "DNS name label for container group is only supported when IP Address type is public" (aci-deploy#53).
    """
    ip = props.get("ipAddress") or {}
    subnets = props.get("subnetIds") or []
    if ip.get("type") == "Public" and subnets:
        raise _bad(
            "InvalidIpAddressTypeForNetworkProfile",
            f"IP address type in container group '{group}' is invalid. Public IP address is not supported when "
            "the container group is deployed into a virtual network (subnetIds).",
        )
    if ip.get("type") == "Private" and not subnets:
        raise _bad(
            "PrivateIPAddressNotSupported",
            f"IP Address type in container group '{group}' is invalid. Private IP address is only supported when "
            "network profile is defined.",
        )
    if ip.get("type") == "Private" and ip.get("dnsNameLabel"):
        raise _bad(
            "DnsNameLabelNotSupported",
            "DNS name label for container group is only supported when IP Address type is public.",
        )


def check_spot(group: str, body: dict[str, Any], props: dict[str, Any]) -> None:
    """Spot containers' documented limitations: no public IP, no virtual network, no Confidential SKU, no zones."""
    if props.get("priority") != "Spot":
        return
    conflicts = [
        ("ipAddress.type 'Public'", (props.get("ipAddress") or {}).get("type") == "Public"),
        ("subnetIds", bool(props.get("subnetIds"))),
        ("sku 'Confidential'", props.get("sku") == "Confidential"),
        ("zones", bool(body.get("zones"))),
    ]
    for what, present in conflicts:
        if present:
            raise _bad(
                "SpotPriorityNotSupported",
                f"The container group '{group}' with priority 'Spot' cannot use {what}. Spot container groups do "
                f"not support public IP addresses, virtual networks, the Confidential SKU or availability zones "
                f"({SPOT_DOC}).",
            )


def check_mounts_and_volumes(group: str, props: dict[str, Any]) -> None:
    """The spec's own words: mountPath "Must not contain colon (:)"; gitRepo.directory "Must not contain or
    start with '..'"; secret volume values are base64 (SecretVolume in the ACI docs' YAML reference)."""
    for container, _init in _containers(props):
        for mount in container["properties"].get("volumeMounts") or []:
            if ":" in mount["mountPath"]:
                raise _bad(
                    "InvalidVolumeMountPath",
                    f"The mount path '{mount['mountPath']}' of volume mount '{mount['name']}' in container "
                    f"'{container['name']}' of container group '{group}' is invalid. It must not contain ':'.",
                )
    for volume in props.get("volumes") or []:
        directory = (volume.get("gitRepo") or {}).get("directory")
        if isinstance(directory, str) and (directory.startswith("..") or "/../" in f"/{directory}/"):
            raise _bad(
                "InvalidGitRepoVolume",
                f"The directory '{directory}' of git repo volume '{volume['name']}' in container group '{group}' "
                "is invalid. It must not contain or start with '..'.",
            )
        for key, content in (volume.get("secret") or {}).items():
            try:
                base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise _bad(
                    "InvalidSecretVolume",
                    f"The value of '{key}' in secret volume '{volume['name']}' of container group '{group}' is not "
                    "a valid base64 string.",
                ) from None


def check_registry_servers(group: str, props: dict[str, Any]) -> None:
    """The spec: `server` is "The Docker image registry server without a protocol such as 'http' and 'https'"."""
    for cred in props.get("imageRegistryCredentials") or []:
        server = cred.get("server") or ""
        if "://" in server or server.lower().startswith(("http:", "https:")) or server != server.strip():
            raise _bad(
                "InvalidImageRegistryServer",
                f"The image registry server '{server}' in container group '{group}' is invalid. It must be a host "
                "name without a protocol such as 'http' or 'https'.",
            )


def check_service_rules(group: str, body: dict[str, Any]) -> None:
    """All rules above, in the order ACI reports them (counts first, then networking, then details)."""
    props = body["properties"]
    check_container_count(group, props)
    check_spot(group, body, props)
    check_network(group, props)
    check_limits_not_below_requests(group, props)
    check_mounts_and_volumes(group, props)
    check_registry_servers(group, props)
