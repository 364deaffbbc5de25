"""The local Functions host's triggers: queue (batch, retry, poison), HTTP routes and keys, Event Grid, timer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
import requests

from shared.localhost.http import HttpFront
from shared.localhost.index import FunctionSpec, NotServable, index_app
from shared.localhost.invoke import invoke
from shared.localhost.queue import QueueHost
from shared.localhost.timer import Schedule, run_timer
from tests.fakes.waiting import wait_for

# ----------------------------------------------------------------------------- queue


@contextlib.contextmanager
def listening(host: QueueHost, min_poll: float = 0.05) -> Iterator[None]:
    """The host's listener loop in a thread for the duration of the block."""
    stop = threading.Event()
    thread = threading.Thread(target=host.serve, args=(stop,), kwargs={"min_poll": min_poll})
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def test_queue_listener_retries_then_succeeds_and_deletes(queue_store):
    seen: list[int] = []

    def flaky(message: func.QueueMessage) -> None:
        seen.append(message.dequeue_count)
        if message.dequeue_count < 3:
            raise RuntimeError("not yet")

    queue_store.send('{"v":1}')
    host = QueueHost(queue_store, flaky, visibility_timeout=0)
    with listening(host):
        wait_for(lambda: len(host.deliveries) >= 3 and host.deliveries[-1].error is None)
    assert seen == [1, 2, 3]
    assert queue_store.peek() == [] and queue_store.peek(queue="pod-events-poison") == []


def test_queue_listener_poisons_on_the_max_dequeue_delivery(queue_store):
    def broken(message: func.QueueMessage) -> None:
        raise RuntimeError("bug")

    queue_store.send('{"v":1,"n":"poison-me"}')
    host = QueueHost(queue_store, broken, visibility_timeout=0)
    with listening(host):
        wait_for(lambda: any(d.poisoned for d in host.deliveries))
    assert [d.dequeue_count for d in host.deliveries] == [1, 2, 3, 4, 5]  # host.json maxDequeueCount
    assert [m.text for m in queue_store.peek(queue="pod-events-poison")] == ['{"v":1,"n":"poison-me"}']


def test_queue_listener_runs_a_batch_in_parallel(queue_store):
    release = threading.Event()
    running: list[str] = []

    def slow(message: func.QueueMessage) -> None:
        running.append(message.id)
        release.wait(20)

    for index in range(6):
        queue_store.send(json.dumps({"v": 1, "i": index}))
    host = QueueHost(queue_store, slow, visibility_timeout=0)
    with listening(host, min_poll=0.1):
        try:
            wait_for(lambda: len(running) == 6)  # all six at once: host.json batchSize is 16
        finally:
            release.set()
    assert host.batch_size == 16 and host.new_batch_threshold == 8


# ----------------------------------------------------------------------------- HTTP and Event Grid


def _http_spec(name: str, route: str, level: str, function: Any, methods: list[str] | None = None) -> FunctionSpec:
    trigger = {"type": "httpTrigger", "name": "req", "direction": "IN", "route": route, "authLevel": level}
    if methods:
        trigger["methods"] = methods
    return FunctionSpec(name, trigger, ({"type": "http", "name": "$return", "direction": "OUT"},), function)


def _serve(specs: list[FunctionSpec], key: str | None = None) -> Iterator[str]:
    from aiohttp import web

    front = HttpFront(specs, prefix="api", invoke=lambda s, v, r: invoke(s, v, reason=r), key=key)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(front.build())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"route": dict(req.route_params), "params": dict(req.params), "body": req.get_body().decode()}),
        status_code=201,
        mimetype="application/json",
    )


@pytest.fixture
def http_host() -> Iterator[str]:
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("bug")

    specs = [
        _http_spec("items", "items/{id:int}/{rest?}", "function", _echo, ["GET", "POST"]),
        _http_spec("open", "open", "anonymous", _echo),
        _http_spec("boom", "boom", "anonymous", boom),
    ]
    yield from _serve(specs)


def test_routes_params_methods_and_failures(http_host):
    answer = requests.post(f"{http_host}/api/items/42?x=1", data="hello", timeout=10)
    assert answer.status_code == 201 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {"route": {"id": "42"}, "params": {"x": "1"}, "body": "hello"}
    assert requests.get(f"{http_host}/api/items/42/more", timeout=10).json()["route"] == {"id": "42", "rest": "more"}
    assert requests.get(f"{http_host}/api/items/abc", timeout=10).status_code == 404  # {id:int}
    assert requests.delete(f"{http_host}/api/items/1", timeout=10).status_code == 405
    assert requests.get(f"{http_host}/api/nothing", timeout=10).status_code == 404
    assert requests.get(f"{http_host}/api/boom", timeout=10).status_code == 500


