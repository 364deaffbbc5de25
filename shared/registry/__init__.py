"""Container registries (OCI distribution API): the image configs the translation needs.

`resolve_pod_images(pod, secrets, resolver, os_name)` is what the worker calls; `get_image_resolver`
builds the process-wide resolver (HTTP session, token cache, config cache) on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from shared.registry.client import Credentials, ImageUnavailable, RegistryClient, RegistryUnreachable
from shared.registry.pods import images_to_resolve, pull_credentials, resolve_pod_images
from shared.registry.reference import ImageRef, parse_image
from shared.registry.resolver import ImageConfig, ImageResolver

__all__ = [
    "Credentials",
    "ImageConfig",
    "ImageRef",
    "ImageResolver",
    "ImageUnavailable",
    "RegistryClient",
    "RegistryUnreachable",
    "get_image_resolver",
    "images_to_resolve",
    "parse_image",
    "pull_credentials",
    "resolve_pod_images",
]

_singleton: dict[str, ImageResolver] = {}
_lock = threading.Lock()


def get_image_resolver(settings: Any) -> ImageResolver:
    """The process-wide resolver; ACR images without a pull secret use the app's Entra ID identity."""
    with _lock:
        if "resolver" not in _singleton:
            client = RegistryClient(timeout=float(settings["REGISTRY_TIMEOUT_SECONDS"]), entra_token=_entra(settings))
            _singleton["resolver"] = ImageResolver(client)
        return _singleton["resolver"]


def _entra(settings: Any) -> Any:
    """Entra ID tokens of the Function App's identity, for ACR images without a pull secret (built on first use)."""
    credential: list[Any] = []

    def token() -> str:
        if not credential:
            from shared.azure.aci import _default_credential

            credential.append(_default_credential(settings))
        return credential[0].get_token("https://management.azure.com/.default").token

    return token
