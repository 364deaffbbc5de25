"""The fake ARM of the tests: the ACI emulator (emulator/) configured for tests, and pytest fixtures.

One implementation: the tests run the product's emulator with fast timing (or a clock
they step), its fault injection and its request counters (`arm.counts`), and the
official SDK pointed at it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.clock import Clock
from emulator.server import DEFAULT_LOCATION, DEFAULT_RESOURCE_GROUP, DEFAULT_SUBSCRIPTION, ArmServer
from emulator.state import Timing

FAST = Timing(pending=0.2, creating=0.2, deleting=0.2)
"""Provisioning fast enough that a test waiting on state with a deadline finishes at once."""


def fake_arm(clock: Clock | None = None, **options: Any) -> ArmServer:
    """The emulator as the tests use it: fast timing (a fresh copy, tests change it), TLS, optional clock."""
    options.setdefault("timing", Timing(FAST.pending, FAST.creating, FAST.deleting))
    return ArmServer(clock=clock, **options)


class StaticTokenCredential:
    """A TokenCredential that hands out a fixed bearer token: the fake checks presence, not signature."""

    def __init__(self, token: str = "fake-arm-token") -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


def adapter_for(
    url: str,
    ca_path: str | None,
    *,
    credential: Any = None,
    subscription_id: str = DEFAULT_SUBSCRIPTION,
    resource_group: str = DEFAULT_RESOURCE_GROUP,
    region: str = DEFAULT_LOCATION,
    **options: Any,
) -> Any:
    """shared.azure.aci.AciClient pointed at a fake ARM (in-process or spawned), with a static token."""
    from shared.azure.aci import AciClient

    return AciClient(
        subscription_id=subscription_id,
        resource_group=resource_group,
        region=region,
        credential=credential or StaticTokenCredential(),
        base_url=url,
        connection_verify=ca_path or True,
        **options,
    )


@pytest.fixture
def arm() -> Iterator[ArmServer]:
    """A fresh fake ARM over TLS; its CA file is `arm.ca_pem_path`."""
    server = fake_arm()
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
    """shared.azure.aci.AciClient against the fake, installed as the process-wide client for the test."""
    from shared.azure.aci import set_aci_client

    client = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, read_timeout=2.0)
    set_aci_client(client)
    try:
        yield client
    finally:
        set_aci_client(None)
        client.close()
