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
