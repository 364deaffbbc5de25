"""Image config resolution against the fake registry (OCI distribution API, token auth, manifest lists)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from shared.errors import RetryableError, ThrottledError
from shared.registry import (
    Credentials,
    ImageResolver,
    ImageUnavailable,
    RegistryClient,
    RegistryUnreachable,
    images_to_resolve,
    pull_credentials,
    resolve_pod_images,
)
from tests.fakes.registry import FakeRegistry


@pytest.fixture
def hub() -> Iterator[FakeRegistry]:
    """Docker Hub: bearer tokens from a token service, anonymous for public repositories."""
    with FakeRegistry(auth="bearer", users={"acme": "s3cret"}) as registry:
        registry.load_fixture("docker.io")
        yield registry


@pytest.fixture
def mcr() -> Iterator[FakeRegistry]:
    """MCR: anonymous, no auth at all."""
    with FakeRegistry(auth="none", service="mcr.microsoft.com") as registry:
        registry.load_fixture("mcr.microsoft.com")
        yield registry


def resolver_for(**endpoints: str) -> ImageResolver:
    names = {key.replace("_", "."): url for key, url in endpoints.items()}
    return ImageResolver(RegistryClient(endpoints=names, timeout=5.0))


def test_docker_hub_index_resolves_linux_amd64_config_after_anonymous_token(hub: FakeRegistry) -> None:
    config = resolver_for(docker_io=hub.url).resolve("nginx:1.29")
    assert config.entrypoint == ["/docker-entrypoint.sh"]
    assert config.cmd == ["nginx", "-g", "daemon off;"]
    assert config.os == "linux"
    assert hub.tokens_issued == 1
    # the config blob came through the CDN redirect, which refuses an Authorization header
    assert any(path.startswith("/cdn/library/nginx/") for _, path in hub.requests)


def test_tag_costs_one_head_once_cached_by_digest(hub: FakeRegistry) -> None:
    resolver = resolver_for(docker_io=hub.url)
    first = resolver.resolve("docker.io/library/nginx:1.29")
    hub.requests.clear()
    second = resolver.resolve("nginx:1.29")
    assert second == first
    assert hub.requests == [("HEAD", "/v2/library/nginx/manifests/1.29")]


def test_pinned_digest_in_cache_needs_no_request(hub: FakeRegistry) -> None:
    resolver = resolver_for(docker_io=hub.url)
    digest = hub.repositories["library/mysql"].tags["latest"]
    config = resolver.resolve(f"mysql@{digest}")
    assert config.entrypoint == ["docker-entrypoint.sh"] and config.cmd == ["mysqld"]
    hub.requests.clear()
    assert resolver.resolve(f"mysql@{digest}") == config
    assert hub.requests == []


def test_manifest_list_picks_windows_for_a_windows_node(mcr: FakeRegistry) -> None:
    resolver = resolver_for(mcr_microsoft_com=mcr.url)
    windows = resolver.resolve("mcr.microsoft.com/dotnet/samples:aspnetapp", os_name="windows")
    linux = resolver.resolve("mcr.microsoft.com/dotnet/samples:aspnetapp", os_name="linux")
    assert windows.os == "windows" and linux.os == "linux"
    assert windows.digest != linux.digest
    assert windows.entrypoint == ["dotnet", "aspnetapp.dll"]


def test_missing_platform_names_the_platforms_offered(hub: FakeRegistry) -> None:
    with pytest.raises(ImageUnavailable, match=r"no linux/amd64 image \(platforms: windows/amd64\)"):
        resolver_for(docker_io=hub.url).resolve("windows-only:ltsc2022")


def test_single_platform_image_of_the_other_os_is_refused(hub: FakeRegistry) -> None:
    with pytest.raises(ImageUnavailable, match="is a linux image; the pod runs on a windows node"):
        resolver_for(docker_io=hub.url).resolve("prom/prometheus:v2.26.0", os_name="windows")


def test_private_repository_needs_the_pull_secret(hub: FakeRegistry) -> None:
    resolver = resolver_for(docker_io=hub.url)
    with pytest.raises(ImageUnavailable, match=r"401.*UNAUTHORIZED: authentication required"):
        resolver.resolve("acme/private-worker:1.0")
    with pytest.raises(ImageUnavailable, match="token service refused"):
        resolver.resolve("acme/private-worker:1.0", credentials=Credentials("acme", "wrong"))
    config = resolver.resolve("acme/private-worker:1.0", credentials=Credentials("acme", "s3cret"))
    assert config.entrypoint == ["/app/worker"] and config.cmd == ["--serve"]


def test_unknown_tag_carries_the_registry_error(hub: FakeRegistry) -> None:
    with pytest.raises(ImageUnavailable, match=r"404.*MANIFEST_UNKNOWN: manifest unknown") as caught:
        resolver_for(docker_io=hub.url).resolve("nginx:no-such-tag")
    assert not isinstance(caught.value, RetryableError)


def test_server_errors_and_rate_limits_are_retryable(hub: FakeRegistry) -> None:
    resolver = resolver_for(docker_io=hub.url)
    hub.fail_next(503)
    with pytest.raises(RegistryUnreachable, match="503"):
        resolver.resolve("nginx:1.29")
    hub.fail_next(429, retry_after="17")
    with pytest.raises(ThrottledError, match="answered 429") as caught:
        resolver.resolve("nginx:1.29")
    assert caught.value.retry_after == 17.0
    assert resolver.resolve("nginx:1.29").cmd == ["nginx", "-g", "daemon off;"]


def test_unreachable_registry_is_retryable() -> None:
    resolver = resolver_for(docker_io="http://127.0.0.1:9")
    with pytest.raises(RegistryUnreachable, match="unreachable"):
        resolver.resolve("nginx:1.29")


def test_basic_auth_registry() -> None:
    with FakeRegistry(auth="basic", users={"robot": "pw"}) as registry:
        registry.load_fixture("quay.io")
        resolver = resolver_for(quay_io=registry.url)
        with pytest.raises(ImageUnavailable, match="wants a user and password"):
            resolver.resolve("quay.io/prometheus/node-exporter:v1.1.2")
        config = resolver.resolve("quay.io/prometheus/node-exporter:v1.1.2", credentials=Credentials("robot", "pw"))
        assert config.entrypoint == ["/bin/node_exporter"]


def test_acr_exchanges_an_entra_token_for_a_refresh_token() -> None:
    with FakeRegistry(auth="acr", service="myregistry.azurecr.io", entra_tokens={"entra-token"}) as registry:
        registry.load_fixture("myregistry.azurecr.io")
        endpoints = {"myregistry.azurecr.io": registry.url}
        denied = ImageResolver(RegistryClient(endpoints=endpoints, entra_token=lambda: "other"))
        with pytest.raises(ImageUnavailable, match="AcrPull"):
            denied.resolve("myregistry.azurecr.io/team/api:v3")
        resolver = ImageResolver(RegistryClient(endpoints=endpoints, entra_token=lambda: "entra-token"))
        config = resolver.resolve("myregistry.azurecr.io/team/api:v3")
        assert config.entrypoint == ["python", "-m", "api"]
        assert ("POST", "/oauth2/exchange") in registry.requests


def test_bad_reference_is_a_clear_error() -> None:
    with pytest.raises(ImageUnavailable, match="not a valid repository name"):
        resolver_for().resolve("Nginx:latest")


def _pull_secret(name: str, server: str, user: str, password: str) -> dict:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = json.dumps({"auths": {server: {"auth": auth}}}).encode()
    return {
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config).decode()},
    }


def test_pod_images_use_the_pull_secret_and_report_failures_per_image(hub: FakeRegistry) -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "imagePullSecrets": [{"name": "hub"}],
            "containers": [
                {"name": "a", "image": "acme/private-worker:1.0", "args": ["--once"]},
                {"name": "b", "image": "nginx:no-such-tag", "args": ["-v"]},
                {"name": "c", "image": "busybox", "command": ["sh"], "args": ["-c", "true"]},
            ],
        },
    }
    secrets = {"hub": _pull_secret("hub", "https://index.docker.io/v1/", "acme", "s3cret")}
    assert images_to_resolve(pod) == ["acme/private-worker:1.0", "nginx:no-such-tag"]
    assert pull_credentials(pod, secrets) == {"docker.io": Credentials("acme", "s3cret")}
    images = resolve_pod_images(pod, secrets, resolver_for(docker_io=hub.url), "linux")
    assert images["acme/private-worker:1.0"]["Entrypoint"] == ["/app/worker"]
    assert "MANIFEST_UNKNOWN" in images["nginx:no-such-tag"]["error"]
    assert "busybox" not in images
