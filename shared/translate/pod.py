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

from shared import tags as tag_keys
from shared.naming import container_group_name
from shared.translate_common import Context, TranslateOptions, reject
from shared.translate_env import aci_env, container_env, expand_argv
from shared.translate_resources import ContainerResources, resolve_resources
from shared.translate_volumes import Volumes, registry_credentials, translate_volumes, volume_mounts

__all__ = [
    "TranslateOptions",
    "Translation",
    "pod_os",
    "pod_to_container_group",
    "translate_pod",
]

# Annotation names: upstream names where virtual-kubelet azure-aci or AKS virtual nodes v2 have one.
ANNOTATION_DNS_NAME_LABEL = "virtualkubelet.io/dnsnamelabel"
ANNOTATION_DNS_NAME_LABEL_ALIAS = "virtual-kubelet.io/dns-name-label"
ANNOTATION_CCE_POLICY = "microsoft.containerinstance.virtualnode.ccepolicy"
ANNOTATION_CCE_POLICY_VK = "virtual-kubelet.io/confidential-compute-cce-policy"
ANNOTATION_CONTAINER_SKU = "virtual-kubelet.io/container-sku"
ANNOTATION_IDENTITY = "microsoft.containerinstance.virtualnode.identity"
ANNOTATION_SUBNET = "microsoft.containerinstance.virtualnode.subnets.primary"
ANNOTATION_INJECT_DNS = "microsoft.containerinstance.virtualnode.injectdns"
ANNOTATION_ZONES = "microsoft.containerinstance.virtualnode.zones"
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
ANNOTATION_LOG_ANALYTICS = "aci-connector.io/log-analytics-secret"

CONTAINER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_NAME_LABEL = re.compile(r"^[a-z][-a-z0-9]{3,61}[a-z0-9]$")
MAX_PORTS_PER_IP = 5
DEFAULT_GRACE_SECONDS = 30
_USER_IDENTITY = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$",
    re.IGNORECASE,
)
_ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")


@dataclass
class Translation:
    """The ARM body, the group name, and the pod fields dropped or changed (each "path: reason")."""

    name: str
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


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
) -> Translation:
    """The container group for a pod, with the warnings to report on the pod (as an Event)."""
    if not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
        reject("spec", "a Pod object with a spec is required")
    options = TranslateOptions.from_settings(settings)
    ctx = Context(pod=pod, secrets=secrets or {}, config_maps=config_maps or {}, options=options)
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
    return Translation(name=container_group_name(pod), body=body, warnings=ctx.warnings)


def pod_to_container_group(
    pod: dict[str, Any],
    *,
    secrets: Mapping[str, Any] | None = None,
    config_maps: Mapping[str, Any] | None = None,
    settings: Any = None,
) -> dict[str, Any]:
    """The ARM request body only (see translate_pod for the warnings)."""
    return translate_pod(pod, secrets=secrets, config_maps=config_maps, settings=settings).body


def _restart_policy(spec: dict[str, Any]) -> str:
    policy = spec.get("restartPolicy") or "Always"
    if policy not in ("Always", "OnFailure", "Never"):
        reject("spec.restartPolicy", f"{policy!r} is not Always, OnFailure or Never")
    return policy


# ---------------------------------------------------------------- pod-level fields

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


# ---------------------------------------------------------------- security context

_POD_SECURITY_WARNED = {
    "fsGroup": "ACI does not change volume ownership",
    "fsGroupChangePolicy": "ACI does not change volume ownership",
    "supplementalGroups": "ACI cannot add supplementary groups",
    "supplementalGroupsPolicy": "ACI cannot add supplementary groups",
}


def _pod_security_context(ctx: Context) -> None:
    context = ctx.spec.get("securityContext") or {}
    path = "spec.securityContext"
    if context.get("sysctls"):
        reject(f"{path}.sysctls", "ACI does not let pods set kernel parameters")
    for name, reason in _POD_SECURITY_WARNED.items():
        if context.get(name) not in (None, []):
            ctx.warn(f"{path}.{name}", f"ignored: {reason}")
    _check_hardening(ctx, context, path)


def _check_hardening(ctx: Context, context: dict[str, Any], path: str) -> None:
    """Hardening the pod asks for that ACI cannot apply is refused rather than silently weakened."""
    if context.get("seLinuxOptions"):
        reject(f"{path}.seLinuxOptions", "ACI does not apply SELinux labels")
    seccomp = (context.get("seccompProfile") or {}).get("type")
    if seccomp not in (None, "RuntimeDefault"):
        reject(f"{path}.seccompProfile", f"ACI applies its default seccomp profile only (asked: {seccomp})")
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault"):
        reject(f"{path}.appArmorProfile", f"ACI applies its default AppArmor profile only (asked: {apparmor})")
    windows = context.get("windowsOptions") or {}
    if windows.get("hostProcess"):
        reject(f"{path}.windowsOptions.hostProcess", "there is no host on ACI to run a host process on")
    for key in ("gmsaCredentialSpec", "gmsaCredentialSpecName", "runAsUserName"):
        if windows.get(key):
            ctx.warn(f"{path}.windowsOptions.{key}", "ignored: ACI Windows containers run as the image's user")


