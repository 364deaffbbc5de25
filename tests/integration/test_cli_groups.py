"""`python -m shared.cli groups` and `status`: what an operator sees of the container groups, from ARM."""

from __future__ import annotations

import json

import pytest

from shared import cli
from shared.naming import container_group_name
from shared.translate import pod_to_container_group
from tests.fakes.connector_fixtures import make_pod, make_spot_pod, settings_for


@pytest.fixture
def emulator_env(monkeypatch, tmp_path, arm):
    """The CLI's embedded default: no AZURE_SUBSCRIPTION_ID, so it reads the emulator."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    for name, value in {
        "ACI_EMULATOR_URL": arm.url,
        "ACI_EMULATOR_CA_FILE": arm.ca_pem_path,
        "ACI_REGION": arm.location,
        "ACI_RESOURCE_GROUP": arm.resource_group,
    }.items():
        monkeypatch.setenv(name, value)
    return arm


def _body(pod, arm):
    return pod_to_container_group(pod, settings=settings_for(None, arm))


def _create(aci_adapter, pod, arm):
    name = container_group_name(pod)
    aci_adapter.begin_create_or_update(name, _body(pod, arm))
    return name


def test_groups_lists_managed_groups_with_state_ip_and_restarts(emulator_env, aci_adapter, capsys):
    arm = emulator_env
    web = _create(aci_adapter, make_pod("web"), arm)
    job = _create(aci_adapter, make_pod("job", restartPolicy="OnFailure"), arm)
    arm.make_ready(web)
    arm.make_ready(job)
    arm.terminate(job, exit_code=1)
    other = _body(make_pod("other"), arm)
    other["tags"] = {}
    aci_adapter.begin_create_or_update("not-ours", other)

    assert cli.main(["groups"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "POD", "OS", "STATE", "IP", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {web, job}  # a group the connector did not create is not listed
    assert rows[web][1:5] == ["default/web", "Linux", "Running", arm.group(web).ip]
    assert rows[job][5] == "1"
    assert cli.main(["groups", "--all"]) == 0
    assert "not-ours" in capsys.readouterr().out


def test_groups_shows_pending_while_aci_creates(emulator_env, aci_adapter, capsys):
    emulator_env.timing.pending = emulator_env.timing.creating = 3600
    name = _create(aci_adapter, make_pod("slow"), emulator_env)
    assert cli.main(["groups", "-o", "json"]) == 0
    [group] = json.loads(capsys.readouterr().out)
    assert group["name"] == name and group["properties"]["provisioningState"] == "Pending"
    assert cli.main(["groups"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3:5] == ["Pending", "-"]


def test_status_shows_one_pod_with_containers_and_events(emulator_env, aci_adapter, capsys):
    arm = emulator_env
    name = _create(aci_adapter, make_pod("web"), arm)
    arm.make_ready(name)
    assert cli.main(["status", "default/web"]) == 0
    out = capsys.readouterr().out
    assert f"Name:          {name}" in out and "Pod:           default/web" in out
    assert "State:         Running" in out and f"IP:            {arm.group(name).ip} (Public; ports 80/TCP)" in out
    assert "Image:     nginx:1.27" in out and "Command:   nginx -g daemon off;" in out
    assert "Pulling" not in out  # a Regular group: ACI shows no container events
    spot = _create(aci_adapter, make_spot_pod("batch"), arm)
    arm.make_ready(spot)
    assert cli.main(["status", "default/batch"]) == 0
    assert "Pulling" in capsys.readouterr().out


def test_status_of_an_unknown_pod_fails_naming_it(emulator_env, capsys):
    assert cli.main(["status", "default/ghost"]) == cli.EXIT_FAILURE
    assert "no container group for pod default/ghost" in capsys.readouterr().err


def test_an_unreachable_arm_is_one_line_fast(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.setenv("ACI_EMULATOR_URL", "https://127.0.0.1:9")
    assert cli.main(["groups"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("error: ARM: ") and len(err.strip().splitlines()) == 1
    assert "is `make start` running?" in err


def test_without_make_start_the_cli_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.setenv("ACI_EMULATOR_URL", "https://127.0.0.1:9")
    monkeypatch.setenv("ACI_EMULATOR_CA_FILE", ".emulator/ca.pem")
    assert cli.main(["groups"]) == cli.EXIT_FAILURE
    assert "CA file .emulator/ca.pem does not exist: is `make start` running" in capsys.readouterr().err
