"""Pod volumes -> ACI volumes (emptyDir, secret, azureFile, gitRepo), mounts and registry credentials.

ACI has four volume kinds. Secret, configMap, projected and downwardAPI volumes all become
ACI `secret` volumes (read-only files whose content travels base64 in the request and is
never shown back by ARM); azureFile and the Azure Files CSI driver become `azureFile`;
everything that needs the node (hostPath, PVCs, other CSI drivers, NFS...) is refused.
The service-account token volume every pod gets is dropped with a warning unless the
deployment configures a token (SERVICE_ACCOUNT_TOKEN), so ordinary pods still run.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from shared.translate.common import SERVICE_ACCOUNT_MOUNT, Context, reject
from shared.translate.env import field_ref_value, resource_field_value
from shared.translate.resources import ContainerResources

MAX_VOLUMES = 20
AZURE_FILE_DRIVER = "file.csi.azure.com"
ACCOUNT_NAME_KEY = "azurestorageaccountname"
ACCOUNT_KEY_KEY = "azurestorageaccountkey"
KUBE_ROOT_CA = "kube-root-ca.crt"
_UNSUPPORTED_KINDS = (
    "hostPath",
    "nfs",
    "ephemeral",
    "image",
    "iscsi",
    "glusterfs",
    "rbd",
    "cephfs",
    "cinder",
    "fc",
    "flocker",
    "flexVolume",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "vsphereVolume",
    "quobyte",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


@dataclass
class Volumes:
    """Translated volumes plus the names of pod volumes dropped on purpose (their mounts are dropped too)."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return {volume["name"] for volume in self.volumes}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_file_path(path_value: str, path: str) -> None:
    if not path_value or "/" in path_value or path_value in (".", ".."):
        reject(path, f"{path_value!r}: ACI secret volumes hold flat files; nested or empty paths cannot be created")


def _key_files(
    ctx: Context,
    data: dict[str, bytes] | None,
    ref: dict[str, Any],
    path: str,
    *,
    label: str,
    name_field: str,
) -> dict[str, str]:
    """Files of one Secret/ConfigMap source, honouring items (key -> path) and optional."""
    name = ref.get(name_field) or ""
    optional = bool(ref.get("optional"))
    if data is None:
        if optional:
            return {}
        reject(f"{path}.{name_field}", f"{label} {name!r} not found in the pod's namespace")
    items = ref.get("items")
    if not items:
        return {key: _b64(value) for key, value in data.items()}
    files: dict[str, str] = {}
    for k, item in enumerate(items):
        key, target = item.get("key") or "", item.get("path") or ""
        _check_file_path(target, f"{path}.items[{k}].path")
        if "mode" in item:
            ctx.warn(f"{path}.items[{k}].mode", "dropped: ACI sets the file modes of secret volumes itself")
        if key not in data:
            if optional:
                continue
            reject(f"{path}.items[{k}].key", f"{label} {name!r} has no key {key!r}")
        files[target] = _b64(data[key])
    return files


def _downward_files(
    ctx: Context, items: list[dict[str, Any]], path: str, resources: dict[str, ContainerResources]
) -> dict[str, str]:
    files: dict[str, str] = {}
    for k, item in enumerate(items or []):
        item_path = f"{path}.items[{k}]"
        _check_file_path(item.get("path") or "", f"{item_path}.path")
        if "mode" in item:
            ctx.warn(f"{item_path}.mode", "dropped: ACI sets the file modes of secret volumes itself")
        if item.get("fieldRef"):
            field_path = item["fieldRef"].get("fieldPath") or ""
            text = field_ref_value(ctx, field_path, f"{item_path}.fieldRef.fieldPath", volume=True)
        elif item.get("resourceFieldRef"):
            ref = item["resourceFieldRef"]
            text = resource_field_value(ctx, ref, f"{item_path}.resourceFieldRef", resources, None)
        else:
            reject(item_path, "needs fieldRef or resourceFieldRef")
        files[item["path"]] = _b64(text.encode("utf-8"))
    return files


def _is_api_access(volume: dict[str, Any]) -> bool:
    """The kube-api-access-* volume the ServiceAccount admission adds: token, cluster CA and namespace only."""
    sources = (volume.get("projected") or {}).get("sources") or []
    if not sources:
        return False
    for source in sources:
        if "serviceAccountToken" in source:
            continue
        if "configMap" in source and (source["configMap"] or {}).get("name") == KUBE_ROOT_CA:
            continue
        if "downwardAPI" in source:
            continue
        return False
    return any("serviceAccountToken" in source for source in sources)


