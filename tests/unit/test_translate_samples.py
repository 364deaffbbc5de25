"""Sample pods and helpers shared by the translate tests (no tests of its own beyond the helpers' sanity).

The Windows IIS pod is the one of the original ACI connector walkthrough (image
microsoft/iis:windowsservercore on node aci-connector-windows), written out as the API
server returns it after admission (defaults, kube-api-access volume, tolerations).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s-pods"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def secret(name: str, data: dict[str, str], kind: str = "Opaque", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": kind,
        "data": {key: b64(value) for key, value in data.items()},
    }


def config_map(name: str, data: dict[str, str], namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def kube_api_access_volume(suffix: str = "x7k2p") -> dict[str, Any]:
    return {
        "name": f"kube-api-access-{suffix}",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


IIS_WINDOWS_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "iis-winsvrcore",
        "namespace": "default",
        "uid": "5c1f0b0e-3b8e-4a53-9d51-2f0c8f3b6a11",
        "resourceVersion": "1042",
        "creationTimestamp": "2017-07-26T18:31:52Z",
    },
    "spec": {
        "containers": [
            {
                "name": "iis-winsvrcore",
                "image": "microsoft/iis:windowsservercore",
                "imagePullPolicy": "Always",
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "1", "memory": "1G"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [
                    {
                        "name": "kube-api-access-x7k2p",
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        "readOnly": True,
                    }
                ],
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": "aci-connector-windows",
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"},
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": [kube_api_access_volume()],
    },
    "status": {"phase": "Pending", "qosClass": "Burstable"},
}

MINIMAL_NGINX_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "nginx",
        "namespace": "default",
        "uid": "0b5a4c1e-8d1f-4f7c-9a3e-1d2c3b4a5f60",
        "creationTimestamp": "2024-05-01T10:00:00Z",
    },
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {},
                "volumeMounts": [
                    {
                        "name": "kube-api-access-x7k2p",
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        "readOnly": True,
                    }
                ],
            }
        ],
        "nodeName": "aci-connector-linux",
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "volumes": [kube_api_access_volume()],
    },
}


def rich_pod(containers: int = 5, env_vars: int = 20) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A busy pod (the benchmark's): N containers, env from values/secrets/configmaps/fields, 6 volumes."""
    volumes = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "creds", "secret": {"secretName": "app-secret", "defaultMode": 256}},
        {"name": "settings", "configMap": {"name": "app-config", "items": [{"key": "app.yaml", "path": "app.yaml"}]}},
        {
            "name": "podinfo",
            "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
        },
        {"name": "share", "azureFile": {"secretName": "storage", "shareName": "data", "readOnly": True}},
        {"name": "source", "gitRepo": {"repository": "https://github.com/example/repo.git", "revision": "main"}},
    ]
    spec_containers = []
    for c in range(containers):
        env: list[dict[str, Any]] = []
        for k in range(env_vars):
            kind = k % 5
            if kind == 0:
                env.append({"name": f"PLAIN_{k}", "value": f"value-{k}"})
            elif kind == 1:
                env.append(
                    {"name": f"SECRET_{k}", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}}
                )
            elif kind == 2:
                env.append(
                    {"name": f"CONFIG_{k}", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "mode"}}}
                )
            elif kind == 3:
                env.append({"name": f"POD_{k}", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
            else:
                env.append({"name": f"EXPANDED_{k}", "value": f"$(PLAIN_{k - 4})-suffix"})
        spec_containers.append(
            {
                "name": f"app-{c}",
                "image": f"myregistry.azurecr.io/team/app-{c}:1.0",
                "command": ["/bin/app"],
                "args": ["--serve", "--port", str(8000 + c)],
                "ports": [{"containerPort": 8000 + c, "protocol": "TCP", "name": "http"}],
                "env": env,
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "500m", "memory": "1Gi"},
                },
                "volumeMounts": [{"name": v["name"], "mountPath": f"/mnt/{v['name']}"} for v in volumes],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
            }
        )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "busy-7d9c8b6f5-abcde",
            "namespace": "team-a",
            "uid": "4f1a7c52-0a8e-4d7b-8c55-3e6f2a9b1c0d",
            "labels": {"app": "busy", "tier": "backend"},
            "creationTimestamp": "2024-05-01T10:00:00Z",
        },
        "spec": {
            "containers": spec_containers,
            "volumes": volumes,
            "nodeName": "aci-connector-linux",
            "imagePullSecrets": [{"name": "acr-pull"}],
        },
    }
    docker = {"auths": {"myregistry.azurecr.io": {"auth": b64("puller:pull-pass")}}}
    secrets = {
        "app-secret": secret("app-secret", {"password": "hunter2-secret", "token": "tok-123"}, namespace="team-a"),
        "storage": secret(
            "storage", {"azurestorageaccountname": "acct", "azurestorageaccountkey": "key=="}, namespace="team-a"
        ),
        "acr-pull": secret(
            "acr-pull", {".dockerconfigjson": json.dumps(docker)}, "kubernetes.io/dockerconfigjson", "team-a"
        ),
    }
    config_maps = {"app-config": config_map("app-config", {"mode": "fast", "app.yaml": "a: 1\n"}, "team-a")}
    return pod, secrets, config_maps


def sdk_round_trip(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the ARM SDK model keeps it: deserialize into ContainerGroup and serialize back."""
    from azure.mgmt.containerinstance.models import ContainerGroup

    return ContainerGroup.deserialize(copy.deepcopy(body)).serialize()


def assert_round_trips(body: dict[str, Any]) -> None:
    """Every field of the body is one the API model knows, with the right shape (nothing dropped or changed)."""
    assert sdk_round_trip(body) == body


def test_helpers_build_valid_objects():
    data = secret("s", {"k": "v"})["data"]
    assert base64.b64decode(data["k"]) == b"v"
    assert load_fixture("pod-running.gke.k9s-p1.json")["kind"] == "Pod"