def test_keys_are_enforced_when_the_host_has_one():
    specs = [_http_spec("items", "items", "function", _echo), _http_spec("open", "open", "anonymous", _echo)]
    for url in _serve(specs, key="s3cret"):
        assert requests.get(f"{url}/api/items", timeout=10).status_code == 401
        assert requests.get(f"{url}/api/items?code=wrong", timeout=10).status_code == 401
        assert requests.get(f"{url}/api/items?code=s3cret", timeout=10).status_code == 201
        assert requests.get(f"{url}/api/items", headers={"x-functions-key": "s3cret"}, timeout=10).status_code == 201
        assert requests.get(f"{url}/api/open", timeout=10).status_code == 201


def test_event_grid_webhook_handshake_and_delivery():
    received: list[Any] = []

    def arm_events(event: func.EventGridEvent) -> None:
        received.append(event)

    spec = FunctionSpec("arm_events", {"type": "eventGridTrigger", "name": "event", "direction": "IN"}, (), arm_events)
    for url in _serve([spec]):
        hook = f"{url}/runtime/webhooks/eventgrid?functionName=arm_events"
        validation = [
            {
                "id": "1",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": "abc"},
            }
        ]
        answer = requests.post(hook, json=validation, headers={"aeg-event-type": "SubscriptionValidation"}, timeout=10)
        assert answer.json() == {"validationResponse": "abc"}
        event = {
            "id": "e1",
            "topic": "/subscriptions/s",
            "subject": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g",
            "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
            "eventTime": "2026-01-01T00:00:00Z",
            "data": {"operationName": "Microsoft.ContainerInstance/containerGroups/delete"},
            "dataVersion": "1",
        }
        answer = requests.post(hook, json=[event], headers={"aeg-event-type": "Notification"}, timeout=10)
        assert answer.status_code == 202
        assert [(e.id, e.event_type) for e in received] == [("e1", "Microsoft.Resources.ResourceDeleteSuccess")]
        assert received[0].subject.endswith("/containerGroups/g")
        cloud = {"specversion": "1.0", "id": "c1", "source": "/x", "type": "t", "data": {}}
        assert requests.post(hook, json=cloud, timeout=10).status_code == 202
        assert requests.post(hook.replace("arm_events", "nope"), json=[event], timeout=10).status_code == 404
        assert (
            requests.options(hook, headers={"WebHook-Request-Origin": "eventgrid.azure.net"}, timeout=10).headers[
                "WebHook-Allowed-Origin"
            ]
            == "eventgrid.azure.net"
        )


# ----------------------------------------------------------------------------- timer and indexing


def test_timer_fires_on_its_schedule_and_stops():
    fired: list[Any] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_timer, args=(Schedule("* * * * * *"), fired.append, stop))
    thread.start()
    try:
        wait_for(lambda: len(fired) >= 2, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert fired[0].past_due is False and "Next" in fired[0].schedule_status


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", "2026-01-01T00:03:10", "2026-01-01T00:05:00"),
        ("0 30 9 * * Mon-Fri", "2026-01-03T10:00:00", "2026-01-05T09:30:00"),  # Saturday -> Monday
        ("00:00:30", "2026-01-01T00:00:00", "2026-01-01T00:00:30"),
        ("*/15 * * * *", "2026-01-01T00:01:00", "2026-01-01T00:15:00"),  # five fields: minutes first
    ],
)
def test_ncrontab_and_timespan_schedules(expression, after, expected):
    from datetime import UTC, datetime

    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert Schedule(expression).next_after(start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("expression", ["every minute", "61 * * * * *", "00:00:00"])
def test_a_bad_schedule_is_named(expression):
    with pytest.raises(NotServable, match=r"reconcile\.schedule"):
        Schedule(expression, where="reconcile.schedule")


def test_an_unservable_trigger_fails_at_start_naming_the_function():
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="c/{name}", connection="AzureWebJobsStorage")
    def on_blob(blob: func.InputStream) -> None:
        pass

    with pytest.raises(NotServable, match="function on_blob: trigger blobTrigger"):
        index_app(app)


def test_output_binding_values_and_invocation_ids_in_logs(caplog):
    import logging

    sent: list[tuple[str, Any]] = []
    spec = FunctionSpec(
        "fan_out",
        {"type": "httpTrigger", "name": "req", "direction": "IN"},
        ({"type": "queue", "name": "messages", "direction": "OUT", "queueName": "q"},),
        lambda req, messages: (logging.getLogger("app").info("working"), messages.set(["a", "b"])),
    )
    with caplog.at_level(logging.INFO):
        result = invoke(spec, None, reason="test", write_output=lambda b, v: sent.append((b["queueName"], v)))
    assert result.ok and sent == [("q", ["a", "b"])]
    assert f"Executing 'Functions.fan_out' (Reason='test', Id={result.invocation_id})" in caplog.text
    assert f"Executed 'Functions.fan_out' (Succeeded, Id={result.invocation_id}" in caplog.text
