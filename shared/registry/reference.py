"""Image references as a container runtime reads them: `nginx` is `docker.io/library/nginx:latest`.

Pure string handling, no I/O. The rules are the distribution reference grammar's: the first path
component is a registry only when it looks like a host (has a dot or a port, or is `localhost`);
otherwise the image lives on Docker Hub, under `library/` when it has a single component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
"""Docker Hub's name in references and pull secrets, and the host that actually serves its v2 API."""
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


class BadReference(ValueError):
    """The image string is not a valid reference; the message says which part."""


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. `registry` is canonical (`docker.io` for Docker Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when pinned, else the tag (default `latest`)."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def canonical_registry(server: str) -> str:
    """A registry as written in a pull secret or image (`https://index.docker.io/v1/`) -> canonical host."""
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def parse_image(image: str) -> ImageRef:
    """Parse `[registry/]repository[:tag][@digest]`, raising BadReference naming the bad part."""
    text = (image or "").strip()
    if not text:
        raise BadReference("the image is empty")
    name, at, digest = text.partition("@")
    if at and not _DIGEST.match(digest):
        raise BadReference(f"{digest!r} is not a digest (algorithm:hex)")
    tag = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise BadReference(f"{tag!r} is not a valid tag")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, repository = canonical_registry(first), rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not _REPOSITORY.match(repository):
        raise BadReference(f"{repository!r} is not a valid repository name (lowercase path components)")
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest or None)
