"""HTTP side of the local host: HTTP triggers under /api, the Event Grid webhook, and the admin invoke endpoint.

Routes use the Functions template syntax (`capacity/{node?}`, `{id:int}`, `{*rest}`) under
host.json's routePrefix. Like `func start`, auth levels are shown but not enforced unless
the host is started with a key (`--key`): then `function` routes want it as `?code=` or
`x-functions-key`, and `admin` routes and the admin endpoint want it too. Event Grid
deliveries come as `POST /runtime/webhooks/eventgrid?functionName=NAME`, as Core Tools
serves them: the subscription validation handshake, Event Grid schema arrays and CloudEvents.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from shared.localhost.index import FunctionSpec
from shared.localhost.invoke import Result

log = logging.getLogger("localhost")
Invoker = Callable[[FunctionSpec, Any, str], Result]


@dataclass(frozen=True)
class Route:
    spec: FunctionSpec
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    auth_level: str
    template: str


def route_pattern(template: str) -> re.Pattern[str]:
    """`capacity/{node?}` -> a regex with named groups; `{x:int}`, `{x:alpha}`, `{*rest}` supported."""
    parts = []
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\*)?(\w+)(?::(\w+))?(\?)?\}", segment)
        if not match:
            parts.append(("/" + re.escape(segment), False))
            continue
        star, name, constraint, optional = match.groups()
        body = {"int": r"-?\d+", "alpha": r"[A-Za-z]+", "bool": r"(?i:true|false)", "guid": r"[0-9a-fA-F-]{36}"}.get(
            constraint or "", r"[^/]+"
        )
        body = ".+" if star else body
        parts.append((f"/(?P<{name}>{body})", bool(optional or star)))
    regex = "".join(f"(?:{text})?" if optional else text for text, optional in parts)
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


def build_routes(specs: list[FunctionSpec], prefix: str) -> list[Route]:
    routes = []
    for spec in specs:
        if spec.trigger_type != "httpTrigger":
            continue
        template = spec.trigger.get("route") or spec.name
        full = f"{prefix.strip('/')}/{template}".strip("/") if prefix else template
        methods = tuple(m.upper() for m in spec.trigger.get("methods") or ())
        level = str(spec.trigger.get("authLevel", "FUNCTION")).lower()
        routes.append(Route(spec, route_pattern(full), methods, level, full))
    return routes


def _request(request: Any, body: bytes, route_params: dict[str, str]) -> Any:
    import azure.functions as func

    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=dict(request.headers),
        params=dict(request.query),
        route_params=route_params,
        body=body,
    )


def _response(value: Any) -> Any:
    from aiohttp import web

    if value is None:
        return web.Response(status=204)
    if isinstance(value, str):
        return web.Response(status=200, text=value)
    headers = {k: v for k, v in value.headers.items() if k.lower() != "content-length"}
    if value.mimetype and "content-type" not in {k.lower() for k in headers}:
        headers["Content-Type"] = f"{value.mimetype}; charset={value.charset}" if value.charset else value.mimetype
    return web.Response(status=value.status_code, body=value.get_body(), headers=headers)


class HttpFront:
    """The aiohttp application; invocations run in a thread pool (the functions are synchronous)."""

    def __init__(
        self, specs: list[FunctionSpec], *, prefix: str, invoke: Invoker, key: str | None, threads: int = 8
    ) -> None:
        self.specs = {spec.name.lower(): spec for spec in specs}
        self.routes = build_routes(specs, prefix)
        self.invoke = invoke
        self.key = key
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="http")

    def build(self) -> Any:
        from aiohttp import web

        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/runtime/webhooks/eventgrid", self.eventgrid)
        app.router.add_route("POST", "/admin/functions/{name}", self.admin_invoke)
        app.router.add_route("*", "/{tail:.*}", self.http_trigger)
        return app

    def _authorized(self, request: Any, level: str) -> bool:
        if self.key is None or level == "anonymous":
            return True
        given = request.headers.get("x-functions-key") or request.query.get("code") or ""
        return hmac.compare_digest(given.encode(), self.key.encode())

    async def _run(self, spec: FunctionSpec, value: Any, reason: str) -> Result:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.invoke, spec, value, reason)

    async def http_trigger(self, request: Any) -> Any:
        from aiohttp import web

        path = request.path
        matched = [(route, route.pattern.match(path)) for route in self.routes]
        matched = [(route, m) for route, m in matched if m]
        if not matched:
            return web.Response(status=404)
        allowed = [(route, m) for route, m in matched if not route.methods or request.method in route.methods]
        if not allowed:
            return web.Response(status=405, headers={"Allow": ", ".join(matched[0][0].methods)})
        route, match = allowed[0]
        if not self._authorized(request, route.auth_level):
            return web.Response(status=401)
        params = {k: v for k, v in match.groupdict().items() if v is not None}
        value = _request(request, await request.read(), params)
        result = await self._run(route.spec, value, "This function was programmatically called via the host APIs.")
        if not result.ok:
            return web.Response(status=500)
        response = result.outputs.get("$return", result.value)
        return _response(response)

    async def eventgrid(self, request: Any) -> Any:
        from aiohttp import web

        if request.method == "OPTIONS":  # CloudEvents webhook validation
            origin = request.headers.get("WebHook-Request-Origin", "*")
            return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin, "Allow": "POST"})
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST, OPTIONS"})
        name = (request.query.get("functionName") or "").lower()
        spec = self.specs.get(name)
        if spec is None or spec.trigger_type != "eventGridTrigger":
            return web.json_response({"error": f"no Event Grid function named {name!r}"}, status=404)
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep, numbers too long
            return web.json_response({"error": "the body is not usable JSON"}, status=400)
        events = body if isinstance(body, list) else [body]
        if not events or not all(isinstance(event, dict) for event in events):
            return web.json_response({"error": "expected an event or an array of events"}, status=400)
        kind = request.headers.get("aeg-event-type", "Notification")
        if kind == "SubscriptionValidation":
            data = events[0].get("data")
            if not isinstance(data, dict) or not isinstance(data.get("validationCode"), str):
                return web.json_response({"error": "validation event without data.validationCode"}, status=400)
            return web.json_response({"validationResponse": data["validationCode"]})
        from azure.functions import meta
        from azure.functions.eventgrid import EventGridEventInConverter

        values = []
        for index, event in enumerate(events):  # a malformed event is the sender's error, not the function's
            try:
                datum = meta.Datum(json.dumps(event), "json")
                values.append((event, EventGridEventInConverter.decode(datum, trigger_metadata=None)))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                reason = f"event {index} is not an Event Grid or CloudEvents event: {type(error).__name__}"
                return web.json_response({"error": reason}, status=400)
        failed = 0
        for event, value in values:
            result = await self._run(
                spec, value, f"EventGrid trigger fired at {event.get('eventTime') or event.get('time')}"
            )
            failed += 0 if result.ok else 1
        return web.Response(status=500 if failed else 202)

    async def admin_invoke(self, request: Any) -> Any:
        """`POST /admin/functions/NAME {"input": "..."}`: run a non-HTTP function now, as Core Tools allows."""
        from aiohttp import web

        if not self._authorized(request, "admin"):
            return web.Response(status=401)
        spec = self.specs.get(request.match_info["name"].lower())
        if spec is None:
            return web.Response(status=404)
        try:
            payload = json.loads(await request.read() or b"{}")
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        value = self.manual_value(spec, (payload or {}).get("input", ""))
        await self._run(spec, value, "This function was programmatically called via the host APIs.")
        return web.Response(status=202)

    @staticmethod
    def manual_value(spec: FunctionSpec, text: str) -> Any:
        from datetime import UTC, datetime

        from shared.localhost.timer import timer_request

        if spec.trigger_type == "timerTrigger":
            now = datetime.now(UTC)
            return timer_request(past_due=False, last=None, next_=now)
        if spec.trigger_type == "queueTrigger":
            from shared.localhost.queue import message_from_text

            return message_from_text(text)
        return text
