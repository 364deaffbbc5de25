"""The app indexes as the Functions host would see it: in-process, and with the real Python worker on 3.13."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER_PYTHON = ROOT / ".venv313" / "bin" / "python"
INDEXER = ROOT / "tests" / "indexing" / "index_with_worker.py"

EXPECTED_TRIGGERS = {
    "pod_events": ("queueTrigger", {"queueName": "pod-events", "connection": "AzureWebJobsStorage"}),
    "audit": ("httpTrigger", {"route": "audit", "authLevel": "ANONYMOUS", "methods": ["POST"]}),
    "capacity": ("httpTrigger", {"route": "capacity/{node?}", "authLevel": "FUNCTION", "methods": ["GET"]}),
    "arm_events": ("eventGridTrigger", {"name": "event"}),
    "reconcile": ("timerTrigger", {"schedule": "%RECONCILE_SCHEDULE%", "useMonitor": False, "runOnStartup": False}),
}


@functools.cache
def _in_process_functions() -> dict[str, list[dict]]:
    """The bindings the app registers (get_functions may run once per process: the SDK refuses a second call)."""
    import function_app

    return {
        function.get_function_name(): [json.loads(raw) for raw in function.get_raw_bindings()]
        for function in function_app.app.get_functions()
    }


def test_every_function_is_registered_with_its_trigger():
    functions = _in_process_functions()
    assert set(functions) == set(EXPECTED_TRIGGERS)
    for name, (trigger_type, properties) in EXPECTED_TRIGGERS.items():
        trigger = next(b for b in functions[name] if b["type"] == trigger_type)
        for key, value in properties.items():
            assert trigger[key] == value, (name, key)


def test_importing_function_app_loads_no_heavy_sdk():
    code = (
        "import sys, function_app\n"
        "heavy = [m for m in ('kubernetes', 'azure.mgmt.containerinstance', 'azure.storage.queue', 'azure.identity')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _run_worker_indexer(app_dir: Path) -> subprocess.CompletedProcess[str]:
    if not WORKER_PYTHON.exists():
        pytest.skip("no .venv313 (python3.13 not found on this machine): real-worker indexing not checked")
    return subprocess.run(
        [str(WORKER_PYTHON), str(INDEXER), str(app_dir)],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_real_python_worker_indexes_the_app_like_the_host():
    result = _run_worker_indexer(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    indexed = {f["name"]: f["bindings"] for f in json.loads(result.stdout)["functions"]}
    assert set(indexed) == set(EXPECTED_TRIGGERS)
    in_process = _in_process_functions()
    for name, bindings in indexed.items():
        assert bindings == in_process[name], name


def test_real_worker_indexer_reports_binding_errors(tmp_path):
    (tmp_path / "function_app.py").write_text(
        textwrap.dedent(
            """
            import azure.functions as func
            app = func.FunctionApp()

            @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
            def broken(message: func.QueueMessage) -> None:
                pass
            """
        )
    )
    result = _run_worker_indexer(tmp_path)
    assert result.returncode == 1
    assert "error" in json.loads(result.stdout)
