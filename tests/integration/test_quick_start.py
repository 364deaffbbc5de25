"""`make start` on a machine without Core Tools: Azurite, the ACI emulator and the local host, stopped by Ctrl-C.

Runs scripts/start.sh (what `make start` runs) in a copy of the app with `func` absent from
PATH, on free ports, exactly as a new user would: the README's quick start (capacity
answers, a submitted pod's group is Running), then Ctrl-C or a killed launcher must leave
no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fakes.azurite_fixtures import AZURITE_ACCOUNT, AZURITE_KEY
from tests.fakes.kube_real import free_ports

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = (
    "function_app.py",
    "host.json",
    "local.settings.json.example",
    "functions",
    "shared",
    "emulator",
    "scripts",
)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in APP_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / name)
    shutil.copytree(ROOT / "docs" / "examples", project / "docs" / "examples")
    for link in (".venv", "node_modules"):
        (project / link).symlink_to(ROOT / link)
    return project


def _tools(tmp_path: Path) -> Path:
    """A PATH with what start.sh and Azurite need, and no `func`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cp", "dirname", "env", "node", "cat", "mkdir"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def _environment(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    blob, queue, table, emulator, http = free_ports(5)
    storage = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob}/{AZURITE_ACCOUNT};QueueEndpoint=http://127.0.0.1:{queue}/"
        f"{AZURITE_ACCOUNT};TableEndpoint=http://127.0.0.1:{table}/{AZURITE_ACCOUNT};"
    )
    env = {
        "PATH": str(_tools(tmp_path)),
        "HOME": str(tmp_path),
        "AzureWebJobsStorage": storage,
        "ACI_EMULATOR_URL": f"https://127.0.0.1:{emulator}",
    }
    return env, {"queue": queue, "emulator": emulator, "http": http}


class Started:
    def __init__(self, project: Path, env: dict[str, str], http_port: int, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            ["bash", "scripts/start.sh", "--port", str(http_port)],
            cwd=project,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.log.read_text(errors="replace")
            if text in output:
                return output
            if self.process.poll() is not None:
                raise AssertionError(f"make start exited with {self.process.returncode}:\n{output}")
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.log.read_text(errors='replace')}")

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:  # a failed test must not leave `make start` running
            os.killpg(self.process.pid, signal.SIGKILL)

    def group_pids(self) -> set[int]:
        found = subprocess.run(["pgrep", "-s", str(self.process.pid)], capture_output=True, text=True, check=False)
        return {int(pid) for pid in found.stdout.split()}


