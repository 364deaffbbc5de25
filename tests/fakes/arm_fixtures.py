"""pytest fixtures for the fake ARM: a fresh server per test and the official SDK pointed at it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.arm import ArmServer


class StaticTokenCredential:
    """A TokenCredential that hands out a fixed bearer token: the fake checks presence, not signature."""

    def __init__(self, token: str = "fake-arm-token") -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def arm() -> Iterator[ArmServer]:
    """A fresh fake ARM over TLS; its CA file is `arm.ca_pem_path`."""
    server = ArmServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def arm_credential() -> StaticTokenCredential:
    return StaticTokenCredential()


@pytest.fixture
def aci_client(arm: ArmServer, arm_credential: StaticTokenCredential) -> Any:
    """The real ContainerInstanceManagementClient against the fake, polling every 50 ms."""
    from azure.mgmt.containerinstance import ContainerInstanceManagementClient

    client = ContainerInstanceManagementClient(
        credential=arm_credential,
        subscription_id=arm.subscription_id,
        base_url=arm.url,
        connection_verify=arm.ca_pem_path,
        polling_interval=0.05,
        retry_backoff_factor=0.01,
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def aci_adapter(arm: ArmServer, arm_credential: StaticTokenCredential) -> Iterator[Any]:
    """shared.aci.AciClient against the fake, installed as the process-wide client for the test."""
    from shared.aci import AciClient, set_aci_client

    client = AciClient(
        subscription_id=arm.subscription_id,
        resource_group=arm.resource_group,
        region=arm.location,
        credential=arm_credential,
        base_url=arm.url,
        connection_verify=arm.ca_pem_path,
        read_timeout=2.0,
    )
    set_aci_client(client)
    try:
        yield client
    finally:
        set_aci_client(None)
        client.close()
