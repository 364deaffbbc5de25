"""Which Secrets and ConfigMaps a pod needs, and reading just those before translating."""

from __future__ import annotations

from typing import Any

from shared.errors import ReferenceForbidden


def referenced_objects(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(secret names, config map names) the pod's env, envFrom, volumes and imagePullSecrets name."""
    spec = pod.get("spec") or {}
    secrets: set[str] = {ref["name"] for ref in spec.get("imagePullSecrets") or [] if ref.get("name")}
    config_maps: set[str] = set()
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            _add(secrets, source.get("secretKeyRef"))
            _add(config_maps, source.get("configMapKeyRef"))
        for env_from in container.get("envFrom") or []:
            _add(secrets, env_from.get("secretRef"))
            _add(config_maps, env_from.get("configMapRef"))
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            secrets.add(volume["secret"].get("secretName", ""))
        _add(config_maps, volume.get("configMap"))
        _add(secrets, (volume.get("azureFile") or {}).get("secretName") and {"name": volume["azureFile"]["secretName"]})
        csi = volume.get("csi") or {}
        _add(secrets, csi.get("nodePublishSecretRef"))
        _add(secrets, csi.get("nodeStageSecretRef"))
        if (csi.get("volumeAttributes") or {}).get("secretName"):
            secrets.add(csi["volumeAttributes"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            _add(secrets, source.get("secret"))
            _add(config_maps, source.get("configMap"))
    secrets.discard("")
    config_maps.discard("")
    return secrets, config_maps


def _add(names: set[str], ref: Any) -> None:
    if isinstance(ref, dict) and ref.get("name"):
        names.add(ref["name"])


def fetch_references(kube: Any, pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The referenced Secrets and ConfigMaps that exist, by name (a missing one is the translation's to judge).

    A 403 is permanent for this pod (ReferenceForbidden): retrying cannot grant the permission, and a retry
    storm would only hide the cause.
    """
    from shared.kube import KubeApiError

    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    secret_names, config_map_names = referenced_objects(pod)
    try:
        secrets = {n: s for n in secret_names if (s := kube.get_namespaced("secrets", namespace, n)) is not None}
        config_maps = {
            n: c for n in config_map_names if (c := kube.get_namespaced("configmaps", namespace, n)) is not None
        }
    except KubeApiError as error:
        if error.status != 403:
            raise
        raise ReferenceForbidden(
            f"the connector may not read a Secret or ConfigMap the pod references ({error.message[:300]}): "
            "grant get on it to the connector's identity, then re-create the pod"
        ) from None
    return secrets, config_maps
