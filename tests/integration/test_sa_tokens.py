"""ServiceAccount tokens requested for a pod from the (fake) apiserver, as the kubelet requests them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.kube import KubeClient
from shared.kube.tokens import (
    API_ACCESS_VOLUME,
    SERVICE_ACCOUNT_MOUNT,
    IssuedToken,
    automount,
    issue_tokens,
    short_lived,
    token_sources,
    with_api_access_volume,
)
from tests.fakes.connector_fixtures import make_pod
from tests.fakes.kube_tokens import ISSUER, claims_of


def _account(kube_api: Any, name: str = "default", **fields: Any) -> dict[str, Any]:
    return kube_api.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "default"}, **fields}
    )


def test_admission_volume_is_added_unless_opted_out() -> None:
    pod = make_pod()
    injected = with_api_access_volume(pod, None)
    assert injected is not pod and pod["spec"].get("volumes") is None
    volume = injected["spec"]["volumes"][-1]
    assert volume["name"] == API_ACCESS_VOLUME
    assert injected["spec"]["containers"][0]["volumeMounts"][-1]["mountPath"] == SERVICE_ACCOUNT_MOUNT
    assert [s.key for s in token_sources(injected)] == [f"{API_ACCESS_VOLUME}/token"]
    opted_out = make_pod(automountServiceAccountToken=False)
    assert with_api_access_volume(opted_out, None) is opted_out
    assert not automount(make_pod(), {"automountServiceAccountToken": False})
    assert automount(make_pod(automountServiceAccountToken=True), {"automountServiceAccountToken": False})
    assert with_api_access_volume(injected, None) is injected  # idempotent


def test_tokens_are_bound_to_the_pod_with_the_asked_audience(kube_api: Any, kube: KubeClient) -> None:
    _account(kube_api, "app")
    pod = make_pod(serviceAccountName="app")
    pod["spec"]["volumes"] = [
        {
            "name": "vault",
            "projected": {
                "sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 7200, "path": "t"}}]
            },
        }
    ]
    created = kube_api.create(with_api_access_volume(pod, None))
    tokens = issue_tokens(kube, created, max_seconds=86400 * 365)
    assert set(tokens) == {"vault/t", f"{API_ACCESS_VOLUME}/token"}
    vault = claims_of(tokens["vault/t"].token)
    assert vault["aud"] == ["vault"] and vault["exp"] - vault["iat"] == 7200
    assert vault["kubernetes.io"]["pod"] == {"name": "web", "uid": created["metadata"]["uid"]}
    assert vault["sub"] == "system:serviceaccount:default:app"
    api = claims_of(tokens[f"{API_ACCESS_VOLUME}/token"].token)
    assert api["aud"] == [ISSUER]
    # the admission default (3607 s) is extended to a year by the apiserver, and the JWT's exp is what counts
    assert api["exp"] - api["iat"] == 365 * 24 * 3600 and api["kubernetes.io"]["warnafter"] == api["iat"] + 3607
    assert short_lived(tokens) == ["vault/t expires at " + tokens["vault/t"].expires]


def test_setting_caps_the_lifetime(kube_api: Any, kube: KubeClient) -> None:
    _account(kube_api)
    pod = make_pod(serviceAccountName="default")  # the apiserver refuses token volumes without one
    pod["spec"]["volumes"] = [
        {
            "name": "v",
            "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 86400 * 30, "path": "t"}}]},
        }
    ]
    created = kube_api.create(pod)
    token = issue_tokens(kube, created, max_seconds=3600)["v/t"]
    claims = claims_of(token.token)
    assert claims["exp"] - claims["iat"] == 3600
    assert short_lived({"v/t": token}) == [f"v/t expires at {token.expires}"]


def test_long_lived_tokens_are_not_reported() -> None:
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert short_lived({"v/t": IssuedToken("x", later)}) == []
