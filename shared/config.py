"""Every app setting the connector reads, declared once, validated once.

The table `SETTINGS` is the single source of truth: `load_settings` reads it,
local.settings.json.example and docs/settings.md list it, and a test keeps the
three (and the Bicep app settings) in step. A missing or malformed setting
raises `ConfigError` naming the setting, so a bad deployment fails at start
instead of misbehaving on the first pod.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from shared.errors import ConfigError
from shared.node import NodeProfile, node_profile
from shared.quantities import positive_quantity
from shared.schedule import validate_ncrontab
from shared.setting import (
    Setting,
    _at_least_a_minute,
    _bool,
    _cluster_id,
    _guid_or_empty,
    _node_name,
    _non_negative_int,
    _os_list,
    _positive_float,
    _positive_int,
    _profile,
    _reject_or_warn,
    _resource_group,
    _taint,
    _text,
    _url,
    from_profile,
    warn_aliases,
)

POD_EVENTS_QUEUE = "pod-events"
"""Queue the relay, audit webhook, Event Grid function and CLI write to."""
DEAD_LETTER_QUEUE = "pod-events-invalid"
"""Messages that can never succeed, with the reason (written once, never retried)."""
POISON_QUEUE = "pod-events-poison"
"""Where the Functions host moves a message after maxDequeueCount failures."""


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "AzureWebJobsStorage",
        "",
        _text,
        "Storage connection for the host and the pod-events queues. A connection string, or leave empty "
        "and set AzureWebJobsStorage__queueServiceUri for a managed identity.",
        secret=True,
        example="UseDevelopmentStorage=true",
    ),
    Setting(
        "AzureWebJobsStorage__queueServiceUri",
        "",
        _url,
        "Queue endpoint used with a managed identity when AzureWebJobsStorage is empty.",
    ),
    Setting("FUNCTIONS_WORKER_RUNTIME", "python", _text, "Must be python.", example="python"),
    Setting(
        "AZURE_SUBSCRIPTION_ID",
        "",
        _guid_or_empty,
        "Subscription holding the ACI resource group.",
        example="00000000-0000-0000-0000-000000000000",
    ),
    Setting(
        "ACI_RESOURCE_GROUP",
        "",
        _resource_group,
        "Resource group the container groups are created in.",
        example="aci-connector-rg",
    ),
    Setting("ACI_REGION", "westeurope", _text, "Azure region (location) of the container groups."),
    Setting(
        "ARM_ENDPOINT",
        "https://management.azure.com",
        _url,
        "Azure Resource Manager endpoint; change it for sovereign clouds.",
    ),
    Setting(
        "ACI_EMULATOR_URL",
        "",
        _url,
        "Used only when AZURE_SUBSCRIPTION_ID is empty: the ACI emulator (`python -m emulator`) the app talks to "
        "instead of Azure. `make start` starts it here.",
        example="https://127.0.0.1:7443",
    ),
    Setting("ACI_EMULATOR_CA_FILE", "", _text, "CA certificate file of ACI_EMULATOR_URL.", example=".emulator/ca.pem"),
    Setting(
        "AZURE_CLIENT_ID",
        "",
        _text,
        "Service principal or user-assigned identity client id (read by DefaultAzureCredential).",
    ),
    Setting("AZURE_TENANT_ID", "", _text, "Tenant of the service principal (read by DefaultAzureCredential)."),
    Setting(
        "AZURE_CLIENT_SECRET",
        "",
        _text,
        "Service principal secret (read by DefaultAzureCredential); prefer a managed identity.",
        secret=True,
    ),
    Setting(
        "AZURE_CLIENT_KEY",
        "",
        _text,
        "The original 2017 connector's name for the service principal secret; used when AZURE_CLIENT_SECRET is empty.",
        secret=True,
    ),
    Setting(
        "KUBE_API_URL",
        "",
        _url,
        "Kubernetes API server URL, used with KUBE_BEARER_TOKEN. Empty, with no KUBECONFIG and "
        "KUBE_IN_CLUSTER false, means standalone mode (no cluster).",
        example="https://my-cluster.hcp.westeurope.azmk8s.io:443",
    ),
    Setting("KUBE_BEARER_TOKEN", "", _text, "ServiceAccount token for KUBE_API_URL.", secret=True),
    Setting(
        "KUBE_CA_CERT", "", _text, "PEM CA certificate of KUBE_API_URL (the text itself), empty to use the system CAs."
    ),
    Setting("KUBECONFIG", "", _text, "Path of a kubeconfig file, as an alternative to KUBE_API_URL."),
    Setting("KUBE_CONTEXT", "", _text, "Context in KUBECONFIG; empty means the current context."),
    Setting("KUBE_IN_CLUSTER", "false", _bool, "Use the in-cluster ServiceAccount (when the app runs in a pod)."),
    Setting("VIRTUAL_NODE_PROFILE", "default", _profile, "default or aci-connector-2017 (docs/settings.md: profiles)."),
    Setting("VIRTUAL_NODE_OS", "", _os_list, "OSes of the virtual nodes: linux, windows; empty: the profile's."),
    Setting("VIRTUAL_NODE_NAME_LINUX", "", _node_name, "Linux virtual node's name; empty: the profile's."),
    Setting("VIRTUAL_NODE_NAME_WINDOWS", "", _node_name, "Windows virtual node's name; empty: the profile's."),
    Setting(
        "VIRTUAL_NODE_TAINT",
        "virtual-kubelet.io/provider=azure:NoSchedule",
        _taint,
        "Taint on the virtual nodes (key[=value]:Effect).",
    ),
    Setting("NODE_CPU", "10000", _positive_int, "CPU capacity the virtual node advertises, in cores."),
    Setting(
        "NODE_MEMORY", "4Ti", positive_quantity, "Memory capacity the virtual node advertises (a Kubernetes quantity)."
    ),
    Setting("NODE_PODS", "5000", _positive_int, "Pod capacity the virtual node advertises."),
    Setting("NODE_EPHEMERAL_STORAGE", "100Ti", positive_quantity, "Ephemeral storage the virtual node advertises."),
    Setting("DEFAULT_CPU", "1", _positive_float, "CPU (cores) given to a container that requests none."),
    Setting("DEFAULT_MEMORY_GB", "1.5", _positive_float, "Memory (GB) given to a container that requests none."),
    Setting(
        "RECONCILE_SCHEDULE",
        "*/10 * * * * *",
        validate_ncrontab,
        "NCRONTAB schedule of the reconciler timer (six fields, seconds first).",
    ),
    Setting(
        "ARM_READS_PER_MINUTE",
        "300",
        _positive_int,
        "ARM reads per minute of the whole connector (reconciler, worker, capacity; docs/reconciler.md).",
    ),
    Setting(
        "CHANGE_FEED_WORKSPACE_ID",
        "",
        _guid_or_empty,
        "Log Analytics workspace every group sends its container events to; the reconciler asks it each cycle which "
        "groups changed and reads those first (docs/reconciler.md). Empty: the budgeted sweep alone.",
    ),
    Setting(
        "CHANGE_FEED_WORKSPACE_KEY",
        "",
        _text,
        "Shared key of that workspace, written into each group's diagnostics (ACI accepts only a key there).",
        secret=True,
    ),
    Setting("CHANGE_FEED_ENDPOINT", "https://api.loganalytics.io/v1", _url, "Log Analytics query API endpoint."),
    Setting("RELAY_HEALTH_PORT", "8080", _positive_int, "Port of the watch relay's /healthz, /readyz and /metrics."),
    Setting(
        "RELAY_COALESCE_MS",
        "200",
        _positive_int,
        "Relay coalescing window (ms): the first event of a pod is sent at once, later ones in the window merge.",
    ),
    Setting(
        "RELAY_BUFFER_SIZE",
        "10000",
        _positive_int,
        "Pods the relay holds while Storage is down (one pending message per pod); beyond it the oldest is dropped.",
    ),
    Setting(
        "RELAY_RENEW_LEASES",
        "false",
        _bool,
        "The relay renews the virtual nodes' Leases every 10 s (the reconciler then renews only stale ones).",
    ),
    Setting(
        "RELAY_KUBELET_ENABLED",
        "false",
        _bool,
        "The relay serves the virtual nodes' kubelet API (kubectl logs/exec/top); docs/kubelet-api.md.",
    ),
    Setting(
        "RELAY_KUBELET_PORT",
        "10250",
        _positive_int,
        "HTTPS port of the kubelet API for the first virtual node; the next node (VIRTUAL_NODE_OS order) uses port+1.",
    ),
    Setting(
        "RELAY_POD_IP",
        "",
        _text,
        "The relay pod's IP (downward API status.podIP): the virtual nodes' InternalIP when the kubelet API is on.",
    ),
    Setting(
        "RELAY_POD_NAME",
        "",
        _text,
        "The relay pod's namespace/name (downward API): which relay currently holds the nodes' kubelet address.",
    ),
    Setting(
        "RELAY_KUBELET_TLS_DIR",
        "",
        _text,
        "Folder with tls.crt and tls.key (a mounted kubernetes.io/tls Secret) for the kubelet API; empty: self-signed.",
    ),
    Setting(
        "RELAY_KUBELET_CLIENT_CA",
        "",
        _text,
        "CA file verifying client certificates (the apiserver's kubelet client); empty: the ServiceAccount's ca.crt.",
    ),
    Setting(
        "RELAY_KUBELET_ARM_READS_PER_MINUTE",
        "120",
        _positive_int,
        "ARM reads per minute the kubelet API may spend on container logs (follow polls share it).",
    ),
    Setting(
        "RELAY_KUBELET_LOG_POLL_SECONDS",
        "2",
        _positive_float,
        "Seconds between ACI log reads of a `kubectl logs -f` (longer when the read budget runs low).",
    ),
    Setting(
        "RELAY_KUBELET_STATS_SECONDS",
        "60",
        _positive_int,
        "How long CPU/memory metrics from Azure Monitor are reused by /stats/summary and /metrics/resource.",
    ),
    Setting(
        "AZURE_METRICS_ENDPOINT",
        "",
        _url,
        "Azure Monitor metrics endpoint for the batch API; empty: https://<ACI_REGION>.metrics.monitor.azure.com.",
    ),
    Setting(
        "AUDIT_BEARER_TOKEN",
        "",
        _text,
        "Bearer token the kube-apiserver audit webhook must send (its kubeconfig user token); empty refuses all.",
        secret=True,
    ),
    Setting("AUDIT_MAX_BODY_BYTES", "3145728", _positive_int, "Largest audit webhook body accepted (413 beyond)."),
    Setting(
        "NODE_CAPACITY_FROM_QUOTA",
        "false",
        _bool,
        "Cap the virtual node's cpu and pods at what the region's ACI quota has left (docs/capacity.md).",
    ),
    Setting(
        "CAPACITY_QUOTA_CACHE_SECONDS",
        "60",
        _at_least_a_minute,
        "How long the ACI usage/quota read from ARM is reused (at least 60: one ARM read per minute at most).",
    ),
    Setting(
        "CAPACITY_PODS_CACHE_SECONDS",
        "5",
        _non_negative_int,
        "How long GET /api/capacity reuses its per-node pod listing; 0 lists on every call.",
    ),
    Setting(
        "EVENTGRID_TOPIC_ENDPOINT",
        "",
        _url,
        "Event Grid topic endpoint for pod lifecycle CloudEvents; empty publishes nothing (docs/eventgrid.md).",
    ),
    Setting(
        "EVENTGRID_TOPIC_KEY",
        "",
        _text,
        "Access key of EVENTGRID_TOPIC_ENDPOINT; empty uses Entra ID (DefaultAzureCredential).",
        secret=True,
    ),
    Setting(
        "ACI_SUBNET_IDS",
        "",
        _text,
        "Comma-separated subnet resource ids for private container groups; empty means public IPs.",
    ),
    Setting(
        "CLUSTER_DNS_IP", "", _text, "Cluster DNS service IP given to groups in a subnet (pod dnsPolicy ClusterFirst)."
    ),
    Setting("CLUSTER_DOMAIN", "cluster.local", _text, "Cluster domain for DNS search paths."),
    Setting("CLUSTER_CIDR", "", _text, "Pod CIDR given to the kube-proxy extension of groups in a subnet."),
    Setting(
        "KUBE_PROXY_SERVICE_ACCOUNT",
        "aci-connector/aci-connector-kube-proxy",
        _text,
        "namespace/name of the ServiceAccount whose token the kube-proxy extension uses; empty: no extension.",
    ),
    Setting(
        "SERVICE_ACCOUNT_TOKEN_MAX_SECONDS",
        "31536000",
        _positive_int,
        "Longest lifetime asked for the ServiceAccount tokens mounted into groups (ACI cannot refresh them).",
    ),
    Setting(
        "SERVICE_ACCOUNT_TOKEN",
        "",
        _text,
        "Fallback token for serviceAccountToken volumes when no cluster issues one (standalone mode).",
        secret=True,
    ),
    Setting(
        "UNENFORCEABLE_POD_FIELDS",
        "reject",
        _reject_or_warn,
        "reject or warn: run pods whose hardening ACI cannot enforce (readOnlyRootFilesystem, TCP probes...).",
    ),
    Setting("ACI_MAX_CPU", "4", _positive_float, "Largest CPU total one container group may request in the region."),
    Setting(
        "ACI_MAX_MEMORY_GB",
        "16",
        _positive_float,
        "Largest memory total (GB) one container group may request in the region.",
    ),
    Setting(
        "REGISTRY_TIMEOUT_SECONDS",
        "10",
        _positive_float,
        "Timeout of each container registry call made to read an image's ENTRYPOINT (containers with args and "
        "no command).",
    ),
    Setting("VIRTUAL_NODE_IP", "", _text, "Address reported as the node's InternalIP and as a pod's hostIP fallback."),
    Setting(
        "CLUSTER_ID",
        "",
        _cluster_id,
        "Identity written on every container group (tag aci-connector-cluster) so two clusters can share a "
        "resource group; empty means the kube-system namespace uid (standalone mode: 'standalone').",
    ),
    Setting("LOG_LEVEL", "INFO", _text, "Python log level of the connector's own loggers."),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Validated settings. `values` holds every parsed setting by its app-setting name."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        if name not in _BY_NAME:
            raise KeyError(f"{name} is not a declared setting (see shared/config.py SETTINGS)")
        return from_profile(name, self.values[name], self.values)

    @property
    def profile(self) -> NodeProfile:
        """The VIRTUAL_NODE_PROFILE in effect (default when unset)."""
        return node_profile(self.values.get("VIRTUAL_NODE_PROFILE") or "default")

    def require(self, name: str) -> Any:
        """The value of a setting the current operation cannot do without."""
        value = self[name]
        if value in ("", None):
            raise ConfigError(f"setting {name} is required for this operation but is empty: {_BY_NAME[name].doc}")
        return value

    @property
    def cluster_configured(self) -> bool:
        """False means standalone mode: pods come inline in messages and no cluster is contacted."""
        return bool(self["KUBE_API_URL"] or self["KUBECONFIG"] or self["KUBE_IN_CLUSTER"])

    @property
    def node_names(self) -> dict[str, str]:
        """Virtual node name by OS, for the OSes this deployment runs."""
        return {os_name: self[f"VIRTUAL_NODE_NAME_{os_name.upper()}"] for os_name in self["VIRTUAL_NODE_OS"]}

    def with_overrides(self, **overrides: str) -> Settings:
        """A copy with some settings replaced (raw strings, validated like the environment)."""
        raw = {name: overrides[name] for name in overrides}
        merged = dict(self.values)
        merged.update(_parse_all(raw, only=raw.keys()))
        return Settings(merged)


def _parse_all(env: Mapping[str, str], only: Any = None) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    names = only if only is not None else _BY_NAME.keys()
    for name in names:
        setting = _BY_NAME.get(name)
        if setting is None:
            raise ConfigError(f"{name} is not a declared setting")
        raw = env.get(name)
        if raw is None:
            raw = setting.default if setting.default is not None else ""
        try:
            parsed[name] = setting.parse(raw)
        except ValueError as error:
            raise ConfigError(f"setting {name} is malformed: {error}") from None
    return parsed


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from `env` (the process environment by default)."""
    source = os.environ if env is None else env
    values = _parse_all(source)
    if values["FUNCTIONS_WORKER_RUNTIME"] not in ("python", ""):
        raise ConfigError(
            f"setting FUNCTIONS_WORKER_RUNTIME must be python, got {values['FUNCTIONS_WORKER_RUNTIME']!r}"
        )
    if values["KUBE_API_URL"] and not values["KUBE_BEARER_TOKEN"]:
        raise ConfigError("setting KUBE_BEARER_TOKEN is required when KUBE_API_URL is set")
    warn_aliases(values)
    return Settings(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (Functions sets app settings as environment variables)."""
    return load_settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()


def setting_names() -> list[str]:
    return [setting.name for setting in SETTINGS]


def describe(name: str) -> Setting:
    return _BY_NAME[name]
