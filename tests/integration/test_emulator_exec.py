"""The ACI emulator's exec: the ARM POST, the password handshake and the terminal rules of its sessions."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.clock import ManualClock
from emulator.server import ArmServer
from shared.azure.aci import ArmRejected
from shared.naming import container_group_name
from shared.translate import pod_to_container_group
from tests.fakes.arm_fixtures import fake_arm
from tests.fakes.connector_fixtures import make_pod, settings_for


@pytest.fixture
def arm() -> Iterator[ArmServer]:
    """The fake ARM on a clock that stands still: a group not made ready is still provisioning when exec asks."""
    with fake_arm(clock=ManualClock()) as server:
        yield server


def _group(arm: Any, aci: Any, ready: bool = True) -> str:
    pod = make_pod("web", node=None)
    name = container_group_name(pod)
    aci.begin_create_or_update(name, pod_to_container_group(pod, settings=settings_for(None, arm)))
    if ready:
        arm.make_ready(name)
    return name


def _talk(arm: Any, uri: str, first: str, inputs: list[str]) -> tuple[str, int | None]:
    import aiohttp

    async def run() -> tuple[str, int | None]:
        context = ssl.create_default_context(cafile=arm.ca_pem_path)
        output = ""
        async with aiohttp.ClientSession() as client, client.ws_connect(uri, ssl=context) as ws:
            await ws.send_str(first)
            for text in inputs:
                await ws.send_str(text)
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    output += message.data
            return output, ws.close_code

    return asyncio.run(asyncio.wait_for(run(), 20))


def test_exec_session_with_password_echo_and_crlf(arm: Any, aci_adapter: Any) -> None:
    group = _group(arm, aci_adapter)
    session = aci_adapter.exec_command(group, "nginx", "cat", 24, 80)
    assert session["webSocketUri"].startswith("wss://") and session["password"]
    output, code = _talk(arm, session["webSocketUri"], session["password"], ["hi\r", "\x04"])
    assert output == "hi\r\nhi\r\n", "the terminal echoes the input, then cat prints it"
    assert code == 1000
    assert arm.counts["exec"] == 1


def test_wrong_password_and_reused_sessions_are_refused(arm: Any, aci_adapter: Any) -> None:
    group = _group(arm, aci_adapter)
    session = aci_adapter.exec_command(group, "nginx", "echo hi", 24, 80)
    output, code = _talk(arm, session["webSocketUri"], "not-the-password", [])
    assert (output, code) == ("", 1008)
    import aiohttp

    with pytest.raises(aiohttp.WSServerHandshakeError, match=r"404"):
        _talk(arm, session["webSocketUri"], session["password"], [])


def test_exec_request_is_validated(arm: Any, aci_adapter: Any) -> None:
    group = _group(arm, aci_adapter, ready=False)
    with pytest.raises(ArmRejected) as not_running:
        aci_adapter.exec_command(group, "nginx", "echo hi", 24, 80)
    assert not_running.value.code == "ContainerGroupNotRunning"
    arm.make_ready(group)
    with pytest.raises(ArmRejected) as empty:
        aci_adapter.exec_command(group, "nginx", " ", 24, 80)
    assert "command" in str(empty.value)
    with pytest.raises(ArmRejected) as missing:
        aci_adapter.exec_command(group, "sidecar", "echo", 24, 80)
    assert missing.value.code == "ContainerNotFound"
