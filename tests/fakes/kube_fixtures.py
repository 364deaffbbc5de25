"""Pytest fixtures for the Kubernetes API: the fake, the real kube-apiserver, or both (a plugin of tests/conftest.py).

`kube_api` is the server a test talks to. Every test that asks for it runs twice, as `[fake]` against
tests/fakes/kube_api.py and as `[real]` (marked `real_kube`) against a real kube-apiserver 1.20 + etcd
(tests/fakes/kube_real.py), so the real server judges both the connector and the fake. A test that needs
what only the fake can do (injected faults, request counts, outages, latency, the fake's own internals)
is marked `@pytest.mark.fake_kube_only("why, in one line")` and runs once, against the fake.

The real server is started once per session (`real_kube_server`) and put back to its initial state before
each test (`RealKube.reset`). When it cannot be had (no build, no etcd), the `[real]` tests skip with the
reason. `real_kube` gives a test the real server directly; `kube_settings(server)` the app settings that
reach either server.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_api import KubeApiServer
from tests.fakes.kube_real import TEST_TOKEN, RealKube, RealKubeUnavailable, kubeconfig_document

KUBE_SERVERS = ("fake", "real")
_real_servers: dict[str, RealKube] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses `kube_api` against both servers, unless it is marked fake_kube_only."""
    if "kube_api" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("fake_kube_only")
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: fake_kube_only needs a one-line reason")
        return
    metafunc.parametrize(
        "kube_api", ["fake", pytest.param("real", marks=pytest.mark.real_kube)], indirect=True, scope="function"
    )


def kube_settings(url: str, token: str = TEST_TOKEN) -> dict[str, str]:
    """KUBE_API_URL, KUBE_BEARER_TOKEN and, for the real server, KUBE_CA_CERT: the app settings that reach it."""
    settings = {"KUBE_API_URL": url, "KUBE_BEARER_TOKEN": token}
    real = _real_servers.get(url)
    if real is not None:
        settings["KUBE_CA_CERT"] = real.ca_pem
    return settings


def write_kubeconfig(server: Any, path: Path, token: str = TEST_TOKEN, *, namespace: str = "default") -> Path:
    """A kubeconfig for kubectl or the Python client reaching `server` (fake or real) as `token`."""
    real = _real_servers.get(server.url)
    if real is not None:
        return real.kubeconfig(path, token, namespace=namespace)
    path.write_text(json.dumps(kubeconfig_document(server.url, token, None, namespace), indent=1))
    return path


def urlopen(server: Any, request: urllib.request.Request, timeout: float = 10.0) -> Any:
    """urllib's urlopen on `server`: as is on the fake, as the admin over the test CA on the real one."""
    if isinstance(server, RealKube):
        return server.open(request, timeout)
    return urllib.request.urlopen(request, timeout=timeout)


@pytest.fixture(scope="session")
def real_kube_server() -> Iterator[RealKube]:
    """One real kube-apiserver + etcd for the session (skips the test with the reason when unavailable)."""
    server = RealKube()
    try:
        server.start()
    except RealKubeUnavailable as exc:
        server.stop(force=True)
        pytest.skip(f"real kube-apiserver unavailable: {exc}")
    _real_servers[server.url] = server
    server.session_owned = True
    try:
        yield server
    finally:
        _real_servers.pop(server.url, None)
        server.stop(force=True)


@pytest.fixture
def real_kube(real_kube_server: RealKube) -> RealKube:
    """The session's real apiserver, emptied of everything earlier tests made."""
    real_kube_server.reset()
    return real_kube_server


@pytest.fixture
def kube_api(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The apiserver under test: a fresh fake on a free port, or the real one reset (see the module doc)."""
    if getattr(request, "param", "fake") == "real":
        yield request.getfixturevalue("real_kube")
        return
    server = KubeApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube_client(kube_api: Any) -> Iterator[Any]:
    """An official `kubernetes.client.ApiClient` on `kube_api`, as the admin (any token would do on the fake)."""
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = kube_api.url
    if isinstance(kube_api, RealKube):
        configuration.ssl_ca_cert = kube_api.ca_file
        configuration.api_key = {"authorization": kube_api.admin_token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    else:
        configuration.verify_ssl = False
    api_client = client.ApiClient(configuration)
    try:
        yield api_client
    finally:
        api_client.close()
