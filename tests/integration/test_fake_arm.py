"""The fake ARM against the recordings of real ARM, and the official SDK against the fake."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from emulator.clock import ManualClock
from emulator.server import ArmServer
from tests.fakes.arm_fixtures import fake_arm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDINGS = FIXTURES / "aci-recordings"
GROUPS = "/providers/Microsoft.ContainerInstance/containerGroups"

# Keys real responses carry only sometimes: previousState (only after a restart, never recorded). Container
# `events` are not optional: see test_fake_arm_replay.py (2023: by SKU); only the 2020 recording differs.
OPTIONAL_KEYS = {"previousState"}


def _entries(name: str) -> list[dict[str, Any]]:
    return json.loads((RECORDINGS / name).read_text())["Entries"]


def _python_recording() -> list[dict[str, Any]]:
    """The 2020-11-01 python recording as (method, uri, request body, status, response body)."""
    doc = yaml.safe_load((RECORDINGS / "python.test_mgmt_containerinstance.test_container_instance.yaml").read_text())
    out = []
    for item in doc["interactions"]:
        request, response = item["request"], item["response"]
        body = response["body"]["string"]
        out.append(
            {
                "RequestMethod": request["method"],
                "RequestUri": request["uri"],
                "RequestBody": json.loads(request["body"]) if request["body"] else None,
                "StatusCode": response["status"]["code"],
                "ResponseBody": json.loads(body) if body else None,
            }
        )
    return out


def _recorded_groups() -> list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(name, PUT request body, recorded PUT answer, recorded GET answer, recorded list item) per recorded group."""
    cases = []
    sources = {
        "ContainerGroupCollectionTests.List.json": _entries("ContainerGroupCollectionTests.List.json"),
        "ContainerGroupCollectionTests.CreateOrUpdate_RegularPriority.json": _entries(
            "ContainerGroupCollectionTests.CreateOrUpdate_RegularPriority.json"
        ),
        "ContainerGroupOperationTests.Delete_RegularPriority.json": _entries(
            "ContainerGroupOperationTests.Delete_RegularPriority.json"
        ),
        "python": _python_recording(),
    }
    for source, entries in sources.items():
        lists = [
            e
            for e in entries
            if e["RequestMethod"] == "GET" and e["RequestUri"].split("?")[0].endswith("containerGroups")
        ]
        for put in (e for e in entries if e["RequestMethod"] == "PUT" and GROUPS in e["RequestUri"]):
            url = put["RequestUri"].split("?")[0]
            name = url.rsplit("/", 1)[1]
            get = next(
                e
                for e in entries
                if e["RequestMethod"] == "GET" and e["RequestUri"].split("?")[0] == url and e["StatusCode"] == 200
            )
            listed = next(
                (item for e in lists for item in e["ResponseBody"]["value"] if item["name"] == name),
                None,
            )
            cases.append(
                (f"{source}:{name}", name, put["RequestBody"], put["ResponseBody"], get["ResponseBody"], listed)
            )
    return cases


def _shape_diff(fake: Any, real: Any, path: str = "$", optional: frozenset[str] = frozenset()) -> list[str]:
    """Where two JSON documents differ in shape (keys per level, list-ness), ignoring values.

    Event lists vary in length between real answers too, so their items are compared with the
    first recorded item; every other list must have as many items as the recording.
    """
    optional = optional | OPTIONAL_KEYS
    if isinstance(real, dict):
        if not isinstance(fake, dict):
            return [f"{path}: fake is {type(fake).__name__}, real is an object"]
        problems = []
        for key in sorted(set(real) | set(fake)):
            if key not in fake and key not in optional:
                problems.append(f"{path}.{key}: missing in fake")
            elif key not in real and key not in optional:
                problems.append(f"{path}.{key}: only in fake")
            elif key in real and key in fake:
                problems += _shape_diff(fake[key], real[key], f"{path}.{key}", optional)
        return problems
    if isinstance(real, list):
        if not isinstance(fake, list):
            return [f"{path}: fake is {fake!r}, real is a list"]
        if path.endswith(".events"):
            pairs = [(item, real[0]) for item in fake] if real else []
        elif len(fake) != len(real):
            return [f"{path}: list length {len(fake)} vs {len(real)}"]
        else:
            pairs = list(zip(fake, real, strict=True))
        return [p for i, (f, r) in enumerate(pairs) for p in _shape_diff(f, r, f"{path}[{i}]", optional)]
    if isinstance(real, bool) != isinstance(fake, bool) or isinstance(real, int | float) != isinstance(
        fake, int | float
    ):
        return [f"{path}: {fake!r} vs recorded {real!r}"]
    return []


