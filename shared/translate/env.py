"""Environment variables and downward API values, with Kubernetes semantics.

Kubernetes resolves env in the kubelet: envFrom first, then env in order (a later name
wins), `$(VAR)` in values expands to variables defined before it, and `$(VAR)` in
command/args expands to any variable of the container. ACI only takes final values, so
all of that happens here. Anything read from a Secret stays secret: it goes to
`secureValue`, and so does any value that expands a secret variable; a command that would
expand one is refused instead of leaking it into the (readable) command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.quantities import ceil_div, parse_quantity
from shared.translate.common import Context, as_text, format_map, reject
from shared.translate.resources import ContainerResources

ACI_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_KEYED = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_RESOURCE_FIELDS = ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")


@dataclass
class EnvValue:
    value: str
    secure: bool = False


def expand(text: str, lookup: Callable[[str], EnvValue | None]) -> tuple[str, bool]:
    """Kubernetes `$(VAR)` expansion (`$$` escapes); returns the text and whether a secure variable was used."""
    out: list[str] = []
    secure = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$" or i + 1 >= n:
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            found = lookup(name)
            if found is None:
                out.append(f"$({name})")
            else:
                out.append(found.value)
                secure = secure or found.secure
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out), secure


def field_ref_value(ctx: Context, field_path: str, path: str, *, volume: bool = False) -> str:
    """The value of a downward API fieldRef.fieldPath for this pod."""
    metadata, spec = ctx.metadata, ctx.spec
    simple = {
        "metadata.name": lambda: metadata.get("name") or "",
        "metadata.namespace": lambda: metadata.get("namespace") or "default",
        "metadata.uid": lambda: metadata.get("uid") or "",
    }
    if field_path in simple:
        return simple[field_path]()
    keyed = _KEYED.match(field_path)
    if keyed:
        return str((metadata.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    if volume and field_path in ("metadata.labels", "metadata.annotations"):
        return format_map(metadata.get(field_path.split(".")[1]) or {})
    if not volume:
        if field_path == "spec.nodeName":
            return spec.get("nodeName") or ""
        if field_path == "spec.serviceAccountName":
            return spec.get("serviceAccountName") or spec.get("serviceAccount") or ""
        if field_path in ("status.hostIP", "status.hostIPs"):
            host_ip = (ctx.pod.get("status") or {}).get("hostIP") or ctx.options.node_ip
            if not host_ip:
                ctx.warn(path, "the virtual node has no IP yet (set VIRTUAL_NODE_IP); the value is empty")
            return host_ip
        if field_path in ("status.podIP", "status.podIPs"):
            reject(path, "the pod IP is assigned by ACI after the group is created and cannot be passed in")
    reject(path, f"fieldPath {field_path!r} is not supported")


def resource_field_value(
    ctx: Context,
    ref: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
    own_container: str | None,
) -> str:
    """resourceFieldRef rendered like the kubelet: ceil(value / divisor), from what the container gets on ACI."""
    resource = ref.get("resource") or ""
    if resource not in _RESOURCE_FIELDS:
        reject(f"{path}.resource", f"{resource!r} is not available on ACI (only cpu and memory requests/limits)")
    container = ref.get("containerName") or own_container
    if container not in resources:
        reject(f"{path}.containerName", f"no container named {container!r}")
    try:
        divisor = parse_quantity(ref.get("divisor") or "1")
    except ValueError:
        reject(f"{path}.divisor", f"{ref.get('divisor')!r} is not a quantity")
    if divisor <= 0:
        reject(f"{path}.divisor", "must be positive")
    value = resources[container].value(resource)
    if resource.endswith(".cpu"):
        value, divisor = value * 1000, divisor * 1000
    return str(ceil_div(value, divisor))


def _key_ref(ctx: Context, ref: dict[str, Any], path: str, kind: str) -> EnvValue | None:
    name, key = ref.get("name") or "", ref.get("key") or ""
    optional = bool(ref.get("optional"))
    data = ctx.secret_data(name) if kind == "secret" else ctx.config_map_data(name)
    label = "Secret" if kind == "secret" else "ConfigMap"
    if data is None:
        if optional:
            return None
        reject(f"{path}.name", f"{label} {name!r} not found in the pod's namespace")
    if key not in data:
        if optional:
            return None
        reject(f"{path}.key", f"{label} {name!r} has no key {key!r}")
    return EnvValue(as_text(data[key], f"{path}.key"), secure=kind == "secret")


def _env_from(ctx: Context, container: dict[str, Any], path: str, env: dict[str, EnvValue]) -> None:
    for j, source in enumerate(container.get("envFrom") or []):
        source_path = f"{path}.envFrom[{j}]"
        prefix = source.get("prefix") or ""
        if "secretRef" in source:
            ref, kind, label = source["secretRef"] or {}, "secret", "Secret"
        elif "configMapRef" in source:
            ref, kind, label = source["configMapRef"] or {}, "configMap", "ConfigMap"
        else:
            reject(source_path, "envFrom needs secretRef or configMapRef")
        name = ref.get("name") or ""
        data = ctx.secret_data(name) if kind == "secret" else ctx.config_map_data(name)
        ref_path = f"{source_path}.{kind}Ref"
        if data is None:
            if ref.get("optional"):
                continue
            reject(f"{ref_path}.name", f"{label} {name!r} not found in the pod's namespace")
        for key, raw in data.items():
            full = prefix + key
            if not ACI_ENV_NAME.match(full):
                ctx.warn(ref_path, f"key {full!r} skipped: not a valid environment variable name")
                continue
            env[full] = EnvValue(as_text(raw, f"{ref_path} key {key!r}"), secure=kind == "secret")


def container_env(
    ctx: Context,
    container: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
) -> dict[str, EnvValue]:
    """Final environment of one container, in Kubernetes order and precedence."""
    env: dict[str, EnvValue] = {}
    _env_from(ctx, container, path, env)
    for j, var in enumerate(container.get("env") or []):
        var_path = f"{path}.env[{j}]"
        name = var.get("name") or ""
        if not ACI_ENV_NAME.match(name):
            reject(f"{var_path}.name", f"{name!r} is not a name ACI accepts ([-._a-zA-Z][-._a-zA-Z0-9]*)")
        source = var.get("valueFrom")
        if source is None:
            text, secure = expand(str(var.get("value") or ""), env.get)
            env[name] = EnvValue(text, secure)
            continue
        resolved = _value_from(ctx, source, f"{var_path}.valueFrom", resources, container.get("name"))
        if resolved is not None:
            env[name] = resolved
    return env


def _value_from(
    ctx: Context,
    source: dict[str, Any],
    path: str,
    resources: dict[str, ContainerResources],
    own_container: str | None,
) -> EnvValue | None:
    if "secretKeyRef" in source:
        return _key_ref(ctx, source["secretKeyRef"] or {}, f"{path}.secretKeyRef", "secret")
    if "configMapKeyRef" in source:
        return _key_ref(ctx, source["configMapKeyRef"] or {}, f"{path}.configMapKeyRef", "configMap")
    if "fieldRef" in source:
        field_path = (source["fieldRef"] or {}).get("fieldPath") or ""
        return EnvValue(field_ref_value(ctx, field_path, f"{path}.fieldRef.fieldPath"))
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"] or {}
        return EnvValue(resource_field_value(ctx, ref, f"{path}.resourceFieldRef", resources, own_container))
    if "fileKeyRef" in source:
        reject(f"{path}.fileKeyRef", "ACI cannot read environment values from files in volumes")
    reject(path, "unknown valueFrom source")


def aci_env(env: dict[str, EnvValue]) -> list[dict[str, str]]:
    """ACI environmentVariables: secret-derived values only ever in secureValue."""
    return [
        {"name": name, "secureValue": item.value} if item.secure else {"name": name, "value": item.value}
        for name, item in env.items()
    ]


def expand_argv(argv: list[Any], env: dict[str, EnvValue], path: str) -> list[str]:
    """command/args with `$(VAR)` expanded; a secret variable cannot land in a command line."""
    out = []
    for k, arg in enumerate(argv):
        text, secure = expand(str(arg), env.get)
        if secure:
            reject(f"{path}[{k}]", "expands a variable read from a Secret; ACI commands are not secret")
        out.append(text)
    return out
