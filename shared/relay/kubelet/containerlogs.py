"""GET /containerLogs/{namespace}/{pod}/{container}: ACI's logs with the kubelet's options, and follow.

Cost: one ARM read per answer; with follow=true one more per poll (every
RELAY_KUBELET_LOG_POLL_SECONDS at most, fewer when the shared read budget runs low) plus
one apiserver GET of the pod per poll, which is how the follow learns that the container
terminated (the reconciler writes that into the pod status) or the pod went away.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from shared.azure.aci import AciClient
from shared.errors import ConnectorError
from shared.kube import KubeClient
from shared.relay.kubelet.budget import ReadBudget
from shared.relay.kubelet.logs import (
    FOLLOW_TAIL,
    PREVIOUS_UNSUPPORTED,
    ByteLimit,
    Line,
    LogCursor,
    LogOptions,
    LogOptionsError,
    parse_log_options,
    select,
    split_lines,
)
from shared.relay.kubelet.pods import Target, arm_failure, container_status, resolve, text_error


@dataclass
class LogSource:
    """What a log request needs: the clients, the node it is served for, the shared ARM read budget."""

    node: str
    kube: KubeClient
    aci: AciClient
    budget: ReadBudget
    poll_seconds: float = 2.0
    following: int = 0
    """Follow streams open now (shows that a client leaving ends its polling)."""


async def _read(source: LogSource, target: Target, tail: int | None) -> list[Line]:
    await source.budget.acquire()
    try:
        text = await asyncio.to_thread(source.aci.logs, target.group, target.container, tail, timestamps=True)
    except ConnectorError as error:
        raise arm_failure(error, target) from None
    return split_lines(text)


def _initial_tail(options: LogOptions) -> int | None:
    """Let ACI cut the tail when no since-filter must run first (less to transfer)."""
    return options.tail_lines if options.since_seconds is None and options.since_time is None else None


def _ended(pod: dict | None, target: Target, restarts: int) -> bool:
    """The followed container instance is over: pod gone or replaced, container terminated or restarted."""
    if pod is None or (pod.get("metadata") or {}).get("uid") != target.uid:
        return True
    status = container_status(pod, target.container)
    return bool((status.get("state") or {}).get("terminated")) or int(status.get("restartCount") or 0) > restarts


async def container_logs(request: web.Request, source: LogSource) -> web.StreamResponse:
    info = request.match_info
    try:
        options = parse_log_options(request.query)
    except LogOptionsError as error:
        raise text_error(400, str(error)) from None
    if options.previous:
        raise text_error(400, PREVIOUS_UNSUPPORTED)
    target = await resolve(source.kube, source.node, info["namespace"], info["pod"], info["container"])
    lines = await _read(source, target, _initial_tail(options))
    limit = ByteLimit(options.limit_bytes)
    if not options.follow:
        body = limit.take("".join(line.render(options.timestamps) for line in select(lines, options, _now())))
        return web.Response(text=body, content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    source.following += 1
    try:
        await _follow(request, response, source, target, options, lines=lines, limit=limit)
    finally:
        source.following -= 1
    if not _gone(request):
        await response.write_eof()
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    source: LogSource,
    target: Target,
    options: LogOptions,
    *,
    lines: list[Line],
    limit: ByteLimit,
) -> None:
    info = request.match_info
    cursor = LogCursor()
    cursor.mark(lines)
    restarts = int(container_status(target.pod, target.container).get("restartCount") or 0)
    try:
        await _write(response, select(lines, options, _now()), options, limit)
        while not limit.exhausted and not _gone(request):
            pod = await asyncio.to_thread(source.kube.get_pod, info["namespace"], info["pod"])
            ended = _ended(pod, target, restarts)
            if not ended:
                await asyncio.sleep(source.poll_seconds)
                if _gone(request):
                    break
            try:
                fresh = cursor.fresh(await _read(source, target, FOLLOW_TAIL))
            except (web.HTTPTooManyRequests, web.HTTPServiceUnavailable):
                await asyncio.sleep(source.poll_seconds * 2)  # ARM throttling or down: keep following, slower
                continue
            if options.since_time is not None:
                fresh = [line for line in fresh if line.stamp is None or line.stamp >= options.since_time]
            await _write(response, fresh, options, limit)
            if ended:
                break
    except web.HTTPException as error:  # ARM failed mid-stream: the status line is long gone, say it in the body
        await response.write(f"\nlog stream ended: {error.text}".encode())
    except ConnectionError:  # the client left while we wrote
        return


async def _write(response: web.StreamResponse, lines: list[Line], options: LogOptions, limit: ByteLimit) -> None:
    if lines:
        text = limit.take("".join(line.render(options.timestamps) for line in lines))
        if text:
            await response.write(text.encode())


def _gone(request: web.Request) -> bool:
    """The client went away: aiohttp does not cancel the handler, and an idle log never fails a write to tell us."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _now() -> datetime:
    return datetime.now(UTC)
