"""PersistentVolumeClaims resolved to Azure Files shares through the apiserver (fake and real).

PersistentVolumes and claims carry protection finalizers no controller removes here, so every test names
its own with a unique suffix (`_n`) instead of relying on deletion between tests.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from shared.kube import KubeClient
from shared.kube.claims import ClaimPending, resolve_claims
from tests.fakes.connector_fixtures import make_pod

SUFFIX = {"value": ""}


@pytest.fixture(autouse=True)
def _unique_names() -> None:
    SUFFIX["value"] = "-" + uuid.uuid4().hex[:6]


def _n(name: str) -> str:
    return name + SUFFIX["value"]


def _resolve(kube: KubeClient, *claims: str) -> dict[str, Any]:
    return {key.removesuffix(SUFFIX["value"]): value for key, value in resolve_claims(kube, _pod_with(*claims)).items()}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(kube_api: Any, name: str, namespace: str = "default", **data: str) -> None:
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {key: _b64(value) for key, value in data.items()},
        }
    )


def _pv(kube_api: Any, name: str, source: dict[str, Any]) -> None:
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": _n(name)},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany"], **source},
        }
    )


def _pvc(kube_api: Any, name: str, volume: str | None, phase: str = "Bound") -> None:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "5Gi"}}}
    if volume:
        spec["volumeName"] = _n(volume)
    claim = kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": _n(name), "namespace": "default"},
            "spec": spec,
        }
    )
    claim["status"] = {"phase": phase}
    kube_api.update(claim, subresource="status")


def _pod_with(*claims: str) -> dict[str, Any]:
    pod = make_pod()
    pod["spec"]["volumes"] = [{"name": c, "persistentVolumeClaim": {"claimName": _n(c)}} for c in claims]
    return pod


KEYS = {"azurestorageaccountname": "acct", "azurestorageaccountkey": "a2V5"}


def test_csi_and_in_tree_azure_files(kube_api: Any, kube: KubeClient) -> None:
    _secret(kube_api, "files", **KEYS)
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "storage"}})
    _secret(kube_api, "other-ns-key", namespace="storage", azurestorageaccountkey="k2")
    _pv(
        kube_api,
        "csi",
        {
            "csi": {
                "driver": "file.csi.azure.com",
                "volumeHandle": "rg#acct#share1",
                "volumeAttributes": {"shareName": "share1", "secretName": "files"},
            }
        },
    )
    _pv(
        kube_api,
        "staged",
        {
            "csi": {
                "driver": "file.csi.azure.com",
                "volumeHandle": "rg#acct2#share2",
                "nodeStageSecretRef": {"name": "other-ns-key", "namespace": "storage"},
            }
        },
    )
    _pv(kube_api, "intree", {"azureFile": {"secretName": "files", "shareName": "share3", "readOnly": True}})
    for claim, pv in (("a", "csi"), ("b", "staged"), ("c", "intree")):
        _pvc(kube_api, claim, pv)
    shares = _resolve(kube, "a", "b", "c")
    assert shares["a"] == {
        "azureFile": {"shareName": "share1", "storageAccountName": "acct", "storageAccountKey": "a2V5"}
    }
    assert shares["b"] == {
        "azureFile": {"shareName": "share2", "storageAccountName": "acct2", "storageAccountKey": "k2"}
    }
    assert shares["c"]["azureFile"]["readOnly"] is True


def test_unbound_claim_waits(kube_api: Any, kube: KubeClient) -> None:
    _pvc(kube_api, "data", None, phase="Pending")
    with pytest.raises(ClaimPending, match=rf'"{_n("data")}" is not bound yet'):
        resolve_claims(kube, _pod_with("data"))
    with pytest.raises(ClaimPending, match=rf'"{_n("missing")}" not found'):
        resolve_claims(kube, _pod_with("missing"))


def test_other_volume_types_name_the_driver(kube_api: Any, kube: KubeClient) -> None:
    _pv(kube_api, "disk", {"csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/subscriptions/x/disk"}})
    _pv(kube_api, "nfs", {"nfs": {"server": "nfs.example", "path": "/"}})
    _pvc(kube_api, "d", "disk")
    _pvc(kube_api, "n", "nfs")
    shares = _resolve(kube, "d", "n")
    assert "the CSI driver 'disk.csi.azure.com'" in shares["d"]["error"]
    assert f'persistentvolume "{_n("nfs")}"' in shares["n"]["error"]
    assert "a nfs volume" in shares["n"]["error"]


def test_missing_key_secret_is_explained(kube_api: Any, kube: KubeClient) -> None:
    _pv(
        kube_api,
        "csi",
        {
            "csi": {
                "driver": "file.csi.azure.com",
                "volumeHandle": "rg#acct#s",
                "volumeAttributes": {"secretName": "nope"},
            }
        },
    )
    _pvc(kube_api, "a", "csi")
    assert 'secret "default/nope" not found' in _resolve(kube, "a")["a"]["error"]
