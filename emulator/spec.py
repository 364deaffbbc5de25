"""The 2023-05-01 ContainerGroup request model, written from the published REST specification.

Source of the facts (types, required lists, enums, int32 formats, additionalProperties):
Azure/azure-rest-api-specs, specification/containerinstance/resource-manager/Microsoft.ContainerInstance/
stable/2023-05-01/containerInstance.json, definitions `ContainerGroup` and everything it references.
This is our own model of those facts, not a copy of the file.

Why a model and not "accept any dict": ARM deserializes a PUT body into typed models before ACI
sees it. A missing required member, a wrong JSON type, an int32 overflow, an unknown member or an
enum value outside a closed enum is answered `400 InvalidRequestContent` with a Json.NET message
naming the JSON path; the recordings and public reports show that shape, e.g.
"The request content was invalid and could not be deserialized: 'Required property 'properties' not
found in JSON. Path '', line 1, position 22.'". Enums the spec marks `modelAsString` are plain strings
to the deserializer; ACI checks them itself and answers with its own `Invalid<Thing>` codes
(`InvalidOsType` is recorded), so those carry a code here.

Read-only members (provisioningState, instanceView, fqdn, principalId, ...) are accepted and ignored,
as ARM does for a body that was read back from a GET and PUT again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from emulator.validate import ArmError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _deserialize_error(detail: str, path: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{detail} Path '{path}'.'.",
    )


class _EnumError(Exception):
    """A modelAsString enum outside its values: ACI's own check, worded with the group's name later."""

    def __init__(self, code: str, path: str, value: str, allowed: tuple[str, ...]) -> None:
        super().__init__(code)
        self.code, self.path, self.value, self.allowed = code, path, value, allowed

    def arm_error(self, group: str) -> ArmError:
        label = self.path.rsplit(".", 1)[-1]
        # Group-level members use ACI's recorded wording ("The 'osType' for container group '<null>' is
        # invalid. The value must be one of 'Windows,Linux'."); nested ones also name their JSON path.
        where = "" if self.path.count(".") <= 1 else f" at '{self.path}'"
        shown = group or "<null>"
        return ArmError(
            400,
            self.code,
            f"The '{label}'{where} for container group '{shown}' is invalid. The value must be one of "
            f"'{','.join(self.allowed)}'.",
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Node(ABC):
    """One schema node: `check` raises `ArmError` for the first violation under `path`."""

    @abstractmethod
    def check(self, value: Any, path: str) -> None: ...


@dataclass(frozen=True)
class Str(Node):
    """A JSON string; `enum` closes it. `code` set: ACI checks the enum (modelAsString), else Json.NET does."""

    enum: tuple[str, ...] = ()
    code: str = ""
    type_name: str = ""

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise _deserialize_error(f"Error converting value {_show(value)} to type 'System.String'.", path)
        if not self.enum or value in self.enum:
            return
        if self.code:
            raise _EnumError(self.code, path, value, self.enum)
        raise _deserialize_error(f"Error converting value {_show(value)} to type '{self.type_name}'.", path)


@dataclass(frozen=True)
class Int32(Node):
    """`type: integer, format: int32`: a whole JSON number within [-2^31, 2^31-1]."""

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _deserialize_error(f"Could not convert {_show(value)} to integer.", path)
        if isinstance(value, float) and not value.is_integer():
            raise _deserialize_error(f"Input string '{value}' is not a valid integer.", path)
        if not INT32_MIN <= int(value) <= INT32_MAX:
            raise _deserialize_error(f"JSON integer {int(value)} is too large or small for an Int32.", path)


@dataclass(frozen=True)
class Num(Node):
    """`type: number, format: double`."""

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _deserialize_error(f"Could not convert {_show(value)} to double.", path)


@dataclass(frozen=True)
class Bool(Node):
    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise _deserialize_error(f"Could not convert {_show(value)} to boolean.", path)


@dataclass(frozen=True)
class Arr(Node):
    items: Node

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _deserialize_error(
                f"Cannot deserialize {_kind(value)} into a JSON array (e.g. [1,2,3]) to deserialize correctly.", path
            )
        for index, item in enumerate(value):
            self.items.check(item, f"{path}[{index}]")


@dataclass(frozen=True)
class Map(Node):
    """An object with free keys (`additionalProperties`): tags, secret volume files, identities."""

    values: Node

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _deserialize_error(f"Cannot deserialize {_kind(value)} into a JSON object.", path)
        for key, item in value.items():
            self.values.check(item, _join(path, key))


@dataclass(frozen=True)
class AnyObject(Node):
    """`type: object` with no declared members (extension settings): any JSON object."""

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _deserialize_error(f"Cannot deserialize {_kind(value)} into a JSON object.", path)


@dataclass(frozen=True)
class Obj(Node):
    """A declared object: members, the spec's `required` list, and members ACI itself reports when missing.

    `service_required` names spec-required members whose absence real ACI answers with its own code
    (recorded: `InvalidOsType` for a missing osType, `ResourceRequestsNotSpecified` for missing requests),
    so the deserializer must let them through to the service rules.
    """

    type_name: str
    members: dict[str, Node]
    required: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    service_required: tuple[str, ...] = field(default=())

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _deserialize_error(f"Cannot deserialize {_kind(value)} into type '{self.type_name}'.", path)
        for key in value:
            if key not in self.members and key not in self.read_only:
                raise _deserialize_error(
                    f"Could not find member '{key}' on object of type '{self.type_name}'.", _join(path, key)
                )
        for key in self.required:
            if key not in self.service_required and value.get(key) is None:
                raise _deserialize_error(f"Required property '{key}' not found in JSON.", path)
        for key, node in self.members.items():
            if value.get(key) is not None:
                node.check(value[key], _join(path, key))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value[:80]}"'
    if isinstance(value, dict | list):
        return _kind(value)
    return str(value).lower() if isinstance(value, bool) else str(value)[:80]


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "the current JSON object"
    if isinstance(value, list):
        return "the current JSON array"
    return f"value {value!r}"[:80]


# --------------------------------------------------------------------------- the model

STRING = Str()
STRINGS = Arr(STRING)

ENVIRONMENT_VARIABLE = Obj(
    "EnvironmentVariable", {"name": STRING, "value": STRING, "secureValue": STRING}, required=("name",)
)
VOLUME_MOUNT = Obj(
    "VolumeMount", {"name": STRING, "mountPath": STRING, "readOnly": Bool()}, required=("name", "mountPath")
)
PROTOCOLS = ("TCP", "UDP")
CONTAINER_PORT = Obj(
    "ContainerPort",
    {"protocol": Str(PROTOCOLS, code="InvalidPortProtocol"), "port": Int32()},
    required=("port",),
)
GROUP_PORT = Obj("Port", {"protocol": Str(PROTOCOLS, code="InvalidPortProtocol"), "port": Int32()}, required=("port",))
GPU_RESOURCE = Obj(
    "GpuResource",
    {"count": Int32(), "sku": Str(("K80", "P100", "V100"), code="InvalidGpuSku")},
    required=("count", "sku"),
)
RESOURCE_REQUESTS = Obj(
    "ResourceRequests",
    {"memoryInGB": Num(), "cpu": Num(), "gpu": GPU_RESOURCE},
    required=("memoryInGB", "cpu"),
    service_required=("memoryInGB", "cpu"),
)
RESOURCE_LIMITS = Obj("ResourceLimits", {"memoryInGB": Num(), "cpu": Num(), "gpu": GPU_RESOURCE})
RESOURCE_REQUIREMENTS = Obj(
    "ResourceRequirements",
    {"requests": RESOURCE_REQUESTS, "limits": RESOURCE_LIMITS},
    required=("requests",),
    service_required=("requests",),
)
HTTP_HEADER = Obj("HttpHeader", {"name": STRING, "value": STRING})
PROBE = Obj(
    "ContainerProbe",
    {
        "exec": Obj("ContainerExec", {"command": STRINGS}),
        "httpGet": Obj(
            "ContainerHttpGet",
            {
                "path": STRING,
                "port": Int32(),
                "scheme": Str(("http", "https"), code="InvalidProbeScheme"),
                "httpHeaders": Arr(HTTP_HEADER),
            },
            required=("port",),
        ),
        "initialDelaySeconds": Int32(),
        "periodSeconds": Int32(),
        "failureThreshold": Int32(),
        "successThreshold": Int32(),
        "timeoutSeconds": Int32(),
    },
)
SECURITY_CONTEXT = Obj(
    "SecurityContextDefinition",
    {
        "privileged": Bool(),
        "allowPrivilegeEscalation": Bool(),
        "capabilities": Obj("SecurityContextCapabilitiesDefinition", {"add": STRINGS, "drop": STRINGS}),
        "runAsGroup": Int32(),
        "runAsUser": Int32(),
        "seccompProfile": STRING,
    },
)
INSTANCE_VIEW_READ_ONLY = ("instanceView",)
CONTAINER = Obj(
    "Container",
    {
        "name": STRING,
        "properties": Obj(
            "ContainerProperties",
            {
                "image": STRING,
                "command": STRINGS,
                "ports": Arr(CONTAINER_PORT),
                "environmentVariables": Arr(ENVIRONMENT_VARIABLE),
                "resources": RESOURCE_REQUIREMENTS,
                "volumeMounts": Arr(VOLUME_MOUNT),
                "livenessProbe": PROBE,
                "readinessProbe": PROBE,
                "securityContext": SECURITY_CONTEXT,
            },
            required=("image", "resources"),
            read_only=INSTANCE_VIEW_READ_ONLY,
            service_required=("image", "resources"),
        ),
    },
    required=("properties", "name"),
    service_required=("name",),
)
INIT_CONTAINER = Obj(
    "InitContainerDefinition",
    {
        "name": STRING,
        "properties": Obj(
            "InitContainerPropertiesDefinition",
            {
                "image": STRING,
                "command": STRINGS,
                "environmentVariables": Arr(ENVIRONMENT_VARIABLE),
                "volumeMounts": Arr(VOLUME_MOUNT),
                "securityContext": SECURITY_CONTEXT,
            },
            read_only=INSTANCE_VIEW_READ_ONLY,
        ),
    },
    required=("name", "properties"),
    service_required=("name",),
)
VOLUME = Obj(
    "Volume",
    {
        "name": STRING,
        "azureFile": Obj(
            "AzureFileVolume",
            {"shareName": STRING, "readOnly": Bool(), "storageAccountName": STRING, "storageAccountKey": STRING},
            required=("shareName", "storageAccountName"),
        ),
        "emptyDir": Obj("EmptyDirVolume", {}),
        "secret": Map(STRING),
        "gitRepo": Obj(
            "GitRepoVolume", {"directory": STRING, "repository": STRING, "revision": STRING}, required=("repository",)
        ),
    },
    required=("name",),
    service_required=("name",),
)
IMAGE_REGISTRY_CREDENTIAL = Obj(
    "ImageRegistryCredential",
    {"server": STRING, "username": STRING, "password": STRING, "identity": STRING, "identityUrl": STRING},
    required=("server",),
)
IP_ADDRESS = Obj(
    "IpAddress",
    {
        "ports": Arr(GROUP_PORT),
        "type": Str(("Public", "Private"), code="InvalidIpAddressType"),
        "ip": STRING,
        "dnsNameLabel": STRING,
        "autoGeneratedDomainNameLabelScope": Str(
            # The spec spells the last value "Noreuse" (sic); ACI compares as written.
            ("Unsecure", "TenantReuse", "SubscriptionReuse", "ResourceGroupReuse", "Noreuse"),
            code="InvalidAutoGeneratedDomainNameLabelScope",
        ),
    },
    required=("ports", "type"),
    read_only=("fqdn",),
    service_required=("ports", "type"),
)
LOG_ANALYTICS = Obj(
    "LogAnalytics",
    {
        "workspaceId": STRING,
        "workspaceKey": STRING,
        "logType": Str(("ContainerInsights", "ContainerInstanceLogs"), code="InvalidLogAnalyticsLogType"),
        "metadata": Map(STRING),
        "workspaceResourceId": STRING,
    },
    required=("workspaceId", "workspaceKey"),
)
DNS_CONFIGURATION = Obj(
    "DnsConfiguration",
    {"nameServers": STRINGS, "searchDomains": STRING, "options": STRING},
    required=("nameServers",),
)
ENCRYPTION_PROPERTIES = Obj(
    "EncryptionProperties",
    {"vaultBaseUrl": STRING, "keyName": STRING, "keyVersion": STRING, "identity": STRING},
    required=("vaultBaseUrl", "keyVersion"),
)
EXTENSION = Obj(
    "DeploymentExtensionSpec",
    {
        "name": STRING,
        "properties": Obj(
            "DeploymentExtensionSpecProperties",
            {"extensionType": STRING, "version": STRING, "settings": AnyObject(), "protectedSettings": AnyObject()},
            required=("extensionType", "version"),
        ),
    },
    required=("name",),
)
IDENTITY = Obj(
    "ContainerGroupIdentity",
    {
        # modelAsString false: a closed C# enum, so Json.NET itself rejects any other spelling.
        "type": Str(
            ("SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None"),
            type_name="ResourceIdentityType",
        ),
        "userAssignedIdentities": Map(Obj("UserAssignedIdentities", {}, read_only=("principalId", "clientId"))),
    },
    read_only=("principalId", "tenantId"),
)
GROUP_PROPERTIES = Obj(
    "ContainerGroupPropertiesProperties",
    {
        "containers": Arr(CONTAINER),
        "imageRegistryCredentials": Arr(IMAGE_REGISTRY_CREDENTIAL),
        "restartPolicy": Str(("Always", "OnFailure", "Never"), code="InvalidRestartPolicy"),
        "ipAddress": IP_ADDRESS,
        "osType": Str(("Windows", "Linux"), code="InvalidOsType"),
        "volumes": Arr(VOLUME),
        "diagnostics": Obj("ContainerGroupDiagnostics", {"logAnalytics": LOG_ANALYTICS}),
        "subnetIds": Arr(Obj("ContainerGroupSubnetId", {"id": STRING, "name": STRING}, required=("id",))),
        "dnsConfig": DNS_CONFIGURATION,
        "sku": Str(("Standard", "Dedicated", "Confidential"), code="InvalidContainerGroupSku"),
        "encryptionProperties": ENCRYPTION_PROPERTIES,
        "initContainers": Arr(INIT_CONTAINER),
        "extensions": Arr(EXTENSION),
        "confidentialComputeProperties": Obj("ConfidentialComputeProperties", {"ccePolicy": STRING}),
        "priority": Str(("Regular", "Spot"), code="InvalidContainerGroupPriority"),
    },
    required=("containers", "osType"),
    read_only=("provisioningState", "instanceView", "provisioningTimeoutInSeconds", "isCustomProvisioningTimeout"),
    service_required=("containers", "osType"),
)
CONTAINER_GROUP = Obj(
    "ContainerGroup",
    {
        "location": STRING,
        "tags": Map(STRING),
        "zones": STRINGS,
        "identity": IDENTITY,
        "properties": GROUP_PROPERTIES,
    },
    required=("properties",),
    read_only=("id", "name", "type"),
)


def check_against_spec(group: str, body: Any) -> None:
    """Raise `ArmError` for the first way `body` breaks the 2023-05-01 ContainerGroup model."""
    try:
        CONTAINER_GROUP.check(body, "")
    except _EnumError as error:
        raise error.arm_error(group) from None
