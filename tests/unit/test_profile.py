"""VIRTUAL_NODE_PROFILE (issue 20): the 2017 connector's nodes, taint, env names and port 80 for a pod without ports."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import setting
from shared.config import ConfigError, load_settings
from shared.errors import UnsupportedPodSpec
from shared.node import READY, build_node
from shared.reconcile.unserved import LOOKS_VIRTUAL, event_name, explain
from shared.translate import translate_pod
from shared.translate.annotations import ANNOTATION_DEFAULT_PORT, ANNOTATION_IP_ADDRESS

P2017 = {"VIRTUAL_NODE_PROFILE": "aci-connector-2017"}


def walkthrough_pod(**annotations: str) -> dict[str, Any]:
    """The 2017 walkthrough's pod, as the apiserver returns it (uid, namespace defaulted)."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "iis-winsvrcore", "namespace": "default", "uid": "0b6e1c4e-2017"},
        "spec": {
            "containers": [
                {"image": "microsoft/iis:windowsservercore", "imagePullPolicy": "Always", "name": "iis-winsvrcore"}
            ],
            "dnsPolicy": "ClusterFirst",
            "nodeName": "aci-connector-1",
        },
    }
    if annotations:
        pod["metadata"]["annotations"] = annotations
    return pod


# ---- settings


def test_default_profile_keeps_todays_nodes():
    settings = load_settings({})
    assert settings["VIRTUAL_NODE_PROFILE"] == "default"
    assert settings.node_names == {"linux": "aci-connector-linux"}
    assert load_settings({"VIRTUAL_NODE_OS": "windows"}).node_names == {"windows": "aci-connector-windows"}
    assert settings.profile.extra_taints == ()


def test_2017_profile_gives_both_2017_nodes_and_the_extra_taint():
    settings = load_settings(P2017)
    assert settings.node_names == {"linux": "aci-connector-0", "windows": "aci-connector-1"}
    assert settings["VIRTUAL_NODE_NAME_WINDOWS"] == "aci-connector-1"
    assert settings.profile.extra_taints == ("azure.com/aci:NoSchedule",)


def test_explicit_node_settings_win_over_the_profile():
    settings = load_settings({**P2017, "VIRTUAL_NODE_OS": "windows", "VIRTUAL_NODE_NAME_WINDOWS": "my-aci"})
    assert settings.node_names == {"windows": "my-aci"}
    assert settings.with_overrides(VIRTUAL_NODE_PROFILE="default", VIRTUAL_NODE_OS="").node_names == {
        "linux": "aci-connector-linux"
    }


def test_unknown_profile_is_named():
    with pytest.raises(ConfigError, match=r"VIRTUAL_NODE_PROFILE.*aci-connector-2017"):
        load_settings({"VIRTUAL_NODE_PROFILE": "aci-connector-2016"})


def test_2017_env_names_are_read_and_the_alias_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(setting, "_warned_aliases", set())
    env = {
        "AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111",
        "AZURE_CLIENT_KEY": "s3cret-key-value",
        "AZURE_TENANT_ID": "22222222-2222-2222-2222-222222222222",
        "AZURE_SUBSCRIPTION_ID": "33333333-3333-3333-3333-333333333333",
        "ACI_RESOURCE_GROUP": "aci-2017",
    }
    with caplog.at_level(logging.WARNING, logger="aci_connector.config"):
        first = load_settings(env)
        load_settings(env)
    warnings = [r.getMessage() for r in caplog.records if r.name == "aci_connector.config"]
    assert warnings == [
        "setting AZURE_CLIENT_KEY (the 2017 connector's name) is read as AZURE_CLIENT_SECRET; "
        "rename it to AZURE_CLIENT_SECRET"
    ]
    assert "s3cret" not in caplog.text
    assert first["AZURE_SUBSCRIPTION_ID"] == env["AZURE_SUBSCRIPTION_ID"]
    assert first["ACI_RESOURCE_GROUP"] == "aci-2017"


def test_alias_beside_todays_name_warns_that_it_is_ignored(caplog, monkeypatch):
    monkeypatch.setattr(setting, "_warned_aliases", set())
    with caplog.at_level(logging.WARNING, logger="aci_connector.config"):
        load_settings({"AZURE_CLIENT_KEY": "old", "AZURE_CLIENT_SECRET": "new"})
    assert "AZURE_CLIENT_KEY (the 2017 connector's name) is ignored" in caplog.text


def test_no_alias_no_warning(caplog, monkeypatch):
    monkeypatch.setattr(setting, "_warned_aliases", set())
    with caplog.at_level(logging.WARNING, logger="aci_connector.config"):
        load_settings({"AZURE_CLIENT_SECRET": "new"})
    assert caplog.records == []


def test_credential_from_the_2017_names():
    from shared.azure.aci import _default_credential

    settings = load_settings(
        {"AZURE_CLIENT_ID": "app", "AZURE_CLIENT_KEY": "key", "AZURE_TENANT_ID": "22222222-2222-2222-2222-222222222222"}
    )
    credential = _default_credential(settings)
    assert type(credential).__name__ == "ClientSecretCredential"


# ---- nodes