def _session(arm: ArmServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override session.verify
    session.verify = arm.ca_pem_path
    session.headers["Authorization"] = "Bearer test"
    return session


def _group_url(arm: ArmServer, name: str, rg: str | None = None) -> str:
    rg = rg or arm.resource_group
    return f"{arm.url}/subscriptions/{arm.subscription_id}/resourceGroups/{rg}{GROUPS}/{name}?api-version=2023-05-01"


def _list_url(arm: ArmServer) -> str:
    rg_path = f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}"
    return f"{arm.url}{rg_path}{GROUPS}?api-version=2023-05-01"


def _linux_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location": "westus",
        "properties": {
            "osType": "Linux",
            "restartPolicy": "Always",
            "containers": [
                {
                    "name": "app",
                    "properties": {
                        "image": "nginx:1.25",
                        "ports": [{"port": 80}],
                        "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}},
                    },
                }
            ],
            "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}]},
        },
    }
    body["properties"].update(overrides)
    return body


# ----------------------------------------------------------------------------- recordings


@pytest.mark.parametrize("case", _recorded_groups(), ids=lambda c: c[0])
def test_replayed_put_answers_like_the_recording(arm: ArmServer, case: tuple) -> None:
    from azure.mgmt.containerinstance.models import ContainerGroup

    case_id, name, request_body, put_real, get_real, list_real = case
    # api-version 2020-11-01 (the python recording) predates these keys; 2023-05-01 always sends them.
    # Back then every group's containers carried `events`; 2023-05-01 shows them for Spot/Confidential only.
    newer = frozenset({"provisioningTimeoutInSeconds", "isCustomProvisioningTimeout", "tags", "events"})
    optional = newer if case_id.startswith("python:") else frozenset()
    arm.state.locations.add(request_body["location"])
    session = _session(arm)
    put = session.put(_group_url(arm, name), json=request_body)
    assert put.status_code == 201, put.text
    assert "operations/" in put.headers["Azure-AsyncOperation"]
    put_fake = put.json()
    assert _shape_diff(put_fake, put_real, optional=optional) == []
    assert put_fake["properties"]["provisioningState"] == "Pending"

    arm.make_ready(name)
    recorded_state = get_real["properties"]["containers"][0]["properties"]["instanceView"]["currentState"]
    if recorded_state["state"] == "Terminated":  # the python recording's container had already exited
        arm.terminate(name, exit_code=recorded_state["exitCode"])
    get_fake = session.get(_group_url(arm, name)).json()
    assert _shape_diff(get_fake, get_real, optional=optional) == []
    assert get_fake["properties"]["instanceView"]["state"] == get_real["properties"]["instanceView"]["state"]
    ContainerGroup.deserialize(get_fake)
    if list_real is not None:
        listed = session.get(_list_url(arm)).json()["value"]
        assert _shape_diff(listed[0], list_real, optional=optional) == []
        assert "instanceView" not in listed[0]["properties"]
        assert all("instanceView" not in c["properties"] for c in listed[0]["properties"]["containers"])
        model = ContainerGroup.deserialize(listed[0])
        assert model.instance_view is None
    assert "secretValue1" not in put.text + json.dumps(get_fake)
    assert "workspacekey" not in json.dumps(get_fake).lower()


