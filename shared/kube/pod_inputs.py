"""What a kubelet gathers before it starts a pod, gathered for the (pure) translation.

The Secrets and ConfigMaps the pod references, its PersistentVolumeClaims' Azure Files shares, the
ENTRYPOINT of images whose containers give args without a command, and its identity: the API-access
volume the ServiceAccount admission plugin adds, TokenRequests bound to the pod, and the kube-proxy
extension's kubeconfig for groups in a virtual network.

Tokens are minted only when a group is really (re)created: the worker first translates with
placeholders, so the spec hash it compares with the existing group does not change with every fresh
token (a new hash would re-PUT the group, and ACI restarts containers on some updates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.kube.claims import resolve_claims
from shared.kube.proxy import kube_proxy_token, kubeconfig
from shared.kube.tokens import (
    IssuedToken,
    automount,
    issue_tokens,
    service_account_name,
    short_lived,
    token_sources,
    with_api_access_volume,
)
from shared.registry import images_to_resolve, resolve_pod_images

PLACEHOLDER = "<requested when the group is created>"


@dataclass
class PodInputs:
    """Everything the translation of one pod reads besides the pod and the settings."""

    pod: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)
    config_maps: dict[str, Any] = field(default_factory=dict)
    images: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    token_keys: list[str] = field(default_factory=list)
    kube_proxy: bool = False
    notes: list[str] = field(default_factory=list)
    """What the worker could not provide ("path: why"), reported with the translation's warnings."""

    def draft(self) -> dict[str, Any]:
        """translate_pod keywords with placeholder credentials, for the spec hash."""
        proxy = PLACEHOLDER if self.kube_proxy else None
        tokens = dict.fromkeys(self.token_keys, PLACEHOLDER)
        return self._keywords(tokens, proxy)

    def final(self, tokens: dict[str, IssuedToken], proxy_config: str | None) -> dict[str, Any]:
        """translate_pod keywords with the real credentials."""
        return self._keywords({key: issued.token for key, issued in tokens.items()}, proxy_config)

    def _keywords(self, tokens: dict[str, str], proxy: str | None) -> dict[str, Any]:
        return {
            "secrets": self.secrets,
            "config_maps": self.config_maps,
            "images": self.images,
            "claims": self.claims,
            "tokens": tokens,
            "kube_proxy": proxy,
        }


def resolver(images: Any, settings: Any) -> Any:
    """The image config resolver a worker Context carries, else the process-wide one."""
    from shared.registry import get_image_resolver

    return images or get_image_resolver(settings)


def node_os(pod: dict[str, Any], settings: Any) -> str:
    """linux or windows: the OS of the virtual node the pod runs on (picks the image of a manifest list)."""
    from shared.translate import TranslateOptions, pod_os

    return pod_os(pod, TranslateOptions.from_settings(settings)).lower()


def gather(kube: Any, pod: dict[str, Any], settings: Any, resolver: Any) -> PodInputs:
    """Read what the pod needs (raises shared.kube.claims.ClaimPending while a claim is unbound)."""
    os_name = node_os(pod, settings)
    from shared.translate.refs import fetch_references

    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    account_name = service_account_name(pod)
    account = kube.get_namespaced("serviceaccounts", namespace, account_name)
    notes = []
    if account is None and (automount(pod, None) or token_sources(pod)):
        # Admission would have refused the pod; without it (or once the account is deleted) there is no
        # identity to mount: the pod runs without the API-access volume, and is told why.
        notes.append(f"spec.serviceAccountName: ServiceAccount {namespace}/{account_name} not found, no token mounted")
    elif account is not None:
        pod = with_api_access_volume(pod, account)
    secrets, config_maps = fetch_references(kube, pod)
    inputs = PodInputs(pod=pod, secrets=secrets, config_maps=config_maps, notes=notes)
    inputs.claims = resolve_claims(kube, pod)
    inputs.images = standalone_images(pod, inputs.secrets, resolver, os_name)
    inputs.token_keys = [source.key for source in token_sources(pod)]
    inputs.kube_proxy = bool(settings["KUBE_PROXY_SERVICE_ACCOUNT"]) and os_name == "linux"
    return inputs


def standalone_images(pod: dict[str, Any], secrets: dict[str, Any], resolver: Any, os_name: str) -> dict[str, Any]:
    """Image configs for args-without-command containers (no registry call when there are none)."""
    return resolve_pod_images(pod, secrets, resolver, os_name) if images_to_resolve(pod) else {}


def credentials(
    kube: Any, inputs: PodInputs, settings: Any, *, in_subnet: bool
) -> tuple[dict[str, IssuedToken], str | None]:
    """The pod's bound tokens, and the kube-proxy kubeconfig when its group joins a virtual network."""
    max_seconds = int(settings["SERVICE_ACCOUNT_TOKEN_MAX_SECONDS"])
    tokens = issue_tokens(kube, inputs.pod, max_seconds=max_seconds) if inputs.token_keys else {}
    if not (inputs.kube_proxy and in_subnet):
        return tokens, None
    token = kube_proxy_token(kube, settings["KUBE_PROXY_SERVICE_ACCOUNT"], max_seconds)
    configuration = kube.api_client.configuration
    ca_file = getattr(configuration, "ssl_ca_cert", None)
    ca = Path(ca_file).read_text() if ca_file else ""
    return tokens, kubeconfig(configuration.host, ca, token)


def limit_events(
    translation: Any, inputs: PodInputs, tokens: dict[str, IssuedToken], in_subnet: bool
) -> list[tuple[str, str]]:
    """(reason, message) of the Warning Events for what the pod asked and ACI will not do: nothing is lost silently."""
    events = []
    if translation.warnings or inputs.notes:
        events.append(("FieldsIgnored", "Ignored by ACI: " + "; ".join([*inputs.notes, *translation.warnings])))
    if translation.unenforced:
        text = "; ".join(translation.unenforced)
        events.append(("UnenforcedFields", f"Running without enforcement (UNENFORCEABLE_POD_FIELDS=warn): {text}"))
    expiring = short_lived(tokens)
    if expiring:
        events.append(("ServiceAccountTokenExpires", "ACI cannot refresh mounted tokens: " + "; ".join(expiring)))
    if not in_subnet and translation.body["properties"].get("osType") == "Linux":
        text = "the group is not in a virtual network (ACI_SUBNET_IDS empty): ClusterIP Services and cluster DNS"
        events.append(("ClusterNetworkUnavailable", f"{text} are not reachable from it"))
    return events


def translate_for_create(kube: Any, pod: dict[str, Any], settings: Any) -> tuple[Any, PodInputs]:
    """The translation a re-deployment sends, credentials included, and its inputs (the reconciler's retry)."""
    from shared.translate import translate_pod

    inputs = gather(kube, pod, settings, resolver(None, settings))
    draft = translate_pod(inputs.pod, settings=settings, **inputs.draft())
    in_subnet = bool(draft.body["properties"].get("subnetIds"))
    tokens, proxy = credentials(kube, inputs, settings, in_subnet=in_subnet)
    return translate_pod(inputs.pod, settings=settings, **inputs.final(tokens, proxy)), inputs
