"""The local Functions host: function_app.py's triggers served on this machine, honouring host.json.

For machines without Azure Functions Core Tools. It indexes the app the way the worker
does (shared/localhost/index.py), prints one line per function with its trigger, then
runs queue listeners (shared/localhost/queue.py), timers (timer.py) and one HTTP server
(http.py) on `http://localhost:7071` until stopped. Settings come from the environment,
then the Values of local.settings.json, as with `func start`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.localhost.index import FunctionSpec, NotServable, load_app
from shared.localhost.invoke import Result, invoke

log = logging.getLogger("localhost")
ROOT = Path(__file__).resolve().parents[2]


def load_local_settings(root: Path, env: dict[str, str] | os._Environ[str] = os.environ) -> dict[str, Any]:
    """Put local.settings.json's Values into `env` where not already set; returns its Host section."""
    path = root / "local.settings.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise NotServable(f"{path}: not valid JSON: {error}") from None
    for key, value in (data.get("Values") or {}).items():
        env.setdefault(key, "" if value is None else str(value))
    return data.get("Host") or {}


def _host_json(root: Path) -> dict[str, Any]:
    return json.loads((root / "host.json").read_text())


@dataclass
class LocalHost:
    """Everything the host runs for one app folder."""

    root: Path = ROOT
    port: int = 7071
    bind: str = "127.0.0.1"
    key: str | None = None
    specs: list[FunctionSpec] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    stores: dict[str, Any] = field(default_factory=dict)
    launched: float | None = None  # time.monotonic() when `make start` began, for the ready line

    def index(self) -> list[FunctionSpec]:
        self.specs = load_app("function_app")
        return self.specs

    # ---- storage for queue triggers and outputs

    def store_for(self, connection: str) -> Any:
        """The QueueStore of a binding's `connection` (an app setting name, as in the host)."""
        from shared.azure.queue import QueueStore

        if connection not in self.stores:
            value = os.environ.get(connection, "")
            uri = os.environ.get(f"{connection}__queueServiceUri", "")
            if not value and not uri:
                raise NotServable(f"connection {connection}: app setting {connection} is not set")
            self.stores[connection] = QueueStore(value or None, queue_service_uri=uri or None)
        return self.stores[connection]

    def write_output(self, binding: dict[str, Any], value: Any) -> None:
        store = self.store_for(binding.get("connection") or "AzureWebJobsStorage")
        items = value if isinstance(value, list) else [value]
        store.ensure(binding["queueName"])
        for item in items:
            store.send(item if isinstance(item, str) else json.dumps(item), queue=binding["queueName"])

    def run(self, spec: FunctionSpec, value: Any, reason: str) -> Result:
        return invoke(spec, value, reason=reason, write_output=self.write_output)

    # ---- the listing `func start` prints

    def describe(self) -> list[str]:
        prefix = _host_json(self.root).get("extensions", {}).get("http", {}).get("routePrefix", "api")
        lines = []
        for spec in self.specs:
            trigger = spec.trigger
            if spec.trigger_type == "httpTrigger":
                methods = ",".join(trigger.get("methods") or ["GET", "POST", "PUT", "DELETE", "PATCH"])
                route = f"{prefix}/{trigger.get('route') or spec.name}".strip("/")
                level = str(trigger.get("authLevel", "FUNCTION")).lower()
                lines.append(f"{spec.name}: [{methods}] http://localhost:{self.port}/{route} (authLevel {level})")
            elif spec.trigger_type == "queueTrigger":
                queue = spec.setting("queueName", os.environ)
                lines.append(f"{spec.name}: queueTrigger ({self._queue_host(spec, queue).describe()})")
            elif spec.trigger_type == "timerTrigger":
                schedule = spec.setting("schedule", os.environ)
                lines.append(f"{spec.name}: timerTrigger (schedule {schedule!r}, UTC)")
            else:
                lines.append(
                    f"{spec.name}: eventGridTrigger (POST http://localhost:{self.port}"
                    f"/runtime/webhooks/eventgrid?functionName={spec.name})"
                )
        return lines

    # ---- running

    def _queue_host(self, spec: FunctionSpec, queue: str) -> Any:
        from shared.localhost.queue import QueueHost

        def function(message: Any) -> None:
            result = self.run(spec, message, f"New queue message detected on '{queue}'.")
            if result.error is not None:
                raise result.error

        store = self.store_for(spec.trigger.get("connection") or "AzureWebJobsStorage")
        return QueueHost(store, function, queue=queue, root=self.root)

    def _thread(self, name: str, target: Any, *args: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start_listeners(self) -> None:
        from shared.localhost.timer import Schedule, run_timer

        for spec in self.specs:
            if spec.trigger_type == "queueTrigger":
                queue = spec.setting("queueName", os.environ)
                self._thread(f"queue-{spec.name}", self._queue_host(spec, queue).serve, self.stop)
            elif spec.trigger_type == "timerTrigger":
                schedule = Schedule(spec.setting("schedule", os.environ), where=f"{spec.name}.schedule")

                def fire(value: Any, spec: FunctionSpec = spec) -> None:
                    self.run(spec, value, "Timer fired at " + _now_text())

                self._thread(
                    f"timer-{spec.name}",
                    run_timer,
                    schedule,
                    fire,
                    self.stop,
                    run_on_startup=bool(spec.trigger.get("runOnStartup")),
                )

    def http_app(self) -> Any:
        from shared.localhost.http import HttpFront

        prefix = _host_json(self.root).get("extensions", {}).get("http", {}).get("routePrefix", "api")
        return HttpFront(self.specs, prefix=prefix, invoke=self.run, key=self.key).build()

    def serve_forever(self) -> None:
        """Listeners in threads, HTTP on this thread's event loop, until `stop` is set (or Ctrl-C)."""
        import asyncio

        from aiohttp import web

        async def main() -> None:
            runner = web.AppRunner(self.http_app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.bind, self.port)
            await site.start()
            took = f" in {time.monotonic() - self.launched:.1f} s" if self.launched is not None else ""
            log.info("Host started%s: listening on http://%s:%d", took, self.bind, self.port)
            self.start_listeners()
            try:
                while not self.stop.is_set():
                    await asyncio.sleep(0.2)
            finally:
                await runner.cleanup()

        try:
            asyncio.run(main())
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join(timeout=30)


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
