"""Every recorded 2023-05-01 exchange with real ARM, replayed in order against the emulator, compared key by key.

For each recording (Regular and Spot creates, a two-group list, a delete): the PUT 201, every
async-operation poll (Pending, then the final Succeeded), the GET, the list and the DELETE 200 are
sent to the emulator with the recorded request, and each answer must have exactly the recorded
shape: the same keys at every level, lists of the same length (container `events` included), the
same JSON types, the same event names, and an `x-ms-request-id` shaped `<region>:<operation id>`.
No key is allowed to be optional: the emulator answers what real ACI answered.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.clock import ManualClock
from emulator.server import ArmServer
from tests.fakes.arm_fixtures import fake_arm

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "aci-recordings"
REPLAYED = [
    "ContainerGroupCollectionTests.CreateOrUpdate_RegularPriority.json",
    "ContainerGroupCollectionTests.CreateOrUpdate_SpotPriority.json",
    "ContainerGroupCollectionTests.List.json",
    "ContainerGroupOperationTests.Delete_RegularPriority.json",
]
PROVIDER = "/providers/Microsoft.ContainerInstance/"
REQUEST_ID = re.compile(r"^westus:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def strict_shape(fake: Any, real: Any, path: str = "$") -> list[str]:
    """Every way `fake` differs from `real` in keys, list lengths, JSON types and event names."""
    if isinstance(real, dict):
        if not isinstance(fake, dict):
            return [f"{path}: fake is {type(fake).__name__}, real is an object"]
        problems = [f"{path}.{k}: missing in fake" for k in sorted(set(real) - set(fake))]
        problems += [f"{path}.{k}: only in fake" for k in sorted(set(fake) - set(real))]
        for key in sorted(set(real) & set(fake)):
            problems += strict_shape(fake[key], real[key], f"{path}.{key}")
        return problems
    if isinstance(real, list):
        if not isinstance(fake, list):
            return [f"{path}: fake is {fake!r}, real is a list"]
        if len(fake) != len(real):
            return [f"{path}: {len(fake)} items, real has {len(real)}"]
        if path.endswith(".events"):
            names = ([e.get("name") for e in fake], [e.get("name") for e in real])
            if names[0] != names[1]:
                return [f"{path}: event names {names[0]} vs recorded {names[1]}"]
        return [p for i, (f, r) in enumerate(zip(fake, real, strict=True)) for p in strict_shape(f, r, f"{path}[{i}]")]
    if (
        isinstance(real, bool) != isinstance(fake, bool)
        or isinstance(real, int | float) != isinstance(fake, int | float)
        or isinstance(real, str) != isinstance(fake, str)
    ):
        return [f"{path}: {fake!r} vs recorded {real!r}"]
    return []


def _path(uri: str) -> str:
    return re.sub(r"^https://management\.azure\.com", "", uri.split("?", maxsplit=1)[0])


def _session(arm: ArmServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = arm.ca_pem_path
    session.headers["Authorization"] = "Bearer test"
    return session


@pytest.fixture
def replay_arm() -> Any:
    server = fake_arm(ManualClock())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _group_path(arm: ArmServer, name: str) -> str:
    return f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}{PROVIDER}containerGroups/{name}"


@pytest.mark.parametrize("recording", REPLAYED)
def test_recorded_exchanges_replay_key_by_key(replay_arm: ArmServer, recording: str) -> None:
    arm, session = replay_arm, _session(replay_arm)
    entries = [e for e in json.loads((RECORDINGS / recording).read_text())["Entries"] if PROVIDER in e["RequestUri"]]
    operations: dict[str, str] = {}  # recorded operation id -> the emulator's Azure-AsyncOperation URL
    seen: set[str] = set()
    for number, entry in enumerate(entries):
        method, path, real = entry["RequestMethod"], _path(entry["RequestUri"]), entry["ResponseBody"]
        where = f"{recording} #{number} {method} {path}"
        if method == "PUT":
            name = path.rsplit("/", 1)[1]
            answer = session.put(f"{arm.url}{_group_path(arm, name)}?api-version=2023-05-01", json=entry["RequestBody"])
            op_url = answer.headers["Azure-AsyncOperation"]
            recorded_op = entry["ResponseHeaders"]["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
            operations[recorded_op] = op_url
            assert answer.headers["x-ms-request-id"] == f"westus:{op_url.split('?')[0].rsplit('/', 1)[1]}", where
        elif "/operations/" in path:
            op_url = operations[path.rsplit("/", 1)[1]]
            if real["status"] == "Succeeded":
                arm.make_ready(real["id"].rsplit("/", 1)[1])
            answer = session.get(op_url.replace("2018-06-01", "2023-05-01"))
            assert answer.json()["status"] == real["status"], where
        elif method == "GET" and path.endswith("/containerGroups"):
            rg_path = f"/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}"
            answer = session.get(f"{arm.url}{rg_path}{PROVIDER}containerGroups?api-version=2023-05-01")
            fake_items = {item["name"]: item for item in answer.json()["value"]}
            for item in real["value"]:
                assert strict_shape(fake_items[item["name"]], item) == [], where
            seen.add("list")
            continue
        elif method in ("GET", "DELETE"):
            name = path.rsplit("/", 1)[1]
            answer = session.request(method, f"{arm.url}{_group_path(arm, name)}?api-version=2023-05-01")
        else:
            raise AssertionError(f"unexpected recorded exchange {where}")
        assert answer.status_code == entry["StatusCode"], f"{where}: {answer.text}"
        assert REQUEST_ID.match(answer.headers["x-ms-request-id"]), where
        assert strict_shape(answer.json(), real) == [], where
        seen.add("asyncop" if "/operations/" in path else method)
    expected = {"PUT", "asyncop", "GET"} | ({"list"} if "List" in recording else set())
    expected |= {"DELETE"} if "Delete" in recording else set()
    assert seen == expected


def test_regular_group_never_shows_container_events(replay_arm: ArmServer) -> None:
    """Even after a restart and a pull failure: Regular Standard groups carry no `events` key at all."""
    arm, session = replay_arm, _session(replay_arm)
    body = json.loads((RECORDINGS / REPLAYED[0]).read_text())["Entries"][2]["RequestBody"]
    body["properties"]["restartPolicy"] = "Always"
    session.put(f"{arm.url}{_group_path(arm, 'reg')}?api-version=2023-05-01", json=body)
    arm.make_ready("reg")
    arm.terminate("reg", exit_code=1)
    group = session.get(f"{arm.url}{_group_path(arm, 'reg')}?api-version=2023-05-01").json()
    for container in group["properties"]["containers"] + group["properties"]["initContainers"]:
        assert "events" not in container["properties"]["instanceView"]
    assert group["properties"]["containers"][0]["properties"]["instanceView"]["restartCount"] == 1


def test_spot_group_events_are_only_what_aci_emits(replay_arm: ArmServer) -> None:
    """Spot: `events: []` before anything happened, then Pulling/Pulled, Started on a restart; never Created."""
    arm, session = replay_arm, _session(replay_arm)
    entries = json.loads((RECORDINGS / REPLAYED[1]).read_text())["Entries"]
    body = next(e for e in entries if e["RequestMethod"] == "PUT" and PROVIDER in e["RequestUri"])["RequestBody"]
    url = f"{arm.url}{_group_path(arm, 'spot')}?api-version=2023-05-01"
    put = session.put(url, json=body).json()
    assert all("instanceView" not in c["properties"] for c in put["properties"]["containers"])
    arm.make_ready("spot")
    arm.terminate("spot", exit_code=3)  # restartPolicy Never in the recording: no restart, no Started
    group = session.get(url).json()["properties"]
    view = group["containers"][0]["properties"]["instanceView"]
    assert [e["name"] for e in view["events"]] == ["Pulling", "Pulled"]
    assert group["initContainers"][0]["properties"]["instanceView"]["events"] == []

    body["properties"]["restartPolicy"] = "Always"
    session.put(url, json=body)
    arm.make_ready("spot")
    arm.terminate("spot", exit_code=3)
    view = session.get(url).json()["properties"]["containers"][0]["properties"]["instanceView"]
    assert [e["name"] for e in view["events"]] == ["Pulling", "Pulled", "Started"]


def test_confidential_group_without_policy_gets_a_generated_one(replay_arm: ArmServer) -> None:
    arm, session = replay_arm, _session(replay_arm)
    body = json.loads((RECORDINGS / REPLAYED[0]).read_text())["Entries"][2]["RequestBody"]
    body["properties"]["sku"] = "Confidential"
    body["properties"].pop("ipAddress", None)
    url = f"{arm.url}{_group_path(arm, 'cc')}?api-version=2023-05-01"
    put = session.put(url, json=body)
    assert put.status_code == 201, put.text
    policy = put.json()["properties"]["confidentialComputeProperties"]["ccePolicy"]
    assert policy and session.get(url).json()["properties"]["confidentialComputeProperties"]["ccePolicy"] == policy
    assert base64.b64decode(policy).startswith(b"package policy")
    arm.make_ready("cc")
    assert "events" in session.get(url).json()["properties"]["containers"][0]["properties"]["instanceView"]


def test_private_ip_appears_only_once_it_exists(replay_arm: ArmServer) -> None:
    arm, session = replay_arm, _session(replay_arm)
    body = json.loads((RECORDINGS / REPLAYED[0]).read_text())["Entries"][2]["RequestBody"]
    subnet = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
    body["properties"]["ipAddress"] = {"type": "Private", "ports": [{"port": 80, "protocol": "TCP"}]}
    body["properties"]["subnetIds"] = [{"id": subnet}]
    url = f"{arm.url}{_group_path(arm, 'private')}?api-version=2023-05-01"
    put = session.put(url, json=body)
    assert put.status_code == 201, put.text
    assert "ip" not in put.json()["properties"]["ipAddress"]
    arm.advance(arm.timing.pending + arm.timing.creating / 2)
    assert session.get(url).json()["properties"]["provisioningState"] == "Creating"
    assert "ip" not in session.get(url).json()["properties"]["ipAddress"]
    arm.make_ready("private")
    assert session.get(url).json()["properties"]["ipAddress"]["ip"].startswith("10.")


def test_delete_answers_200_with_body_by_default_and_202_on_request(replay_arm: ArmServer) -> None:
    arm, session = replay_arm, _session(replay_arm)
    body = json.loads((RECORDINGS / REPLAYED[0]).read_text())["Entries"][2]["RequestBody"]
    url = f"{arm.url}{_group_path(arm, 'gone')}?api-version=2023-05-01"
    session.put(url, json=body)
    answer = session.delete(url)
    assert answer.status_code == 200 and answer.json()["name"] == "gone"
    assert session.get(url).status_code == 404
    arm.delete_mode = "202"
    session.put(url, json=body)
    answer = session.delete(url)
    assert answer.status_code == 202
    op_id = answer.headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[1]
    assert answer.headers["x-ms-request-id"] == f"westus:{op_id}"
