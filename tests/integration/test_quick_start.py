"""`make start` without Core Tools: everything else is prepared, then a precise message and exit 1, never a hang."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_start_without_func_says_how_to_install_it(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("scripts", "local.settings.json.example"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name)
        else:
            shutil.copy(source, project / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cp", "dirname", "env", "mkdir", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        ["bash", str(project / "scripts" / "start.sh")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "Azure Functions Core Tools" in result.stderr
    assert "npm install --global azure-functions-core-tools@4" in result.stderr
    assert (project / "local.settings.json").read_text() == (ROOT / "local.settings.json.example").read_text()
    assert not os.path.exists(project / ".azurite")  # nothing was left running