def _security_context(ctx: Context, container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """ACI securityContext: the container's fields over the pod's (runAsUser/runAsGroup), as Kubernetes does."""
    pod_context = ctx.spec.get("securityContext") or {}
    context = container.get("securityContext") or {}
    sc_path = f"{path}.securityContext"
    _check_hardening(ctx, context, sc_path)
    if context.get("privileged"):
        reject(f"{sc_path}.privileged", "ACI does not run privileged containers")
    if context.get("readOnlyRootFilesystem"):
        reject(f"{sc_path}.readOnlyRootFilesystem", "ACI cannot make the root filesystem read-only")
    if context.get("procMount") not in (None, "Default"):
        reject(f"{sc_path}.procMount", "ACI uses the default /proc mount only")
    out: dict[str, Any] = {}
    for key in ("runAsUser", "runAsGroup"):
        value = context.get(key, pod_context.get(key))
        if value is not None:
            out[key] = value
    if "allowPrivilegeEscalation" in context:
        out["allowPrivilegeEscalation"] = bool(context["allowPrivilegeEscalation"])
    capabilities = context.get("capabilities") or {}
    caps = {key: list(capabilities[key]) for key in ("add", "drop") if capabilities.get(key)}
    if caps:
        out["capabilities"] = caps
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root and out.get("runAsUser") == 0:
        reject(f"{sc_path}.runAsNonRoot", "runAsNonRoot with runAsUser 0 can never start")
    if non_root and "runAsUser" not in out:
        ctx.warn(f"{sc_path}.runAsNonRoot", "not verified: ACI cannot check the image's user; set runAsUser")
    if out and ctx.windows:
        reject(sc_path, "ACI Windows containers take no security context")
    return out or None


# ---------------------------------------------------------------- containers

_CONTAINER_WARNED = {
    "lifecycle": "ACI runs no postStart/preStop hooks",
    "stdin": "ACI containers get no attached stdin",
    "stdinOnce": "ACI containers get no attached stdin",
    "tty": "ACI allocates a terminal only for exec sessions",
}


def _argv(ctx: Context, container: dict[str, Any], path: str, env: dict[str, Any]) -> list[str] | None:
    command, args = container.get("command"), container.get("args")
    if args and not command:
        reject(
            f"{path}.args",
            "ACI replaces the image ENTRYPOINT whenever arguments are given, so args alone cannot keep it; "
            "set command to the full argv (entrypoint followed by the args)",
        )
    if not command:
        return None
    return expand_argv(list(command), env, f"{path}.command") + expand_argv(list(args or []), env, f"{path}.args")


def _common(
    ctx: Context,
    container: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
    volumes: Volumes,
) -> dict[str, Any]:
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        reject(f"{path}.image", "an image is required")
    if container.get("workingDir"):
        reject(f"{path}.workingDir", "ACI cannot set the working directory; bake it into the image (WORKDIR)")
    if container.get("volumeDevices"):
        reject(f"{path}.volumeDevices", "ACI has no raw block devices")
    env = container_env(ctx, container, path, resources)
    props: dict[str, Any] = {"image": image.strip()}
    argv = _argv(ctx, container, path, env)
    if argv is not None:
        props["command"] = argv
    if env:
        props["environmentVariables"] = aci_env(env)
    mounts = volume_mounts(ctx, container, path, volumes)
    if mounts:
        props["volumeMounts"] = mounts
    security = _security_context(ctx, container, path)
    if security:
        props["securityContext"] = security
    return props


def _container(
    ctx: Context,
    container: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
    volumes: Volumes,
) -> dict[str, Any]:
    if container.get("restartPolicy"):
        reject(f"{path}.restartPolicy", "per-container restart policies are not available on ACI")
    for key, reason in _CONTAINER_WARNED.items():
        if container.get(key):
            ctx.warn(f"{path}.{key}", f"ignored: {reason}")
    props = _common(ctx, container, path, resources, volumes)
    ports = _ports(container, path)
    if ports:
        props["ports"] = ports
    props["resources"] = resources[container["name"]].to_aci()
    _probes(ctx, container, path, ports, props)
    return {"name": container["name"], "properties": _ordered(props)}


def _ordered(props: dict[str, Any]) -> dict[str, Any]:
    order = ("image", "command", "ports", "environmentVariables", "resources", "volumeMounts")
    first = {key: props[key] for key in order if key in props}
    return {**first, **{key: value for key, value in props.items() if key not in first}}


def _init_container(
    ctx: Context,
    container: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
    volumes: Volumes,
) -> dict[str, Any]:
    if container.get("restartPolicy") == "Always":
        reject(f"{path}.restartPolicy", "sidecar init containers (restartPolicy Always) are not available on ACI")
    if container.get("restartPolicy"):
        reject(f"{path}.restartPolicy", "per-container restart policies are not available on ACI")
    for key in ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
        if container.get(key):
            reject(f"{path}.{key}", "ACI init containers cannot have this field")
    props = _common(ctx, container, path, resources, volumes)
    return {"name": container["name"], "properties": props}


def _ports(container: dict[str, Any], path: str) -> list[dict[str, Any]]:
    ports = []
    for p, port in enumerate(container.get("ports") or []):
        port_path = f"{path}.ports[{p}]"
        number = port.get("containerPort")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            reject(f"{port_path}.containerPort", f"{number!r} is not a port number")
        protocol = port.get("protocol") or "TCP"
        if protocol not in ("TCP", "UDP"):
            reject(f"{port_path}.protocol", f"ACI supports TCP and UDP only, not {protocol}")
        if port.get("hostPort") not in (None, 0, number):
            reject(f"{port_path}.hostPort", "ACI cannot map a port to a different host port")
        if port.get("hostIP"):
            reject(f"{port_path}.hostIP", "there is no host address to bind on ACI")
        entry = {"port": number, "protocol": protocol}
        if entry not in ports:
            ports.append(entry)
    return ports


# ---------------------------------------------------------------- probes

_DEFAULT_PERIOD = 10
_DEFAULT_FAILURES = 3
_PROBE_TIMING = ("initialDelaySeconds", "periodSeconds", "failureThreshold", "successThreshold", "timeoutSeconds")


def _probe(ctx: Context, probe: dict[str, Any], path: str, container: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if probe.get("tcpSocket"):
        reject(f"{path}.tcpSocket", "ACI has no TCP probe; use an exec or httpGet probe")
    if probe.get("grpc"):
        reject(f"{path}.grpc", "ACI has no gRPC probe; use an exec or httpGet probe")
    if probe.get("exec"):
        command = (probe["exec"] or {}).get("command") or []
        if not command:
            reject(f"{path}.exec.command", "an exec probe needs a command")
        out["exec"] = {"command": [str(part) for part in command]}
    elif probe.get("httpGet"):
        out["httpGet"] = _http_get(probe["httpGet"], f"{path}.httpGet", container)
    else:
        reject(path, "a probe needs exec or httpGet")
    for key in _PROBE_TIMING:
        if probe.get(key) is not None:
            out[key] = int(probe[key])
    if probe.get("terminationGracePeriodSeconds") is not None:
        ctx.warn(f"{path}.terminationGracePeriodSeconds", "ignored: ACI stops containers on its own schedule")
    return out


def _http_get(http: dict[str, Any], path: str, container: dict[str, Any]) -> dict[str, Any]:
    port = http.get("port")
    if isinstance(port, str) and not port.isdigit():
        named = [p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port]
        if not named:
            reject(f"{path}.port", f"no container port named {port!r}")
        port = named[0]
    try:
        number = int(port)
    except (TypeError, ValueError):
        reject(f"{path}.port", f"{port!r} is not a port")
    if http.get("host"):
        reject(f"{path}.host", "ACI probes always target the container itself")
    scheme = (http.get("scheme") or "HTTP").lower()
    if scheme not in ("http", "https"):
        reject(f"{path}.scheme", f"{http.get('scheme')!r} is not HTTP or HTTPS")
    out: dict[str, Any] = {"path": http.get("path") or "/", "port": number, "scheme": scheme}
    headers = [{"name": h.get("name") or "", "value": h.get("value") or ""} for h in http.get("httpHeaders") or []]
    if headers:
        out["httpHeaders"] = headers
    return out


def _probes(ctx: Context, container: dict[str, Any], path: str, ports: list[Any], props: dict[str, Any]) -> None:
    for key in ("livenessProbe", "readinessProbe"):
        if container.get(key):
            props[key] = _probe(ctx, container[key], f"{path}.{key}", container)
    startup = container.get("startupProbe")
    if not startup:
        return
    _probe(ctx, startup, f"{path}.startupProbe", container)
    if "livenessProbe" not in props:
        ctx.warn(f"{path}.startupProbe", "dropped: ACI has no startup probe and there is no liveness probe to delay")
        return
    grace = int(startup.get("initialDelaySeconds") or 0) + int(
        startup.get("failureThreshold") or _DEFAULT_FAILURES
    ) * int(startup.get("periodSeconds") or _DEFAULT_PERIOD)
    liveness = props["livenessProbe"]
    liveness["initialDelaySeconds"] = int(liveness.get("initialDelaySeconds") or 0) + grace
    ctx.warn(
        f"{path}.startupProbe", f"folded into livenessProbe.initialDelaySeconds (+{grace}s): ACI has no startup probe"
    )


# ---------------------------------------------------------------- networking


def _annotation_path(name: str) -> str:
    return f"metadata.annotations['{name}']"


def _network(ctx: Context, annotations: dict[str, Any], containers: list[dict], properties: dict[str, Any]) -> None:
    subnet = (annotations.get(ANNOTATION_SUBNET) or "").strip()
    subnets = [subnet] if subnet else list(ctx.options.subnet_ids)
    ports: list[dict[str, Any]] = []
    for container in containers:
        for port in container["properties"].get("ports") or []:
            if port not in ports:
                ports.append(port)
    asked = (annotations.get(ANNOTATION_IP_ADDRESS) or "").strip().lower()
    label_key = (
        ANNOTATION_DNS_NAME_LABEL if annotations.get(ANNOTATION_DNS_NAME_LABEL) else ANNOTATION_DNS_NAME_LABEL_ALIAS
    )
    label = (annotations.get(label_key) or "").strip()
    if asked not in ("", "public", "private", "none"):
        reject(_annotation_path(ANNOTATION_IP_ADDRESS), f"{asked!r} is not public, private or none")
    kind = asked or ("private" if subnets else "public")
    if subnets:
        properties["subnetIds"] = [{"id": subnet_id} for subnet_id in subnets]
        if kind == "public":
            reject(_annotation_path(ANNOTATION_IP_ADDRESS), "ACI groups in a virtual network cannot have a public IP")
    if kind == "private" and not subnets:
        reject(_annotation_path(ANNOTATION_IP_ADDRESS), "a private IP needs a subnet (ACI_SUBNET_IDS or annotation)")
    if label and (kind != "public" or subnets):
        reject(_annotation_path(label_key), "a DNS name label needs a public IP")
    if label and not DNS_NAME_LABEL.match(label):
        reject(
            _annotation_path(label_key), f"{label!r}: 5-63 lowercase letters, digits, hyphens, starting with a letter"
        )
    if kind != "none" and (ports or asked or label):
        if not ports:
            reject("spec.containers[].ports", "an IP address needs at least one containerPort")
        if len(ports) > MAX_PORTS_PER_IP:
            reject("spec.containers[].ports", f"{len(ports)} ports; ACI exposes at most {MAX_PORTS_PER_IP} per IP")
        ip: dict[str, Any] = {"ports": ports, "type": kind.capitalize()}
        if label:
            ip["dnsNameLabel"] = label
        properties["ipAddress"] = ip
    dns = _dns_config(ctx, annotations, bool(subnets))
    if dns:
        properties["dnsConfig"] = dns


def _dns_config(ctx: Context, annotations: dict[str, Any], in_subnet: bool) -> dict[str, Any] | None:
    spec = ctx.spec
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    custom = spec.get("dnsConfig") or {}
    if policy not in ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"):
        reject("spec.dnsPolicy", f"{policy!r} is not a DNS policy")
    if policy == "None" and not custom.get("nameservers"):
        reject("spec.dnsConfig.nameservers", "dnsPolicy None needs at least one nameserver")
    if not in_subnet:
        if custom or policy == "None":
            ctx.warn("spec.dnsConfig", "ignored: ACI applies DNS settings only to groups in a virtual network")
        return None
    servers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    inject = str(annotations.get(ANNOTATION_INJECT_DNS, "true")).strip().lower() != "false"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and inject:
        if ctx.options.cluster_dns_ip:
            domain = ctx.options.cluster_domain
            namespace = ctx.metadata.get("namespace") or "default"
            servers.append(ctx.options.cluster_dns_ip)
            searches += [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]
            options["ndots"] = "5"
        else:
            ctx.warn("spec.dnsPolicy", "ClusterFirst not applied: CLUSTER_DNS_IP is not configured")
    servers += [server for server in custom.get("nameservers") or [] if server not in servers]
    searches += [search for search in custom.get("searches") or [] if search not in searches]
    for option in custom.get("options") or []:
        options[option.get("name") or ""] = option.get("value")
    if not servers:
        return None
    out: dict[str, Any] = {"nameServers": servers}
    if searches:
        out["searchDomains"] = " ".join(searches)
    rendered = [name if value is None else f"{name}:{value}" for name, value in options.items() if name]
    if rendered:
        out["options"] = " ".join(rendered)
    return out


# ---------------------------------------------------------------- annotations


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
    zones = [zone.strip() for zone in str(annotations.get(ANNOTATION_ZONES) or "").split(";") if zone.strip()]
    if len(zones) > 1:
        reject(_annotation_path(ANNOTATION_ZONES), "ACI places a group in a single zone")
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
