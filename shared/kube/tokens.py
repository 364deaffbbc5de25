"""A Kubernetes identity for every pod: ServiceAccount tokens requested as the kubelet requests them.

The ServiceAccount admission plugin gives each pod a projected `kube-api-access-*` volume (a token,
the cluster CA from the `kube-root-ca.crt` ConfigMap and the namespace) mounted at
/var/run/secrets/kubernetes.io/serviceaccount, unless `automountServiceAccountToken` is false on the
pod or its ServiceAccount. The kubelet then fills every projected `serviceAccountToken` source with
a TokenRequest bound to the pod (so the token dies with the pod), for the source's audience
(the API's own when unset) and expiration. This module does the kubelet's part, and the admission
plugin's for pods that reached the connector without it (standalone manifests, apiservers that do
not run the plugin).

Lifetime (docs/pod-spec-support.md, "ServiceAccount tokens"): ACI files cannot be refreshed in
place, so the token lives as long as the apiserver grants. The connector asks for the expiration
the pod asks for, capped by SERVICE_ACCOUNT_TOKEN_MAX_SECONDS; for the admission default (3607 s)
kube-apiserver's --service-account-extend-token-expiration (on by default) grants a year, as it does
for kubelets (the JWT's `exp` says so; status.expirationTimestamp keeps the asked time, so the
kubelet refreshes early, which ACI cannot). A token whose `exp` is less than a day away is reported
on the pod as a Warning Event.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.errors import PermanentError

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
API_ACCESS_VOLUME = "kube-api-access-aci"
ADMISSION_EXPIRATION = 3607
"""What the admission plugin asks for (3600 + 7): the value kube-apiserver extends for legacy kubelets."""
MIN_EXPIRATION = 600
SHORT_LIVED_SECONDS = 86400


@dataclass(frozen=True)
class TokenSource:
    """One projected serviceAccountToken source: `key` is "<volume>/<path>", as the translation looks it up."""

    key: str
    audience: str | None
    expiration_seconds: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires: str | None


def service_account_name(pod: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


def automount(pod: dict[str, Any], service_account: dict[str, Any] | None) -> bool:
    """The pod's automountServiceAccountToken, else its ServiceAccount's, else true (the API default)."""
    asked = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if asked is None and service_account is not None:
        asked = service_account.get("automountServiceAccountToken")
    return asked is not False


def with_api_access_volume(pod: dict[str, Any], service_account: dict[str, Any] | None) -> dict[str, Any]:
    """The pod as the admission plugin leaves it: the API-access volume added when automount applies.

    A pod that already mounts something at the ServiceAccount path, or that opts out, is returned as is.
    """
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    mounted = any(
        (m.get("mountPath") or "").rstrip("/") == SERVICE_ACCOUNT_MOUNT
        for c in containers
        for m in c.get("volumeMounts") or []
    )
    has_token_volume = any(_is_token_volume(v) for v in spec.get("volumes") or [])
    if mounted or has_token_volume or not automount(pod, service_account):
        return pod
    out = copy.deepcopy(pod)
    out_spec = out["spec"]
    out_spec.setdefault("volumes", []).append(
        {
            "name": API_ACCESS_VOLUME,
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": ADMISSION_EXPIRATION, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                }
                            ]
                        }
                    },
                ]
            },
        }
    )
    for section in ("initContainers", "containers"):
        for container in out_spec.get(section) or []:
            container.setdefault("volumeMounts", []).append(
                {"name": API_ACCESS_VOLUME, "mountPath": SERVICE_ACCOUNT_MOUNT, "readOnly": True}
            )
    return out


def token_sources(pod: dict[str, Any]) -> list[TokenSource]:
    """Every projected serviceAccountToken source of the pod's volumes."""
    found: list[TokenSource] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            token = source.get("serviceAccountToken")
            if not isinstance(token, dict):
                continue
            seconds = token.get("expirationSeconds")
            found.append(
                TokenSource(
                    key=f"{volume.get('name') or ''}/{token.get('path') or ''}",
                    audience=token.get("audience") or None,
                    expiration_seconds=int(seconds) if isinstance(seconds, int) else ADMISSION_EXPIRATION,
                )
            )
    return found


def issue_tokens(kube: Any, pod: dict[str, Any], *, max_seconds: int) -> dict[str, IssuedToken]:
    """A TokenRequest bound to this pod per source (one per distinct audience and lifetime)."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    issued: dict[tuple[str | None, int], IssuedToken] = {}
    tokens: dict[str, IssuedToken] = {}
    for source in token_sources(pod):
        seconds = max(MIN_EXPIRATION, min(source.expiration_seconds, max_seconds))
        wanted = (source.audience, seconds)
        if wanted not in issued:
            spec: dict[str, Any] = {
                "expirationSeconds": seconds,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta.get("name"), "uid": meta.get("uid")},
            }
            if source.audience:
                spec["audiences"] = [source.audience]
            status = _request(kube, namespace, service_account_name(pod), spec)
            token = status.get("token") or ""
            issued[wanted] = IssuedToken(token, _jwt_expiry(token) or status.get("expirationTimestamp"))
        tokens[source.key] = issued[wanted]
    return tokens


class TokenUnavailable(PermanentError):
    """The apiserver refused the pod's token (no such ServiceAccount, pod re-created): the pod cannot start."""

    reason = "ServiceAccountTokenUnavailable"


def _request(kube: Any, namespace: str, account: str, spec: dict[str, Any]) -> dict[str, Any]:
    from shared.kube import KubeApiError

    try:
        return kube.create_token(namespace, account, spec)
    except KubeApiError as error:
        raise TokenUnavailable(f"ServiceAccount token for {namespace}/{account} refused: {error}") from None


def short_lived(tokens: dict[str, IssuedToken], now: datetime | None = None) -> list[str]:
    """Sources whose token expires within a day: ACI cannot refresh it, so the pod is told when."""
    moment = now or datetime.now(UTC)
    notes = []
    for key, token in sorted(tokens.items()):
        if not token.expires:
            continue
        expires = datetime.fromisoformat(token.expires.replace("Z", "+00:00"))
        if (expires - moment).total_seconds() < SHORT_LIVED_SECONDS:
            notes.append(f"{key} expires at {token.expires}")
    return notes


def _jwt_expiry(token: str) -> str | None:
    """The `exp` claim, which is what counts: the apiserver may extend it past status.expirationTimestamp."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def _is_token_volume(volume: dict[str, Any]) -> bool:
    sources = (volume.get("projected") or {}).get("sources") or []
    return any("serviceAccountToken" in source for source in sources) and str(volume.get("name", "")).startswith(
        "kube-api-access"
    )
