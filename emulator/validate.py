"""What ACI checks in a containerGroups PUT body, with the error codes and messages ARM answers.

Kept apart from the server so the rules read as one list. Codes marked "recorded" in
docs/testing.md were seen in real ARM answers; the others follow ACI's naming and
are documented as unverified. The fake must be at least as strict as ACI: a rule we are
unsure about errs on rejecting, so the connector's translator learns to stay inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

GROUP_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
CONTAINER_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_LABEL_RE = re.compile(r"^[a-z][-a-z0-9]{3,61}[a-z0-9]$")
ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

MAX_CONTAINERS = 60
MAX_VOLUMES = 20
MAX_PORTS_PER_IP = 5
MAX_GROUP_CPU = 4.0
MAX_GROUP_MEMORY_GB = 16.0
OS_TYPES = ("Linux", "Windows")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
IP_TYPES = ("Public", "Private")
PROTOCOLS = ("TCP", "UDP")
SKUS = ("Standard", "Dedicated", "Confidential")
PRIORITIES = ("Regular", "Spot")
VOLUME_KINDS = ("azureFile", "emptyDir", "secret", "gitRepo")


@dataclass
class ArmError(Exception):
    """An ARM error answer: HTTP status plus the `{"error": {"code", "message"}}` body."""

    status: int
    code: str
    message: str

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def _bad(code: str, message: str, status: int = 400) -> ArmError:
    return ArmError(status, code, message)


def check_group_name(name: str) -> None:
    if not GROUP_NAME_RE.match(name) or "--" in name:
        raise _bad(
            "InvalidContainerGroupName",
            f"The container group name '{name}' is invalid. The name must be between 1 and 63 characters long, "
            "contain only lowercase letters, numbers and dashes, not start or end with a dash, and not contain "
            "consecutive dashes.",
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-6


def _check_resources(group: str, cname: str, props: dict[str, Any]) -> tuple[float, float, dict[str, float]]:
    """Requests (cpu, memory) of one container plus its limits; ACI needs both requests since 2017."""
    resources = props.get("resources") or {}
    requests = resources.get("requests") or {}
    cpu, memory = _number(requests.get("cpu")), _number(requests.get("memoryInGB"))
    if cpu is None or memory is None:
        raise _bad(
            "ResourceRequestsNotSpecified",
            f"The resource requests are not specified in container '{cname}' of contain group '{group}'. "
            "Both memory and CPU requests are required since API version '2017-07-01-preview'.",
        )
    limits = {key: _number(value) for key, value in (resources.get("limits") or {}).items()}
    for label, value, step in (("cpu", cpu, 0.01), ("memoryInGB", memory, 0.1)):
        if value <= 0 or not _on_grid(value, step):
            raise _bad(
                "InvalidContainerResourceRequests",
                f"The '{label}' request '{value}' in container '{cname}' of container group '{group}' is invalid. "
                f"It must be greater than 0 and a multiple of {step}.",
            )
    for key, value in limits.items():
        if key not in ("cpu", "memoryInGB", "gpu") or value is None or value <= 0:
            raise _bad(
                "InvalidContainerResourceLimits",
                f"The resource limit '{key}' in container '{cname}' of container group '{group}' is invalid.",
            )
    return cpu, memory, {k: v for k, v in limits.items() if v is not None}


def _check_env(group: str, cname: str, props: dict[str, Any]) -> None:
    for env in props.get("environmentVariables") or []:
        name = env.get("name")
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            raise _bad(
                "InvalidEnvironmentVariable",
                f"The environment variable name '{name}' in container '{cname}' of container group '{group}' "
                "is invalid.",
            )
        if env.get("value") is not None and env.get("secureValue") is not None:
            raise _bad(
                "InvalidEnvironmentVariable",
                f"The environment variable '{name}' in container '{cname}' of container group '{group}' cannot "
                "have both 'value' and 'secureValue'.",
            )


def _check_container(group: str, container: Any, *, init: bool) -> dict[str, Any]:
    if not isinstance(container, dict):
        raise _bad("InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    cname = container.get("name")
    if not isinstance(cname, str) or not CONTAINER_NAME_RE.match(cname):
        raise _bad(
            "InvalidContainerName",
            f"The container name '{cname}' in container group '{group}' is invalid. The container name must "
            "contain no more than 63 characters and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' "
            "(e.g. 'my-name').",
        )
    props = container.get("properties")
    if not isinstance(props, dict):
        raise _bad("InvalidRequestContent", f"The 'properties' of container '{cname}' are required.")
    image = props.get("image")
    if not isinstance(image, str) or not image.strip() or image != image.strip():
        raise _bad(
            "InvalidImage", f"The image '{image}' of container '{cname}' in container group '{group}' is invalid."
        )
    _check_env(group, cname, props)
    if not init:
        for port in props.get("ports") or []:
            _check_port(group, port, where=f"container '{cname}'")
    return props


def _check_port(group: str, port: Any, *, where: str) -> int:
    number = port.get("port") if isinstance(port, dict) else None
    protocol = port.get("protocol", "TCP") if isinstance(port, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
        raise _bad("InvalidPort", f"The port '{number}' in {where} of container group '{group}' is invalid.")
    if protocol not in PROTOCOLS:
        raise _bad(
            "InvalidPortProtocol",
            f"The protocol '{protocol}' of port '{number}' in {where} of container group '{group}' is invalid. "
            "The value must be one of 'TCP,UDP'.",
        )
    return number


def _check_enum(group: str, props: dict[str, Any], key: str, allowed: tuple[str, ...], code: str) -> None:
    value = props.get(key)
    if value is not None and value not in allowed:
        raise _bad(
            code,
            f"The '{key}' '{value}' for container group '{group}' is invalid. The value must be one of "
            f"'{','.join(allowed)}'.",
        )


def _check_volumes(group: str, props: dict[str, Any]) -> set[str]:
    volumes = props.get("volumes") or []
    if len(volumes) > MAX_VOLUMES:
        raise _bad(
            "TooManyVolumes",
            f"The number of volumes '{len(volumes)}' in container group '{group}' exceeds the limit '{MAX_VOLUMES}'.",
        )
    names: set[str] = set()
    for volume in volumes:
        name = volume.get("name") if isinstance(volume, dict) else None
        if not isinstance(name, str) or not name:
            raise _bad("InvalidVolumeName", f"A volume in container group '{group}' has no name.")
        if name in names:
            raise _bad("DuplicateVolumeName", f"The volume name '{name}' is duplicated in container group '{group}'.")
        kinds = [kind for kind in VOLUME_KINDS if volume.get(kind) is not None]
        if len(kinds) != 1:
            raise _bad(
                "InvalidVolume",
                f"The volume '{name}' in container group '{group}' must specify exactly one of "
                f"'{','.join(VOLUME_KINDS)}'.",
            )
        if kinds[0] == "azureFile":
            share = volume["azureFile"]
            if not share.get("shareName") or not share.get("storageAccountName"):
                raise _bad(
                    "InvalidAzureFileVolume",
                    f"The Azure File volume '{name}' in container group '{group}' needs shareName and "
                    "storageAccountName.",
                )
        names.add(name)
    return names


def _check_mounts(group: str, cname: str, props: dict[str, Any], volume_names: set[str]) -> None:
    for mount in props.get("volumeMounts") or []:
        name = mount.get("name") if isinstance(mount, dict) else None
        if name not in volume_names:
            raise _bad(
                "InvalidVolumeMount",
                f"The volume mount '{name}' in container '{cname}' of container group '{group}' does not match "
                "any volume defined in the container group.",
            )
        if not mount.get("mountPath"):
            raise _bad(
                "InvalidVolumeMount",
                f"The volume mount '{name}' in container '{cname}' of container group '{group}' has no mountPath.",
            )


def _check_credentials(group: str, props: dict[str, Any]) -> None:
    for cred in props.get("imageRegistryCredentials") or []:
        server = cred.get("server") if isinstance(cred, dict) else None
        if not server:
            raise _bad(
                "InvalidImageRegistryCredential",
                f"An image registry credential in container group '{group}' has no server.",
            )
        has_password = bool(cred.get("username")) and bool(cred.get("password"))
        has_identity = bool(cred.get("identity"))
        if not has_password and not has_identity:
            raise _bad(
                "InvalidImageRegistryCredential",
                f"The image registry credential for server '{server}' in container group '{group}' needs a "
                "username and password, or an identity.",
            )


def _check_ip(group: str, props: dict[str, Any], container_ports: set[int]) -> None:
    ip = props.get("ipAddress")
    if ip is None:
        return
    if ip.get("type") not in IP_TYPES:
        raise _bad(
            "InvalidIpAddressType",
            f"The IP address type '{ip.get('type')}' of container group '{group}' is invalid. The value must be "
            "one of 'Public,Private'.",
        )
    ports = ip.get("ports") or []
    if not ports:
        # Recorded (terraform-provider-azurerm#1697).
        raise _bad(
            "MissingIpAddressPorts", f"The ports in the 'ipAddress' of container group '{group}' cannot be empty."
        )
    if len(ports) > MAX_PORTS_PER_IP:
        raise _bad(
            "TooManyPorts",
            f"The number of ports '{len(ports)}' in the IP address of container group '{group}' exceeds the "
            f"limit '{MAX_PORTS_PER_IP}'.",
        )
    for port in ports:
        number = _check_port(group, port, where="the IP address")
        if number not in container_ports:
            raise _bad(
                "InvalidIpAddressPorts",
                f"The port '{number}' in the IP address of container group '{group}' is not exposed by any "
                "container. Ports in the IP address must also be container ports.",
            )
    label = ip.get("dnsNameLabel")
    if label is not None and not DNS_LABEL_RE.match(label):
        raise _bad(
            "InvalidDnsNameLabel",
            f"The DNS name label '{label}' in container group '{group}' is invalid. It can contain only lowercase "
            "letters, numbers and hyphens. The first character must be a letter. The last character must be a "
            "letter or number. The value must be between 5 and 63 characters long.",
        )


def _check_totals(group: str, props: dict[str, Any], totals: tuple[float, float], limits: list[tuple]) -> None:
    cpu, memory = totals
    if cpu > MAX_GROUP_CPU + 1e-9 or memory > MAX_GROUP_MEMORY_GB + 1e-9:
        raise _bad(
            "ResourceRequestsExceedLimits",
            f"The requested resource with 'Cpu {cpu:g}, MemoryInGB {memory:g}' of container group '{group}' "
            f"exceeds the limits 'Cpu {MAX_GROUP_CPU:g}, MemoryInGB {MAX_GROUP_MEMORY_GB:g}' for a "
            f"{props.get('osType')} container group.",
        )
    for cname, container_limits in limits:
        for key, label, total in (("cpu", "Cpu", cpu), ("memoryInGB", "MemoryInGB", memory)):
            value = container_limits.get(key)
            if value is not None and value > total + 1e-9:
                raise _bad(
                    "ContainerLimitGreaterThanContainerGroupTotalRequest",
                    f"The '{label}' limit '{value:g}' in container '{cname}' is greater than the total request "
                    f"'{total:g}' of container group '{group}'.",
                )


def validate_put(group: str, body: Any, *, rejected_images: set[str] | frozenset[str] = frozenset()) -> None:
    """Raise `ArmError` (400) for the first rule the body breaks, in roughly the order ACI checks.

    First the 2023-05-01 model (spec.py), then ACI's own checks here and its documented rules (rules.py).
    """
    from emulator.rules import check_container_count, check_service_rules
    from emulator.spec import check_against_spec

    check_group_name(group)
    if not isinstance(body, dict):
        raise _bad("InvalidRequestContent", "The request content was invalid and could not be deserialized.")
    if not body.get("location"):
        raise _bad("LocationRequired", "The location property is required for this definition.")
    check_against_spec(group, body)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _bad("InvalidRequestContent", "The request content was invalid: 'properties' is required.")
    if props.get("osType") not in OS_TYPES:
        shown = group if group else "<null>"
        raise _bad(
            "InvalidOsType",
            f"The 'osType' for container group '{shown}' is invalid. The value must be one of 'Windows,Linux'.",
        )
    _check_enum(group, props, "restartPolicy", RESTART_POLICIES, "InvalidRestartPolicy")
    _check_enum(group, props, "sku", SKUS, "InvalidContainerGroupSku")
    _check_enum(group, props, "priority", PRIORITIES, "InvalidContainerGroupPriority")
    containers = props.get("containers")
    if not isinstance(containers, list) or not containers:
        raise _bad("ContainersNotSpecified", f"The containers of container group '{group}' are not specified.")
    check_container_count(group, props)
    init_containers = props.get("initContainers") or []
    volume_names = _check_volumes(group, props)
    seen: set[str] = set()
    container_ports: set[int] = set()
    cpu_total = memory_total = 0.0
    limits: list[tuple[str, dict[str, float]]] = []
    for container, init in [(c, False) for c in containers] + [(c, True) for c in init_containers]:
        cprops = _check_container(group, container, init=init)
        cname = container["name"]
        if cname in seen:
            raise _bad(
                "DuplicateContainerName", f"The container name '{cname}' is duplicated in container group '{group}'."
            )
        seen.add(cname)
        _check_mounts(group, cname, cprops, volume_names)
        if cprops["image"] in rejected_images:
            raise _bad(
                "InaccessibleImage",
                f"The image '{cprops['image']}' in container group '{group}' is not accessible. Please check the "
                "image and registry credential.",
            )
        if init:
            continue
        cpu, memory, container_limits = _check_resources(group, cname, cprops)
        cpu_total += cpu
        memory_total += memory
        limits.append((cname, container_limits))
        container_ports.update(p["port"] for p in cprops.get("ports") or [])
    if props["osType"] == "Windows":
        if len(containers) > 1 or init_containers:
            raise _bad(
                "UnsupportedMultipleContainersForWindows",
                f"The container group '{group}' has more than one container. Windows container groups support "
                "a single container.",
            )
        if props.get("volumes"):
            raise _bad(
                "UnsupportedVolumesForWindows",
                f"The container group '{group}' has volumes. Volumes are not supported for Windows container groups.",
            )
    check_service_rules(group, body)
    _check_ip(group, props, container_ports)
    _check_credentials(group, props)
    _check_totals(group, props, (cpu_total, memory_total), limits)


def group_cores(body: dict[str, Any]) -> int:
    """Cores a group counts against the StandardCores quota: its total CPU requests, rounded up."""
    total = 0.0
    for container in body.get("properties", {}).get("containers", []):
        total += float(container.get("properties", {}).get("resources", {}).get("requests", {}).get("cpu", 0))
    whole = int(total)
    return whole if whole == total else whole + 1
