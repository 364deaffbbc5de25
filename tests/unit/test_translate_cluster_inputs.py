"""What the worker resolves and passes in: image configs, tokens, claims, the kube-proxy kubeconfig, leniency."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from shared.errors import UnsupportedPodSpec
from shared.translate import TranslateOptions, translate_pod
from tests.unit.test_translate_samples import MINIMAL_NGINX_POD

SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
NGINX = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"]}


def pod(**container: Any) -> dict[str, Any]:
    out = copy.deepcopy(MINIMAL_NGINX_POD)
    out["spec"]["containers"][0].update(container)
    return out


def command(translation: Any) -> list[str]:
    return translation.body["properties"]["containers"][0]["properties"]["command"]


def test_args_without_command_keep_the_image_entrypoint() -> None:
    p = pod(image="nginx:1.29", args=["-g", "daemon off; worker_processes $(N);"], env=[{"name": "N", "value": "2"}])
    translation = translate_pod(p, images={"nginx:1.29": NGINX})
    assert command(translation) == ["/docker-entrypoint.sh", "-g", "daemon off; worker_processes 2;"]


def test_image_without_entrypoint_runs_the_args() -> None:
    translation = translate_pod(
        pod(image="busybox", args=["sh", "-c", "true"]), images={"busybox": {"Entrypoint": [], "Cmd": ["sh"]}}
    )
    assert command(translation) == ["sh", "-c", "true"]


def test_unresolved_image_is_rejected_with_the_registry_error() -> None:
    error = "registry docker.io answered 404 for docker.io/library/nginx:nope: MANIFEST_UNKNOWN: manifest unknown"
    with pytest.raises(UnsupportedPodSpec, match="MANIFEST_UNKNOWN") as caught:
        translate_pod(pod(image="nginx:nope", args=["-v"]), images={"nginx:nope": {"error": error}})
    assert caught.value.field == "spec.containers[0].args"
    with pytest.raises(UnsupportedPodSpec, match="image config was not read"):
        translate_pod(pod(image="nginx:nope", args=["-v"]))


HARDENED = {"readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 101}


def test_unenforceable_fields_are_rejected_by_default_and_listed_with_warn() -> None:
    p = pod(securityContext=HARDENED, readinessProbe={"tcpSocket": {"port": 80}})
    with pytest.raises(UnsupportedPodSpec, match="UNENFORCEABLE_POD_FIELDS=warn"):
        translate_pod(p)
    translation = translate_pod(p, settings=TranslateOptions(unenforceable="warn"))
    assert [entry.split(": ")[0] for entry in translation.unenforced] == [
        "spec.containers[0].securityContext.readOnlyRootFilesystem",
        "spec.containers[0].readinessProbe.tcpSocket",
    ]
    container = translation.body["properties"]["containers"][0]["properties"]
    assert "readinessProbe" not in container
    assert container["securityContext"] == {"runAsUser": 101}


def test_the_pod_annotation_chooses_for_itself() -> None:
    p = pod(securityContext=HARDENED)
    p["metadata"]["annotations"] = {"aci-connector.io/unenforceable-fields": "warn"}
    assert translate_pod(p).unenforced
    p["metadata"]["annotations"] = {"aci-connector.io/unenforceable-fields": "reject"}
    with pytest.raises(UnsupportedPodSpec):
        translate_pod(p, settings=TranslateOptions(unenforceable="warn"))
    p["metadata"]["annotations"] = {"aci-connector.io/unenforceable-fields": "maybe"}
    with pytest.raises(UnsupportedPodSpec, match="not warn or reject"):
        translate_pod(p)


def test_what_would_make_the_workload_wrong_stays_rejected_with_warn() -> None:
    lenient = TranslateOptions(unenforceable="warn")
    for bad in (
        pod(securityContext={"privileged": True}),
        pod(securityContext={"seccompProfile": {"type": "Unconfined"}}),
        pod(ports=[{"containerPort": 80, "hostPort": 8080}]),
    ):
        with pytest.raises(UnsupportedPodSpec):
            translate_pod(bad, settings=lenient)
    host = pod()
    host["spec"]["hostNetwork"] = True
    with pytest.raises(UnsupportedPodSpec, match="hostNetwork"):
        translate_pod(host, settings=lenient)


def _with_api_access(p: dict[str, Any]) -> dict[str, Any]:
    p["spec"]["volumes"] = [
        {
            "name": "kube-api-access-x",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                ]
            },
        }
    ]
    mount = {
        "name": "kube-api-access-x",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }
    p["spec"]["containers"][0]["volumeMounts"] = [mount]
    return p


def test_requested_tokens_fill_the_api_access_volume() -> None:
    p = _with_api_access(pod())
    dropped = translate_pod(p)
    assert "volumes" not in dropped.body["properties"]
    translation = translate_pod(p, tokens={"kube-api-access-x/token": "bound-token"})
    files = translation.body["properties"]["volumes"][0]["secret"]
    assert base64.b64decode(files["token"]) == b"bound-token"
    assert base64.b64decode(files["namespace"]) == b"default"


def test_claims_become_azure_files_volumes() -> None:
    p = pod(volumeMounts=[{"name": "data", "mountPath": "/data"}])
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "pvc", "readOnly": True}}]
    share = {"shareName": "s", "storageAccountName": "a", "storageAccountKey": "k"}
    translation = translate_pod(p, claims={"pvc": {"azureFile": share}})
    assert translation.body["properties"]["volumes"] == [{"name": "data", "azureFile": {**share, "readOnly": True}}]
    with pytest.raises(UnsupportedPodSpec, match=r"disk\.csi\.azure\.com"):
        translate_pod(p, claims={"pvc": {"error": "persistentvolume \"d\" uses the CSI driver 'disk.csi.azure.com'"}})


def test_kube_proxy_extension_only_in_a_subnet_on_linux() -> None:
    config = json.dumps({"kind": "Config"})
    outside = translate_pod(pod(), kube_proxy=config)
    assert "extensions" not in outside.body["properties"]
    inside = translate_pod(
        pod(), kube_proxy=config, settings=TranslateOptions(subnet_ids=(SUBNET,), cluster_cidr="10.244.0.0/16")
    )
    (extension,) = inside.body["properties"]["extensions"]
    assert extension["name"] == "kube-proxy"
    assert extension["properties"]["extensionType"] == "kube-proxy"
    assert extension["properties"]["settings"]["clusterCidr"] == "10.244.0.0/16"
    assert base64.b64decode(extension["properties"]["protectedSettings"]["kubeConfig"]).decode() == config


def test_dns_follows_the_kubelet_limits_and_skips_windows() -> None:
    options = TranslateOptions(subnet_ids=(SUBNET,), cluster_dns_ip="10.0.0.10")
    p = pod()
    p["spec"]["dnsConfig"] = {
        "nameservers": ["1.1.1.1", "8.8.8.8", "9.9.9.9"],
        "searches": [f"d{i}.example" for i in range(40)],
    }
    translation = translate_pod(p, settings=options)
    dns = translation.body["properties"]["dnsConfig"]
    assert dns["nameServers"] == ["10.0.0.10", "1.1.1.1", "8.8.8.8"]
    assert len(dns["searchDomains"].split()) == 32
    assert any(w.startswith("spec.dnsConfig.nameservers") for w in translation.warnings)
    windows = pod()
    windows["spec"]["nodeName"] = "aci-connector-windows"
    translation = translate_pod(windows, settings=options)
    assert "dnsConfig" not in translation.body["properties"]
    assert any(w.startswith("spec.dnsPolicy: ignored") for w in translation.warnings)


def test_the_pod_can_decline_the_kube_proxy_extension() -> None:
    p = pod()
    p["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.injectkubeproxy": "false"}
    translation = translate_pod(p, kube_proxy="{}", settings=TranslateOptions(subnet_ids=(SUBNET,)))
    assert "extensions" not in translation.body["properties"]
