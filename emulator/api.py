"""The emulator's ARM REST surface: routing like ARM, the containerGroups handlers, errors and throttling headers.

`ArmApp` builds the aiohttp application that emulator/server.py (`ArmServer`) serves; it reads
and changes the shared `ArmState` under its lock. Paths are matched case-insensitively, as ARM does.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator.exec import ExecBridge, ExecError
from emulator.metrics import MetricsStore, get_batch
from emulator.state import ArmState, iso
from emulator.throttle import retry_after_header
from emulator.validate import ArmError, validate_put

API_VERSION = "2023-05-01"
ASYNC_OP_API_VERSIONS = ("2018-06-01", API_VERSION)
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
                self.state.mark_deleting(record)
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