def _projected(
    ctx: Context, volume: dict[str, Any], path: str, resources: dict[str, ContainerResources]
) -> dict[str, str]:
    projected = volume["projected"] or {}
    if "defaultMode" in projected:
        ctx.warn(f"{path}.defaultMode", "dropped: ACI sets the file modes of secret volumes itself")
    files: dict[str, str] = {}
    for s, source in enumerate(projected.get("sources") or []):
        source_path = f"{path}.sources[{s}]"
        if "secret" in source:
            ref = source["secret"] or {}
            files.update(
                _key_files(
                    ctx,
                    ctx.secret_data(ref.get("name") or ""),
                    ref,
                    f"{source_path}.secret",
                    label="Secret",
                    name_field="name",
                )
            )
        elif "configMap" in source:
            ref = source["configMap"] or {}
            data = ctx.config_map_data(ref.get("name") or "")
            if data is None and ref.get("name") == KUBE_ROOT_CA and ctx.options.ca_cert:
                data = {"ca.crt": ctx.options.ca_cert.encode("utf-8")}
            if data is None and ref.get("name") == KUBE_ROOT_CA:
                ctx.warn(
                    f"{source_path}.configMap", f"skipped: ConfigMap {KUBE_ROOT_CA} not given and KUBE_CA_CERT empty"
                )
                continue
            files.update(_key_files(ctx, data, ref, f"{source_path}.configMap", label="ConfigMap", name_field="name"))
        elif "downwardAPI" in source:
            items = (source["downwardAPI"] or {}).get("items") or []
            files.update(_downward_files(ctx, items, f"{source_path}.downwardAPI", resources))
        elif "serviceAccountToken" in source:
            token = source["serviceAccountToken"] or {}
            target = token.get("path") or ""
            issued = ctx.tokens.get(f"{volume.get('name') or ''}/{target}")
            if issued is None and not ctx.options.service_account_token:
                why = "dropped: no token was requested and SERVICE_ACCOUNT_TOKEN is empty"
                ctx.warn(f"{source_path}.serviceAccountToken", why)
                continue
            _check_file_path(target, f"{source_path}.serviceAccountToken.path")
            if issued is None and token.get("audience"):
                ctx.warn(f"{source_path}.serviceAccountToken.audience", "ignored: the configured token has its own")
            files[target] = _b64((issued or ctx.options.service_account_token).encode("utf-8"))
        elif not source:
            reject(source_path, "a projected source needs secret, configMap, downwardAPI or serviceAccountToken")
        else:
            reject(f"{source_path}.{next(iter(source))}", "this projected source is not available on ACI")
    return files


def _files_volume(name: str, files: dict[str, str]) -> dict[str, Any]:
    """An ACI secret volume, or an emptyDir when there is nothing to put in it (optional source missing)."""
    if not files:
        return {"name": name, "emptyDir": {}}
    return {"name": name, "secret": files}


def _azure_file(
    ctx: Context, secret_name: str, share: str, path: str, *, read_only: bool, account: str = ""
) -> dict[str, Any]:
    if not share:
        reject(f"{path}.shareName", "an Azure Files share name is required")
    data = ctx.secret_data(secret_name)
    if data is None:
        reject(f"{path}.secretName", f"Secret {secret_name!r} not found in the pod's namespace")
    account_name = data.get(ACCOUNT_NAME_KEY, account.encode("utf-8")).decode("utf-8", "replace").strip()
    account_key = data.get(ACCOUNT_KEY_KEY, b"").decode("utf-8", "replace").strip()
    if not account_name or not account_key:
        reject(f"{path}.secretName", f"Secret {secret_name!r} needs keys {ACCOUNT_NAME_KEY} and {ACCOUNT_KEY_KEY}")
    out: dict[str, Any] = {"shareName": share, "storageAccountName": account_name, "storageAccountKey": account_key}
    if read_only:
        out["readOnly"] = True
    return out


def _mounted_at_service_account(ctx: Context, name: str) -> bool:
    spec = ctx.spec
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == name and (mount.get("mountPath") or "").rstrip("/") == SERVICE_ACCOUNT_MOUNT:
                return True
    return False


