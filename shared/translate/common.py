"""Shared plumbing of the Pod -> container group translation: options, context, errors, lookups.

Kept apart from the translators so env, volume and resource code share one notion of
"reject this field" (UnsupportedPodSpec naming the path) and "drop it with a warning".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, NoReturn

from shared.errors import UnsupportedPodSpec

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
ANNOTATION_UNENFORCEABLE = "aci-connector.io/unenforceable-fields"
"""Per-pod choice (warn or reject) over the UNENFORCEABLE_POD_FIELDS setting."""


def reject(path: str, reason: str) -> NoReturn:
    """Stop the translation: the pod cannot run on ACI as written; the message starts with the field path."""
    raise UnsupportedPodSpec(f"{path}: {reason}", field=path)


@dataclass(frozen=True)
class TranslateOptions:
    """Deployment-wide inputs of the translation, read once from settings (see from_settings)."""

    region: str = "westeurope"
    default_cpu: Decimal = Decimal(1)
    default_memory_gb: Decimal = Decimal("1.5")
    max_cpu: Decimal = Decimal(4)
    max_memory_gb: Decimal = Decimal(16)
    linux_node: str = "aci-connector-linux"
    windows_node: str = "aci-connector-windows"
    subnet_ids: tuple[str, ...] = ()
    cluster_dns_ip: str = ""
    cluster_domain: str = "cluster.local"
    service_account_token: str = ""
    ca_cert: str = ""
    node_ip: str = ""
    unenforceable: str = "reject"
    cluster_cidr: str = ""
    change_feed_workspace: tuple[str, str] = ("", "")
    """(workspace id, key) every group sends its container events to, unless the pod names its own."""
    default_port: str = ""
    """Port opened for a pod that declares none ("80/TCP" under VIRTUAL_NODE_PROFILE=aci-connector-2017)."""
    profile: str = "default"

    @classmethod
    def from_settings(cls, settings: Any) -> TranslateOptions:
        """Options from a shared.config.Settings (or any mapping); settings not declared yet fall back to defaults."""
        if settings is None:
            return _default_options()
        if isinstance(settings, TranslateOptions):
            return settings
        base = cls()

        def get(name: str, default: Any) -> Any:
            try:
                value = settings[name]
            except KeyError:
                return default
            return default if value is None or value == "" else value

        profile = getattr(settings, "profile", None)  # shared.config.Settings; a plain mapping has none
        subnets = get("ACI_SUBNET_IDS", "")
        if isinstance(subnets, str):
            subnets = tuple(part.strip() for part in subnets.split(",") if part.strip())
        return cls(
            region=str(get("ACI_REGION", base.region)),
            default_cpu=_decimal(get("DEFAULT_CPU", base.default_cpu)),
            default_memory_gb=_decimal(get("DEFAULT_MEMORY_GB", base.default_memory_gb)),
            max_cpu=_decimal(get("ACI_MAX_CPU", base.max_cpu)),
            max_memory_gb=_decimal(get("ACI_MAX_MEMORY_GB", base.max_memory_gb)),
            linux_node=str(get("VIRTUAL_NODE_NAME_LINUX", base.linux_node)),
            windows_node=str(get("VIRTUAL_NODE_NAME_WINDOWS", base.windows_node)),
            subnet_ids=tuple(subnets),
            cluster_dns_ip=str(get("CLUSTER_DNS_IP", "")).strip(),
            cluster_domain=str(get("CLUSTER_DOMAIN", base.cluster_domain)).strip().strip("."),
            service_account_token=str(get("SERVICE_ACCOUNT_TOKEN", "")).strip(),
            ca_cert=str(get("KUBE_CA_CERT", "")),
            node_ip=str(get("VIRTUAL_NODE_IP", "")).strip(),
            unenforceable=str(get("UNENFORCEABLE_POD_FIELDS", base.unenforceable)),
            cluster_cidr=str(get("CLUSTER_CIDR", "")).strip(),
            change_feed_workspace=(
                str(get("CHANGE_FEED_WORKSPACE_ID", "")).strip(),
                str(get("CHANGE_FEED_WORKSPACE_KEY", "")).strip(),
            ),
            default_port=profile.default_port if profile else "",
            profile=profile.name if profile else base.profile,
        )


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@lru_cache(maxsize=1)
def _default_options() -> TranslateOptions:
    from shared.config import load_settings

    return TranslateOptions.from_settings(load_settings({}))


@dataclass
class Context:
    """Everything one translation reads, plus the warnings it collects."""

    pod: dict[str, Any]
    secrets: Mapping[str, Any]
    config_maps: Mapping[str, Any]
    options: TranslateOptions
    windows: bool = False
    warnings: list[str] = field(default_factory=list)
    images: Mapping[str, Any] = field(default_factory=dict)
    """Image reference -> its config ({"Entrypoint": [...], "Cmd": [...]}) or {"error": why}, from the worker."""
    tokens: Mapping[str, str] = field(default_factory=dict)
    """"<volume>/<path>" of a projected serviceAccountToken source -> the token the worker requested."""
    claims: Mapping[str, Any] = field(default_factory=dict)
    """PersistentVolumeClaim name -> {"azureFile": {...}} or {"error": why}, from the worker."""
    lenient: bool = False
    """UNENFORCEABLE_POD_FIELDS=warn (or the pod's annotation): run hardening ACI cannot enforce, and say so."""
    unenforced: list[str] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message) of Normal Events: choices made for the pod that it should hear about."""
    _decoded: dict[tuple[str, str], dict[str, bytes] | None] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.pod.get("metadata") or {}

    @property
    def spec(self) -> dict[str, Any]:
        return self.pod.get("spec") or {}

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(f"{path}: {reason}")

    def unenforceable(self, path: str, reason: str) -> None:
        """Hardening ACI cannot apply: refused, or run without it (listed for a Warning Event) when lenient."""
        if not self.lenient:
            reject(
                path,
                f"{reason}; to run the pod without it set UNENFORCEABLE_POD_FIELDS=warn "
                f"or annotate the pod {ANNOTATION_UNENFORCEABLE}=warn",
            )
        self.unenforced.append(f"{path}: {reason}")

    def secret_data(self, name: str) -> dict[str, bytes] | None:
        """Decoded data of a Secret of the pod's namespace (data + stringData), None when absent."""
        return self._object("Secret", name)

    def config_map_data(self, name: str) -> dict[str, bytes] | None:
        """Data of a ConfigMap of the pod's namespace (data + binaryData) as bytes, None when absent."""
        return self._object("ConfigMap", name)

    def secret_object(self, name: str) -> dict[str, Any] | None:
        found = self.secrets.get(name) if name else None
        return found if isinstance(found, dict) else None

    def _object(self, kind: str, name: str) -> dict[str, bytes] | None:
        key = (kind, name)
        if key not in self._decoded:
            source = self.secrets if kind == "Secret" else self.config_maps
            obj = source.get(name) if name else None
            self._decoded[key] = None if not isinstance(obj, dict) else _decode(kind, name, obj)
        return self._decoded[key]


def _decode(kind: str, name: str, obj: dict[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    encoded_field, plain_field = ("data", "stringData") if kind == "Secret" else ("binaryData", "data")
    for key, value in (obj.get(encoded_field) or {}).items():
        try:
            out[key] = base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            reject(f"{kind} {name}.{encoded_field}.{key}", "is not valid base64")
    for key, value in (obj.get(plain_field) or {}).items():
        out[key] = str(value if value is not None else "").encode("utf-8")
    return out


def as_text(data: bytes, path: str) -> str:
    """Bytes of a Secret/ConfigMap key as an environment value; ACI values are text."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        reject(path, "the referenced value is not UTF-8 text; ACI environment variables hold text only")


def go_quote(text: str) -> str:
    """Go's %q of a string, which the kubelet uses for downward API label and annotation files."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable() and char != " ":
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def format_map(values: Mapping[str, str]) -> str:
    """Labels/annotations as the kubelet writes them in a downward API file: sorted key="value" lines."""
    return "\n".join(f"{key}={go_quote(str(values[key]))}" for key in sorted(values))
