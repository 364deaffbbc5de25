"""Field rules of k8s.io/kubernetes pkg/apis/core/validation (and coordination), with their exact wording.

A fake that accepts what a real apiserver refuses hides bugs until a real cluster answers 422, so each rule
here is one the real validator applies (version 1.32, the version the fake reports), with its field path and
message. Rules the real server does NOT have are deliberately absent: it does not check pod phase values or
phase transitions, container state shapes, restartCount, condition status values or that container statuses
name spec containers (ValidatePodStatusUpdate says so), nor an event's `type` on core/v1.

Two kinds of failure: decoding (a malformed quantity or MicroTime) is a 400 BadRequest before validation;
everything else is a Cause collected into one 422 Invalid.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.kube_errors import Cause, bad_request
from tests.fakes.kube_resources import ResourceType

# ----- apimachinery/pkg/util/validation ------------------------------------------------------------------------------
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"
IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
ANNOTATIONS_LIMIT = 256 * 1024


def max_len(n: int) -> str:
    return f"must be no more than {n} characters"


class GoValue:
    """A bad value Go prints with %#v or %v (structs, null): shown unquoted in the cause message."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len(253)] if len(value) > 253 else []
    return errs + ([] if DNS1123_SUBDOMAIN.fullmatch(value) else [SUBDOMAIN_MSG])


def is_dns1123_label(value: str) -> list[str]:
    errs = [max_len(63)] if len(value) > 63 else []
    return errs + ([] if DNS1123_LABEL.fullmatch(value) else [LABEL_MSG])


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters."""
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + msg for msg in is_dns1123_subdomain(prefix)]
    else:
        return [
            "a qualified name "
            + QUALIFIED_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len(63))
    if not QUALIFIED_NAME.fullmatch(name):
        errs.append("name part " + QUALIFIED_MSG)
    return errs


def is_label_value(value: str) -> list[str]:
    errs = [max_len(63)] if len(value) > 63 else []
    return errs + ([] if LABEL_VALUE.fullmatch(value) else [LABEL_VALUE_MSG])


def is_port_name(value: str) -> list[str]:
    """IsValidPortName: an IANA_SVC_NAME."""
    errs = [max_len(15)] if len(value) > 15 else []
    if not re.fullmatch(r"[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: like net.ParseIP but IPv4 octets may carry leading zeros."""
    if not isinstance(value, str) or not value:
        return None
    text = value
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value):
        text = ".".join(str(int(octet)) for octet in value.split("."))
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _invalid_each(field: str, value: Any, messages: list[str]) -> list[Cause]:
    return [Cause(field, "Invalid value", msg, value) for msg in messages]


# ----- metadata (ValidateObjectMetaAccessor: every kind, every write) --------------------------------------------
def validate_metadata(obj: dict[str, Any]) -> list[Cause]:
    """Label keys/values and annotation keys and total size (annotation values are free text)."""
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    for key, value in (meta.get("labels") or {}).items():
        causes += _invalid_each("metadata.labels", key, is_qualified_name(key))
        causes += _invalid_each("metadata.labels", value, is_label_value(str(value)))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        causes += _invalid_each("metadata.annotations", key, is_qualified_name(key.lower()))
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        causes.append(Cause("metadata.annotations", "Too long", f"must have at most {ANNOTATIONS_LIMIT} bytes"))
    return causes


# ----- resource.Quantity -------------------------------------------------------------------------------------------
QUANTITY_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
QUANTITY_FORMAT_MSG = f"quantities must match the regular expression '{QUANTITY_RE}'"
BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
SI_SUFFIX = {exp: suffix for suffix, exp in DECIMAL.items()}


class QuantityError(ValueError):
    pass


