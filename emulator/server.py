"""The ACI emulator: Azure Resource Manager for Microsoft.ContainerInstance, strict enough to trust.

Serves containerGroups (PUT/GET/DELETE/list), async operations, container logs,
location usages and capabilities at api-version 2023-05-01, over TLS (trustme), with
ARM's error bodies, throttling buckets, ACI quotas, injectable faults and a clock that
drives provisioning. Bodies follow the recordings in tests/fixtures/aci-*.

Run alone: `python -m emulator --port 0` prints the base URL as the first line and the
CA file as the second. In-process: `ArmServer().start()`; tests configure it through
tests/fakes/arm_fixtures.py (fast timing, a clock they step, faults, request counters).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import ssl
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator.clock import Clock, ManualClock, RealClock
from emulator.exec import ExecBridge, ExecError
from emulator.faults import Faults
from emulator.metrics import MetricsStore, get_batch
from emulator.state import ArmState, GroupRecord, Timing, iso
from emulator.throttle import ThrottleConfig, retry_after_header
from emulator.validate import ArmError, validate_put

API_VERSION = "2023-05-01"
ASYNC_OP_API_VERSIONS = ("2018-06-01", API_VERSION)
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "aci-connector-rg"
DEFAULT_LOCATION = "westus"
_API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")

_SEG = r"([^/]+)"
_PROVIDER = r"/providers/microsoft\.containerinstance"
_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    (
        "exec",
        re.compile(
            rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}{_PROVIDER}/containergroups/{_SEG}/containers/{_SEG}/exec$",
            re.I,
        ),
    ),
    (
        "logs",
        re.compile(
            rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}{_PROVIDER}/containergroups/{_SEG}/containers/{_SEG}/logs$",
            re.I,
        ),
    ),
    ("group", re.compile(rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}{_PROVIDER}/containergroups/{_SEG}$", re.I)),
    ("list_rg", re.compile(rf"^/subscriptions/{_SEG}/resourcegroups/{_SEG}{_PROVIDER}/containergroups$", re.I)),
    ("list_sub", re.compile(rf"^/subscriptions/{_SEG}{_PROVIDER}/containergroups$", re.I)),
    ("asyncop", re.compile(rf"^/subscriptions/{_SEG}{_PROVIDER}/locations/{_SEG}/operations/{_SEG}$", re.I)),
    ("opresult", re.compile(rf"^/subscriptions/{_SEG}{_PROVIDER}/locations/{_SEG}/operationresults/{_SEG}$", re.I)),
    ("usages", re.compile(rf"^/subscriptions/{_SEG}{_PROVIDER}/locations/{_SEG}/usages$", re.I)),
    ("capabilities", re.compile(rf"^/subscriptions/{_SEG}{_PROVIDER}/locations/{_SEG}/capabilities$", re.I)),
]


def _route(path: str) -> tuple[str, re.Match[str]] | None:
    for route, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            return route, match
    return None


def _op_name(route: str, method: str) -> str:
    """The `counts` key of a request: what a test wants to count, not how ARM routes it."""
    if route == "group":
        return {"PUT": "put", "GET": "get", "DELETE": "delete"}.get(method, method.lower())
    if route in ("list_rg", "list_sub"):
        return "list"
    if route in ("asyncop", "opresult"):
        return "asyncop"
    return route


def _throttle_kind(method: str) -> str:
    return {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(method, "writes")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def _error(err: ArmError, headers: dict[str, str] | None = None) -> web.Response:
    return _json(err.status, err.body(), headers)


class ArmApp:
    """The aiohttp side: one catch-all handler that routes like ARM (case-insensitive segments)."""

    def __init__(
        self,
        state: ArmState,
        counts: Counter[str],
        base_url: Callable[[], str],
        exec_bridge: ExecBridge | None = None,
        metrics: MetricsStore | None = None,
    ) -> None:
        self.exec = exec_bridge or ExecBridge()
        self.metrics = metrics or MetricsStore()
        self.state = state
        self.counts = counts
        self.base_url = base_url

    def build(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/exec/"):  # the exec bridge's WebSocket (its own host at ACI)
            return await self.exec.websocket(request)
        if request.path.endswith("/metrics:getBatch") and request.method == "POST":  # Azure Monitor, not ARM
            try:
                self._check_auth(request)
            except ArmError as err:
                return _error(err)
            return await get_batch(request, self.metrics, self.state.now(), self.state.location)
        found = _route(request.path)
        if found is None:
            return _error(ArmError(404, "InvalidResourceType", f"The resource type of '{request.path}' is not known."))
        route, match = found
        op = _op_name(route, request.method)
        with self.state.lock:
            self.counts[op] += 1
            delay = self.state.faults.delay(op)
            fault = self.state.faults.next(op)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            return await self._fault(request, fault)
        # Recorded: ACI's answers carry x-ms-request-id "<region>:<uuid>" (ARM's own front door answers a bare uuid).
        headers = {
            "x-ms-request-id": f"{self.state.location.replace(' ', '').lower()}:{uuid.uuid4()}",
            "x-ms-correlation-request-id": str(uuid.uuid4()),
        }
        try:
            self._check_api_version(request, route)
            self._check_auth(request)
            subscription = match.group(1)
            self._throttle(subscription, request.method, headers)
            self._check_subscription(subscription)
            response = await self._dispatch(route, request, match.groups(), headers)
        except ArmError as err:
            return _error(err, headers)
        response.headers.update(headers)
        return response

    async def _fault(self, request: web.Request, fault: Any) -> web.StreamResponse:
        if fault.kind == "timeout":
            await asyncio.sleep(fault.hang)
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        message = (
            f"Encountered internal server error. Diagnostic information: timestamp '{iso(self.state.now(), digits=0)}',"
            f" tracking id '{uuid.uuid4()}', request correlation id '{uuid.uuid4()}'."
        )
        code = "InternalServerError" if fault.status == 500 else "ServiceUnavailable"
        return _error(ArmError(fault.status, code, message))

    def _check_api_version(self, request: web.Request, route: str) -> None:
        version = request.query.get("api-version")
        if not version:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        allowed = ASYNC_OP_API_VERSIONS if route in ("asyncop", "opresult") else (API_VERSION,)
        if not _API_VERSION_RE.match(version):
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{','.join(allowed)}'.",
            )
        if version not in allowed:
            raise ArmError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location '{self.state.location}' and API version "
                f"'{version}' for type 'containerGroups'. The supported api-versions are '{', '.join(allowed)}'. "
                f"The supported locations are '{', '.join(sorted(self.state.locations))}'.",
            )

    def _check_auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or not a Bearer token.",
            )

    def _throttle(self, subscription: str, method: str, headers: dict[str, str]) -> None:
        kind = _throttle_kind(method)
        with self.state.lock:
            remaining, wait = self.state.throttle.spend(subscription, kind, self.state.now())
        headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
        if wait is not None:
            seconds = retry_after_header(wait)
            headers["Retry-After"] = seconds
            raise ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of '{kind[:-1]}' requests for subscription '{subscription}' exceeded. Please try again "
                f"after '{seconds}' seconds after the additional tokens are available. Refer to "
                "https://aka.ms/arm-throttling for additional information.",
            )

    def _check_subscription(self, subscription: str) -> None:
        known = {sub for sub, _ in self.state.resource_groups}
        if subscription not in known:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    def _check_resource_group(self, subscription: str, resource_group: str) -> str:
        name = self.state.resource_groups.get((subscription, resource_group.lower()))
        if name is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")
        return name

    async def _dispatch(
        self, route: str, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]
    ) -> web.Response:
        handlers: dict[tuple[str, str], Callable[..., Awaitable[web.Response]]] = {
            ("group", "PUT"): self._put,
            ("group", "GET"): self._get,
            ("group", "DELETE"): self._delete,
            ("list_rg", "GET"): self._list,
            ("list_sub", "GET"): self._list,
            ("asyncop", "GET"): self._asyncop,
            ("opresult", "GET"): self._opresult,
            ("logs", "GET"): self._logs,
            ("exec", "POST"): self._exec,
            ("usages", "GET"): self._usages,
            ("capabilities", "GET"): self._capabilities,
        }
        handler = handlers.get((route, request.method))
        if handler is None:
            raise ArmError(
                405, "MethodNotAllowed", f"The requested resource does not support http method '{request.method}'."
            )
        return await handler(request, groups, headers)

    # ---- containerGroups

    def _not_found(self, resource_group: str, name: str) -> ArmError:
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group "
            f"'{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    def _async_headers(self, subscription: str, location: str, op_id: str, *, location_header: bool) -> dict:
        base = (
            f"{self.base_url()}/subscriptions/{subscription}/providers/Microsoft.ContainerInstance/locations/{location}"
        )
        # Recorded: an LRO answer's x-ms-request-id is "<region>:<operation id>", the id in its Azure-AsyncOperation.
        headers = {
            "Azure-AsyncOperation": f"{base}/operations/{op_id}?api-version=2018-06-01",
            "x-ms-request-id": f"{location}:{op_id}",
        }
        if location_header:
            headers["Location"] = f"{base}/operationResults/{op_id}?api-version=2018-06-01"
        return headers

    def _action_headers(self, subscription: str, action: str, headers: dict[str, str], *, record: bool) -> None:
        """ACI's per-action windows; the recordings show their remaining counts on every PUT and DELETE."""
        with self.state.lock:
            left_5m, left_1h, wait = self.state.throttle.action(subscription, action, self.state.now(), record=record)
        headers["x-ms-ratelimit-remaining-subscription-resource-requests-pt5m"] = str(max(0, left_5m))
        headers["x-ms-ratelimit-remaining-subscription-resource-requests-pt1h"] = str(max(0, left_1h))
        if wait is not None:
            headers["Retry-After"] = retry_after_header(wait)
            minutes = f"{wait / 60:.2f}".rstrip("0").rstrip(".")
            limit, interval = (
                (self.state.throttle.config.create_limit_5m, "00:05:00")
                if left_5m <= 0
                else (self.state.throttle.config.create_limit_1h, "01:00:00")
            )
            raise ArmError(
                429,
                "TooManyRequests",
                f"Number of requests for action '{action}' exceeded the limit of '{limit}' for time interval "
                f"'{interval}'. Please try again after '{minutes}' minutes.",
            )

    async def _put(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription, resource_group, name = groups
        resource_group = self._check_resource_group(subscription, resource_group)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            ) from None
        validate_put(name, body, rejected_images=self.state.rejected_images)
        location = str(body["location"]).replace(" ", "").lower()
        if location not in {loc.lower() for loc in self.state.locations}:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{body['location']}' is not available for resource type "
                f"'Microsoft.ContainerInstance/containerGroups'. List of available regions for the resource type is "
                f"'{','.join(sorted(self.state.locations))}'.",
            )
        with self.state.lock:
            existing = self.state.get(subscription, resource_group, name)
            if existing is not None and existing.deleting_since is not None:
                raise ArmError(
                    409,
                    "ContainerGroupTransitioning",
                    f"The container group '{name}' is still transitioning, please retry later.",
                )
            self.state.check_quota(subscription, body, existing)
            if existing is None:
                self._action_headers(subscription, "ContainerGroupCreation", headers, record=True)
            record, created, restarted = self.state.upsert(subscription, resource_group, name, body)
            if restarted:
                op_id = self.state.new_operation("create", record)
                headers.update(self._async_headers(subscription, location, op_id, location_header=False))
            rendered = self.state.render(record, instance_view=True, accepted=created)
        return _json(201 if created else 200, rendered)

    async def _get(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription, resource_group, name = groups
        resource_group = self._check_resource_group(subscription, resource_group)
        record = self.state.get(subscription, resource_group, name)
        if record is None:
            raise self._not_found(resource_group, name)
        body = self.state.render(record, instance_view=True)
        if record.deleting_since is not None:
            body["properties"]["provisioningState"] = "Deleting"
        return _json(200, body)

    async def _delete(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription, resource_group, name = groups
        resource_group = self._check_resource_group(subscription, resource_group)
        with self.state.lock:
            record = self.state.get(subscription, resource_group, name)
            if record is None:
                return web.Response(status=204)
            if record.deleting_since is not None:
                op_id = self.state.new_operation("delete", record)
                location = record.spec.get("location", self.state.location).replace(" ", "").lower()
                headers.update(self._async_headers(subscription, location, op_id, location_header=True))
                return web.Response(status=202)
            self._action_headers(subscription, "ContainerGroupDeletion", headers, record=True)
            mode = self.state.delete_mode
            if mode == "202":
                record.deleting_since = self.state.now()
                op_id = self.state.new_operation("delete", record)
                location = record.spec.get("location", self.state.location).replace(" ", "").lower()
                headers.update(self._async_headers(subscription, location, op_id, location_header=True))
                return web.Response(status=202)
            body = self.state.render(record, instance_view=True)
            del self.state.groups[(subscription, resource_group.lower(), name)]
        if mode == "200":
            return _json(200, body)
        return web.Response(status=204)

    async def _list(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription = groups[0]
        resource_group = self._check_resource_group(subscription, groups[1]) if len(groups) > 1 else None
        token = request.query.get("$skiptoken", "0")
        if not token.isdigit():
            raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is invalid.")
        offset = int(token)
        page, more = self.state.page(subscription, resource_group, offset, self.state.page_size)
        body: dict[str, Any] = {"value": [self.state.render(r, instance_view=False) for r in page]}
        if more:
            body["nextLink"] = (
                f"{self.base_url()}{request.path}?api-version={API_VERSION}&$skiptoken={offset + self.state.page_size}"
            )
        return _json(200, body)

    async def _logs(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription, resource_group, name, container = groups
        resource_group = self._check_resource_group(subscription, resource_group)
        record = self.state.get(subscription, resource_group, name)
        if record is None:
            raise self._not_found(resource_group, name)
        if container not in record.container_names() + record.container_names(init=True):
            raise ArmError(
                404, "ContainerNotFound", f"The container '{container}' does not exist in container group '{name}'."
            )
        timestamps = request.query.get("timestamps", "").lower() == "true"
        with self.state.lock:
            lines = self.state.logs(record, container, timestamps=timestamps).splitlines(keepends=True)
        tail = request.query.get("tail")
        if tail is not None:
            if not tail.isdigit():
                raise ArmError(400, "InvalidRequestParameter", f"The tail '{tail}' is invalid.")
            lines = lines[-int(tail) :] if int(tail) else []
        return _json(200, {"content": "".join(lines)})

    async def _exec(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        subscription, resource_group, name, container = groups
        resource_group = self._check_resource_group(subscription, resource_group)
        record = self.state.get(subscription, resource_group, name)
        if record is None:
            raise self._not_found(resource_group, name)
        if container not in record.container_names():
            raise ArmError(
                404, "ContainerNotFound", f"The container '{container}' does not exist in container group '{name}'."
            )
        current = record.sim(container).current or {}
        if record.phase(self.state.now()) != "Succeeded" or current.get("state") == "Terminated":
            raise ArmError(
                409,
                "ContainerGroupNotRunning",
                f"The container '{container}' in container group '{name}' is not running.",
            )
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            return _json(200, self.exec.create(name, container, body, self.base_url()))
        except ExecError as error:
            raise ArmError(400, "InvalidRequestContent", str(error)) from None

    # ---- location resources

    def _check_location(self, location: str) -> None:
        if location.lower() not in {loc.lower() for loc in self.state.locations}:
            raise ArmError(404, "LocationNotAvailableForResourceType", f"The location '{location}' is not available.")

    async def _asyncop(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        self._check_location(groups[1])
        body = self.state.operation_body(groups[2])
        if body is None or self.state.operations[groups[2]]["subscription"] != groups[0]:
            raise ArmError(404, "OperationNotFound", f"The operation '{groups[2]}' could not be found.")
        return _json(200, body)

    async def _opresult(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        self._check_location(groups[1])
        body = self.state.operation_body(groups[2])
        if body is None or self.state.operations[groups[2]]["subscription"] != groups[0]:
            raise ArmError(404, "OperationNotFound", f"The operation '{groups[2]}' could not be found.")
        if body["status"] == "Pending":
            return web.Response(status=202, headers={"Location": f"{self.base_url()}{request.path_qs}"})
        return web.Response(status=204)

    async def _usages(self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]) -> web.Response:
        self._check_location(groups[1])
        return _json(200, {"value": self.state.usages(groups[0], groups[1])})

    async def _capabilities(
        self, request: web.Request, groups: tuple[str, ...], headers: dict[str, str]
    ) -> web.Response:
        self._check_location(groups[1])
        location = groups[1].lower()
        value = [
            {
                "resourceType": "containerGroups",
                "osType": os_type,
                "location": location,
                "ipAddressType": ip_type,
                "gpu": "None",
                "capabilities": {"maxMemoryInGB": 16.0, "maxCpu": 4.0, "maxGpuCount": 0.0},
            }
            for os_type in ("Linux", "Windows")
            for ip_type in ("Public", "Private")
        ]
        return _json(200, {"value": value})


class ArmServer:
    """The fake ARM in a background thread with its own event loop. Tests read and steer its state directly."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        clock: Clock | None = None,
        *,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        location: str = DEFAULT_LOCATION,
        timing: Timing | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.clock: Clock = clock or RealClock()
        self.state = ArmState(
            self.clock, subscription=subscription_id, resource_group=resource_group, location=location
        )
        if timing is not None:
            self.state.timing = timing
        self.counts: Counter[str] = Counter()
        self.exec = ExecBridge()
        """Exec sessions handed out and the commands they ran."""
        self.metrics = MetricsStore()
        """CPU/memory per container served by the batch metrics API (`set_metrics`)."""
        self.url = ""
        self.ca_pem_path: str | None = None
        self._ca_file = ca_file
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---- configuration shortcuts

    @property
    def subscription_id(self) -> str:
        return self.state.subscription

    @property
    def resource_group(self) -> str:
        return self.state.resource_group

    @property
    def location(self) -> str:
        return self.state.location

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def throttle(self) -> ThrottleConfig:
        return self.state.throttle.config

    @property
    def timing(self) -> Timing:
        """Provisioning durations for groups created from now on (pending, creating, deleting seconds)."""
        return self.state.timing

    @property
    def groups(self) -> dict[tuple[str, str, str], GroupRecord]:
        """Live records keyed by (subscription, resource group lower-cased, name)."""
        return self.state.groups

    @property
    def page_size(self) -> int:
        return self.state.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self.state.page_size = value

    @property
    def delete_mode(self) -> str:
        return self.state.delete_mode

    @delete_mode.setter
    def delete_mode(self, value: str) -> None:
        if value not in ("200", "202", "204"):
            raise ValueError("delete_mode is one of '200', '202', '204'")
        self.state.delete_mode = value

    # ---- lifecycle

    def start(self) -> str:
        ssl_context = self._tls_context() if self.tls else None
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-arm", daemon=True)
        self._thread.start()
        ready.wait()
        future = asyncio.run_coroutine_threadsafe(self._serve(ssl_context), self._loop)
        port = future.result(timeout=10)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{self.host}:{port}"
        return self.url

    def _run(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(ready.set)
        self._loop.run_forever()

    async def _serve(self, ssl_context: ssl.SSLContext | None) -> int:
        app = ArmApp(self.state, self.counts, lambda: self.url, self.exec, self.metrics).build()
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        return server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def _tls_context(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        if self._ca_file:
            path = self._ca_file
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        else:
            handle, path = tempfile.mkstemp(prefix="aci-emulator-ca-", suffix=".pem")
            os.close(handle)
        ca.cert_pem.write_to_path(path)
        self.ca_pem_path = path
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        if self.ca_pem_path and not self._ca_file:  # a temp file of ours; a chosen path is the user's
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.ca_pem_path)

    def __enter__(self) -> ArmServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- state helpers for tests

    def add_resource_group(self, name: str, subscription: str | None = None) -> None:
        self.state.add_resource_group(name, subscription)

    def group(self, name: str, resource_group: str | None = None) -> GroupRecord:
        return self.state.find(name, resource_group)

    def advance(self, seconds: float) -> None:
        """Move a `ManualClock` on (provisioning, deletes and token refill follow it)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs ArmServer(clock=ManualClock())")
        self.clock.advance(seconds)

    def make_ready(self, name: str, resource_group: str | None = None) -> None:
        """Finish provisioning now, whatever the clock: for tests that start after a group runs."""
        record = self.group(name, resource_group)
        with self.state.lock:
            record.created = self.state.now() - record.timing.pending - record.timing.creating

    def reject_image(self, image: str) -> None:
        """PUTs naming this image answer 400 InaccessibleImage, as ACI does for an image it cannot reach."""
        self.state.rejected_images.add(image)

    def set_logs(self, name: str, container: str, text: str, resource_group: str | None = None) -> None:
        record = self.group(name, resource_group)
        with self.state.lock:
            sim = record.sim(container)
            sim.logs = text
            sim.log_stamps = []

    def write_log(self, name: str, container: str, text: str, resource_group: str | None = None) -> None:
        """The container prints `text` now (the fake clock's now): logs grow, as `kubectl logs -f` sees them."""
        record = self.group(name, resource_group)
        with self.state.lock:
            sim = record.sim(container)
            old_lines = len(sim.logs.splitlines())
            sim.log_stamps = sim.log_stamps + [record.ready_at] * (old_lines - len(sim.log_stamps))
            sim.logs += text if text.endswith("\n") else text + "\n"
            sim.log_stamps += [self.state.now()] * (len(sim.logs.splitlines()) - old_lines)

    def _running(self, record: GroupRecord) -> None:
        if record.phase(self.state.now()) != "Succeeded":
            raise ValueError(f"group {record.name} is not provisioned yet: advance the clock or call make_ready()")

    def terminate(
        self, name: str, container: str | None = None, exit_code: int = 0, *, reason: str | None = None
    ) -> None:
        """The container exits with `exit_code`; the group's restartPolicy decides whether ACI restarts it."""
        record = self.group(name)
        container = container or record.container_names()[0]
        if container not in record.container_names():
            raise KeyError(f"no container {container} in {name}")
        with self.state.lock:
            self._running(record)
            now = self.state.now()
            sim = record.sim(container)
            started = (sim.current or {}).get("startTime", iso(record.ready_at))
            terminated = {
                "state": "Terminated",
                "startTime": started,
                "exitCode": exit_code,
                "finishTime": iso(now),
                "detailStatus": reason or ("Completed" if exit_code == 0 else "Error"),
            }
            policy = record.restart_policy
            if policy == "Always" or (policy == "OnFailure" and exit_code != 0):
                sim.previous = terminated
                sim.restart_count += 1
                sim.current = {"state": "Running", "startTime": iso(now), "detailStatus": ""}
                stamp = iso(now, digits=0)
                sim.events.append(
                    {
                        "count": 1,
                        "firstTimestamp": stamp,
                        "lastTimestamp": stamp,
                        "name": "Started",
                        "message": "Started container",
                        "type": "Normal",
                    }
                )
            else:
                sim.current = terminated
        restarted = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        for observe in list(self.state.container_observers):  # outside the lock: observers may call back
            observe(name, container, "Killing" if restarted else "Terminated")

    def fail_image_pull(self, name: str, container: str | None = None, message: str | None = None) -> None:
        """The image cannot be pulled: the container waits, events say why, provisioning ends Failed."""
        record = self.group(name)
        container = container or record.container_names()[0]
        with self.state.lock:
            sim = record.sim(container)
            sim.image_pull_failed = True
            stamp = iso(self.state.now(), digits=0)
            image = next(
                c["properties"]["image"]
                for c in record.spec["properties"]["containers"] + record.spec["properties"]["initContainers"]
                if c["name"] == container
            )
            sim.events.append(
                {
                    "count": 1,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "name": "Failed",
                    "message": message
                    or f'Failed to pull image "{image}": rpc error: code = Unknown desc = '
                    "failed to resolve reference: not found",
                    "type": "Warning",
                }
            )
            record.provisioning_error = {
                "code": "ContainerGroupDeploymentFailed",
                "message": f"Failed to pull image '{image}'.",
            }

    def fail_provisioning(
        self,
        name: str,
        *,
        code: str = "ContainerGroupDeploymentFailed",
        message: str = "The container group deployment failed.",
        containers_run: bool = False,
    ) -> None:
        """provisioningState ends Failed; with containers_run the containers still run (Failed is not stopped)."""
        record = self.group(name)
        with self.state.lock:
            record.provisioning_error = {"code": code, "message": message}
            record.containers_run_on_failure = containers_run

    def delete_out_of_band(self, name: str, resource_group: str | None = None) -> None:
        """Someone deleted the group outside the connector (portal, CLI, policy)."""
        record = self.group(name, resource_group)
        with self.state.lock:
            del self.state.groups[(record.subscription, record.resource_group.lower(), record.name)]

    def set_state(
        self,
        name: str,
        *,
        container: str | None = None,
        exit_code: int | None = None,
        image_pull_failed: bool = False,
        provisioning_failed: bool = False,
        deleted: bool = False,
    ) -> None:
        """One entry point for the helpers above, for tests that drive state from a table."""
        if deleted:
            self.delete_out_of_band(name)
        elif image_pull_failed:
            self.fail_image_pull(name, container)
        elif provisioning_failed:
            self.fail_provisioning(name)
        elif exit_code is not None:
            self.terminate(name, container, exit_code)
        else:
            raise ValueError("set_state needs exit_code, image_pull_failed, provisioning_failed or deleted")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="ACI emulator: Azure Resource Manager for Azure Container Instances, offline"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-tls", action="store_true", help="serve plain http (the Azure SDK refuses bearer tokens)")
    parser.add_argument("--subscription", default=DEFAULT_SUBSCRIPTION)
    parser.add_argument("--resource-group", default=DEFAULT_RESOURCE_GROUP)
    parser.add_argument("--location", default=DEFAULT_LOCATION)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--quota", type=int, default=None, help="regional container group and core quota")
    parser.add_argument("--groups-quota", type=int, default=None, help="regional container group quota only")
    parser.add_argument("--cores-quota", type=int, default=None, help="regional standard cores quota only")
    parser.add_argument(
        "--throttle-scale", type=float, default=None, help="scale ARM's token buckets (0.1: a tenth of the burst)"
    )
    parser.add_argument("--unthrottled", action="store_true", help="no token buckets or create-rate windows")
    parser.add_argument("--pending", type=float, default=Timing.pending, help="seconds a new group stays Pending")
    parser.add_argument("--creating", type=float, default=Timing.creating, help="seconds it then stays Creating")
    parser.add_argument("--deleting", type=float, default=Timing.deleting, help="seconds a delete takes")
    parser.add_argument("--ca-file", default=None, help="where to write the CA certificate (default: a temp file)")
    args = parser.parse_args(argv)
    server = ArmServer(
        args.host,
        args.port,
        tls=not args.no_tls,
        subscription_id=args.subscription,
        resource_group=args.resource_group,
        location=args.location,
        timing=Timing(pending=args.pending, creating=args.creating, deleting=args.deleting),
        ca_file=args.ca_file,
    )
    server.faults.latency = args.latency
    if args.quota is not None:
        server.throttle.container_groups_quota = server.throttle.standard_cores_quota = args.quota
    if args.groups_quota is not None:
        server.throttle.container_groups_quota = args.groups_quota
    if args.cores_quota is not None:
        server.throttle.standard_cores_quota = args.cores_quota
    if args.throttle_scale is not None:
        server.throttle.scale = args.throttle_scale
    if args.unthrottled:
        server.throttle.enabled = False
    print(server.start(), flush=True)
    print(f"ca={server.ca_pem_path or ''}", flush=True)
    throttle = server.throttle
    print(
        f"ACI emulator: subscription {server.subscription_id}, resource group {server.resource_group}, location "
        f"{server.location}; Pending {server.timing.pending:g} s, Creating {server.timing.creating:g} s; quota "
        f"{throttle.container_groups_quota} groups / {throttle.standard_cores_quota} cores; throttling "
        f"{'on' if throttle.enabled else 'off'}. No real containers run. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