def _state(pid: int) -> str | None:
    """The process's state letter from /proc (Z: a zombie not yet reaped); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _alive(pids: set[int]) -> set[int]:
    """The processes still running. A zombie has exited: only its reaping is left, to PID 1 here (which reaps
    orphans every second or two), though `kill(pid, 0)` still finds it."""
    return {pid for pid in pids if _state(pid) not in (None, "Z", "X")}


def _describe(pids: set[int]) -> dict[int, str]:
    """What each process left running is, and its state (Z: a zombie not yet reaped), for the failure message."""
    described = {}
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError as error:
            command = f"gone ({error.strerror})"
        described[pid] = f"{_state(pid) or '?'} {command.strip()[:200]}"
    return described


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_gone(pids: set[int], ports: dict[str, int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (_alive(pids) or any(_listening(p) for p in ports.values())):
        time.sleep(0.2)
    assert not _alive(pids), f"left running: {_describe(_alive(pids))}"
    assert not [name for name, port in ports.items() if _listening(port)]


def _cli(project: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_start_without_core_tools_then_ctrl_c_leaves_nothing(tmp_path):
    project = _project(tmp_path)
    env, ports = _environment(tmp_path)
    with Started(project, env, ports["http"], tmp_path / "start.log") as started:
        output = started.wait_for("Host started")
        assert (project / "local.settings.json").read_text() == (ROOT / "local.settings.json.example").read_text()
        for line in ("Azurite ", "ACI emulator https://127.0.0.1:", "standalone mode", "Functions:"):
            assert line in output
        for name, trigger in (
            ("pod_events", "queueTrigger"),
            ("capacity", f"[GET] http://localhost:{ports['http']}/api/capacity/{{node?}}"),
            ("audit", "[POST]"),
            ("arm_events", "eventGridTrigger"),
            ("reconcile", "timerTrigger"),
        ):
            assert f"{name}: {trigger}" in output
        answer = requests.get(f"http://127.0.0.1:{ports['http']}/api/capacity", timeout=30)
        assert answer.status_code == 200 and answer.json()["mode"] == "standalone"

        cli_env = {**os.environ, **{k: v for k, v in env.items() if k != "PATH"}}
        assert "queued upsert default/hello-aci" in _cli(
            project, cli_env, "submit", "-f", "docs/examples/standalone-pod.yaml"
        )
        # The emulator runs a group 2 s Pending + 3 s Creating (the README's "about 6 s"); the deadline only
        # bounds a hang, the state is what is checked
        deadline = time.monotonic() + 300
        table = ""
        while time.monotonic() < deadline and " Running " not in table:
            table = _cli(project, cli_env, "groups")
            time.sleep(0.5)
        assert "default/hello-aci" in table and " Running " in table and "Linux" in table, table
        status = _cli(project, cli_env, "status", "default/hello-aci")
        # A Regular group: real ACI (and so the emulator) shows no container events.
        assert "State:         Running" in status and "Events:\n  <none>" in status
        assert "Executed 'Functions.pod_events' (Succeeded" in started.log.read_text()

        pids = started.group_pids()
        assert len(pids) >= 3  # launcher, Azurite, emulator
        os.killpg(started.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        started.process.wait(timeout=60)
        _wait_gone(pids, ports)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_killed_launcher_takes_its_services_with_it(tmp_path):
    """Even SIGKILL, which runs no cleanup: Azurite and the emulator die with the launcher."""
    project = _project(tmp_path)
    env, ports = _environment(tmp_path)
    with Started(project, env, ports["http"], tmp_path / "start.log") as started:
        started.wait_for("Host started")
        pids = started.group_pids()
        started.process.kill()
        started.process.wait(timeout=30)
        _wait_gone(pids, ports)


def test_a_busy_emulator_port_is_named(tmp_path):
    project = _project(tmp_path)
    env, ports = _environment(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["emulator"]))
        busy.listen()
        result = subprocess.run(
            ["bash", "scripts/start.sh", "--port", str(ports["http"])],
            check=False,
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{ports['emulator']} is already in use" in result.stderr
    assert "ACI_EMULATOR_URL" in result.stderr
    assert not _listening(ports["queue"])  # Azurite, started first, was stopped again


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_with_core_tools_it_runs_func_start_with_the_embedded_defaults(tmp_path):
    """`func` on PATH: Azurite and the emulator still start, then `func start` gets their settings; Ctrl-C stops all."""
    project = _project(tmp_path)
    env, ports = _environment(tmp_path)
    fake_func = Path(env["PATH"]) / "func"
    fake_func.write_text(
        "#!/bin/bash\n"
        'echo "func $* emulator=$ACI_EMULATOR_URL ca=$ACI_EMULATOR_CA_FILE storage=${AzureWebJobsStorage:0:24}"\n'
        'echo "Host started (fake Core Tools)"\n'
        "exec sleep 600\n"
    )
    fake_func.chmod(0o755)
    for tool in ("sleep",):
        (Path(env["PATH"]) / tool).symlink_to(shutil.which(tool))
    with Started(project, env, ports["http"], tmp_path / "start.log") as started:
        output = started.wait_for("Host started (fake Core Tools)")
        assert f"func start --port {ports['http']} emulator=https://127.0.0.1:{ports['emulator']}" in output
        assert "ca=.emulator/ca.pem storage=DefaultEndpointsProtocol" in output
        assert "Host         func start (Core Tools at" in output
        assert _listening(ports["queue"]) and _listening(ports["emulator"])
        pids = started.group_pids()
        os.killpg(started.process.pid, signal.SIGINT)
        started.process.wait(timeout=60)
        _wait_gone(pids, ports)