def parse_quantity(raw: Any) -> tuple[Decimal, str]:
    """(value, format) of a Quantity as resource.ParseQuantity reads it; JSON numbers are DecimalSI."""
    if isinstance(raw, bool) or raw is None:
        raise QuantityError(QUANTITY_FORMAT_MSG)
    if isinstance(raw, int | float):
        return Decimal(str(raw)), "DecimalSI"
    text = str(raw).strip()
    match = re.match(QUANTITY_RE, text)
    if not match:
        raise QuantityError(QUANTITY_FORMAT_MSG)
    number, suffix = match.groups()
    if number.count(".") > 1 or number.strip("+-") in ("", "."):
        raise QuantityError("unable to parse numeric part of quantity")
    try:
        value = Decimal(number)
    except InvalidOperation as exc:
        raise QuantityError("unable to parse numeric part of quantity") from exc
    if suffix in BINARY:
        return value * (Decimal(1024) ** BINARY[suffix]), "BinarySI"
    if suffix in DECIMAL:
        return value.scaleb(DECIMAL[suffix]), "DecimalSI"
    exponent = re.fullmatch(r"[eE]([-+]?[0-9]+)", suffix)
    if exponent:
        return value.scaleb(int(exponent.group(1))), "DecimalExponent"
    raise QuantityError("unable to parse quantity's suffix")


def quantity_string(raw: Any) -> str:
    """Quantity.String(): the canonical form ("0.5" -> "500m", "1024Mi" -> "1Gi") used in error messages."""
    value, fmt = parse_quantity(raw)
    if fmt == "BinarySI" and abs(value) >= 1024 and value == value.to_integral_value():
        power = 0
        while power < 6 and value % (Decimal(1024) ** (power + 1)) == 0:
            power += 1
        suffix = next(k for k, v in BINARY.items() if v == power) if power else ""
        return f"{int(value / (Decimal(1024) ** power))}{suffix}"
    rounded = value.quantize(Decimal("1e-9")) if value != value.quantize(Decimal("1e-9")) else value
    if rounded != value:
        rounded = (value * Decimal(10) ** 9).to_integral_value(rounding="ROUND_CEILING").scaleb(-9)
    exp = -9
    while exp < 18 and rounded % (Decimal(10) ** (exp + 3)) == 0:
        exp += 3
    if rounded == 0:
        exp = 0
    mantissa = int(rounded.scaleb(-exp))
    suffix = SI_SUFFIX[exp] if fmt != "DecimalExponent" else ("" if exp == 0 else f"e{exp}")
    return f"{mantissa}{suffix}"


