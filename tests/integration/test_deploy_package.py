"""What ships: the Function App zip (honouring .funcignore) and the relay image's build context (.dockerignore).

The zip is built the way `func azure functionapp publish` / zip deploy does: every file under the project root,
tracked or not (virtualenvs, node_modules, Azurite's data and caches are all there after `make test`), minus what
.funcignore matches with gitignore rules. The image context follows Docker's .dockerignore rules, as implemented
by the Docker SDK for Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pathspec
import pytest
from docker.utils.build import exclude_paths

from tests.integration.test_function_indexing import EXPECTED_TRIGGERS, WORKER_PYTHON, _run_worker_indexer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_LIMIT_BYTES = 2 * 1024 * 1024
"""The app is a few hundred KB of Python: anything near 2 MB means something that must stay home slipped in."""
NEVER_SHIPPED = (
    "tests/",
    "bench/",
    "docs/",
    "deploy/",
    "infra/",
    "emulator/",
    "scripts/",
    "node_modules/",
    ".venv",
    ".azurite/",
    ".hypothesis/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".git/",
    "local.settings.json",
)


def _all_files(root: Path) -> list[str]:
    """Every regular file below root, as a posix path relative to it (what a publish walks)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(root).as_posix())
    return found


def _package_files(root: Path) -> list[str]:
    spec = pathspec.GitIgnoreSpec.from_lines((root / ".funcignore").read_text().splitlines())
    return sorted(path for path in _all_files(root) if not spec.match_file(path))


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployment zip, built from the real working tree (with whatever `make test` left in it)."""
    zip_path = tmp_path_factory.mktemp("publish") / "app.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in _package_files(ROOT):
            archive.write(ROOT / name, name)
    return zip_path


def test_funcignore_keeps_out_what_local_runs_leave_behind():
    spec = pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())
    left_behind = [
        "shared/__pycache__/config.cpython-311.pyc",
        "functions/__pycache__/audit.cpython-313.pyc",
        ".azurite/__queuestorage__/data",
        ".hypothesis/examples/1/2",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/0.17.6/1",
        ".venv/bin/python",
        ".venv313/bin/python",
        "node_modules/azurite/package.json",
        "tests/conftest.py",
        "emulator/__main__.py",
        "local.settings.json",
    ]
    assert [path for path in left_behind if not spec.match_file(path)] == []
    assert not any(spec.match_file(path) for path in ("function_app.py", "host.json", "shared/kube/client.py"))


def test_package_holds_the_app_and_nothing_else(package: Path):
    names = zipfile.ZipFile(package).namelist()
    assert {"host.json", "function_app.py", "requirements.txt"} <= set(names)
    assert {f"functions/{name}.py" for name in EXPECTED_TRIGGERS} <= set(names)
    assert "shared/config.py" in names
    leaked = [n for n in names if n.startswith(NEVER_SHIPPED) or "__pycache__/" in n or n.endswith(".pyc")]
    assert leaked == []
    assert {Path(n).suffix for n in names} <= {".py", ".json", ".txt"}, sorted({Path(n).suffix for n in names})
    assert package.stat().st_size < PACKAGE_LIMIT_BYTES


def test_package_indexes_under_the_real_worker(package: Path, tmp_path: Path):
    """The zip alone, unpacked, is a complete app: the real Python worker finds every function in it."""
    if not WORKER_PYTHON.exists():
        pytest.skip("no .venv313 (python3.13 not found on this machine): real-worker indexing not checked")
    app_dir = tmp_path / "wwwroot"
    zipfile.ZipFile(package).extractall(app_dir)
    result = _run_worker_indexer(app_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {f["name"] for f in json.loads(result.stdout)["functions"]} == set(EXPECTED_TRIGGERS)


def _image_context(root: Path) -> set[str]:
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {path.replace(os.sep, "/") for path in exclude_paths(str(root), patterns)}


def test_relay_image_context_is_only_what_the_dockerfile_copies():
    context = {p for p in _image_context(ROOT) if not (ROOT / p).is_dir()}
    assert "requirements.txt" in context
    assert "shared/relay/__main__.py" in context
    # Docker always sends .dockerignore itself (and the Dockerfile, outside the context here).
    assert all(p in {"requirements.txt", ".dockerignore"} or p.startswith("shared/") for p in context), sorted(context)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in context)
    size = sum((ROOT / p).stat().st_size for p in context)
    assert size < PACKAGE_LIMIT_BYTES, size


def _container_builder() -> list[str] | None:
    """A builder that can run here: docker with a reachable engine, else buildah; None when neither works."""
    if shutil.which("docker"):
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
        if info.returncode == 0:
            return ["docker", "build"]
    if shutil.which("buildah"):
        return ["buildah", "bud", "--isolation", "chroot", "--storage-driver", "vfs"]
    return None


@pytest.mark.slow
def test_relay_image_builds_from_a_clean_context(tmp_path: Path):
    builder = _container_builder()
    if builder is None:
        pytest.skip("no container builder here: docker has no engine (`docker info` fails) and buildah is absent")
    base = "python:3.11-slim"
    probe = subprocess.run([*builder[:1], "image", "inspect", base], capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip(f"base image {base} is not available offline, so the relay image cannot be built here")
    context = tmp_path / "context"
    for relative in sorted(_image_context(ROOT)):
        source, target = ROOT / relative, context / relative
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    result = subprocess.run(
        [*builder, "-f", str(ROOT / "deploy" / "relay" / "Dockerfile"), "-t", "aci-connector-relay:test", str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
