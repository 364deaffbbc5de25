"""A fake Kubernetes API server (aiohttp) speaking the real REST paths, for the official client and kubectl.

Run alone: `python -m tests.fakes.kube_api --port 0` prints its base URL as the first stdout line.
In-process: `KubeApiServer().start()` serves from a background thread; `.faults` injects 410/5xx/429/latency,
`.request_counts` counts (verb, resource) pairs, and `create/get/list/update/delete/bind` reach the store
directly so tests can seed and inspect state without HTTP. The store survives stop()/start() on the same port,
which is how tests simulate an apiserver restart.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import yaml
from aiohttp import web

from emulator.server import wait_for_stop_signal
from tests.fakes import kube_resources, kube_tables
from tests.fakes.kube_errors import KubeError, bad_request, method_not_allowed, path_not_found, too_large, too_old
from tests.fakes.kube_patch import APPLY_PATCH, SUPPORTED
from tests.fakes.kube_query import (
    check_dry_run,
    delete_options,
    list_options,
    parse_bool,
    parse_resource_version,
    pretty,
)
from tests.fakes.kube_resources import ResourceType, resolve
from tests.fakes.kube_reviews import ACCESS_REVIEWS, TOKEN_REVIEWS, Reviews
from tests.fakes.kube_selectors import parse_field_selector, parse_label_selector
from tests.fakes.kube_store import KubeStore
from tests.fakes.kube_tokens import token_request

JSON_TYPE = "application/json"
_SHUTDOWN = ("SHUTDOWN", {})
FAULT_MESSAGES: dict[int, tuple[str, str]] = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
    504: ("Timeout", "The server was unable to return a response in the time allotted"),
}


@dataclass
class FaultRule:
    """Matches requests by verb (GET/LIST/WATCH/POST/PUT/PATCH/DELETE), resource (`pods/status`), path regex."""

    action: str
    remaining: int | None
    verb: str | None = None
    resource: str | None = None
    path: str | None = None
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0

    def matches(self, verb: str, resource: str, path: str) -> bool:
        if self.verb is not None and self.verb.upper() != verb:
            return False
        if self.resource is not None and self.resource != resource:
            return False
        return self.path is None or re.search(self.path, path) is not None


class Faults:
    """Test hooks that make the fake misbehave the ways a real apiserver does under stress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def expire_next(self, verb: str = "WATCH", *, resource: str | None = None, count: int = 1) -> None:
        """Next WATCH gets an ERROR 410 Expired event; next LIST an HTTP 410 (as after etcd compaction)."""
        self._add(FaultRule("expire", count, verb, resource))

    def inject(
        self,
        status: int,
        count: int = 1,
        *,
        verb: str | None = None,
        resource: str | None = None,
        path: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status` (429 gets Retry-After, default 1)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._add(FaultRule("status", count, verb, resource, path, status, retry_after))

    def add_latency(
        self,
        seconds: float,
        *,
        verb: str | None = None,
        resource: str | None = None,
        path: str | None = None,
        count: int | None = None,
    ) -> None:
        """Delay matching requests by `seconds` (all of them when count is None)."""
        self._add(FaultRule("latency", count, verb, resource, path, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def take(self, action: str, verb: str, resource: str, path: str) -> FaultRule | None:
        """Consume one use of the first matching rule of this action."""
        with self._lock:
            for rule in self._rules:
                if rule.action == action and rule.matches(verb, resource, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule
            return None


@dataclass
class Target:
    """A parsed resource URL."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def counted(self) -> str:
        return f"{self.rt.plural}/{self.subresource}" if self.subresource else self.rt.plural


def parse_target(path: str) -> Target | None:
    """Map /api/v1/... and /apis/<g>/<v>/... onto (resource, namespace, name, subresource)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    served = kube_resources.BY_GROUP_VERSION.get((group, version))
    if served is None or not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in served and served[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    rt = served.get(rest[0])
    if rt is None or len(rest) > 3 or (rt.namespaced and namespace is None and len(rest) > 1):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        return None
    return Target(rt, namespace, name, sub)


Authorizer = Callable[[str, Target, dict[str, str]], KubeError | None]
"""(HTTP method, target, query) -> None to serve the request, or the KubeError (a 403) to answer instead."""


def _verb(method: str, target: Target, query: dict[str, str]) -> str:
    if target.name is None and method == "GET":
        return "WATCH" if parse_bool(query.get("watch")) else "LIST"
    if target.name is None and method == "DELETE":
        return "DELETECOLLECTION"
    return method


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, content_type=JSON_TYPE, headers=headers or {})


def _error(exc: KubeError, headers: dict[str, str] | None = None) -> web.Response:
    return _json(exc.status(), exc.code, headers)


def _with_warnings(response: web.Response, warnings: list[str]) -> web.Response:
    for warning in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


async def _body(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    if not raw:
        if required:
            raise bad_request("the body of the request was empty")
        return None
    media = (request.content_type or JSON_TYPE).lower()
    if "protobuf" in media:
        raise KubeError(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_TYPE}, application/yaml",
        )
    try:
        if "yaml" in media and media != APPLY_PATCH:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding body: {exc}") from exc


def _field_validation(query: dict[str, str]) -> str | None:
    value = query.get("fieldValidation")
    if value not in (None, "", "Ignore", "Warn", "Strict"):
        raise bad_request(f"fieldValidation parameter unsupported: {value}")
    return value or None


class KubeApiServer:
    """The fake apiserver; `start()` returns its base URL, `stop()` keeps the store for a later `start()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        history_limit: int = 1000,
        *,
        bookmark_interval: float = 1.0,
        default_watch_timeout: float = 1800.0,
    ) -> None:
        self.host = host
        self.port = port
        self.store = KubeStore(history_limit)
        self.faults = Faults()
        self.authorizer: Authorizer | None = None
        self.reviews = Reviews()
        """TokenReview / SubjectAccessReview answers (tests/fakes/kube_reviews.py)."""
        """Consulted on every resource request before it is counted or served (tests/fakes/kube_rbac.py)."""
        self.request_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.bookmark_interval = bookmark_interval
        self.max_token_seconds: int | None = None
        """Caps TokenRequest lifetimes like --service-account-max-token-expiration (None: no cap)."""
        self.default_watch_timeout = default_watch_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._watch_queues: set[asyncio.Queue] = set()
        self._start_error: BaseException | None = None

    # ----- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("fake kube API server already started")
        ready = threading.Event()
        self._start_error = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-kube-api", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("fake kube API server did not start within 15 s")
        if self._start_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"fake kube API server failed to start: {self._start_error}") from self._start_error
        return self.url

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except OSError as exc:
            self._start_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close every watch stream and the listener; the store (and port) are kept for a restart."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._thread = None
        self._loop = None

    async def _shutdown(self) -> None:
        self.store.drop_watchers()
        for queue in list(self._watch_queues):
            queue.put_nowait(_SHUTDOWN)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- direct store access for tests --------------------------------------------------------------------------
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object from its manifest (kind decides the resource), as a POST would."""
        rt = resolve(obj["kind"])
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else None)
        return self.store.create(rt, namespace, obj)[0]

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object, or None. `resource` may be a plural, singular, Kind or short name."""
        return self.store.find(resolve(resource), namespace, name)

    def list(self, resource: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        return self.store.list(resolve(resource), namespace, parse_label_selector(label_selector))["items"]

    def update(self, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """PUT semantics (a resourceVersion in obj is a precondition); `subresource="status"` writes status."""
        rt = resolve(obj["kind"])
        meta = obj["metadata"]
        return self.store.update(rt, meta.get("namespace"), meta["name"], obj, subresource=subresource)[0]

    def patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = "application/merge-patch+json",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return self.store.patch(resolve(resource), namespace, name, content_type, patch, subresource=subresource)[0]

    def delete(self, resource: str, namespace: str | None, name: str, grace_period_seconds: int | None = None) -> dict:
        options = {} if grace_period_seconds is None else {"gracePeriodSeconds": grace_period_seconds}
        return self.store.delete(resolve(resource), namespace, name, options)[0]

    def bind(self, namespace: str, name: str, node: str) -> None:
        self.store.bind(namespace, name, {"metadata": {"name": name}, "target": {"kind": "Node", "name": node}})

    @property
    def resource_version(self) -> int:
        return self.store.resource_version

    # ----- HTTP --------------------------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except KubeError as exc:
            response = _error(exc)
        json_body = isinstance(response, web.Response) and response.content_type == JSON_TYPE and response.body
        if json_body and pretty(request.query.get("pretty"), request.headers.get("User-Agent", "")):
            response.body = json.dumps(json.loads(response.body), indent=2).encode() + b"\n"  # type: ignore[union-attr]
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        discovery = self._discovery(path)
        if discovery is not None:
            return discovery if request.method == "GET" else _error(method_not_allowed())
        if request.method == "POST" and path in (TOKEN_REVIEWS, ACCESS_REVIEWS):
            return _json(self.reviews.answer(path, await request.json()), status=201)
        target = parse_target(path)
        if target is None:
            return _error(path_not_found())
        query: dict[str, str] = {}
        for key, value in parse_qsl(request.query_string, keep_blank_values=True):
            query.setdefault(key, value)  # the apiserver's parameter codec reads the first of repeated values
        if self.authorizer is not None:  # authorization comes before everything else, as in the apiserver
            refused = self.authorizer(request.method, target, query)
            if refused is not None:
                return _error(refused)
        verb = _verb(request.method, target, query)
        self.request_counts[(verb, target.counted)] += 1
        injected = await self._apply_faults(verb, target, path)
        if injected is not None:
            return injected
        return await self._resource(request, target, verb, query)

    async def _apply_faults(self, verb: str, target: Target, path: str) -> web.StreamResponse | None:
        delay = self.faults.take("latency", verb, target.counted, path)
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        rule = self.faults.take("status", verb, target.counted, path)
        if rule is None:
            return None
        reason, message = FAULT_MESSAGES.get(rule.status, ("InternalError", "injected fault"))
        details: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            details["retryAfterSeconds"] = rule.retry_after
            headers["Retry-After"] = str(rule.retry_after)
        return _error(KubeError(rule.status, message, reason, details), headers)

    def _discovery(self, path: str) -> web.Response | None:
        if path == "/version":
            return _json(kube_resources.VERSION_INFO)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/api":
            return _json(kube_resources.api_versions(f"{self.host}:{self.port}"))
        if path == "/apis":
            return _json(kube_resources.api_group_list())
        parts = [p for p in path.split("/") if p]
        doc: dict | None = None
        if parts == ["openapi", "v3"]:
            doc = kube_resources.openapi_v3_root()
        elif parts[:2] == ["openapi", "v3"]:
            group, version = (parts[3], parts[4]) if parts[2:3] == ["apis"] and len(parts) == 5 else ("", parts[-1])
            doc = kube_resources.openapi_v3_document(group, version) if len(parts) in (4, 5) else None
        elif parts == ["api", "v1"]:
            doc = kube_resources.api_resource_list("", "v1")
        elif len(parts) == 2 and parts[0] == "apis":
            doc = kube_resources.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = kube_resources.api_resource_list(parts[1], parts[2])
        else:
            return None
        return _json(doc) if doc is not None else _error(path_not_found())

    async def _resource(
        self, request: web.Request, target: Target, verb: str, query: dict[str, str]
    ) -> web.StreamResponse:
        if verb in ("POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION"):
            dry_values = request.query.getall("dryRun", [])
            if verb in ("DELETE", "DELETECOLLECTION") and target.subresource is None:
                options = delete_options(query, await _body(request, required=False), dry_values)
                dry = bool(options["dryRun"])
            else:
                patch_type = (request.content_type or "").lower()
                options, dry = {}, check_dry_run(request.method, dry_values, query, patch_type)
            if dry:
                return await self._dry_run(request, target, verb, query, options)
            return await self._write(request, target, verb, query, options)
        return await self._read(request, target, verb, query)

    async def _dry_run(
        self, request: web.Request, target: Target, verb: str, query: dict[str, str], options: dict[str, Any]
    ) -> web.StreamResponse:
        """dryRun=All: the write runs in full and is then undone; the answer keeps the stored resourceVersion
        (none for a create), as the real server's does."""
        before = self.store.find(target.rt, target.namespace, target.name) if target.name else None
        await request.read()  # read the body first: nothing inside the undone span may yield to the event loop
        with self.store.dry_run():
            response = await self._write(request, target, verb, query, options)
        if not isinstance(response, web.Response) or response.body is None or response.status >= 300:
            return response
        answer = json.loads(response.body)  # type: ignore[arg-type]
        meta = answer.get("metadata") if answer.get("kind") != "Status" else None
        if isinstance(meta, dict) and verb != "DELETECOLLECTION":
            if before is None:
                meta.pop("resourceVersion", None)
            else:
                meta["resourceVersion"] = before["metadata"]["resourceVersion"]
        response.body = json.dumps(answer).encode()
        return response

    async def _read(self, request: web.Request, target: Target, verb: str, query: dict[str, str]) -> web.StreamResponse:
        if target.rt.plural == "bindings":
            raise method_not_allowed()
        if verb == "LIST":
            return self._list(request, target, query)
        if verb == "WATCH":
            return await self._watch(request, target, query)
        if verb == "GET" and target.name is not None and target.subresource not in ("binding", "token"):
            wanted = parse_resource_version(query.get("resourceVersion"))
            if wanted > self.store.resource_version:  # the watch cache would wait for it, then give up
                raise too_large(wanted, self.store.resource_version)
            return _json(self.store.get(target.rt, target.namespace, target.name))
        raise method_not_allowed()

    async def _write(
        self, request: web.Request, target: Target, verb: str, query: dict[str, str], options: dict[str, Any]
    ) -> web.StreamResponse:
        rt, ns, name, sub = target.rt, target.namespace, target.name, target.subresource
        if rt.plural == "bindings":
            if verb != "POST" or name is not None or ns is None:
                raise method_not_allowed()
            binding = await _body(request)
            bound = ((binding or {}).get("metadata") or {}).get("name", "") if isinstance(binding, dict) else ""
            return _json(self.store.bind(ns, bound, binding), 201)
        validation = _field_validation(query)
        if name is None and rt.namespaced and ns is None and verb in ("POST", "DELETECOLLECTION"):
            raise method_not_allowed()
        if name is None and verb == "POST":
            obj, warnings = self.store.create(rt, ns, await _body(request), validation)
            return _with_warnings(_json(obj, 201), warnings)
        if verb == "DELETECOLLECTION":
            list_options(query)
            pred = self._predicate(rt, query)
            return _json(self.store.delete_collection(rt, ns, pred, options))
        if name is None:
            raise method_not_allowed()
        if sub == "binding":
            if verb != "POST":
                raise method_not_allowed()
            return _json(self.store.bind(ns or "", name, await _body(request)), 201)
        if sub == "token":
            if verb != "POST":
                raise method_not_allowed()
            getter = lambda plural, namespace, key: self.store.get(resolve(plural), namespace, key)  # noqa: E731
            body = await _body(request)
            return _json(token_request(getter, ns or "", name, body, max_seconds=self.max_token_seconds), 201)
        if verb == "PUT":
            obj, warnings = self.store.update(
                rt, ns, name, await _body(request), subresource=sub, field_validation=validation
            )
            return _with_warnings(_json(obj), warnings)
        if verb == "PATCH":
            return await self._patch(request, target, validation)
        if verb == "DELETE" and sub is None:
            body, _removed = self.store.delete(rt, ns, name, options)
            return _json(body)
        raise method_not_allowed()

    async def _patch(self, request: web.Request, target: Target, validation: str | None) -> web.Response:
        media = (request.content_type or "").lower()
        if media not in SUPPORTED:
            accepted = ", ".join((*SUPPORTED, APPLY_PATCH))
            raise KubeError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: {accepted}",
                "UnsupportedMediaType",
            )
        body = await _body(request)
        rt, ns, name = target.rt, target.namespace, target.name or ""
        obj, warnings = self.store.patch(
            rt, ns, name, media, body, subresource=target.subresource, field_validation=validation
        )
        return _with_warnings(_json(obj), warnings)

    @staticmethod
    def _predicate(rt: ResourceType, query: dict[str, str]) -> Any:
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), rt)
        return lambda obj: labels(obj) and fields(obj)

    def _list(self, request: web.Request, target: Target, query: dict[str, str]) -> web.Response:
        rt = target.rt
        options = list_options(query)
        pred = self._predicate(rt, query)
        parse_resource_version(options.resource_version)
        forced = self.faults.take("expire", "LIST", target.counted, request.path)
        if forced is not None:
            since = query.get("resourceVersion") or ""
            raise too_old(int(since) if since.isdigit() else 1, self.store.resource_version)
        # resourceVersion=0 is served from the watch cache, which ignores limit and sends everything
        listed = self.store.list(
            rt,
            target.namespace,
            pred,
            limit=0 if options.resource_version == "0" and not options.continue_token else options.limit,
            continue_token=options.continue_token,
            resource_version=options.resource_version,
            resource_version_match=options.match,
        )
        if kube_tables.wants_table(request.headers.get("Accept", "")):
            include = query.get("includeObject", "Metadata")
            return _json(kube_tables.table(rt, listed["items"], listed["metadata"], include))
        return _json(listed)

    async def _watch(self, request: web.Request, target: Target, query: dict[str, str]) -> web.StreamResponse:
        """Newline-delimited JSON events over a chunked 200 response; errors arrive as ERROR events."""
        rt = target.rt
        options = list_options(query)
        pred = self._predicate(rt, query)
        parse_resource_version(options.resource_version)  # refused before the stream starts, as a 500
        # timeoutSeconds 0 (or none) means the server's own limit; a negative one ends the watch at once
        timeout = float(options.timeout or self.default_watch_timeout)
        as_table = kube_tables.wants_table(request.headers.get("Accept", ""))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

        def deliver(item: tuple[str, dict[str, Any]]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        response = web.StreamResponse(
            status=200, headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        since = query.get("resourceVersion")
        try:
            if self.faults.take("expire", "WATCH", target.counted, request.path) is not None:
                raise too_old(int(since) if (since or "").isdigit() else 1, self.store.resource_version)
            cancel = self.store.watch(
                rt, target.namespace, pred, since, deliver, initial_events=options.send_initial_events
            )
        except KubeError as exc:
            await response.write(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            await response.write_eof()
            return response
        self._watch_queues.add(queue)
        try:
            await self._pump(
                response,
                queue,
                rt=rt,
                deliver=deliver,
                timeout=timeout,
                bookmarks=options.bookmarks,
                as_table=as_table,
            )
        finally:
            cancel()
            self._watch_queues.discard(queue)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        queue: asyncio.Queue,
        *,
        rt: ResourceType,
        deliver: Any,
        timeout: float,
        bookmarks: bool,
        as_table: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + self.bookmark_interval
        while (now := loop.time()) < deadline:
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            try:
                kind, obj = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if bookmarks and loop.time() >= next_bookmark:
                    self.store.bookmark(rt, deliver)
                    next_bookmark = loop.time() + self.bookmark_interval
                continue
            if (kind, obj) == _SHUTDOWN:
                return
            if as_table and kind != "BOOKMARK":
                obj = kube_tables.table(rt, [obj], {})
            try:
                await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
            except ConnectionResetError:
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Kubernetes API server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--history-limit", type=int, default=1000)
    parser.add_argument("--bookmark-interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    server = KubeApiServer(args.host, args.port, args.history_limit, bookmark_interval=args.bookmark_interval)
    print(server.start(), flush=True)
    wait_for_stop_signal()  # not a handler that sets an Event: two signals at once deadlock it (see there)
    server.stop()


if __name__ == "__main__":
    main()
