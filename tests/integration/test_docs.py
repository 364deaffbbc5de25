"""The docs say what the code does: runnable shell blocks run, examples match the code's own rules."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from shared.naming import HASH_LENGTH

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = re.compile(r"^```(?:sh|bash) runnable\n(.*?)^```", re.M | re.S)


def runnable_blocks() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(ROOT)}#{n}", match.group(1))
        for path in DOCS
        for n, match in enumerate(RUNNABLE.finditer(path.read_text()))
    ]


def test_there_are_runnable_blocks_to_check():
    assert len(runnable_blocks()) >= 3


@pytest.mark.parametrize(("where", "script"), runnable_blocks(), ids=[w for w, _ in runnable_blocks()])
def test_runnable_shell_block_runs(where: str, script: str, queue_store, azurite):
    """Run as a reader would from the project root, in standalone mode against this run's Azurite."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "AzureWebJobsStorage": azurite.connection_string,
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{where} failed:\n{script}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def test_example_group_names_follow_the_naming_rule():
    """Every container group name quoted in a JSON example is `<namespace>-<name>-<HASH_LENGTH hex>`."""
    name = re.compile(rf"^[a-z0-9-]+-[0-9a-f]{{{HASH_LENGTH}}}$")
    quoted = [
        value for path in DOCS for value in re.findall(r'"(?:group|containerGroup)":\s*"([^"<]+)"', path.read_text())
    ]
    assert quoted, "the docs quote example group names"
    assert [value for value in quoted if not name.match(value)] == []


def _leaf_keys(value: object, prefix: str = "") -> list[str]:
    if not isinstance(value, dict):
        return [prefix]
    return [key for k, v in value.items() for key in _leaf_keys(v, f"{prefix}.{k}" if prefix else k)]


def test_every_host_json_setting_is_explained():
    host = json.loads((ROOT / "host.json").read_text())
    settings_doc = (ROOT / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", settings_doc, re.M))
    missing = []
    for key in _leaf_keys(host):
        short = key.removeprefix("extensions.")
        candidates = {key, short, *(short.rsplit(".", n)[0] for n in range(1, short.count(".") + 1))}
        if not candidates & documented:
            missing.append(key)
    assert missing == []
