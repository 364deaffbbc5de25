"""The worker gathers what a kubelet gathers: image ENTRYPOINTs, bound tokens, Azure Files claims, kube-proxy."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.messages import Message, PodRef
from shared.naming import container_group_name
from shared.registry import ImageResolver, RegistryClient
from shared.worker import Context, process_message
from tests.fakes.connector_fixtures import make_pod, settings_for
from tests.fakes.kube_tokens import claims_of
from tests.fakes.registry import FakeRegistry

SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"


@pytest.fixture
def hub() -> Iterator[FakeRegistry]:
    with FakeRegistry(auth="bearer") as registry:
        registry.load_fixture("docker.io")
        yield registry


def _context(kube_api: Any, arm: Any, kube: Any, aci: Any, queue: Any, hub: FakeRegistry, **settings: str) -> Context:
    resolver = ImageResolver(RegistryClient(endpoints={"docker.io": hub.url}))
    return Context(settings_for(kube_api.url, arm, **settings), aci=aci, queue=queue, kube=kube, images=resolver)


def _upsert(ctx: Context, pod: dict[str, Any]) -> Any:
    ref = PodRef(pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"])
    return process_message(Message(op="upsert", pod=ref, source="watch").to_text(), context=ctx)


def _account(kube_api: Any, name: str = "default", namespace: str = "default") -> None:
    kube_api.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}})


def _events(kube_api: Any, pod: dict[str, Any]) -> dict[str, str]:
    uid = pod["metadata"]["uid"]
    return {e["reason"]: e["message"] for e in kube_api.list("events", "default") if e["involvedObject"]["uid"] == uid}


def _container(aci: Any, pod: dict[str, Any]) -> dict[str, Any]:
    return aci.get(container_group_name(pod))["properties"]["containers"][0]["properties"]


def test_args_without_command_run_after_the_image_entrypoint(kube_api, arm, kube, aci_adapter, queue_store, hub):
    _account(kube_api)
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub)
    pod = make_pod(automountServiceAccountToken=False)
    pod["spec"]["containers"][0].update(image="minio/minio:latest", args=["server", "/data"])
    del pod["spec"]["containers"][0]["command"]
    created = kube_api.create(pod)
    assert _upsert(ctx, created).action == "created"
    assert _container(aci_adapter, created)["command"] == ["/usr/bin/docker-entrypoint.sh", "server", "/data"]


def test_an_unknown_image_fails_the_pod_with_the_registry_error(kube_api, arm, kube, aci_adapter, queue_store, hub):
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub)
    pod = make_pod()
    pod["spec"]["containers"][0].update(image="nginx:no-such-tag", args=["-v"])
    del pod["spec"]["containers"][0]["command"]
    created = kube_api.create(pod)
    assert _upsert(ctx, created).action == "failed"
    status = kube_api.get("pods", "default", "web")["status"]
    assert status["phase"] == "Failed" and "MANIFEST_UNKNOWN" in status["message"]


def test_every_pod_gets_a_token_bound_to_it_and_a_repeat_mints_nothing(
    kube_api, arm, kube, aci_adapter, queue_store, hub
):
    _account(kube_api, "app")
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"},
        }
    )
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub)
    created = kube_api.create(make_pod(serviceAccountName="app"))
    assert _upsert(ctx, created).action == "created"
    group = arm.group(container_group_name(created)).spec  # as sent: ARM never shows secret volumes back
    (volume,) = group["properties"]["volumes"]
    claims = claims_of(base64.b64decode(volume["secret"]["token"]).decode())
    assert claims["kubernetes.io"]["pod"]["uid"] == created["metadata"]["uid"]
    assert claims["sub"] == "system:serviceaccount:default:app"
    assert base64.b64decode(volume["secret"]["namespace"]) == b"default"
    assert b"BEGIN CERTIFICATE" in base64.b64decode(volume["secret"]["ca.crt"])
    mounts = _container(aci_adapter, created)["volumeMounts"]
    assert mounts == [
        {"name": volume["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}
    ]
    assert _upsert(ctx, kube_api.get("pods", "default", "web")).action == "unchanged"


def test_unbound_claim_waits_then_mounts_the_azure_files_share(kube_api, arm, kube, aci_adapter, queue_store, hub):
    _account(kube_api)
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub)
    claim_name, volume_name = f"data-{uuid.uuid4().hex[:6]}", f"share-{uuid.uuid4().hex[:6]}"  # finalizers stay
    pod = make_pod(
        automountServiceAccountToken=False,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
    )
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    created = kube_api.create(pod)
    claim = kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim_name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
        }
    )
    outcome = _upsert(ctx, created)
    assert outcome.action == "waiting"
    status = kube_api.get("pods", "default", "web")["status"]
    assert (status["phase"], status["reason"]) == ("Pending", "WaitingForVolume")
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "files", "namespace": "default"},
            "data": {"azurestorageaccountname": base64.b64encode(b"acct").decode(), "azurestorageaccountkey": "a2V5"},
        }
    )
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "csi": {
                    "driver": "file.csi.azure.com",
                    "volumeHandle": "rg#acct#share",
                    "volumeAttributes": {"shareName": "share", "secretName": "files"},
                },
            },
        }
    )
    claim["spec"]["volumeName"] = volume_name
    claim = kube_api.update(claim)
    claim["status"] = {"phase": "Bound"}
    kube_api.update(claim, subresource="status")
    assert _upsert(ctx, kube_api.get("pods", "default", "web")).action == "created"
    (volume,) = aci_adapter.get(container_group_name(created))["properties"]["volumes"]
    assert volume["name"] == "data" and volume["azureFile"]["shareName"] == "share"


def test_unenforced_fields_run_with_a_warning_event(kube_api, arm, kube, aci_adapter, queue_store, hub):
    _account(kube_api)
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub, UNENFORCEABLE_POD_FIELDS="warn")
    pod = make_pod(automountServiceAccountToken=False)
    pod["spec"]["containers"][0]["securityContext"] = {"readOnlyRootFilesystem": True}
    created = kube_api.create(pod)
    assert _upsert(ctx, created).action == "created"
    assert "securityContext.readOnlyRootFilesystem" in _events(kube_api, created)["UnenforcedFields"]


def test_in_a_subnet_the_group_gets_kube_proxy_and_cluster_dns(kube_api, arm, kube, aci_adapter, queue_store, hub):
    _account(kube_api)
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "aci-connector"}})
    _account(kube_api, "aci-connector-kube-proxy", "aci-connector")
    settings = {"ACI_SUBNET_IDS": SUBNET, "CLUSTER_DNS_IP": "10.0.0.10", "CLUSTER_CIDR": "10.244.0.0/16"}
    ctx = _context(kube_api, arm, kube, aci_adapter, queue_store, hub, **settings)
    created = kube_api.create(make_pod(automountServiceAccountToken=False))
    assert _upsert(ctx, created).action == "created"
    group = aci_adapter.get(container_group_name(created))["properties"]
    assert group["dnsConfig"]["nameServers"] == ["10.0.0.10"]
    assert "ClusterNetworkUnavailable" not in _events(kube_api, created)
    sent = arm.group(container_group_name(created)).spec["properties"]["extensions"][0]["properties"]
    assert sent["extensionType"] == "kube-proxy" and sent["settings"]["clusterCidr"] == "10.244.0.0/16"
    config = json.loads(base64.b64decode(sent["protectedSettings"]["kubeConfig"]))
    assert config["clusters"][0]["cluster"]["server"] == kube_api.url
    token = config["users"][0]["user"]["token"]
    assert claims_of(token)["sub"] == "system:serviceaccount:aci-connector:aci-connector-kube-proxy"
