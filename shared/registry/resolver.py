"""Image reference -> the image's config (ENTRYPOINT, CMD, ...), read from its registry and cached by digest.

Kubernetes keeps the image's ENTRYPOINT when a container gives `args` without `command`; ACI's
`command` replaces both, so the connector needs the ENTRYPOINT to send `ENTRYPOINT + args`. The config
is reached as a runtime reaches it: the manifest (a manifest list / OCI index is narrowed to the node's
OS on amd64, the only architecture ACI runs), then the config blob it names. Everything addressed by
digest is immutable, so configs are cached by manifest digest (a tag costs one HEAD to learn its
current digest, which Docker Hub does not count against its pull rate limit) and every blob is
checked against its digest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.registry.client import Credentials, ImageUnavailable, RegistryClient
from shared.registry.reference import BadReference, ImageRef, parse_image

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
LISTS = (DOCKER_LIST, OCI_INDEX)
ARCHITECTURE = "amd64"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime would take from the image: its argv parts, and where it was read."""

    image: str
    digest: str
    os: str
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def for_translation(self) -> dict[str, Any]:
        """The `images=` value pod_to_container_group takes (the config's own key names)."""
        return {"Entrypoint": list(self.entrypoint), "Cmd": list(self.cmd), "digest": self.digest}


class ImageResolver:
    """Resolve image configs; one per process, shared by invocations (bounded cache, thread-safe)."""

    def __init__(self, client: RegistryClient, *, cache_size: int = 1024) -> None:
        self._client = client
        self._cache: OrderedDict[tuple[str, str], ImageConfig] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def resolve(self, image: str, *, os_name: str = "linux", credentials: Credentials | None = None) -> ImageConfig:
        """The config of `image` for `os_name` (linux or windows). Raises ImageUnavailable or RetryableError."""
        try:
            ref = parse_image(image)
        except BadReference as error:
            raise ImageUnavailable(f"image {image!r}: {error}") from None
        os_name = os_name.lower()
        digest = ref.digest or self._head_digest(ref, credentials)
        return self._by_digest(image, ref, digest, os_name, credentials)

    def _head_digest(self, ref: ImageRef, credentials: Credentials | None) -> str | None:
        """The tag's current digest; None lets the GET that follows report the registry's error (HEADs have no body)."""
        try:
            response = self._client.request(
                "HEAD", ref, f"manifests/{ref.reference}", accept=ACCEPT, credentials=credentials
            )
        except ImageUnavailable:
            return None
        return response.headers.get("Docker-Content-Digest") or None

    def _by_digest(
        self, image: str, ref: ImageRef, digest: str | None, os_name: str, credentials: Credentials | None
    ) -> ImageConfig:
        if digest:
            cached = self._cached(digest, os_name)
            if cached is not None:
                return cached
        manifest, media_type, actual = self._manifest(ref, digest or ref.reference, credentials)
        if media_type in LISTS:
            child = _pick_platform(manifest, os_name, ref)
            config = self._by_digest(image, ref, child, os_name, credentials)
        else:
            config = self._config(
                image,
                ref,
                manifest=manifest,
                media_type=media_type,
                digest=actual,
                os_name=os_name,
                credentials=credentials,
            )
        self._remember(actual, os_name, config)
        return config

    def _manifest(
        self, ref: ImageRef, reference: str, credentials: Credentials | None
    ) -> tuple[dict[str, Any], str, str]:
        response = self._client.request("GET", ref, f"manifests/{reference}", accept=ACCEPT, credentials=credentials)
        body = _limited(response, ref)
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != actual:
            raise ImageUnavailable(f"{ref}: manifest {reference} does not match its content (got {actual})")
        document = _document(body, ref, "manifest")
        media_type = document.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in (*LISTS, DOCKER_MANIFEST, OCI_MANIFEST):
            raise ImageUnavailable(f"{ref}: unsupported manifest type {media_type or 'unknown'!r}")
        return document, media_type, actual

    def _config(
        self,
        image: str,
        ref: ImageRef,
        *,
        manifest: dict[str, Any],
        media_type: str,
        digest: str,
        os_name: str,
        credentials: Credentials | None,
    ) -> ImageConfig:
        descriptor = manifest.get("config") or {}
        blob_digest = descriptor.get("digest") or ""
        if not isinstance(blob_digest, str) or not blob_digest.startswith("sha256:"):
            raise ImageUnavailable(f"{ref}: the {media_type} manifest names no sha256 config blob")
        response = self._client.request("GET", ref, f"blobs/{blob_digest}", credentials=credentials)
        body = _limited(response, ref)
        if "sha256:" + hashlib.sha256(body).hexdigest() != blob_digest:
            raise ImageUnavailable(f"{ref}: config blob {blob_digest} does not match its content")
        document = _document(body, ref, "config")
        image_os = str(document.get("os") or os_name).lower()
        if image_os != os_name:
            raise ImageUnavailable(f"{ref} is a {image_os} image; the pod runs on a {os_name} node")
        runtime = document.get("config") or {}
        return ImageConfig(
            image=image,
            digest=digest,
            os=image_os,
            entrypoint=_strings(runtime.get("Entrypoint")),
            cmd=_strings(runtime.get("Cmd")),
        )

    def _cached(self, digest: str, os_name: str) -> ImageConfig | None:
        with self._lock:
            config = self._cache.get((digest, os_name))
            if config is not None:
                self._cache.move_to_end((digest, os_name))
            return config

    def _remember(self, digest: str, os_name: str, config: ImageConfig) -> None:
        with self._lock:
            self._cache[(digest, os_name)] = config
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _pick_platform(index: Mapping[str, Any], os_name: str, ref: ImageRef) -> str:
    """The manifest of a list for `os_name`/amd64 (attestations and other platforms skipped)."""
    offered: list[str] = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        entry_os, arch = str(platform.get("os") or ""), str(platform.get("architecture") or "")
        offered.append(f"{entry_os}/{arch}")
        if entry_os == os_name and arch == ARCHITECTURE and isinstance(entry.get("digest"), str):
            return entry["digest"]
    choices = ", ".join(sorted(set(offered) - {"unknown/unknown"})) or "none"
    raise ImageUnavailable(f"{ref} has no {os_name}/{ARCHITECTURE} image (platforms: {choices})")


def _limited(response: Any, ref: ImageRef) -> bytes:
    body = response.content
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ImageUnavailable(f"{ref}: registry document larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


def _document(body: bytes, ref: ImageRef, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ImageUnavailable(f"{ref}: the {what} is not JSON") from None
    if not isinstance(document, dict):
        raise ImageUnavailable(f"{ref}: the {what} is not a JSON object")
    return document


def _strings(value: Any) -> list[str]:
    return [str(part) for part in value] if isinstance(value, list) else []
