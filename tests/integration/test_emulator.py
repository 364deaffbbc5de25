"""The ACI emulator as a developer runs it: realistic timing, containers that "run" their command, its CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.clock import ManualClock
from emulator.server import ArmServer
from tests.fakes.arm_fixtures import fake_arm
from tests.fakes.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
API = "api-version=2023-05-01"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def _session(arm: ArmServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the emulator's CA
    session.verify = arm.ca_pem_path
    session.headers["Authorization"] = "Bearer local"
    return session


def _url(arm: ArmServer, name: str, tail: str = "") -> str:
    return (
        f"{arm.url}/subscriptions/{arm.subscription_id}/resourceGroups/{arm.resource_group}"
        f"/providers/Microsoft.ContainerInstance/containerGroups/{name}{tail}?{API}"
    )


def _body(
    arm: ArmServer, command: list[str] | None, policy: str = "Always", image: str = "busybox", priority: str = "Regular"
) -> dict:
    container = {"image": image, "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}}}
    if command is not None:
        container["command"] = command
    return {
        "location": arm.location,
        "properties": {
            "osType": "Linux",
            "restartPolicy": policy,
            "priority": priority,
            "containers": [{"name": "main", "properties": container}],
        },
    }


class Group:
    def __init__(self, arm: ArmServer, name: str) -> None:
        self.arm, self.name, self.session = arm, name, _session(arm)

    def get(self) -> dict:
        return self.session.get(_url(self.arm, self.name)).json()["properties"]

    def view(self) -> dict:
        return self.get()["containers"][0]["properties"]["instanceView"]

    def logs(self, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        answer = self.session.get(_url(self.arm, self.name, "/containers/main/logs") + extra)
        assert answer.status_code == 200
        return answer.json()["content"]


@pytest.fixture
def clocked():
    clock = ManualClock()
    with fake_arm(clock) as arm:
        yield arm, clock


def _create(arm: ArmServer, clock: ManualClock, name: str, *args, **kwargs) -> Group:
    group = Group(arm, name)
    assert group.session.put(_url(arm, name), json=_body(arm, *args, **kwargs)).status_code == 201
    clock.advance(0.5)  # FAST timing: provisioned after 0.4 s
    return group


def test_default_timing_is_seconds_pending_then_creating_then_running():
    clock = ManualClock()
    with ArmServer(clock=clock) as arm:
        group = Group(arm, "slow")
        group.session.put(_url(arm, "slow"), json=_body(arm, ["sleep", "infinity"]))
        seen = []
        for _ in range(6):
            props = group.get()
            seen.append((props["provisioningState"], props["instanceView"]["state"]))
            clock.advance(1)
        assert seen == [("Pending", "Pending")] * 2 + [("Creating", "Pending")] * 3 + [("Succeeded", "Running")]


def test_echo_sleep_exit_with_on_failure_restarts_with_back_off(clocked):
    arm, clock = clocked
    # Spot: only Spot and Confidential groups show container events (Regular ones carry no `events` key).
    group = _create(
        arm, clock, "job", ["/bin/sh", "-c", "echo hello; sleep 5; echo bye; exit 3"], "OnFailure", priority="Spot"
    )
    assert group.view()["currentState"]["state"] == "Running"
    assert group.logs() == "hello\n"
    clock.advance(5)
    view = group.view()
    assert view["currentState"]["state"] == "Waiting" and "CrashLoopBackOff" in view["currentState"]["detailStatus"]
    assert view["previousState"]["exitCode"] == 3 and view["previousState"]["detailStatus"] == "Error"
    assert group.logs() == "hello\nbye\n"
    assert group.get()["instanceView"]["state"] == "Running"
    clock.advance(10)  # the first back-off is 10 s
    view = group.view()
    assert view["restartCount"] == 1 and view["currentState"]["state"] == "Running"
    assert group.logs() == "hello\n"  # the current run's output, as ACI shows
    started = [e for e in view["events"] if e["name"] == "Started"]
    assert started[-1]["count"] == 1


@pytest.mark.parametrize(("code", "group_state", "detail"), [(0, "Succeeded", "Completed"), (7, "Failed", "Error")])
def test_never_restart_ends_the_group(clocked, code, group_state, detail):
    arm, clock = clocked
    group = _create(arm, clock, f"once-{code}", ["sh", "-c", f"echo done; exit {code}"], "Never")
    props = group.get()
    assert props["instanceView"]["state"] == group_state
    state = props["containers"][0]["properties"]["instanceView"]["currentState"]
    assert (state["state"], state["exitCode"], state["detailStatus"]) == ("Terminated", code, detail)
    clock.advance(3600)
    assert group.view()["restartCount"] == 0


def test_an_image_default_runs_until_deleted_and_says_it_is_emulated(clocked):
    arm, clock = clocked
    group = _create(arm, clock, "web", None, image="contoso.azurecr.io/web:1")
    clock.advance(86400)
    assert group.view()["currentState"]["state"] == "Running"
    assert "image contoso.azurecr.io/web:1 is emulated" in group.logs()


def test_logs_with_timestamps_and_tail(clocked):
    arm, clock = clocked
    group = _create(arm, clock, "ticker", ["sh", "-c", "while true; do echo tick; sleep 1; done"])
    clock.advance(4)
    lines = group.logs(timestamps="true").splitlines()
    assert len(lines) == 5 and all(line.endswith(" tick") and line[:4].isdigit() for line in lines)
    assert group.logs(tail="2") == "tick\ntick\n"


def test_a_forced_state_still_wins_over_the_program(clocked):
    """Tests steer the emulator by hand (terminate, set_logs): one implementation, two drivers."""
    arm, clock = clocked
    group = _create(arm, clock, "forced", ["sleep", "infinity"], "Never")
    arm.terminate("forced", exit_code=137)
    arm.set_logs("forced", "main", "killed\n")
    assert group.view()["currentState"]["exitCode"] == 137
    assert group.logs() == "killed\n"


def test_runs_alone_with_its_ca_where_asked(tmp_path):
    ca = tmp_path / "certs" / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--ca-file", str(ca), "--pending", "0", "--creating", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        assert process.stdout.readline().strip() == f"ca={ca}"
        session = requests.Session()
        session.trust_env = False
        answer = session.get(
            f"{url}/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.ContainerInstance"
            f"/locations/westus/usages?{API}",
            headers={"Authorization": "Bearer x"},
            verify=str(ca),
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def _waits_for_sigterm(pid: int) -> bool:
    """Its SIGTERM handler is in place and its main thread sleeps (in the wait for a stop signal)."""
    caught = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigCgt"))
    state = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1))) and state == "S"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_burst_of_stop_signals_stops_it(tmp_path):
    """SIGTERMs in a burst, as a killed `make start` launcher sends them (PR_SET_PDEATHSIG, once per thread it had).

    The old handler set a threading.Event: the next signal re-entered it and deadlocked on the Event's lock, and
    the emulator outlived its launcher (most such bursts). Five rounds, each once its handler is in place and it sleeps.
    """
    for round_ in range(5):
        ca = tmp_path / f"ca-{round_}.pem"
        command = [sys.executable, "-m", "emulator", "--port", "0", "--ca-file", str(ca)]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert process.stdout.readline().strip() == f"ca={ca}"
            answer = requests.get(
                f"{url}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerInstance/locations/westus/usages?{API}",
                headers={"Authorization": "Bearer x"},
                verify=str(ca),
                timeout=30,
            )
            assert answer.status_code == 200  # it serves: the burst finds it running, not starting
            wait_for(lambda pid=process.pid: _waits_for_sigterm(pid), timeout=60)
            for _ in range(30):
                os.kill(process.pid, signal.SIGTERM)
                pause = time.perf_counter() + 50e-6  # a spread burst: each lands on a different step of the last
                while time.perf_counter() < pause:
                    pass
            # 0, or SIGTERM itself: the burst's tail may land after the interpreter put the default action back on exit
            assert process.wait(timeout=60) in (0, -signal.SIGTERM), f"round {round_}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