def test_async_operation_bodies_match_recording() -> None:
    real_pending = json.loads((FIXTURES / "aci-responses/asyncop-pending.json").read_text())
    real_done = json.loads((FIXTURES / "aci-responses/asyncop-succeeded.json").read_text())
    with fake_arm(ManualClock()) as arm:  # still Pending when read, however slow the machine
        session = _session(arm)
        put = session.put(_group_url(arm, "op-shape"), json=_linux_body())
        op_url = put.headers["Azure-AsyncOperation"]
        assert op_url.startswith(arm.url) and op_url.endswith("?api-version=2018-06-01")
        pending = session.get(op_url).json()
        assert _shape_diff(pending, real_pending) == []
        assert pending["status"] == "Pending"
        arm.make_ready("op-shape")
        done = session.get(op_url.replace("2018-06-01", "2023-05-01")).json()
    assert done["status"] == "Succeeded"
    assert done["properties"]["events"] == real_done["properties"]["events"] == []  # a Regular group: none
    assert set(done) == set(real_done)


# ----------------------------------------------------------------------------- SDK against the fake


def test_sdk_full_lro_cycle(arm: ArmServer, aci_client: Any) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.containerinstance.models import ContainerGroup

    body = ContainerGroup.deserialize(_linux_body())
    group = aci_client.container_groups.begin_create_or_update(arm.resource_group, "lro", body).result()
    assert group.provisioning_state == "Succeeded"
    assert group.instance_view.state == "Running"
    assert group.containers[0].instance_view.current_state.state == "Running"
    assert group.ip_address.ip
    # The SDK followed Azure-AsyncOperation; how many polls it took depends on how soon this machine made them
    # (the group is ready 0.4 s after the PUT on the wall clock), so only "at least one" is a fact to check.
    assert arm.counts["put"] == 1 and arm.counts["asyncop"] >= 1 and arm.counts["get"] == 1
    aci_client.container_groups.begin_delete(arm.resource_group, "lro").result()
    with pytest.raises(ResourceNotFoundError) as error:
        aci_client.container_groups.get(arm.resource_group, "lro")
    assert error.value.error.code == "ResourceNotFound"


@pytest.mark.parametrize("mode", ["200", "204"])
def test_sdk_delete_other_answers(arm: ArmServer, aci_client: Any, mode: str) -> None:
    _session(arm).put(_group_url(arm, "del"), json=_linux_body())
    arm.delete_mode = mode
    aci_client.container_groups.begin_delete(arm.resource_group, "del").result()
    assert arm.groups == {}
    assert arm.counts["asyncop"] == 0


def test_list_by_resource_group_pages(arm: ArmServer, aci_client: Any) -> None:
    arm.page_size = 2
    session = _session(arm)
    for index in range(5):
        assert session.put(_group_url(arm, f"page-{index}"), json=_linux_body()).status_code == 201
    names = [g.name for g in aci_client.container_groups.list_by_resource_group(arm.resource_group)]
    assert names == [f"page-{i}" for i in range(5)]
    assert arm.counts["list"] == 3
    first = session.get(_list_url(arm)).json()
    assert "$skiptoken=2" in first["nextLink"]
    assert len(list(aci_client.container_groups.list())) == 5


def test_sdk_honours_retry_after_on_429(arm: ArmServer, aci_client: Any) -> None:
    """azure-core retries a 429 after sleeping Retry-After: fine for scripts, wrong inside a function."""
    _session(arm).put(_group_url(arm, "thr"), json=_linux_body())
    arm.throttle.reads = (2, 1)
    aci_client.container_groups.get(arm.resource_group, "thr")
    aci_client.container_groups.get(arm.resource_group, "thr")
    started = time.monotonic()
    aci_client.container_groups.get(arm.resource_group, "thr")
    assert time.monotonic() - started >= 0.9
    assert arm.counts["get"] == 4


def test_throttled_answer_is_arm_shaped() -> None:
    with fake_arm(ManualClock()) as arm:  # no refill between the two PUTs, however slow the machine
        arm.throttle.writes = (1, 0.5)
        session = _session(arm)
        first = session.put(_group_url(arm, "w1"), json=_linux_body())
        assert int(first.headers["x-ms-ratelimit-remaining-subscription-writes"]) == 0
        second = session.put(_group_url(arm, "w2"), json=_linux_body())
        assert second.status_code == 429
        assert second.headers["Retry-After"] == "2"
        assert second.json()["error"]["code"] == "SubscriptionRequestsThrottled"
        reads = session.get(_group_url(arm, "w1"))
        assert reads.status_code == 200 and "x-ms-ratelimit-remaining-subscription-reads" in reads.headers


# ----------------------------------------------------------------------------- ARM front door


