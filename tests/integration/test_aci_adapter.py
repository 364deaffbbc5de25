"""shared.azure.aci against the fake ARM through the real SDK: raw ARM JSON out, errors sorted by what to do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.clock import ManualClock
from emulator.server import ArmServer
from shared.azure.aci import (
    AciClient,
    ArmRejected,
    classify_http_error,
    get_aci_client,
    set_aci_client,
)
from shared.config import load_settings
from shared.errors import PermanentError, RetryableError, ThrottledError
from tests.fakes.arm_fixtures import adapter_for, fake_arm

ROOT = Path(__file__).resolve().parents[2]


def _body(image: str = "nginx:1.25") -> dict[str, Any]:
    recorded = json.loads((ROOT / "tests/fixtures/aci-recordings/ContainerGroupCollectionTests.List.json").read_text())
    body = next(
        e["RequestBody"]
        for e in recorded["Entries"]
        if e["RequestMethod"] == "PUT" and "containerGroups" in e["RequestUri"]
    )
    body["properties"]["containers"][0]["properties"]["image"] = image
    return body


def test_create_returns_accepted_body_without_waiting(arm: ArmServer, aci_adapter: AciClient) -> None:
    accepted = aci_adapter.begin_create_or_update("web", _body())
    assert accepted["properties"]["provisioningState"] == "Pending"
    assert accepted["properties"]["instanceView"] == {"events": [], "state": "Pending"}
    assert accepted["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] == 1.0
    assert arm.counts == {"put": 1}
    again = aci_adapter.begin_create_or_update("web", _body())
    assert again["name"] == "web" and arm.counts["put"] == 2


def test_get_returns_arm_json_or_none(arm: ArmServer, aci_adapter: AciClient) -> None:
    assert aci_adapter.get("missing") is None
    aci_adapter.begin_create_or_update("web", _body())
    arm.make_ready("web")
    group = aci_adapter.get("web")
    assert group is not None
    assert group["properties"]["instanceView"]["state"] == "Running"
    assert group["properties"]["containers"][0]["properties"]["instanceView"]["currentState"]["state"] == "Running"
    assert "secureValue" not in json.dumps(group)


def test_missing_resource_group_is_permanent_not_none(arm: ArmServer, arm_credential: Any) -> None:
    client = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, resource_group="no-such-rg")
    with pytest.raises(ArmRejected) as error:
        client.get("web")
    assert error.value.code == "ResourceGroupNotFound" and error.value.status == 404
    assert isinstance(error.value, PermanentError)
    client.close()


def test_delete_reports_whether_anything_was_there(arm: ArmServer, aci_adapter: AciClient) -> None:
    aci_adapter.begin_create_or_update("web", _body())
    assert aci_adapter.begin_delete("web") is True
    assert arm.counts["asyncop"] == 0
    assert aci_adapter.begin_delete("never-existed") is False
    arm.delete_mode = "200"
    aci_adapter.begin_create_or_update("web2", _body())
    assert aci_adapter.begin_delete("web2") is True
    assert aci_adapter.get("web2") is None


def test_list_groups_follows_pages_without_instance_view(arm: ArmServer, aci_adapter: AciClient) -> None:
    arm.page_size = 2
    for index in range(5):
        aci_adapter.begin_create_or_update(f"g{index}", _body())
    groups = list(aci_adapter.list_groups())
    assert [g["name"] for g in groups] == [f"g{i}" for i in range(5)]
    assert all("instanceView" not in g["properties"] for g in groups)
    assert arm.counts["list"] == 3


def test_usages_and_logs(arm: ArmServer, aci_adapter: AciClient) -> None:
    aci_adapter.begin_create_or_update("web", _body())
    usages = {u["name"]["value"]: u for u in aci_adapter.usages()}
    assert usages["ContainerGroups"]["currentValue"] == 1 and usages["ContainerGroups"]["limit"] == 100
    arm.set_logs("web", "containergrp2486", "a\nb\nc\n")
    assert aci_adapter.logs("web", "containergrp2486") == "a\nb\nc\n"
    assert aci_adapter.logs("web", "containergrp2486", tail=1) == "c\n"
    with pytest.raises(ArmRejected) as error:
        aci_adapter.logs("web", "nope")
    assert error.value.code == "ContainerNotFound"


def test_validation_error_keeps_arm_code_and_message(aci_adapter: AciClient) -> None:
    body = _body()
    body["properties"]["osType"] = "Mac"
    with pytest.raises(ArmRejected) as error:
        aci_adapter.begin_create_or_update("web", body)
    assert error.value.code == "InvalidOsType"
    assert "The value must be one of 'Windows,Linux'" in error.value.arm_message
    assert error.value.status == 400


def test_429_surfaces_at_once_with_retry_after(arm_credential: Any) -> None:
    with fake_arm(ManualClock()) as arm:  # no refill between the two reads (Retry-After 4 after 1 s), however slow
        client = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential)
        try:
            arm.throttle.reads = (1, 0.2)
            assert client.get("x") is None
            with pytest.raises(ThrottledError) as error:
                client.get("x")
        finally:
            client.close()
    assert error.value.retry_after == 5
    assert arm.counts["get"] == 2  # no retry inside the call


def test_quota_and_create_rate_are_throttling(arm: ArmServer, aci_adapter: AciClient) -> None:
    arm.throttle.container_groups_quota = 1
    aci_adapter.begin_create_or_update("one", _body())
    with pytest.raises(ThrottledError) as quota:
        aci_adapter.begin_create_or_update("two", _body())
    assert "ContainerGroupQuotaReached" in str(quota.value) and quota.value.retry_after == 60
    arm.throttle.container_groups_quota = 100
    arm.throttle.create_limit_5m = 1
    with pytest.raises(ThrottledError) as rate:
        aci_adapter.begin_create_or_update("three", _body())
    assert rate.value.retry_after is not None and rate.value.retry_after > 200


def test_server_errors_retry_then_surface(arm: ArmServer, aci_adapter: AciClient) -> None:
    arm.faults.fail("get", 1)
    assert aci_adapter.get("x") is None
    assert arm.counts["get"] == 2
    arm.faults.fail("get", 3, status=503)
    with pytest.raises(RetryableError) as error:
        aci_adapter.get("x")
    assert not isinstance(error.value, ThrottledError)
    assert arm.counts["get"] == 5


def test_timeouts_and_dead_server_are_retryable(arm: ArmServer, arm_credential: Any) -> None:
    client = adapter_for(arm.url, arm.ca_pem_path, credential=arm_credential, retries=0, read_timeout=0.3)
    arm.faults.timeout("get", 1, hang=1.0)
    with pytest.raises(RetryableError, match="unreachable or too slow"):
        client.get("x")
    arm.stop()
    with pytest.raises(RetryableError):
        client.get("x")
    client.close()


def test_transitioning_group_is_retryable(arm: ArmServer, aci_adapter: AciClient) -> None:
    aci_adapter.begin_create_or_update("web", _body())
    arm.delete_mode = "202"  # ARM may answer a delete 202 and keep the group Deleting for a while
    arm.timing.deleting = 30
    arm.group("web").timing.deleting = 30
    aci_adapter.begin_delete("web")
    with pytest.raises(RetryableError) as error:
        aci_adapter.begin_create_or_update("web", _body())
    assert "ContainerGroupTransitioning" in str(error.value) and error.value.retry_after == 5.0


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, "SubscriptionRequestsThrottled", ThrottledError),
        (400, "ContainerGroupQuotaReached", ThrottledError),
        (500, "InternalServerError", RetryableError),
        (502, "", RetryableError),
        (409, "ContainerGroupTransitioning", RetryableError),
        (409, "Conflicting", ArmRejected),
        (403, "AuthorizationFailed", ArmRejected),
        (400, "InvalidOsType", ArmRejected),
    ],
)
def test_classify_http_error(status: int, code: str, kind: type) -> None:
    error = classify_http_error(status, code, "m", None)
    assert type(error) is kind


def test_parse_retry_after() -> None:
    from shared.errors import retry_after_seconds as parse_retry_after

    assert parse_retry_after("17") == 17
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_singleton_from_settings_and_injection(arm: ArmServer, aci_adapter: AciClient) -> None:
    assert get_aci_client() is aci_adapter
    set_aci_client(None)
    settings = load_settings(
        {
            "AZURE_SUBSCRIPTION_ID": "11111111-1111-1111-1111-111111111111",
            "ACI_RESOURCE_GROUP": "rg1",
            "ACI_REGION": "westeurope",
            "ARM_ENDPOINT": "https://management.example.test/",
        }
    )
    built = get_aci_client(settings)
    assert get_aci_client() is built
    assert (built.subscription_id, built.resource_group, built.region) == (
        "11111111-1111-1111-1111-111111111111",
        "rg1",
        "westeurope",
    )
    assert built.base_url == "https://management.example.test"
    set_aci_client(aci_adapter)


def test_import_is_light() -> None:
    code = "import sys, shared.azure.aci; print(sorted(m for m in sys.modules if m.startswith(('azure', 'requests'))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_original_connector_service_principal_variables_are_honoured():
    from azure.identity import ClientSecretCredential, DefaultAzureCredential

    from shared.azure.aci import _default_credential
    from shared.config import ConfigError, load_settings

    tenant = "11111111-1111-1111-1111-111111111111"
    legacy = load_settings({"AZURE_CLIENT_ID": "app-id", "AZURE_TENANT_ID": tenant, "AZURE_CLIENT_KEY": "k"})
    assert isinstance(_default_credential(legacy), ClientSecretCredential)
    assert isinstance(_default_credential(load_settings({})), DefaultAzureCredential)
    with pytest.raises(ConfigError, match="AZURE_TENANT_ID"):
        _default_credential(load_settings({"AZURE_CLIENT_ID": "app-id", "AZURE_CLIENT_KEY": "k"}))