def test_2017_node_carries_both_taints_and_the_beta_os_label():
    settings = load_settings(P2017)
    node = build_node(
        os_name="windows",
        node_name=settings.node_names["windows"],
        taint=settings["VIRTUAL_NODE_TAINT"],
        extra_taints=settings.profile.extra_taints,
        capacity={"cpu": "10"},
        allocatable={"cpu": "10"},
        readiness=READY,
        now=datetime(2017, 12, 1, tzinfo=UTC),
    )
    assert node["metadata"]["name"] == "aci-connector-1"
    assert node["spec"]["taints"] == [
        {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"},
        {"key": "azure.com/aci", "effect": "NoSchedule"},
    ]
    labels = node["metadata"]["labels"]
    assert labels["beta.kubernetes.io/os"] == labels["kubernetes.io/os"] == "windows"


# ---- a pod that declares no ports


def test_no_ports_no_ip_by_default():
    pod = walkthrough_pod()
    pod["spec"]["nodeName"] = "aci-connector-windows"
    translation = translate_pod(pod, settings=load_settings({"VIRTUAL_NODE_OS": "linux,windows"}))
    assert "ipAddress" not in translation.body["properties"]
    assert "ports" not in translation.body["properties"]["containers"][0]["properties"]
    assert translation.notices == []


def test_2017_profile_opens_port_80_on_a_public_ip_and_says_why():
    translation = translate_pod(walkthrough_pod(), settings=load_settings(P2017))
    properties = translation.body["properties"]
    assert properties["osType"] == "Windows"
    assert properties["ipAddress"] == {"ports": [{"port": 80, "protocol": "TCP"}], "type": "Public"}
    (container,) = properties["containers"]
    assert container["properties"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert container["properties"]["resources"]["requests"] == {"cpu": 1.0, "memoryInGB": 1.5}
    ((reason, message),) = translation.notices
    assert reason == "DefaultPortOpened"
    assert "port 80/TCP" in message and "public IP" in message
    assert "VIRTUAL_NODE_PROFILE=aci-connector-2017" in message


@pytest.mark.parametrize(
    ("value", "port"),
    [
        ("true", {"port": 80, "protocol": "TCP"}),
        ("8080", {"port": 8080, "protocol": "TCP"}),
        ("53/udp", {"port": 53, "protocol": "UDP"}),
    ],
)
def test_annotation_opts_in_per_pod(value: str, port: dict[str, Any]):
    pod = walkthrough_pod(**{ANNOTATION_DEFAULT_PORT: value})
    pod["spec"]["nodeName"] = "aci-connector-windows"
    translation = translate_pod(pod, settings=load_settings({"VIRTUAL_NODE_OS": "linux,windows"}))
    assert translation.body["properties"]["ipAddress"]["ports"] == [port]
    ((reason, message),) = translation.notices
    assert reason == "DefaultPortOpened" and ANNOTATION_DEFAULT_PORT in message


@pytest.mark.parametrize(
    "annotations",
    [{ANNOTATION_DEFAULT_PORT: "none"}, {ANNOTATION_DEFAULT_PORT: "false"}, {ANNOTATION_IP_ADDRESS: "none"}],
)
def test_annotation_opts_out_under_the_profile(annotations: dict[str, str]):
    translation = translate_pod(walkthrough_pod(**annotations), settings=load_settings(P2017))
    assert "ipAddress" not in translation.body["properties"]
    assert translation.notices == []


def test_declared_ports_are_never_changed_by_the_profile():
    pod = walkthrough_pod()
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 443}]
    translation = translate_pod(pod, settings=load_settings(P2017))
    assert translation.body["properties"]["ipAddress"]["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert translation.notices == []


def test_in_a_subnet_the_opened_port_is_on_the_private_ip():
    settings = load_settings({**P2017, "ACI_SUBNET_IDS": "/subscriptions/s/resourceGroups/g/providers/x/subnets/a"})
    translation = translate_pod(walkthrough_pod(), settings=settings)
    assert translation.body["properties"]["ipAddress"]["type"] == "Private"
    assert "private IP" in translation.notices[0][1]


@pytest.mark.parametrize("value", ["80/SCTP", "0", "70000", "http"])
def test_bad_annotation_is_refused_naming_it(value: str):
    with pytest.raises(UnsupportedPodSpec, match=ANNOTATION_DEFAULT_PORT):
        translate_pod(walkthrough_pod(**{ANNOTATION_DEFAULT_PORT: value}), settings=load_settings(P2017))


# ---- pods bound to a node nobody serves


@pytest.mark.parametrize(
    ("name", "looks"),
    [
        ("aci-connector-1", True),
        ("virtual-kubelet", True),
        ("virtual-kubelet-aci-linux", True),
        ("aks-nodepool1-0", False),
    ],
)
def test_virtual_looking_names(name: str, looks: bool):
    assert bool(LOOKS_VIRTUAL.match(name)) is looks


def test_explanation_names_the_served_nodes_and_the_setting():
    served = load_settings({"VIRTUAL_NODE_OS": "linux,windows"}).node_names
    text = explain("aci-connector-1", served)
    assert "aci-connector-linux (Linux), aci-connector-windows (Windows)" in text
    assert "VIRTUAL_NODE_PROFILE=aci-connector-2017" in text
    other = explain("virtual-kubelet-aci", served)
    assert "VIRTUAL_NODE_NAME_LINUX" in other and "VIRTUAL_NODE_PROFILE" not in other


def test_event_name_is_per_pod_incarnation_only():
    pod = walkthrough_pod()
    assert event_name(pod) == event_name(walkthrough_pod())
    again = walkthrough_pod()
    again["metadata"]["uid"] = "another"
    assert event_name(again) != event_name(pod)
    assert event_name(pod).startswith("iis-winsvrcore.")
