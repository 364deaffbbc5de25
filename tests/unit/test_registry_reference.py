"""Image reference parsing: the distribution grammar's defaults (Docker Hub, library/, latest)."""

from __future__ import annotations

import pytest

from shared.registry.reference import BadReference, ImageRef, canonical_registry, parse_image

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ImageRef("docker.io", "library/nginx")),
        ("nginx:1.29", ImageRef("docker.io", "library/nginx", "1.29")),
        ("minio/minio:latest", ImageRef("docker.io", "minio/minio", "latest")),
        ("docker.io/nginx", ImageRef("docker.io", "library/nginx")),
        ("index.docker.io/library/nginx", ImageRef("docker.io", "library/nginx")),
        ("localhost:5000/app:v1", ImageRef("localhost:5000", "app", "v1")),
        ("localhost/app", ImageRef("localhost", "app")),
        ("mcr.microsoft.com/dotnet/samples:aspnetapp", ImageRef("mcr.microsoft.com", "dotnet/samples", "aspnetapp")),
        (f"ghcr.io/a/b/c@{DIGEST}", ImageRef("ghcr.io", "a/b/c", None, DIGEST)),
        (f"nginx:1.29@{DIGEST}", ImageRef("docker.io", "library/nginx", "1.29", DIGEST)),
    ],
)
def test_parse(image: str, expected: ImageRef) -> None:
    assert parse_image(image) == expected


def test_reference_and_api_host() -> None:
    assert parse_image("nginx").reference == "latest"
    assert parse_image(f"nginx:1@{DIGEST}").reference == DIGEST
    assert parse_image("nginx").api_host == "registry-1.docker.io"
    assert parse_image("quay.io/x/y").api_host == "quay.io"


@pytest.mark.parametrize(("image", "part"), [("", "empty"), ("Nginx", "repository"), ("nginx@md5:x", "digest")])
def test_bad_references_name_the_part(image: str, part: str) -> None:
    with pytest.raises(BadReference, match=part):
        parse_image(image)


def test_pull_secret_server_keys() -> None:
    assert canonical_registry("https://index.docker.io/v1/") == "docker.io"
    assert canonical_registry("MyACR.azurecr.io") == "myacr.azurecr.io"
    assert canonical_registry("http://localhost:5000/v2") == "localhost:5000"
