"""The API server's defaults for a Pod, applied before translating a manifest that never went through one.

A pod read from the Kubernetes API has been defaulted (SetDefaults_Pod and friends in
k8s.io/kubernetes/pkg/apis/core/v1/defaults.go); a manifest submitted in standalone mode, or an
audit event's request body, has not. The translator relies on some of those defaults, so it applies
the same ones first: on an API-shaped pod they change nothing. Only defaults that change what the
translation does are applied (not, say, probe timings or file modes: ACI has the same defaults
for the first and ignores the second).
"""

from __future__ import annotations

import copy
from typing import Any

# Volume sources the API knows; a volume naming none of them is an emptyDir (SetDefaults_Volume).
VOLUME_SOURCES = frozenset(
    {
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    }
)


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if target.get(key) is None:
        target[key] = value


def _container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
    for env in container.get("env") or []:
        field = ((env or {}).get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field, dict):
            _set(field, "apiVersion", "v1")


def _volume(volume: Any) -> None:
    if not isinstance(volume, dict):
        return
    if not any(key in volume for key in VOLUME_SOURCES):
        volume["emptyDir"] = {}


def with_api_defaults(pod: dict[str, Any]) -> dict[str, Any]:
    """A copy of `pod` with the API server's defaults the translation relies on; the input is not changed."""
    out = copy.deepcopy(pod)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "terminationGracePeriodSeconds", 30)
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            _container(container)
    for volume in spec.get("volumes") or []:
        _volume(volume)
    return out
