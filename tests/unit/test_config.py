"""Settings are declared once, validated with messages naming the setting, and documented everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import SETTINGS, ConfigError, load_settings, setting_names

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_load_and_mean_standalone_mode():
    settings = load_settings({})
    assert settings["NODE_PODS"] == 5000
    assert settings["VIRTUAL_NODE_OS"] == ("linux",)
    assert settings.node_names == {"linux": "aci-connector-linux"}
    assert settings.cluster_configured is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NODE_PODS", "-1"),
        ("NODE_CPU", "lots"),
        ("KUBE_IN_CLUSTER", "perhaps"),
        ("VIRTUAL_NODE_OS", "linux,macos"),
        ("VIRTUAL_NODE_NAME_LINUX", "Not_A_Node"),
        ("VIRTUAL_NODE_TAINT", "no-effect"),
        ("ARM_ENDPOINT", "management.azure.com"),
        ("AZURE_SUBSCRIPTION_ID", "not-a-guid"),
        ("DEFAULT_CPU", "0"),
    ],
)
def test_malformed_setting_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_api_url_without_token_is_refused():
    with pytest.raises(ConfigError, match="KUBE_BEARER_TOKEN"):
        load_settings({"KUBE_API_URL": "https://127.0.0.1:6443"})


def test_require_names_the_missing_setting():
    with pytest.raises(ConfigError, match="ACI_RESOURCE_GROUP"):
        load_settings({}).require("ACI_RESOURCE_GROUP")


def test_windows_node_is_added_when_enabled():
    settings = load_settings({"VIRTUAL_NODE_OS": "linux, windows"})
    assert settings.node_names == {"linux": "aci-connector-linux", "windows": "aci-connector-windows"}


def test_example_settings_list_exactly_the_declared_settings_and_load():
    example = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    assert set(example) == set(setting_names())
    assert example["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert example["FUNCTIONS_WORKER_RUNTIME"] == "python"
    load_settings(example)


def test_settings_doc_lists_every_setting():
    doc = (ROOT / "docs" / "settings.md").read_text()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in doc]
    assert missing == []


def test_host_json_choices_are_documented():
    host = json.loads((ROOT / "host.json").read_text())
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    for key in host["extensions"]["queues"]:
        assert f"`queues.{key}`" in doc, key


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NODE_MEMORY", "lots"),
        ("NODE_MEMORY", "-4Gi"),
        ("NODE_MEMORY", "0"),
        ("NODE_MEMORY", "1e999999999"),
        ("NODE_EPHEMERAL_STORAGE", "100 TB"),
        ("RECONCILE_SCHEDULE", "*/10 * * * *"),
        ("RECONCILE_SCHEDULE", "every ten seconds"),
        ("RECONCILE_SCHEDULE", "*/0 * * * * *"),
        ("RECONCILE_SCHEDULE", "0 61 * * * *"),
        ("RECONCILE_SCHEDULE", "0 0 25 * * *"),
        ("RECONCILE_SCHEDULE", "0 0 0 0 * *"),
        ("RECONCILE_SCHEDULE", "0 0 0 * 13 *"),
        ("RECONCILE_SCHEDULE", "0 0 0 * * 8"),
        ("RECONCILE_SCHEDULE", "0 0 0 * FOO *"),
        ("RECONCILE_SCHEDULE", "0 5-1 * * * *"),
        ("RECONCILE_SCHEDULE", "0,,5 * * * * *"),
    ],
)
def test_quantities_and_the_schedule_fail_at_load(name, value):
    """Issue 14, point 10: these were read as plain text and failed only when first used."""
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize(
    "schedule",
    ["*/10 * * * * *", "0 */5 * * * *", "0 30 9 * * MON-FRI", "0 0 0 1 JAN,jul *", "5,10-20/5 * * * * 0-6"],
)
def test_valid_schedules_load(schedule):
    assert load_settings({"RECONCILE_SCHEDULE": schedule})["RECONCILE_SCHEDULE"] == schedule


def test_node_quantities_are_parsed_by_the_shared_parser():
    from shared.quantities import parse_quantity

    settings = load_settings({"NODE_MEMORY": "3.5Ti", "NODE_EPHEMERAL_STORAGE": "1e15"})
    assert parse_quantity(settings["NODE_MEMORY"]) == parse_quantity("3.5Ti")
    assert parse_quantity(settings["NODE_EPHEMERAL_STORAGE"]) == 10**15


def test_one_quantity_parser_serves_settings_capacity_translation_and_status():
    """Issue 14, point 10: status had its own parser, which overflowed on exponents the shared one refuses."""
    from shared import capacity, quantities
    from shared.status import qos
    from shared.translate import resources

    assert qos.parse_quantity is quantities.parse_quantity
    assert capacity.parse_quantity is quantities.parse_quantity
    assert resources.parse_quantity is quantities.parse_quantity
    with pytest.raises(ValueError, match="quantity"):
        qos.parse_quantity("1e999999999")
