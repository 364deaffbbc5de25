"""What the Functions deployment package holds: the app, never the emulator, the local host, tests or tooling."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ignored() -> set[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return {line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")}


def test_funcignore_leaves_out_the_emulator_and_local_tooling() -> None:
    ignored = _ignored()
    for entry in ("emulator", "shared/localhost", "tests", "bench", "requirements-local.txt", "requirements-dev.txt"):
        assert entry in ignored, f".funcignore must exclude {entry}"
    for entry in ("function_app.py", "functions", "shared", "host.json", "requirements.txt"):
        assert entry not in ignored, f".funcignore must keep {entry}"


def test_deployed_code_never_imports_the_emulator() -> None:
    """The emulator is not deployed: an import of it from the app would fail in Azure."""
    offenders = []
    deployed = [p for p in (ROOT / "shared").rglob("*.py") if "localhost" not in p.parts]
    for path in [ROOT / "function_app.py", *(ROOT / "functions").rglob("*.py"), *deployed]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.split(".")[0] in ("emulator", "tests") or n.startswith("shared.localhost")
            ]
    assert offenders == []
