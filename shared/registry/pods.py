"""Which images of a pod need their config read, with which credentials, and the results for translation.

Only containers that give `args` without `command` need the image's ENTRYPOINT; every other pod costs
no registry call. Credentials come from the pod's `imagePullSecrets` (dockerconfigjson or dockercfg
Secrets of its namespace), matched by registry host as the kubelet matches them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from shared.registry.client import Credentials, ImageUnavailable
from shared.registry.reference import BadReference, canonical_registry, parse_image
from shared.registry.resolver import ImageResolver


def images_to_resolve(pod: Mapping[str, Any]) -> list[str]:
    """Images (as written) of the containers that keep the image ENTRYPOINT: `args` without `command`."""
    spec = pod.get("spec") or {}
    images: list[str] = []
    for section in ("initContainers", "containers"):
        for container in spec.get(section) or []:
            image = str(container.get("image") or "").strip()
            if container.get("args") and not container.get("command") and image and image not in images:
                images.append(image)
    return images


def pull_credentials(pod: Mapping[str, Any], secrets: Mapping[str, Any]) -> dict[str, Credentials]:
    """Registry (canonical host) -> credentials from the pod's imagePullSecrets; the first secret wins."""
    found: dict[str, Credentials] = {}
    for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
        secret = secrets.get((ref or {}).get("name") or "")
        for server, entry in _auths(secret).items():
            registry = canonical_registry(server)
            credentials = _entry_credentials(entry)
            if registry and credentials and registry not in found:
                found[registry] = credentials
    return found


def resolve_pod_images(
    pod: Mapping[str, Any], secrets: Mapping[str, Any], resolver: ImageResolver, os_name: str
) -> dict[str, dict[str, Any]]:
    """`images=` for the translation: image -> config, or -> {"error": why} when the registry says no.

    Transient registry failures (5xx, timeouts, 429) are raised, so the message is retried instead of
    the pod being failed for a registry's bad minute.
    """
    credentials = pull_credentials(pod, secrets)
    resolved: dict[str, dict[str, Any]] = {}
    for image in images_to_resolve(pod):
        try:
            registry = parse_image(image).registry
        except BadReference:
            registry = ""
        try:
            config = resolver.resolve(image, os_name=os_name, credentials=credentials.get(registry))
        except ImageUnavailable as error:
            resolved[image] = {"error": str(error)}
            continue
        resolved[image] = config.for_translation()
    return resolved


def _auths(secret: Any) -> dict[str, Any]:
    if not isinstance(secret, Mapping):
        return {}
    data = secret.get("data") or {}
    kind = secret.get("type") or ""
    key = ".dockerconfigjson" if kind == "kubernetes.io/dockerconfigjson" else ".dockercfg"
    raw = data.get(key)
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    auths = parsed.get("auths", {}) if key == ".dockerconfigjson" and isinstance(parsed, dict) else parsed
    return auths if isinstance(auths, dict) else {}


def _entry_credentials(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
    return Credentials(username, password) if username and password else None
