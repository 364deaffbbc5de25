"""The connector wired to the fakes: settings, a worker Context, and a virtual-node pod factory."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import Settings, load_settings, reset_settings_cache
from shared.kube import KubeClient, build_api_client, set_kube_client
from tests.fakes.kube_fixtures import kube_settings

NODE = "aci-connector-linux"


def settings_for(kube_url: str | None, arm: Any, **extra: str) -> Settings:
    """App settings for the fakes: cluster mode when `kube_url` is given, standalone otherwise."""
    env = {
        "AZURE_SUBSCRIPTION_ID": arm.subscription_id,
        "ACI_RESOURCE_GROUP": arm.resource_group,
        "ACI_REGION": arm.location,
        "ARM_ENDPOINT": arm.url,
        **extra,
    }
    if kube_url:
        env.update(kube_settings(kube_url))
    return load_settings(env)


def make_pod(name: str = "web", namespace: str = "default", node: str | None = NODE, **spec: Any) -> dict[str, Any]:
    """A minimal nginx pod as kubectl would send it; `spec` entries override the pod spec."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "command": ["nginx", "-g", "daemon off;"],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
                }
            ],
            "restartPolicy": "Always",
        },
    }
    if node:
        pod["spec"]["nodeName"] = node
        pod["spec"]["tolerations"] = [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
    pod["spec"].update(copy.deepcopy(spec))
    return pod


def make_spot_pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    """A Spot pod (no port: Spot groups have no public IP). Only Spot and Confidential groups show ACI events."""
    pod = make_pod(name, **spec)
    pod["metadata"]["annotations"] = {"aci-connector.io/priority": "spot"}
    for container in pod["spec"]["containers"]:
        container.pop("ports", None)
    return pod


def kube_client_for(url: str) -> KubeClient:
    """shared.kube.KubeClient for an apiserver (fake or real), built as the app builds it from KUBE_API_URL + token."""
    return KubeClient(build_api_client(load_settings(kube_settings(url))))


@pytest.fixture
def kube(kube_api: Any) -> Iterator[KubeClient]:
    """shared.kube.KubeClient on `kube_api` (fake or real), installed as the process-wide client."""
    kube_client = kube_client_for(kube_api.url)
    set_kube_client(kube_client)
    try:
        yield kube_client
    finally:
        set_kube_client(None)
        kube_client.api_client.close()


@pytest.fixture
def worker_context(kube_api: Any, kube: KubeClient, arm: Any, aci_adapter: Any, queue_store: Any) -> Any:
    """A cluster-mode worker Context on the fakes and Azurite."""
    from shared.worker import Context

    return Context(settings=settings_for(kube_api.url, arm), aci=aci_adapter, queue=queue_store, kube=kube)


@pytest.fixture
def standalone_context(arm: Any, aci_adapter: Any, queue_store: Any) -> Any:
    from shared.worker import Context

    return Context(settings=settings_for(None, arm), aci=aci_adapter, queue=queue_store, kube=None)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, kube_api: Any, arm: Any, azurite: Any, kube: Any, aci_adapter: Any) -> Any:
    """Process environment as the Function App would have it (cluster mode), for code that reads get_settings()."""
    settings = settings_for(kube_api.url, arm)
    for name in ("AZURE_SUBSCRIPTION_ID", "ACI_RESOURCE_GROUP", "ACI_REGION", "ARM_ENDPOINT", "KUBE_API_URL"):
        monkeypatch.setenv(name, str(settings[name]))
    for name, value in kube_settings(kube_api.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    reset_settings_cache()
    yield settings
    reset_settings_cache()