def _quantity_maps(rt: ResourceType, obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every ResourceList of the object, with the path used when a value does not decode."""
    maps: list[tuple[str, dict[str, Any]]] = []
    if rt.plural == "pods":
        spec = obj.get("spec") or {}
        for key in ("containers", "initContainers"):
            for container in spec.get(key) or []:
                resources = container.get("resources") if isinstance(container, dict) else None
                for part in ("limits", "requests"):
                    if isinstance(resources, dict) and isinstance(resources.get(part), dict):
                        maps.append((part, resources[part]))
        if isinstance(spec.get("overhead"), dict):
            maps.append(("overhead", spec["overhead"]))
    if rt.plural == "nodes":
        status = obj.get("status") or {}
        for part in ("capacity", "allocatable"):
            if isinstance(status.get(part), dict):
                maps.append((part, status[part]))
    return maps


# ----- MicroTime (metav1.MicroTime.UnmarshalJSON: time.Parse(RFC3339Micro, s)) -------------------------------------
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def micro_time_error(value: Any) -> str | None:
    """Go's time.Parse error for a MicroTime string, or None when it parses (exactly six fraction digits)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "json: cannot unmarshal number into Go value of type string"
    prefix = f'parsing time "{value}" as "{RFC3339_MICRO}": '
    if not _MICRO_DATE.match(value):
        return prefix + f'cannot parse "{value}" as "2006"'
    rest = value[19:]
    if not re.match(r"\.\d{6}", rest):
        return prefix + f'cannot parse "{rest}" as ".000000"'
    zone = rest[7:]
    if zone != "Z" and not re.fullmatch(r"[+-]\d{2}:\d{2}", zone):
        return prefix + f'cannot parse "{zone}" as "Z07:00"'
    return None


def _micro_times(rt: ResourceType, obj: dict[str, Any]) -> list[Any]:
    if rt.plural == "leases":
        spec = obj.get("spec") or {}
        return [spec.get("acquireTime"), spec.get("renewTime")]
    if rt.plural == "events":
        return [obj.get("eventTime"), (obj.get("series") or {}).get("lastObservedTime")]
    return []


def decode_check(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise the 400 the JSON decoder gives for a value its Go type cannot hold (before any validation).

    Quantities that decode are stored in canonical form, as the real server re-encodes them
    ("10000" -> "10k", "0.5" -> "500m", "1024Mi" -> "1Gi"; checked against kube-apiserver 1.20).
    """
    problem: str | None = None
    for _, values in _quantity_maps(rt, obj):
        for key, value in values.items():
            try:
                values[key] = quantity_string(value)
            except QuantityError as exc:
                problem = problem or str(exc)
    for value in _micro_times(rt, obj):
        problem = problem or micro_time_error(value)
    if problem:
        raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {problem}')


# ----- pod spec ---------------------------------------------------------------------------------------------------
PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
OVERCOMMIT_FORBIDDEN_PREFIXES = ("hugepages-",)


def supported(values: tuple[str, ...]) -> str:
    return "supported values: " + ", ".join(f'"{v}"' for v in values)


def _ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports or []):
        where = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            errs = is_port_name(name)
            if errs:
                causes += _invalid_each(f"{where}.name", name, errs)
            elif name in names:
                causes.append(Cause(f"{where}.name", "Duplicate value", value=name))
            else:
                names.add(name)
        number = port.get("containerPort") or 0
        if number == 0:
            causes.append(Cause(f"{where}.containerPort", "Required value"))
        elif not 1 <= number <= 65535:
            causes.append(Cause(f"{where}.containerPort", "Invalid value", PORT_RANGE_MSG, number))
        host = port.get("hostPort") or 0
        if host and not 1 <= host <= 65535:
            causes.append(Cause(f"{where}.hostPort", "Invalid value", PORT_RANGE_MSG, host))
        protocol = port.get("protocol") or ""
        if not protocol:
            causes.append(Cause(f"{where}.protocol", "Required value"))
        elif protocol not in PROTOCOLS:
            causes.append(Cause(f"{where}.protocol", "Unsupported value", supported(PROTOCOLS), protocol))
    return causes


ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


def _env(env: Any, path: str) -> list[Cause]:
    """Relaxed env var names (RelaxedEnvironmentVariableValidation, on by default in 1.32) and valueFrom."""
    causes: list[Cause] = []
    for i, var in enumerate(env or []):
        where = f"{path}[{i}]"
        name = var.get("name") or ""
        if not name:
            causes.append(Cause(f"{where}.name", "Required value"))
        elif not re.fullmatch(r"[ -<>-~]+", name):
            msg = "a valid environment variable name must consist only of printable ASCII characters other than '='"
            causes.append(Cause(f"{where}.name", "Invalid value", msg, name))
        source = var.get("valueFrom")
        if source is None:
            continue
        chosen = [key for key in ENV_SOURCES if source.get(key) is not None]
        if not chosen:
            msg = "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
            causes.append(Cause(f"{where}.valueFrom", "Invalid value", msg, ""))
        for extra in chosen[1:]:
            causes.append(
                Cause(f"{where}.valueFrom.{extra}", "Forbidden", "may not have more than one field specified at a time")
            )
        for key in ("configMapKeyRef", "secretKeyRef"):
            ref = source.get(key)
            if key in chosen[:1] and isinstance(ref, dict):
                if not ref.get("name"):
                    causes.append(Cause(f"{where}.valueFrom.{key}.name", "Required value"))
                if not ref.get("key"):
                    causes.append(Cause(f"{where}.valueFrom.{key}.key", "Required value"))
        if var.get("value") and chosen:
            causes.append(
                Cause(f"{where}.valueFrom", "Invalid value", "may not be specified when `value` is not empty", "")
            )
    return causes


def _mounts(mounts: Any, volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(mounts or []):
        where = f"{path}[{i}]"
        name = mount.get("name") or ""
        if not name:
            causes.append(Cause(f"{where}.name", "Required value"))
        if name not in volumes:
            causes.append(Cause(f"{where}.name", "Not found", value=name))
        mount_path = mount.get("mountPath") or ""
        if not mount_path:
            causes.append(Cause(f"{where}.mountPath", "Required value"))
        if mount_path in seen:
            causes.append(Cause(f"{where}.mountPath", "Invalid value", "must be unique", mount_path))
        seen.add(mount_path)
    return causes


def _resource_name(name: str, where: str) -> list[Cause]:
    causes = _invalid_each(where, name, is_qualified_name(name))
    standard = name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-")
    if not causes and "/" not in name and not standard:
        causes.append(Cause(where, "Invalid value", "must be a standard resource for containers", name))
    return causes


def _resources(resources: Any, path: str) -> list[Cause]:
    """Names, non-negative values, requests <= limits (hugepages and extended resources: equal, limit set)."""
    resources = resources or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    causes: list[Cause] = []
    for part, values in (("limits", limits), ("requests", requests)):
        for name, raw in values.items():
            where = f"{path}.{part}[{name}]"
            causes += _resource_name(name, where)
            value, _ = parse_quantity(raw)
            if value < 0:
                causes.append(Cause(where, "Invalid value", "must be greater than or equal to 0", quantity_string(raw)))
            elif _is_integer_resource(name) and value != value.to_integral_value():
                causes.append(Cause(where, "Invalid value", "must be an integer", quantity_string(raw)))
    for name, raw in requests.items():
        overcommit = not (_is_integer_resource(name) or name.startswith(OVERCOMMIT_FORBIDDEN_PREFIXES))
        if name in limits:
            request, limit = parse_quantity(raw)[0], parse_quantity(limits[name])[0]
            shown, cap = quantity_string(raw), quantity_string(limits[name])
            if request != limit and not overcommit:
                causes.append(
                    Cause(f"{path}.requests", "Invalid value", f"must be equal to {name} limit of {cap}", shown)
                )
            elif request > limit:
                detail = f"must be less than or equal to {name} limit of {cap}"
                causes.append(Cause(f"{path}.requests", "Invalid value", detail, shown))
        elif not overcommit:
            causes.append(
                Cause(f"{path}.limits", "Required value", "Limit must be set for non overcommitable resources")
            )
    return causes


def _is_integer_resource(name: str) -> bool:
    """Extended resources (a domain outside kubernetes.io) must be whole numbers and are not overcommitted."""
    if "/" not in name:
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def _containers(containers: Any, path: str, volumes: set[str], required: bool) -> list[Cause]:
    """validateContainers + validateContainerCommon, in the real order of checks."""
    if not containers:
        return [Cause(path, "Required value")] if required else []
    causes: list[Cause] = []
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}[{index}]"
        if not isinstance(container, dict):
            causes.append(Cause(f"{where}.name", "Required value"))
            continue
        name = container.get("name")
        if not name:
            causes.append(Cause(f"{where}.name", "Required value"))
        elif is_dns1123_label(name):
            causes += _invalid_each(f"{where}.name", name, is_dns1123_label(name))
        elif name in seen:
            causes.append(Cause(f"{where}.name", "Duplicate value", value=name))
        else:
            seen.add(name)
        if not container.get("image"):
            causes.append(Cause(f"{where}.image", "Required value"))
        causes += _ports(container.get("ports"), f"{where}.ports")
        causes += _env(container.get("env"), f"{where}.env")
        causes += _mounts(container.get("volumeMounts"), volumes, f"{where}.volumeMounts")
        policy = container.get("imagePullPolicy")
        if policy not in PULL_POLICIES:
            causes.append(
                Cause(f"{where}.imagePullPolicy", "Unsupported value", supported(PULL_POLICIES), policy or "")
            )
        causes += _resources(container.get("resources"), f"{where}.resources")
    return causes


VOLUME_REQUIRED = {
    "secret": "secretName",
    "configMap": "name",
    "hostPath": "path",
    "persistentVolumeClaim": "claimName",
}


def _volume_sources() -> tuple[str, ...]:
    from tests.fakes import kube_schema

    props = (kube_schema.definition("io.k8s.api.core.v1.Volume") or {}).get("properties") or {}
    return tuple(key for key in props if key != "name")


def _volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    """(names usable by mounts, causes): a DNS-label name, unique, exactly one source."""
    sources = _volume_sources()
    good: set[str] = set()
    causes: list[Cause] = []
    for i, volume in enumerate(volumes or []):
        where = f"{path}[{i}]"
        errs: list[Cause] = []
        chosen = [key for key in sources if volume.get(key) is not None]
        if not chosen:
            errs.append(Cause(where, "Required value", "must specify a volume type"))
        for extra in chosen[1:]:
            errs.append(Cause(f"{where}.{extra}", "Forbidden", "may not specify more than 1 volume type"))
        if chosen and chosen[0] in VOLUME_REQUIRED:
            key = VOLUME_REQUIRED[chosen[0]]
            if not (volume.get(chosen[0]) or {}).get(key):
                errs.append(Cause(f"{where}.{chosen[0]}.{key}", "Required value"))
        name = volume.get("name") or ""
        if not name:
            errs.append(Cause(f"{where}.name", "Required value"))
        else:
            errs += _invalid_each(f"{where}.name", name, is_dns1123_label(name))
        if name in good:
            errs.append(Cause(f"{where}.name", "Duplicate value", value=name))
        if errs:
            causes += errs
        else:
            good.add(name)
    return good, causes


def validate_pod_spec(spec: dict[str, Any]) -> list[Cause]:
    """ValidatePodSpec for what pods here use: volumes, containers, restart/DNS policy, nodeName."""
    volumes, causes = _volumes(spec.get("volumes"), "spec.volumes")
    causes += _containers(spec.get("initContainers"), "spec.initContainers", volumes, False)
    causes += _containers(spec.get("containers"), "spec.containers", volumes, True)
    policy = spec.get("restartPolicy")
    if not policy:
        causes.append(Cause("spec.restartPolicy", "Required value"))
    elif policy not in RESTART_POLICIES:
        causes.append(Cause("spec.restartPolicy", "Unsupported value", supported(RESTART_POLICIES), policy))
    dns = spec.get("dnsPolicy")
    if not dns:
        causes.append(Cause("spec.dnsPolicy", "Required value"))
    elif dns not in DNS_POLICIES:
        causes.append(Cause("spec.dnsPolicy", "Unsupported value", supported(DNS_POLICIES), dns))
    elif dns == "None":
        config = spec.get("dnsConfig")
        if config is None:
            causes.append(
                Cause("spec.dnsConfig", "Required value", "must provide `dnsConfig` when `dnsPolicy` is None")
            )
        elif not config.get("nameservers"):
            detail = "must provide at least one DNS nameserver when `dnsPolicy` is None"
            causes.append(Cause("spec.dnsConfig.nameservers", "Required value", detail))
    node = spec.get("nodeName") or ""
    if node:
        causes += _invalid_each("spec.nodeName", node, is_dns1123_subdomain(node))
    return causes


# ----- pod status -------------------------------------------------------------------------------------------------
SYSTEM_CONDITIONS = ("PodScheduled", "Ready", "Initialized")


def normalize_pod_status(old: dict[str, Any], new: dict[str, Any]) -> None:
    """What PrepareForUpdate and the v1<->internal conversion do to a status write before it is validated.

    An empty qosClass is backfilled from the stored pod; podIP wins over a different podIPs[0] (and fills an
    empty podIPs); podIP/hostIP are read back from podIPs[0]/hostIPs[0].
    """
    status = new.setdefault("status", {})
    if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
        status["qosClass"] = old["status"]["qosClass"]
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        ip, ips = status.get(single) or "", status.get(plural) or []
        if ip and (not ips or ips[0].get("ip") != ip):
            status[plural] = [{"ip": ip}]
        if status.get(plural):
            status[single] = status[plural][0].get("ip", "")


def _state_transitions(new: list[dict], old: list[dict], path: str, policy: str, spec: dict | None) -> list[Cause]:
    """ValidateContainerStateTransition: a terminated container that will not restart may not come back."""
    if policy == "Always":
        return []
    restartable = {
        c.get("name") for c in (spec or {}).get("initContainers") or [] if c.get("restartPolicy") == "Always"
    }
    causes: list[Cause] = []
    for i, before in enumerate(old):
        terminated = (before.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        if (terminated.get("exitCode") or 0) != 0 and policy == "OnFailure":
            continue
        if spec is not None and before.get("name") in restartable:
            continue
        for after in new:
            if after.get("name") == before.get("name") and (after.get("state") or {}).get("terminated") is None:
                causes.append(
                    Cause(f"{path}[{i}].state", "Forbidden", "may not be transitioned to non-terminated state")
                )
    return causes


def _ips(entries: list[dict], path: str, what: str) -> list[Cause]:
    causes: list[Cause] = []
    parsed = []
    for i, entry in enumerate(entries):
        ip = entry.get("ip", "")
        address = parse_ip(ip)
        if address is None:
            causes.append(Cause(f"{path}[{i}]", "Invalid value", IP_MSG, ip))
        parsed.append(address)
    if len(entries) > 1:
        families = [a.version for a in parsed if a is not None]
        if len(entries) > 2 or len(set(families)) != len(families):
            rendered = (
                "[]core." + what + "{" + ", ".join(f'core.{what}{{IP:"{e.get("ip", "")}"}}' for e in entries) + "}"
            )
            detail = "may specify no more than one IP for each IP family"
            causes.append(Cause(path, "Invalid value", detail, GoValue(rendered)))
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if entry.get("ip") in seen:
                causes.append(
                    Cause(f"{path}[{i}]", "Duplicate value", value=GoValue(f'core.{what}{{IP:"{entry["ip"]}"}}'))
                )
            seen.add(entry.get("ip"))
    return causes


def validate_pod_status_update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """ValidatePodStatusUpdate (1.32) for the fields a node writes; run after normalize_pod_status."""
    status, before = new.get("status") or {}, old.get("status") or {}
    causes: list[Cause] = []
    for i, condition in enumerate(status.get("conditions") or []):
        kind = condition.get("type") or ""
        if kind not in SYSTEM_CONDITIONS:
            causes += _invalid_each(f"metadata.conditions[{i}].Type", kind, is_qualified_name(kind))
    nominated = status.get("nominatedNodeName") or ""
    if nominated and nominated != (before.get("nominatedNodeName") or ""):
        causes += _invalid_each("status.nominatedNodeName", nominated, is_dns1123_subdomain(nominated))
    if (status.get("qosClass") or "") != (before.get("qosClass") or ""):
        causes.append(Cause("status.qosClass", "Invalid value", "field is immutable", status.get("qosClass") or ""))
    spec = old.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    causes += _state_transitions(
        status.get("containerStatuses") or [],
        before.get("containerStatuses") or [],
        "status.containerStatuses",
        policy,
        None,
    )
    causes += _state_transitions(
        status.get("initContainerStatuses") or [],
        before.get("initContainerStatuses") or [],
        "status.initContainerStatuses",
        policy,
        spec,
    )
    causes += _ips(status.get("podIPs") or [], "status.podIPs", "PodIP")
    causes += _ips(status.get("hostIPs") or [], "status.hostIPs", "HostIP")
    return causes


# ----- nodes ------------------------------------------------------------------------------------------------------
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _taints(taints: list[dict]) -> list[Cause]:
    """validateNodeTaints; the real path really is `metadata.taints` (it is built from the metadata path)."""
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        where = f"metadata.taints[{i}]"
        key, value, effect = taint.get("key") or "", taint.get("value") or "", taint.get("effect") or ""
        causes += _invalid_each(f"{where}.key", key, is_qualified_name(key))
        errs = is_label_value(value)
        if errs:
            causes.append(Cause(f"{where}.value", "Invalid value", ";".join(errs), value))
        if not effect:
            causes.append(Cause(f"{where}.effect", "Required value"))
        elif effect not in TAINT_EFFECTS:
            causes.append(Cause(f"{where}.effect", "Unsupported value", supported(TAINT_EFFECTS), effect))
        if (key, effect) in seen:
            shown = f'core.Taint{{Key:"{key}", Value:"{value}", Effect:"{effect}", TimeAdded:(*v1.Time)(nil)}}'
            causes.append(
                Cause(where, "Duplicate value", "taints must be unique by key and effect pair", GoValue(shown))
            )
            continue
        seen.add((key, effect))
    return causes


def validate_node(new: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateNode / ValidateNodeUpdate (both the main resource and /status)."""
    spec, status = new.get("spec") or {}, new.get("status") or {}
    causes = _taints(spec.get("taints") or [])
    for part in ("capacity", "allocatable"):
        for name, raw in (status.get(part) or {}).items():
            if parse_quantity(raw)[0] < 0:
                detail = "must be greater than or equal to 0"
                causes.append(Cause(f"status.{part}.{name}", "Invalid value", detail, quantity_string(raw)))
    if old is None:
        return causes
    seen: set[tuple[str, str]] = set()
    for i, address in enumerate(status.get("addresses") or []):
        pair = (address.get("type") or "", address.get("address") or "")
        if pair in seen:
            shown = GoValue(f'core.NodeAddress{{Type:"{pair[0]}", Address:"{pair[1]}"}}')
            causes.append(Cause(f"status.addresses[{i}]", "Duplicate value", value=shown))
        seen.add(pair)
    before = (old.get("spec") or {}).get("providerID") or ""
    if before and before != (spec.get("providerID") or ""):
        detail = 'node updates may not change providerID except from "" to valid'
        causes.append(Cause("spec.providerID", "Forbidden", detail))
    return causes


# ----- events (core/v1: legacyValidateEvent only) ---------------------------------------------------------------------
def validate_event(event: dict[str, Any]) -> list[Cause]:
    """Namespace agreement, and the reporting fields once eventTime is set; `type` is free text on core/v1."""
    namespace = (event.get("metadata") or {}).get("namespace") or ""
    involved = event.get("involvedObject") or {}
    involved_ns = involved.get("namespace") or ""
    causes: list[Cause] = []
    mismatch = Cause("involvedObject.namespace", "Invalid value", "does not match event.namespace", involved_ns)
    if not event.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (involved_ns and namespace != involved_ns):
            causes.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = event.get("reportingComponent") or ""
        if not controller:
            causes.append(Cause("reportingController", "Required value"))
        causes += _invalid_each("reportingController", controller, is_qualified_name(controller))
        for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
            value = event.get(field) or ""
            if not value:
                causes.append(Cause(field, "Required value"))
            if len(value) > limit:
                causes.append(Cause(field, "Invalid value", f"can have at most {limit} characters", ""))
        if len(event.get("message") or "") > 1024:
            causes.append(Cause("message", "Invalid value", "can have at most 1024 characters", ""))
    causes += _invalid_each("namespace", namespace, is_dns1123_subdomain(namespace))
    return causes


def validate_event_name(name: str) -> list[Cause]:
    """Event names are only path segments on core/v1 (no DNS rule): not `.`/`..`, no `/` or `%`."""
    if not name:
        return [Cause("metadata.name", "Required value", "name or generateName is required")]
    if name in (".", ".."):
        return [Cause("metadata.name", "Invalid value", f'may not be "{name}"', name)]
    return [
        Cause("metadata.name", "Invalid value", f"may not contain '{bad}'", name) for bad in ("/", "%") if bad in name
    ]


# ----- leases -----------------------------------------------------------------------------------------------------
def validate_lease(lease: dict[str, Any]) -> list[Cause]:
    spec = lease.get("spec") or {}
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(Cause("spec.leaseDurationSeconds", "Invalid value", "must be greater than 0", duration))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(
            Cause("spec.leaseTransitions", "Invalid value", "must be greater than or equal to 0", transitions)
        )
    return causes


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Per-kind field validation of a whole object after defaulting (create, update, and node /status)."""
    causes = validate_metadata(obj)
    if rt.plural == "pods":
        causes += validate_pod_spec(obj.get("spec") or {})
    elif rt.plural == "nodes":
        causes += validate_node(obj, old)
    elif rt.plural == "events":
        causes += validate_event(obj)
    elif rt.plural == "leases":
        causes += validate_lease(obj)
    return causes