def test_api_version_auth_and_missing_things(arm: ArmServer) -> None:
    session = _session(arm)
    url = _group_url(arm, "x")
    old = session.get(url.replace("2023-05-01", "2021-10-01"))
    assert old.status_code == 400 and old.json()["error"]["code"] == "NoRegisteredProviderFound"
    bad = session.get(url.replace("2023-05-01", "latest"))
    assert bad.json()["error"]["code"] == "InvalidApiVersionParameter"
    missing = session.get(url.split("?")[0])
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    anonymous = requests.get(url, verify=arm.ca_pem_path)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "AuthenticationFailed"
    not_found = session.get(url)
    assert not_found.status_code == 404
    assert not_found.json() == {
        "error": {
            "code": "ResourceNotFound",
            "message": "The Resource 'Microsoft.ContainerInstance/containerGroups/x' under resource group "
            f"'{arm.resource_group}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        }
    }
    no_rg = session.get(_group_url(arm, "x", rg="nope"))
    assert no_rg.status_code == 404 and no_rg.json()["error"]["code"] == "ResourceGroupNotFound"
    assert session.delete(url).status_code == 204


def _windows(**props: Any) -> dict[str, Any]:
    body = _linux_body(osType="Windows")
    body["properties"].update(props)
    return body


def _with_container(**container_props: Any) -> dict[str, Any]:
    body = _linux_body()
    body["properties"]["containers"][0]["properties"].update(container_props)
    return body


TINY = {"cpu": 0.01, "memoryInGB": 0.1}


def _many_containers(count: int) -> dict[str, Any]:
    body = _linux_body()
    body["properties"]["containers"] = [
        {
            "name": f"c{i}",
            "properties": {"image": "busybox", "resources": {"requests": {"cpu": 0.01, "memoryInGB": 0.1}}},
        }
        for i in range(count)
    ]
    body["properties"].pop("ipAddress", None)
    return body


REJECTIONS = [
    ("Bad-Name", _linux_body(), "InvalidContainerGroupName"),
    ("a--b", _linux_body(), "InvalidContainerGroupName"),
    ("-ab", _linux_body(), "InvalidContainerGroupName"),
    ("a" * 64, _linux_body(), "InvalidContainerGroupName"),
    ("ok", {"properties": _linux_body()["properties"]}, "LocationRequired"),
    ("ok", _linux_body(osType="Mac"), "InvalidOsType"),
    ("ok", _linux_body(containers=[]), "ContainersNotSpecified"),
    ("ok", _with_container(resources={"requests": {"cpu": 1}}), "ResourceRequestsNotSpecified"),
    (
        "ok",
        _with_container(resources={"requests": {"cpu": 0.005, "memoryInGB": 1}}),
        "InvalidContainerResourceRequests",
    ),
    ("ok", _with_container(resources={"requests": {"cpu": 1, "memoryInGB": 1.25}}), "InvalidContainerResourceRequests"),
    ("ok", _with_container(resources={"requests": {"cpu": 5, "memoryInGB": 1}}), "ResourceRequestsExceedLimits"),
    ("ok", _with_container(resources={"requests": {"cpu": 1, "memoryInGB": 17}}), "ResourceRequestsExceedLimits"),
    (
        "ok",
        _with_container(resources={"requests": {"cpu": 0.5, "memoryInGB": 1}, "limits": {"cpu": 1}}),
        "ContainerLimitGreaterThanContainerGroupTotalRequest",
    ),
    ("ok", _with_container(image=""), "InvalidImage"),
    ("ok", _with_container(volumeMounts=[{"name": "data", "mountPath": "/data"}]), "InvalidVolumeMount"),
    (
        "ok",
        _with_container(environmentVariables=[{"name": "A", "value": "1", "secureValue": "2"}]),
        "InvalidEnvironmentVariable",
    ),
    ("ok", _many_containers(61), "TooManyContainers"),
    (
        "ok",
        _linux_body(volumes=[{"name": f"v{i}", "emptyDir": {}} for i in range(21)]),
        "TooManyVolumes",
    ),
    (
        "ok",
        _linux_body(ipAddress={"type": "Public", "ports": [{"port": 8080}]}),
        "InvalidIpAddressPorts",
    ),
    (
        "ok",
        _linux_body(ipAddress={"type": "Public", "ports": [{"port": p} for p in range(80, 86)]}),
        "TooManyPorts",
    ),
    ("ok", _windows(volumes=[{"name": "v", "emptyDir": {}}]), "UnsupportedVolumesForWindows"),
    ("ok", _linux_body(restartPolicy="Sometimes"), "InvalidRestartPolicy"),
    (
        "ok",
        _linux_body(imageRegistryCredentials=[{"server": "r.io", "username": "u"}]),
        "InvalidImageRegistryCredential",
    ),
]


def _duplicate_names() -> dict[str, Any]:
    body = _many_containers(2)
    body["properties"]["containers"][1]["name"] = "c0"
    return body


def _windows_two() -> dict[str, Any]:
    body = _many_containers(2)
    body["properties"]["osType"] = "Windows"
    return body


REJECTIONS += [
    ("ok", _duplicate_names(), "DuplicateContainerName"),
    ("ok", _windows_two(), "UnsupportedMultipleContainersForWindows"),
]


@pytest.mark.parametrize(
    ("name", "body", "code"), REJECTIONS, ids=[f"{c}-{i}" for i, (_, _, c) in enumerate(REJECTIONS)]
)
def test_put_validation_rejects_like_aci(arm: ArmServer, name: str, body: dict[str, Any], code: str) -> None:
    answer = _session(arm).put(_group_url(arm, name), json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert arm.groups == {}


def test_limits_edges_are_accepted(arm: ArmServer) -> None:
    ok = _many_containers(60)
    assert _session(arm).put(_group_url(arm, "sixty"), json=ok).status_code == 201
    five = _linux_body(ipAddress={"type": "Public", "ports": [{"port": p} for p in range(80, 85)]})
    five["properties"]["containers"][0]["properties"]["ports"] = [{"port": p} for p in range(80, 85)]
    assert _session(arm).put(_group_url(arm, "five-ports"), json=five).status_code == 201


def test_inaccessible_image_rejected_at_put(arm: ArmServer) -> None:
    arm.reject_image("nginx:1.25")
    answer = _session(arm).put(_group_url(arm, "img"), json=_linux_body())
    assert answer.json()["error"]["code"] == "InaccessibleImage"


def test_update_existing_answers_200_and_redeploys_on_change(arm: ArmServer) -> None:
    session = _session(arm)
    assert session.put(_group_url(arm, "upd"), json=_linux_body()).status_code == 201
    arm.make_ready("upd")
    same = session.put(_group_url(arm, "upd"), json=_linux_body())
    assert same.status_code == 200 and "Azure-AsyncOperation" not in same.headers
    assert same.json()["properties"]["provisioningState"] == "Succeeded"
    changed = _linux_body()
    changed["properties"]["containers"][0]["properties"]["image"] = "nginx:1.26"
    again = session.put(_group_url(arm, "upd"), json=changed)
    assert again.status_code == 200 and "Azure-AsyncOperation" in again.headers
    assert again.json()["properties"]["provisioningState"] == "Pending"


# ----------------------------------------------------------------------------- simulated life


def test_manual_clock_drives_provisioning() -> None:
    clock = ManualClock()
    with fake_arm(clock) as arm:
        arm.timing.pending, arm.timing.creating = 5, 10
        session = _session(arm)
        op_url = session.put(_group_url(arm, "clock"), json=_linux_body()).headers["Azure-AsyncOperation"]

        def look() -> tuple[str, str, dict | None, str]:
            group = session.get(_group_url(arm, "clock")).json()["properties"]
            return (
                group["provisioningState"],
                group["instanceView"]["state"],
                group["containers"][0]["properties"].get("instanceView"),
                session.get(op_url).json()["status"],
            )

        assert look() == ("Pending", "Pending", None, "Pending")
        arm.advance(6)
        state, group_state, view, op = look()
        assert (state, group_state, op) == ("Creating", "Pending", "Pending")
        assert view["currentState"]["state"] == "Waiting"
        arm.advance(10)
        state, group_state, view, op = look()
        assert (state, group_state, op) == ("Succeeded", "Running", "Succeeded")
        assert view["currentState"]["state"] == "Running" and view["restartCount"] == 0


@pytest.mark.parametrize(
    ("policy", "exit_code", "expected"),
    [
        ("Always", 0, (1, "Running", "Running")),
        ("OnFailure", 2, (1, "Running", "Running")),
        ("OnFailure", 0, (0, "Terminated", "Succeeded")),
        ("Never", 1, (0, "Terminated", "Failed")),
    ],
)
def test_container_exit_follows_restart_policy(policy: str, exit_code: int, expected: tuple[int, str, str]) -> None:
    restarts, current, group_state = expected
    with fake_arm(ManualClock()) as arm:  # still provisioning until make_ready, however slow the machine
        session = _session(arm)
        session.put(_group_url(arm, "exit"), json=_linux_body(restartPolicy=policy))
        with pytest.raises(ValueError, match="not provisioned"):
            arm.terminate("exit", exit_code=exit_code)
        arm.make_ready("exit")
        arm.set_state("exit", container="app", exit_code=exit_code)
        group = session.get(_group_url(arm, "exit")).json()["properties"]
    view = group["containers"][0]["properties"]["instanceView"]
    assert view["restartCount"] == restarts
    assert view["currentState"]["state"] == current
    assert group["instanceView"]["state"] == group_state
    if restarts:
        assert view["previousState"]["exitCode"] == exit_code
    else:
        assert view["currentState"]["exitCode"] == exit_code
        assert "previousState" not in view


def test_image_pull_failure_and_provisioning_failure(arm: ArmServer) -> None:
    session = _session(arm)
    put = session.put(_group_url(arm, "pull"), json=_linux_body())
    arm.fail_image_pull("pull")
    arm.make_ready("pull")
    group = session.get(_group_url(arm, "pull")).json()["properties"]
    view = group["containers"][0]["properties"]["instanceView"]
    assert group["provisioningState"] == "Failed"
    assert view["currentState"]["state"] == "Waiting"
    assert "events" not in view  # a Regular group: ACI shows no container events
    op = session.get(put.headers["Azure-AsyncOperation"]).json()
    assert op["status"] == "Failed" and op["error"]["code"]

    spot = _linux_body(priority="Spot")
    del spot["properties"]["ipAddress"]  # Spot groups cannot have a public IP
    assert session.put(_group_url(arm, "spot-pull"), json=spot).status_code == 201
    arm.fail_image_pull("spot-pull")
    arm.make_ready("spot-pull")
    view = session.get(_group_url(arm, "spot-pull")).json()["properties"]["containers"][0]["properties"]
    assert any(e["name"] == "Failed" and e["type"] == "Warning" for e in view["instanceView"]["events"])

    session.put(_group_url(arm, "prov"), json=_linux_body())
    arm.fail_provisioning("prov", containers_run=True)
    arm.make_ready("prov")
    group = session.get(_group_url(arm, "prov")).json()["properties"]
    assert group["provisioningState"] == "Failed"
    assert group["containers"][0]["properties"]["instanceView"]["currentState"]["state"] == "Running"


def test_out_of_band_delete_and_logs(arm: ArmServer) -> None:
    session = _session(arm)
    session.put(_group_url(arm, "oob"), json=_linux_body())
    arm.set_logs("oob", "app", "one\ntwo\nthree\n")
    base = _group_url(arm, "oob").split("?")[0]
    logs = session.get(f"{base}/containers/app/logs?api-version=2023-05-01&tail=2")
    assert logs.json() == {"content": "two\nthree\n"}
    missing = session.get(f"{base}/containers/nope/logs?api-version=2023-05-01")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ContainerNotFound"
    arm.set_state("oob", deleted=True)
    assert session.get(_group_url(arm, "oob")).status_code == 404
    assert arm.counts["logs"] == 2


def test_delete_202_polls_until_gone() -> None:
    clock = ManualClock()  # the delete stays in progress until the test moves the clock, however slow the machine
    with fake_arm(clock) as arm:
        session = _session(arm)
        arm.delete_mode = "202"
        session.put(_group_url(arm, "gone"), json=_linux_body())
        answer = session.delete(_group_url(arm, "gone"))
        assert answer.status_code == 202
        operation, location = answer.headers["Azure-AsyncOperation"], answer.headers["Location"]
        assert "operations/" in operation and "operationResults/" in location
        assert session.get(_group_url(arm, "gone")).json()["properties"]["provisioningState"] == "Deleting"
        again = session.put(_group_url(arm, "gone"), json=_linux_body())
        assert again.status_code == 409 and again.json()["error"]["code"] == "ContainerGroupTransitioning"
        arm.advance(arm.timing.deleting + 0.05)
        assert session.get(operation).json()["status"] == "Succeeded"
        assert session.get(location).status_code == 204
        assert session.get(_group_url(arm, "gone")).status_code == 404


# ----------------------------------------------------------------------------- quotas, usages, capabilities


def test_quota_and_usages(arm: ArmServer, aci_client: Any) -> None:
    arm.throttle.container_groups_quota = 2
    session = _session(arm)
    for name in ("q1", "q2"):
        assert session.put(_group_url(arm, name), json=_linux_body()).status_code == 201
    third = session.put(_group_url(arm, "q3"), json=_linux_body())
    assert third.status_code == 400
    assert third.json()["error"]["code"] == "ContainerGroupQuotaReached"
    assert (
        "quota 'ContainerGroups' exceeded in region 'westus'. Limit: '2', Usage: '2' Requested: '1'."
        in (third.json()["error"]["message"])
    )
    usages = {u.name.value: u for u in aci_client.location.list_usage(arm.location)}
    assert usages["ContainerGroups"].current_value == 2 and usages["ContainerGroups"].limit == 2
    assert usages["StandardCores"].current_value == 2
    capabilities = list(aci_client.location.list_capabilities(arm.location))
    assert {c.os_type for c in capabilities} == {"Linux", "Windows"}
    assert capabilities[0].capabilities.max_cpu == 4.0
    assert arm.counts["usages"] == 1 and arm.counts["capabilities"] == 1


def test_create_rate_limit_answers_429_with_retry_after(arm: ArmServer) -> None:
    arm.throttle.create_limit_5m = 2
    session = _session(arm)
    first = session.put(_group_url(arm, "r1"), json=_linux_body())
    assert first.headers["x-ms-ratelimit-remaining-subscription-resource-requests-pt5m"] == "1"
    session.put(_group_url(arm, "r2"), json=_linux_body())
    third = session.put(_group_url(arm, "r3"), json=_linux_body())
    assert third.status_code == 429
    assert 290 <= int(third.headers["Retry-After"]) <= 300
    assert "action 'ContainerGroupCreation' exceeded the limit of '2'" in third.json()["error"]["message"]
    assert session.put(_group_url(arm, "r1"), json=_linux_body()).status_code == 200  # updates are not creates


# ----------------------------------------------------------------------------- faults and the CLI


def test_faults_errors_latency_and_hangs(arm: ArmServer) -> None:
    session = _session(arm)
    arm.faults.fail("put", 2, status=503)
    assert session.put(_group_url(arm, "f"), json=_linux_body()).status_code == 503
    assert session.put(_group_url(arm, "f"), json=_linux_body()).status_code == 503
    assert session.put(_group_url(arm, "f"), json=_linux_body()).status_code == 201
    arm.faults.latency = 0.03
    started = time.monotonic()
    session.get(_group_url(arm, "f"))
    assert time.monotonic() - started >= 0.03
    arm.faults.latency = 0
    arm.faults.timeout("get", 1, hang=0.3)
    with pytest.raises(requests.ConnectionError):
        session.get(_group_url(arm, "f"), timeout=5)
    assert session.get(_group_url(arm, "f")).status_code == 200


def test_runs_alone_and_prints_url_first() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        ca = process.stdout.readline().strip().removeprefix("ca=")
        assert url.startswith("https://127.0.0.1:")
        answer = requests.get(
            f"{url}/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.ContainerInstance"
            "/locations/westus/usages?api-version=2023-05-01",
            headers={"Authorization": "Bearer x"},
            verify=ca,
            timeout=5,
        )
        assert answer.status_code == 200 and answer.json()["value"][0]["name"]["value"] == "ContainerGroups"
    finally:
        process.terminate()
        process.wait(timeout=10)
