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
        "heavy = [m for m in ('kubernetes', 'azure.mgmt.containerinstance', 'azure.storage.queue', 'azure.identity',"
        " 'prometheus_client')"
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


_LOCAL_HOST_INDEX = """
import json
from shared.localhost.index import load_app
print(json.dumps([{"name": s.name, "trigger": s.trigger, "outputs": list(s.outputs)} for s in load_app()]))
"""


def test_local_host_serves_exactly_what_the_real_worker_indexes():
    """The local host (make start without Core Tools) cannot drift from what the host gets in Azure."""
    from shared.config import SETTINGS, load_settings

    result = _run_worker_indexer(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    indexed = {f["name"]: f["bindings"] for f in json.loads(result.stdout)["functions"]}
    local = subprocess.run(
        [sys.executable, "-c", _LOCAL_HOST_INDEX], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    served = {spec["name"]: spec for spec in json.loads(local.stdout)}
    assert set(served) == set(indexed) == set(EXPECTED_TRIGGERS)
    declared = {setting.name for setting in SETTINGS}
    defaults = load_settings({}).values
    for name, bindings in indexed.items():
        trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
        assert served[name]["trigger"] == trigger, name
        assert served[name]["outputs"] == [b for b in bindings if b["direction"] == "OUT"], name
        for binding in bindings:  # every setting a binding names is one the app declares
            if "connection" in binding:
                assert binding["connection"] in declared, (name, binding["connection"])
            for value in binding.values():
                if isinstance(value, str) and value.startswith("%") and value.endswith("%"):
                    assert value.strip("%") in declared and defaults[value.strip("%")], (name, value)


def test_local_host_schedule_and_routes_follow_the_bindings():
    from shared.localhost.http import build_routes
    from shared.localhost.index import FunctionSpec, resolve
    from shared.localhost.timer import Schedule

    functions = _in_process_functions()
    reconcile = next(b for b in functions["reconcile"] if b["type"] == "timerTrigger")
    schedule = Schedule(resolve(reconcile["schedule"], {"RECONCILE_SCHEDULE": "*/10 * * * * *"}, where="reconcile"))
    from datetime import UTC, datetime

    assert schedule.next_after(datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)) == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    specs = [
        FunctionSpec(name, next(b for b in bindings if b["type"] == "httpTrigger"), (), print)
        for name, bindings in functions.items()
        if any(b["type"] == "httpTrigger" for b in bindings)
    ]
    routes = {route.spec.name: route for route in build_routes(specs, "api")}
    assert routes["capacity"].pattern.match("/api/capacity").groupdict() == {"node": None}
    assert routes["capacity"].pattern.match("/api/capacity/aci-connector-linux")["node"] == "aci-connector-linux"
    assert routes["capacity"].auth_level == "function" and routes["capacity"].methods == ("GET",)
    assert routes["audit"].auth_level == "anonymous" and not routes["audit"].pattern.match("/api/audit/x")
