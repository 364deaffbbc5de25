"""One Kubernetes container (or init container) -> one ACI container: command, env, resources, probes."""

from __future__ import annotations

from typing import Any

from shared.translate.common import Context, reject
from shared.translate.env import aci_env, container_env, expand_argv
from shared.translate.limits import INT32_MAX, int32
from shared.translate.networking import _ports
from shared.translate.resources import ContainerResources
from shared.translate.security import _security_context
from shared.translate.volumes import Volumes, volume_mounts

_CONTAINER_WARNED = {
    "lifecycle": "ACI runs no postStart/preStop hooks",
    "stdin": "ACI containers get no attached stdin",
    "stdinOnce": "ACI containers get no attached stdin",
    "tty": "ACI allocates a terminal only for exec sessions",
}


def _argv(ctx: Context, container: dict[str, Any], path: str, env: dict[str, Any]) -> list[str] | None:
    command, args = container.get("command"), container.get("args")
    if args and not command:
        # Kubernetes keeps the image ENTRYPOINT and replaces its CMD; ACI's command replaces both.
        return _image_entrypoint(ctx, container, path) + expand_argv(list(args), env, f"{path}.args")
    if not command:
        return None
    return expand_argv(list(command), env, f"{path}.command") + expand_argv(list(args or []), env, f"{path}.args")


def _image_entrypoint(ctx: Context, container: dict[str, Any], path: str) -> list[str]:
    """The ENTRYPOINT of the container's image, as the worker read it from the registry."""
    image = str(container.get("image") or "").strip()
    config = ctx.images.get(image) or {}
    if "Entrypoint" not in config:
        why = config.get("error") or "the image config was not read"
        reject(
            f"{path}.args",
            f"ACI replaces the image ENTRYPOINT whenever arguments are given and the ENTRYPOINT of {image!r} "
            f"is unknown ({why}); set command to the full argv (entrypoint followed by the args)",
        )
    return [str(part) for part in config.get("Entrypoint") or []]


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
    for key in ("restartPolicy", "restartPolicyRules"):
        if container.get(key):
            reject(f"{path}.{key}", "per-container restart policies are not available on ACI")
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


_DEFAULT_PERIOD = 10
_DEFAULT_FAILURES = 3
_PROBE_TIMING = ("initialDelaySeconds", "periodSeconds", "failureThreshold", "successThreshold", "timeoutSeconds")


def _probe(ctx: Context, probe: dict[str, Any], path: str, container: dict[str, Any]) -> dict[str, Any] | None:
    """The ACI probe, or None when the pod runs without it (a TCP or gRPC probe, UNENFORCEABLE_POD_FIELDS=warn)."""
    out: dict[str, Any] = {}
    for kind, label in (("tcpSocket", "TCP"), ("grpc", "gRPC")):
        if probe.get(kind):
            ctx.unenforceable(f"{path}.{kind}", f"ACI has no {label} probe; it is not run")
            return None
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
            out[key] = int32(probe[key], f"{path}.{key}")
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
    if not 1 <= number <= 65535:
        reject(f"{path}.port", f"{number} is not a port number (1-65535)")
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
        probe = _probe(ctx, container[key], f"{path}.{key}", container) if container.get(key) else None
        if probe is not None:
            props[key] = probe
    startup = container.get("startupProbe")
    if not startup or _probe(ctx, startup, f"{path}.startupProbe", container) is None:
        return
    if "livenessProbe" not in props:
        ctx.warn(f"{path}.startupProbe", "dropped: ACI has no startup probe and there is no liveness probe to delay")
        return
    grace = int(startup.get("initialDelaySeconds") or 0) + int(
        startup.get("failureThreshold") or _DEFAULT_FAILURES
    ) * int(startup.get("periodSeconds") or _DEFAULT_PERIOD)
    liveness = props["livenessProbe"]
    delay = int(liveness.get("initialDelaySeconds") or 0) + grace
    liveness["initialDelaySeconds"] = min(delay, INT32_MAX)  # ACI's field is an int32
    clamped = f", capped at {INT32_MAX}" if delay > INT32_MAX else ""
    ctx.warn(
        f"{path}.startupProbe",
        f"folded into livenessProbe.initialDelaySeconds (+{grace}s{clamped}): ACI has no startup probe",
    )
