"""PersistentVolumeClaims of a pod -> the Azure Files shares ACI can mount, read as the CSI driver reads them.

A claim is usable when it is Bound to a PersistentVolume that is an Azure Files share: the in-tree
`azureFile` source or the CSI driver `file.csi.azure.com`. The account key comes from the Secret the
volume names, in the namespace the driver would read: a CSI `nodeStageSecretRef` carries its own;
`volumeAttributes.secretName` is read in `secretNamespace`, else the claim's namespace; the in-tree
source's `secretNamespace` defaults to the pod's. Account name: the Secret's `azurestorageaccountname`,
else the CSI `storageAccount` attribute or the account part of the volume handle (`rg#account#share`).

An unbound or missing claim means the pod waits (ClaimPending: the worker leaves it Pending with the
reason, the reconciler asks again); any other volume type is a clear, permanent refusal naming it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

AZURE_FILE_DRIVER = "file.csi.azure.com"
ACCOUNT_NAME_KEY = "azurestorageaccountname"
ACCOUNT_KEY_KEY = "azurestorageaccountkey"


class ClaimPending(Exception):
    """A claim is not bound (or not there) yet: the pod waits, as the kubelet waits to mount it."""


def claim_names(pod: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim and claim not in names:
            names.append(claim)
    return names


def resolve_claims(kube: Any, pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """claimName -> {"azureFile": {...ACI azureFile...}} or {"error": why}; raises ClaimPending."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    resolved: dict[str, dict[str, Any]] = {}
    for name in claim_names(pod):
        claim = kube.get_namespaced("persistentvolumeclaims", namespace, name)
        if claim is None:
            raise ClaimPending(f'persistentvolumeclaim "{name}" not found')
        volume_name = (claim.get("spec") or {}).get("volumeName")
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        if not volume_name or phase != "Bound":
            raise ClaimPending(f'persistentvolumeclaim "{name}" is not bound yet (phase {phase})')
        volume = kube.get(f"/api/v1/persistentvolumes/{volume_name}")
        if volume is None:
            raise ClaimPending(f'persistentvolume "{volume_name}" of claim "{name}" not found')
        resolved[name] = _share(kube, volume, namespace)
    return resolved


def _share(kube: Any, volume: dict[str, Any], namespace: str) -> dict[str, Any]:
    spec = volume.get("spec") or {}
    pv = (volume.get("metadata") or {}).get("name") or ""
    if "azureFile" in spec:
        source = spec["azureFile"] or {}
        return _with_key(
            kube,
            pv,
            share=source.get("shareName") or "",
            secret=(source.get("secretNamespace") or namespace, source.get("secretName") or ""),
            read_only=bool(source.get("readOnly")),
        )
    csi = spec.get("csi")
    if isinstance(csi, dict) and csi.get("driver") == AZURE_FILE_DRIVER:
        attributes = csi.get("volumeAttributes") or {}
        stage = csi.get("nodeStageSecretRef") or {}
        if stage.get("name"):
            secret = (stage.get("namespace") or namespace, stage["name"])
        else:
            secret = (attributes.get("secretNamespace") or namespace, attributes.get("secretName") or "")
        handle = str(csi.get("volumeHandle") or "").split("#")
        share = attributes.get("shareName") or (handle[2] if len(handle) > 2 else "")
        account = attributes.get("storageAccount") or (handle[1] if len(handle) > 1 else "")
        return _with_key(kube, pv, share=share, secret=secret, read_only=bool(csi.get("readOnly")), account=account)
    kind = f"the CSI driver {csi.get('driver')!r}" if isinstance(csi, dict) else _source_kind(spec)
    return {"error": f'persistentvolume "{pv}" uses {kind}; ACI mounts Azure Files shares only'}


def _with_key(
    kube: Any, pv: str, *, share: str, secret: tuple[str, str], read_only: bool, account: str = ""
) -> dict[str, Any]:
    secret_namespace, secret_name = secret
    if not share:
        return {"error": f'persistentvolume "{pv}" names no Azure Files share (shareName)'}
    if not secret_name:
        return {"error": f'persistentvolume "{pv}" names no Secret with the storage account key'}
    found = kube.get_namespaced("secrets", secret_namespace, secret_name)
    if found is None:
        return {"error": f'persistentvolume "{pv}": secret "{secret_namespace}/{secret_name}" not found'}
    data = found.get("data") or {}
    name = _decoded(data.get(ACCOUNT_NAME_KEY)) or account
    key = _decoded(data.get(ACCOUNT_KEY_KEY))
    if not name or not key:
        missing = ACCOUNT_KEY_KEY if name else ACCOUNT_NAME_KEY
        return {"error": f'persistentvolume "{pv}": secret "{secret_namespace}/{secret_name}" has no {missing}'}
    share_spec: dict[str, Any] = {"shareName": share, "storageAccountName": name, "storageAccountKey": key}
    if read_only:
        share_spec["readOnly"] = True
    return {"azureFile": share_spec}


def _decoded(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return ""


def _source_kind(spec: dict[str, Any]) -> str:
    known = ("capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName")
    extra = ("mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName")
    kinds = [key for key in spec if key not in known + extra]
    return f"a {kinds[0]} volume" if kinds else "no volume source"
