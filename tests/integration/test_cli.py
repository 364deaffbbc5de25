"""python -m shared.cli: clear errors and exit codes, peek and dead-letters decoded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared import cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("submit", "delete", "peek", "dead-letters"):
        assert command in result.stdout


def test_missing_file_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["submit", "-f", str(tmp_path / "nope.yaml")]) == cli.EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Service\napiVersion: v1\nmetadata: {name: x}\n", "expected kind Pod"),
        ("{not: [yaml", "not valid YAML"),
        ("", "no Pod found"),
    ],
)
def test_invalid_manifests_exit_3_with_the_reason(tmp_path, capsys, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    assert cli.main(["submit", "-f", str(path)]) == cli.EXIT_INVALID
    assert expected in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        cli.main(["frobnicate"])
    assert exited.value.code == 2


def test_peek_and_dead_letters_show_decoded_messages(azurite, queue_store, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    queue_store.send('{"v":1,"op":"delete","source":"cli","pod":{"namespace":"a","name":"b"}}')
    queue_store.dead_letter("garbage", reason="message is not JSON")
    assert cli.main(["--connection-string", azurite.connection_string, "peek"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["message"]["pod"] == {"namespace": "a", "name": "b"}
    assert cli.main(["--connection-string", azurite.connection_string, "dead-letters"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["message"]["reason"] == "message is not JSON"


def test_settings_file_supplies_the_connection(azurite, queue_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"AzureWebJobsStorage": azurite.connection_string}})
    )
    assert cli.main(["delete", "default/web"]) == 0
    [queued] = queue_store.peek()
    assert json.loads(queued.text)["op"] == "delete"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unreachable(port: int) -> str:
    from tests.fakes.azurite_fixtures import azurite_connection_string

    return azurite_connection_string(f"http://127.0.0.1:{port}/devstoreaccount1")


@pytest.mark.parametrize("command", [["peek"], ["delete", "default/web"]])
def test_storage_refusing_connections_fails_with_a_hint(tmp_path, capsys, monkeypatch, command):
    """Issue 14, point 11: the SDK's default retries waited ~82 s before a bare connection error. How many tries
    the CLI makes is checked by the next test; here, that it fails with one line naming the endpoint."""
    monkeypatch.chdir(tmp_path)
    port = _free_port()
    code = cli.main(["--connection-string", _unreachable(port), *command])
    assert code == cli.EXIT_FAILURE
    [line] = capsys.readouterr().err.splitlines()
    assert f"127.0.0.1:{port}" in line
    assert "Azurite" in line


def test_storage_that_never_answers_gets_one_retry_then_fails(tmp_path, capsys, monkeypatch):
    """Each try is bounded by FAIL_FAST's read timeout and there is one retry: the server sees exactly two
    connections, whatever the machine's load (the SDK's default would keep trying for ~80 s)."""
    import socket

    from shared.azure.queue import FAIL_FAST

    monkeypatch.chdir(tmp_path)
    with socket.socket() as silent:  # the kernel completes each handshake; nothing ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        code = cli.main(["--connection-string", _unreachable(port), "peek"])
        silent.setblocking(False)
        connections = []
        while True:  # every connection the CLI made waits in the backlog, closed by the client or not
            try:
                connections.append(silent.accept()[0])
            except BlockingIOError:
                break
        for connection in connections:
            connection.close()
    assert code == cli.EXIT_FAILURE
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert len(connections) == 1 + FAIL_FAST["retry_total"]


@pytest.mark.parametrize(
    "argv",
    [
        ["peek", "--limit", "0"],
        ["peek", "--limit", "-3"],
        ["dead-letters", "--limit", "33"],
        ["poison", "--limit", "many"],
        ["delete", ""],
        ["delete", "a/b/c"],
        ["delete", "default/"],
    ],
)
def test_bad_arguments_are_usage_errors_not_tracebacks(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error:" in err


def test_a_malformed_connection_string_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--connection-string", "not a connection string", "peek"]) == cli.EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert "--connection-string" in line