def _translate_one(
    ctx: Context, volume: dict[str, Any], path: str, resources: dict[str, ContainerResources]
) -> dict[str, Any] | None:
    """One ACI volume, or None when the pod volume is dropped on purpose."""
    name = volume.get("name") or ""
    if "emptyDir" in volume:
        empty = volume["emptyDir"] or {}
        if empty.get("medium") == "Memory":
            ctx.warn(f"{path}.emptyDir.medium", "ignored: ACI emptyDir volumes are disk-backed")
        if empty.get("sizeLimit"):
            ctx.warn(f"{path}.emptyDir.sizeLimit", "ignored: ACI does not limit emptyDir size")
        return {"name": name, "emptyDir": {}}
    if "secret" in volume:
        ref = volume["secret"] or {}
        secret_name = ref.get("secretName") or ""
        service_account = ctx.spec.get("serviceAccountName") or ctx.spec.get("serviceAccount") or "default"
        is_token = secret_name.startswith(f"{service_account}-token-") or _mounted_at_service_account(ctx, name)
        if is_token and (ctx.windows or ctx.secret_data(secret_name) is None):
            ctx.warn(path, "dropped: service-account token volume (its Secret is not available to ACI)")
            return None
        if "defaultMode" in ref:
            ctx.warn(f"{path}.secret.defaultMode", "dropped: ACI sets the file modes of secret volumes itself")
        files = _key_files(
            ctx, ctx.secret_data(secret_name), ref, f"{path}.secret", label="Secret", name_field="secretName"
        )
        return _files_volume(name, files)
    if "configMap" in volume:
        ref = volume["configMap"] or {}
        if "defaultMode" in ref:
            ctx.warn(f"{path}.configMap.defaultMode", "dropped: ACI sets the file modes of secret volumes itself")
        files = _key_files(
            ctx,
            ctx.config_map_data(ref.get("name") or ""),
            ref,
            f"{path}.configMap",
            label="ConfigMap",
            name_field="name",
        )
        return _files_volume(name, files)
    if "projected" in volume:
        requested = any(key.startswith(f"{name}/") for key in ctx.tokens)
        if _is_api_access(volume) and (ctx.windows or not (requested or ctx.options.service_account_token)):
            ctx.warn(path, "dropped: service-account token volume (no SERVICE_ACCOUNT_TOKEN configured)")
            return None
        return _files_volume(name, _projected(ctx, volume, f"{path}.projected", resources))
    if "downwardAPI" in volume:
        downward = volume["downwardAPI"] or {}
        if "defaultMode" in downward:
            ctx.warn(f"{path}.downwardAPI.defaultMode", "dropped: ACI sets the file modes of secret volumes itself")
        return _files_volume(name, _downward_files(ctx, downward.get("items") or [], f"{path}.downwardAPI", resources))
    if "azureFile" in volume:
        ref = volume["azureFile"] or {}
        share = _azure_file(
            ctx,
            ref.get("secretName") or "",
            ref.get("shareName") or "",
            f"{path}.azureFile",
            read_only=bool(ref.get("readOnly")),
        )
        return {"name": name, "azureFile": share}
    if "csi" in volume:
        return {"name": name, "azureFile": _csi(ctx, volume["csi"] or {}, f"{path}.csi")}
    if "persistentVolumeClaim" in volume:
        return {"name": name, "azureFile": _claim(ctx, volume["persistentVolumeClaim"] or {}, path)}
    if "gitRepo" in volume:
        ref = volume["gitRepo"] or {}
        if not ref.get("repository"):
            reject(f"{path}.gitRepo.repository", "a repository URL is required")
        directory = str(ref.get("directory") or "")
        if directory.startswith("..") or ".." in directory.split("/"):
            reject(f"{path}.gitRepo.directory", "must not contain or start with '..' (ACI, as Kubernetes)")
        repo = {key: ref[key] for key in ("repository", "directory", "revision") if ref.get(key)}
        return {"name": name, "gitRepo": repo}
    for kind in _UNSUPPORTED_KINDS:
        if kind in volume:
            reject(
                f"{path}.{kind}",
                "ACI cannot mount this volume type (only emptyDir, secret, configMap, "
                "projected, downwardAPI, azureFile, Azure Files CSI and gitRepo)",
            )
    kind = next((key for key in volume if key != "name"), None)
    reject(f"{path}.{kind}" if kind else path, "unknown volume type" if kind else "a volume needs a source")


def _claim(ctx: Context, ref: dict[str, Any], path: str) -> dict[str, Any]:
    """The Azure Files share the worker found behind a bound claim (shared/kube/claims.py)."""
    claim = ctx.claims.get(ref.get("claimName") or "") or {}
    if "azureFile" not in claim:
        why = claim.get("error") or "ACI mounts only claims bound to an Azure Files share the connector read"
        reject(f"{path}.persistentVolumeClaim", why)
    share = dict(claim["azureFile"])
    if ref.get("readOnly"):
        share["readOnly"] = True
    return share


def _csi(ctx: Context, csi: dict[str, Any], path: str) -> dict[str, Any]:
    if csi.get("driver") != AZURE_FILE_DRIVER:
        reject(f"{path}.driver", f"only the Azure Files CSI driver ({AZURE_FILE_DRIVER}) maps to ACI")
    attributes = csi.get("volumeAttributes") or {}
    secret_name = (csi.get("nodePublishSecretRef") or csi.get("nodeStageSecretRef") or {}).get("name")
    secret_name = secret_name or attributes.get("secretName") or ""
    if not secret_name:
        reject(f"{path}.volumeAttributes.secretName", "ACI needs the storage account key: name its Secret")
    return _azure_file(
        ctx,
        secret_name,
        attributes.get("shareName") or "",
        path,
        read_only=bool(csi.get("readOnly")),
        account=attributes.get("storageAccount") or "",
    )


