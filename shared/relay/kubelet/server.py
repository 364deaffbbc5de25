"""The HTTPS listener: one port per virtual node, authentication and authorization first, then the endpoints.

Each virtual node gets its own port (RELAY_KUBELET_PORT for the first node in
VIRTUAL_NODE_OS order, +1 for the next): the apiserver calls a kubelet at an address
and port without naming the node, and requests such as /stats/summary or /pods have no
pod to tell which node they are about. aiohttp runs on its own event loop in one thread,
so a `kubectl logs -f` or an exec session costs a coroutine, not a thread; the blocking
SDK calls (ARM, apiserver) run in the default thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.azure.aci import AciClient
from shared.kube import KubeClient
from shared.relay.kubelet.auth import Gate, forbidden_message, request_attributes
from shared.relay.kubelet.budget import ReadBudget
from shared.relay.kubelet.config import KubeletConfig
from shared.relay.kubelet.containerlogs import LogSource, container_logs
from shared.relay.kubelet.exec import ExecBridge
from shared.relay.kubelet.pods import text_error
from shared.relay.kubelet.stats import Key, MonitorMetrics, Snapshot, StatsCache, Usage
from shared.relay.kubelet.summary import resource_metrics, stats_summary
from shared.relay.kubelet.tls import certificate_identity, client_ca_file, server_context, serving_files

log = logging.getLogger("aci_connector.relay.kubelet")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class KubeletServer:
    """Serves the kubelet API for every virtual node; `start()` returns once every port listens."""

    def __init__(
        self,
        config: KubeletConfig,
        kube: KubeClient,
        aci: AciClient,
        *,
        extra_routes: Callable[[web.Application, str], None] | None = None,
    ) -> None:
        self.config = config
        self.kube = kube
        self.aci = aci
        self.gate = Gate(kube)
        self.budget = ReadBudget(config.arm_reads_per_minute)
        self.started = datetime.now(UTC)
        self.stats = StatsCache(kube, config.nodes, self._metrics_source(), refresh=config.stats_seconds)
        self.ports: dict[str, int] = {}
        self.log_sources: dict[str, LogSource] = {}
        self.cert_file = ""
        """The serving certificate (PEM file): clients that want to verify it can trust this file."""
        self._extra_routes = extra_routes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def port_for(self, index: int) -> int:
        return 0 if self.config.port == 0 else self.config.port + index

    def _metrics_source(self) -> Callable[[list[str]], dict[Key, Usage]]:
        metrics = MonitorMetrics(
            endpoint=self.config.metrics_endpoint or f"https://{self.aci.region}.metrics.monitor.azure.com",
            credential=self.aci.credential,
            subscription_id=self.aci.subscription_id,
            resource_group=self.aci.resource_group,
            verify=self.aci.connection_verify,
        )
        self.metrics = metrics
        return metrics.fetch

    async def _snapshot(self) -> Snapshot:
        try:
            return await self.stats.snapshot()
        except Exception as error:  # Azure Monitor down, throttling or refusing the identity: say so, 503
            log.warning("metrics round failed: %s: %s", type(error).__name__, error)
            raise text_error(503, f"Azure Monitor metrics unavailable: {type(error).__name__}: {error}") from None

    # -- the application ---------------------------------------------------------------------------------------------

    def application(self, node: str) -> web.Application:
        app = web.Application(middlewares=[self._guard(node)])
        source = LogSource(node, self.kube, self.aci, self.budget, self.config.log_poll_seconds)
        self.log_sources[node] = source

        async def logs(request: web.Request) -> web.StreamResponse:
            return await container_logs(request, source)

        async def healthz(_request: web.Request) -> web.StreamResponse:
            return web.Response(text="ok")

        async def pods(_request: web.Request) -> web.StreamResponse:
            items, version = await asyncio.to_thread(self.kube.list_pods, field_selector=f"spec.nodeName={node}")
            body = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": version}, "items": items}
            return web.json_response(body)

        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", logs)
        bridge = ExecBridge(node, self.kube, self.aci)

        async def exec_(request: web.Request) -> web.StreamResponse:
            return await bridge.handle(request)

        async def attach(request: web.Request) -> web.StreamResponse:
            return await bridge.handle(request, attach=True)

        for name, handler in (("exec", exec_), ("attach", attach)):
            for pattern in ("/{namespace}/{pod}/{container}", "/{namespace}/{pod}/{uid}/{container}"):
                app.router.add_route("GET", f"/{name}{pattern}", handler)
                app.router.add_route("POST", f"/{name}{pattern}", handler)

        async def summary(_request: web.Request) -> web.StreamResponse:
            return web.json_response(stats_summary(await self._snapshot(), node, self.started))

        async def resource(_request: web.Request) -> web.StreamResponse:
            text = resource_metrics(await self._snapshot(), node)
            return web.Response(text=text, content_type="text/plain", charset="utf-8")

        app.router.add_get("/stats/summary", summary)
        app.router.add_get("/stats/summary/", summary)
        app.router.add_get("/metrics/resource", resource)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/pods", pods)
        app.router.add_get("/pods/", pods)
        if self._extra_routes is not None:
            self._extra_routes(app, node)
        return app

    def _guard(self, node: str) -> Any:
        gate = self.gate

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            transport = request.transport
            peercert = transport.get_extra_info("peercert") if transport is not None else None
            identity = gate.authenticate(certificate_identity(peercert), None)
            if identity is None and request.headers.get("Authorization"):
                identity = await asyncio.to_thread(gate.authenticate, None, request.headers["Authorization"])
            if identity is None:
                raise text_error(401, "Unauthorized")
            verb, subresource = request_attributes(request.method, request.path)
            decision = await asyncio.to_thread(gate.authorize, identity, verb, subresource, node)
            if not decision.allowed:
                log.info("kubelet API: %s", forbidden_message(identity, verb, subresource, node))
                raise text_error(403, forbidden_message(identity, verb, subresource, node))
            return await handler(request)

        return guard

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        hosts = [self.config.address] if self.config.address else []
        hosts += [*self.config.nodes, "localhost"]
        self.cert_file, key = serving_files(self.config.tls_dir, hosts)
        context = server_context(self.cert_file, key, client_ca_file(self.config.client_ca))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(context,), name="relay-kubelet", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the kubelet API did not start within 30 s")
        if self._error is not None:
            raise self._error

    def _run(self, context: Any) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(context))
        except BaseException as error:  # reported to start(), which raises it in the caller's thread
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()

    async def _serve(self, context: Any) -> None:
        for index, node in enumerate(self.config.nodes):
            runner = web.AppRunner(self.application(node), handle_signals=False, access_log=None, shutdown_timeout=5)
            await runner.setup()
            site = web.TCPSite(runner, self.config.host, self.port_for(index), ssl_context=context)
            await site.start()
            self._runners.append(runner)
            server = site._server  # aiohttp exposes the bound port only here
            assert server is not None
            self.ports[node] = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            log.info("kubelet API for node %s on port %d", node, self.ports[node])

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._thread.is_alive():

            async def cleanup() -> None:
                for runner in self._runners:
                    await runner.cleanup()

            asyncio.run_coroutine_threadsafe(cleanup(), self._loop).result(15)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
        self._loop = None
        self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
