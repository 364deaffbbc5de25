"""Container ports, the group's IP address (public, private subnet) and DNS settings."""

from __future__ import annotations

import base64
import re
from typing import Any

from shared.translate.annotations import (
    ANNOTATION_DEFAULT_PORT,
    ANNOTATION_DNS_NAME_LABEL,
    ANNOTATION_DNS_NAME_LABEL_ALIAS,
    ANNOTATION_INJECT_DNS,
    ANNOTATION_IP_ADDRESS,
    ANNOTATION_SUBNET,
    _annotation_path,
)
from shared.translate.common import Context, reject

DNS_NAME_LABEL = re.compile(r"^[a-z][-a-z0-9]{3,61}[a-z0-9]$")
MAX_PORTS_PER_IP = 5
MAX_NAMESERVERS, MAX_SEARCHES, MAX_SEARCH_CHARS = 3, 32, 2048
"""The kubelet's resolv.conf limits (validation.MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars)."""
KUBE_PROXY_VERSION = "v1.9.10"
"""The kubeVersion setting azure-aci sends; ACI chooses its kube-proxy build."""
DEFAULT_PORT_REASON = "DefaultPortOpened"
"""Normal Event on a pod that declared no ports and got one opened (the 2017 connector's port 80)."""
_PORT = re.compile(r"^(?P<number>\d{1,5})(/(?P<protocol>TCP|UDP))?$", re.IGNORECASE)


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


def _network(ctx: Context, annotations: dict[str, Any], containers: list[dict], properties: dict[str, Any]) -> None:
    subnet = (annotations.get(ANNOTATION_SUBNET) or "").strip()
    subnets = [subnet] if subnet else list(ctx.options.subnet_ids)
    ports: list[dict[str, Any]] = []
    for container in containers:
        for port in container["properties"].get("ports") or []:
            if port not in ports:
                ports.append(port)
    asked = (annotations.get(ANNOTATION_IP_ADDRESS) or "").strip().lower()
    if not ports and asked != "none":
        ports = _open_default_port(ctx, annotations, containers, "private" if subnets else asked or "public")
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
            reject(_annotation_path(ANNOTATION_IP_ADDRESS), "an IP address needs at least one containerPort")
        if len(ports) > MAX_PORTS_PER_IP:
            reject(_last_port_path(ctx.spec), f"{len(ports)} ports; ACI exposes at most {MAX_PORTS_PER_IP} per IP")
        ip: dict[str, Any] = {"ports": ports, "type": kind.capitalize()}
        if label:
            ip["dnsNameLabel"] = label
        properties["ipAddress"] = ip
    dns = _dns_config(ctx, annotations, bool(subnets))
    if dns and ctx.windows:
        ctx.warn("spec.dnsPolicy", "ignored: ACI applies no DNS settings to Windows groups")
    elif dns:
        properties["dnsConfig"] = dns


def kube_proxy_extension(kubeconfig: str, cluster_cidr: str) -> dict[str, Any]:
    """ACI's kube-proxy extension (as virtual-kubelet azure-aci sends it): settings clear, kubeconfig protected."""
    settings = {"kubeVersion": KUBE_PROXY_VERSION}
    if cluster_cidr:
        settings["clusterCidr"] = cluster_cidr
    protected = {"kubeConfig": base64.b64encode(kubeconfig.encode("utf-8")).decode("ascii")}
    properties = {"extensionType": "kube-proxy", "version": "1.0", "settings": settings, "protectedSettings": protected}
    return {"name": "kube-proxy", "properties": properties}


def _open_default_port(
    ctx: Context, annotations: dict[str, Any], containers: list[dict], kind: str
) -> list[dict[str, Any]]:
    """The 2017 connector gave a pod with no ports a public IP with port 80; here only on request.

    Exposing a port nobody declared is a security decision, so it is never silent: the profile
    (VIRTUAL_NODE_PROFILE=aci-connector-2017) or the pod's annotation asks for it, and the pod gets a Normal
    Event naming the port and the reason. The port is added to the first container (ACI exposes on the IP
    only ports a container declares). Returns the IP's ports: [] when nothing is opened.
    """
    raw = annotations.get(ANNOTATION_DEFAULT_PORT)
    if raw is None:
        value = ctx.options.default_port
        why = f"VIRTUAL_NODE_PROFILE={ctx.options.profile} asks for the 2017 connector's behaviour"
    else:
        value = str(raw).strip()
        why = f"annotation {ANNOTATION_DEFAULT_PORT}: {value!r} asks for it"
        value = {"true": "80/TCP", "false": "", "none": ""}.get(value.lower(), value)
    if not value:
        return []
    match = _PORT.match(value)
    number = int(match["number"]) if match else 0
    if not 1 <= number <= 65535:
        reject(_annotation_path(ANNOTATION_DEFAULT_PORT), f"{value!r} is not true, none or a port like 80 or 53/UDP")
    port = {"port": number, "protocol": (match["protocol"] or "TCP").upper()}
    containers[0]["properties"]["ports"] = [port]
    ctx.notices.append(
        (
            DEFAULT_PORT_REASON,
            f"The pod declares no ports: opened port {number}/{port['protocol']} on the container group's {kind} IP "
            f"because {why}. Declare containerPort to choose the ports, or set annotation "
            f"{ANNOTATION_DEFAULT_PORT}: none to open none.",
        )
    )
    return [port]


def _last_port_path(spec: dict[str, Any]) -> str:
    """The ports of the last container that has any: where the group's port count went over."""
    with_ports = [i for i, c in enumerate(spec.get("containers") or []) if c.get("ports")]
    return f"spec.containers[{with_ports[-1] if with_ports else 0}].ports"


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
    if len(servers) > MAX_NAMESERVERS:
        ctx.warn("spec.dnsConfig.nameservers", f"only the first {MAX_NAMESERVERS} are used, as the kubelet does")
        servers = servers[:MAX_NAMESERVERS]
    while len(searches) > MAX_SEARCHES or len(" ".join(searches)) > MAX_SEARCH_CHARS:
        ctx.warn("spec.dnsConfig.searches", f"{searches.pop()!r} dropped: resolv.conf search limits, as the kubelet")
    out: dict[str, Any] = {"nameServers": servers}
    if searches:
        out["searchDomains"] = " ".join(searches)
    rendered = [name if value is None else f"{name}:{value}" for name, value in options.items() if name]
    if rendered:
        out["options"] = " ".join(rendered)
    return out
