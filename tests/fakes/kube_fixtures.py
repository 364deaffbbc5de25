"""Pytest fixtures for the fake Kubernetes API server (registered as a plugin by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.kube_api import KubeApiServer


@pytest.fixture
def kube_api() -> Iterator[KubeApiServer]:
    """A fresh fake apiserver on a free 127.0.0.1 port, stopped at teardown."""
    server = KubeApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube_client(kube_api: KubeApiServer) -> Iterator[Any]:
    """An official `kubernetes.client.ApiClient` pointed at the fake (no auth; any token would do)."""
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.verify_ssl = False
    api_client = client.ApiClient(configuration)
    try:
        yield api_client
    finally:
        api_client.close()
