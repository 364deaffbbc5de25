"""The kube-proxy extension's kubeconfig and token (TokenRequest on the fake apiserver)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes.config.kube_config import KubeConfigLoader

from shared.kube import KubeClient
from shared.kube import proxy as kube_proxy
from tests.fakes.kube_tokens import claims_of


def test_kubeconfig_loads_with_the_official_loader() -> None:
    text = kube_proxy.kubeconfig(
        "https://10.0.0.1:443", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", "tok"
    )
    loader = KubeConfigLoader(config_dict=yaml.safe_load(text))
    assert loader.current_context["context"]["user"] == "kube-proxy"
    assert json.loads(text)["users"][0]["user"]["token"] == "tok"


@pytest.mark.fake_kube_only(
    "renews on a test clock; the real server signs the same claims in the same second, byte for byte"
)
def test_token_is_requested_once_and_renewed_late(kube_api: Any, kube: KubeClient) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "aci-connector"}})
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "aci-connector-kube-proxy", "namespace": "aci-connector"},
        }
    )
    kube_proxy.reset_cache()
    now = [1_000_000.0]
    account = "aci-connector/aci-connector-kube-proxy"
    requests = []
    real_create = kube.create_token
    kube.create_token = lambda *args: requests.append(args) or real_create(*args)  # type: ignore[method-assign]
    first = kube_proxy.kube_proxy_token(kube, account, 86400, clock=lambda: now[0])
    assert claims_of(first)["sub"] == "system:serviceaccount:aci-connector:aci-connector-kube-proxy"
    now[0] += 86400 * 0.5
    assert kube_proxy.kube_proxy_token(kube, account, 86400, clock=lambda: now[0]) == first
    assert len(requests) == 1
    now[0] += 86400 * 0.4
    kube_proxy.kube_proxy_token(kube, account, 86400, clock=lambda: now[0])
    assert len(requests) == 2
    kube_proxy.reset_cache()