def translate_volumes(ctx: Context, resources: dict[str, ContainerResources]) -> Volumes:
    result = Volumes()
    for i, volume in enumerate(ctx.spec.get("volumes") or []):
        path = f"spec.volumes[{i}]"
        translated = _translate_one(ctx, volume, path, resources)
        if translated is None:
            result.dropped.add(volume.get("name") or "")
            continue
        if ctx.windows:
            reject(path, "Windows container groups cannot mount volumes on ACI")
        result.volumes.append(translated)
    if len(result.volumes) > MAX_VOLUMES:
        reject("spec.volumes", f"{len(result.volumes)} volumes; an ACI container group has at most {MAX_VOLUMES}")
    return result


def volume_mounts(ctx: Context, container: dict[str, Any], path: str, volumes: Volumes) -> list[dict[str, Any]]:
    known = volumes.names
    mounts = []
    for m, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{m}]"
        name = mount.get("name") or ""
        if name in volumes.dropped:
            continue
        if name not in known:
            reject(f"{mount_path}.name", f"no volume named {name!r}")
        for key in ("subPath", "subPathExpr"):
            if mount.get(key):
                reject(f"{mount_path}.{key}", "ACI mounts whole volumes only")
        if mount.get("mountPropagation") not in (None, "None"):
            reject(f"{mount_path}.mountPropagation", "ACI does not propagate mounts")
        if mount.get("recursiveReadOnly") not in (None, "Disabled"):
            ctx.warn(f"{mount_path}.recursiveReadOnly", "ignored: ACI volumes have no sub-mounts")
        target = str(mount.get("mountPath") or "")
        if not target:
            reject(f"{mount_path}.mountPath", "a mount path is required")
        if ":" in target:
            reject(f"{mount_path}.mountPath", f"{target!r}: ACI mount paths cannot contain ':'")
        out: dict[str, Any] = {"name": name, "mountPath": target}
        if mount.get("readOnly"):
            out["readOnly"] = True
        mounts.append(out)
    return mounts


def _server(key: str) -> str:
    """A docker config key ("https://index.docker.io/v1/", "myacr.azurecr.io") as ACI's registry server."""
    server = key.strip()
    for scheme in ("https://", "http://"):
        if server.startswith(scheme):
            server = server[len(scheme) :]
    return server.split("/", 1)[0]


def _docker_auths(ctx: Context, secret: dict[str, Any], data: dict[str, bytes], path: str) -> dict[str, Any]:
    kind = secret.get("type") or ""
    key = ".dockerconfigjson" if kind == "kubernetes.io/dockerconfigjson" else ".dockercfg"
    if kind not in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg") or key not in data:
        ctx.warn(path, f"skipped: Secret type {kind!r} holds no docker registry credentials")
        return {}
    try:
        parsed = json.loads(data[key].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        reject(path, f"the Secret's {key} is not valid JSON")
    if not isinstance(parsed, dict):
        reject(path, f"the Secret's {key} is not a JSON object")
    auths = parsed.get("auths", {}) if key == ".dockerconfigjson" else parsed
    return auths if isinstance(auths, dict) else {}


def registry_credentials(ctx: Context) -> list[dict[str, str]]:
    """imageRegistryCredentials from spec.imagePullSecrets (every registry of every secret, first one wins)."""
    credentials: dict[str, dict[str, str]] = {}
    for i, ref in enumerate(ctx.spec.get("imagePullSecrets") or []):
        path = f"spec.imagePullSecrets[{i}]"
        name = (ref or {}).get("name") or ""
        secret, data = ctx.secret_object(name), ctx.secret_data(name)
        if secret is None or data is None:
            ctx.warn(path, f"skipped: Secret {name!r} not found (images from private registries may fail to pull)")
            continue
        for registry, entry in _docker_auths(ctx, secret, data, path).items():
            server = _server(registry)
            if not server or server in credentials or not isinstance(entry, dict):
                continue
            username, password = entry.get("username") or "", entry.get("password") or ""
            if entry.get("auth"):
                try:
                    decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
                except (binascii.Error, ValueError, UnicodeDecodeError):
                    reject(path, f"the auth of registry {registry!r} is not base64 of user:password")
                username, _, password = decoded.partition(":")
            if not username or not password:
                ctx.warn(path, f"registry {registry!r} skipped: ACI needs a username and password")
                continue
            credentials[server] = {"server": server, "username": username, "password": password}
    return list(credentials.values())
