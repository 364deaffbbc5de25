"""Pod lifecycle CloudEvents to a local Event Grid stand-in (aiohttp on 127.0.0.1, TLS by trustme).

The stand-in answers like an Event Grid basic topic: 200 with an empty body for a CloudEvents
batch carrying a valid key or bearer token, 401 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from shared.azure.eventgrid import EventPublisher, build_event, publish_pod_transition, set_publisher, transition_for
from tests.fakes.arm_fixtures import StaticTokenCredential
from tests.fakes.connector_fixtures import make_pod
from tests.fakes.waiting import wait_for

KEY = "topic-key-for-tests"


class Topic:
    """An HTTP(S) endpoint in a background thread that records what a publisher posts."""

    def __init__(self, *, tls: bool = True, mode: str = "ok") -> None:
        self.tls, self.mode = tls, mode
        self.requests: list[dict[str, Any]] = []
        self.ca_path = ""
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._release: asyncio.Event | None = None

    def _released(self) -> asyncio.Event:
        if self._release is None:
            self._release = asyncio.Event()
        return self._release

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"headers": dict(request.headers), "body": json.loads(body), "query": dict(request.query)})
        if self.mode == "hang":
            await self._released().wait()
        if self.mode == "fail":
            return web.json_response({"error": {"code": "InternalServerError", "message": "boom"}}, status=500)
        authorized = request.headers.get("aeg-sas-key") == KEY or request.headers.get("Authorization") == (
            "Bearer fake-arm-token"
        )
        if not authorized:
            return web.json_response({"error": {"code": "Unauthorized", "message": "no key"}}, status=401)
        return web.Response(status=200)

    def _ssl(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        handle, self.ca_path = tempfile.mkstemp(suffix=".pem")
        os.close(handle)
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        return context

    def start(self) -> Topic:
        self._thread.start()
        context = self._ssl() if self.tls else None

        async def serve() -> int:
            app = web.Application()
            app.router.add_post("/api/events", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        port = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/api/events"
        return self

    def release(self) -> None:
        """Answer every held request (and later ones) now, as the current mode says."""
        self._loop.call_soon_threadsafe(lambda: self._released().set())

    def stop(self) -> None:
        self.release()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if self.ca_path:
            os.unlink(self.ca_path)

    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request["body"]]


@pytest.fixture
def topic() -> Iterator[Topic]:
    server = Topic().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_global_publisher() -> Iterator[None]:
    yield
    set_publisher(None)


def _pod() -> dict[str, Any]:
    pod = make_pod("web")
    pod["metadata"]["uid"] = "0f5c1b4e-1111-2222-3333-444455556666"
    pod["status"] = {"phase": "Running"}
    return pod


def test_transitions_are_published_as_cloud_events_with_key_auth(topic):
    publisher = EventPublisher(
        topic.url, key=KEY, source="/subscriptions/s/resourceGroups/rg", connection_verify=topic.ca_path
    )
    set_publisher(publisher)
    pod = _pod()
    publish_pod_transition("scheduled", pod, group_name="default-web-0123456789")
    publish_pod_transition("running", pod, group_name="default-web-0123456789")
    publish_pod_transition("succeeded", pod)
    publish_pod_transition("failed", pod, reason="ProviderFailed", message="InaccessibleImage: nope")
    publish_pod_transition("deleted", pod)
    assert publisher.flush(10)
    assert publisher.counts["published"] == 5 and publisher.counts["failed"] == 0
    events = topic.events()
    assert [e["type"] for e in events] == [
        "Aci.Connector.Pod.Scheduled",
        "Aci.Connector.Pod.Running",
        "Aci.Connector.Pod.Succeeded",
        "Aci.Connector.Pod.Failed",
        "Aci.Connector.Pod.Deleted",
    ]
    first, failed = events[0], events[3]
    assert first["specversion"] == "1.0"
    assert first["source"] == "/subscriptions/s/resourceGroups/rg"
    assert first["subject"] == "namespaces/default/pods/web"
    assert first["data"] == {
        "schemaVersion": "1",
        "namespace": "default",
        "name": "web",
        "uid": "0f5c1b4e-1111-2222-3333-444455556666",
        "node": "aci-connector-linux",
        "containerGroup": "default-web-0123456789",
        "phase": "Running",
        "reason": None,
        "message": None,
    }
    assert (failed["data"]["reason"], failed["data"]["message"]) == ("ProviderFailed", "InaccessibleImage: nope")
    assert len({e["id"] for e in events}) == 5
    headers = topic.requests[0]["headers"]
    assert headers["aeg-sas-key"] == KEY
    assert headers["Content-Type"].startswith("application/cloudevents-batch+json")
    assert topic.requests[0]["query"]["api-version"]


def test_entra_id_token_auth_over_tls(topic):
    publisher = EventPublisher(topic.url, credential=StaticTokenCredential(), connection_verify=topic.ca_path)
    publisher.publish(build_event("running", _pod(), source="aci-connector"))
    assert publisher.flush(10)
    assert publisher.counts["published"] == 1
    assert topic.requests[0]["headers"]["Authorization"] == "Bearer fake-arm-token"


def test_plain_http_works_with_a_key_but_a_token_needs_https():
    topic = Topic(tls=False).start()
    try:
        keyed = EventPublisher(topic.url, key=KEY)
        keyed.publish(build_event("running", _pod(), source="s"))
        assert keyed.flush(10) and keyed.counts["published"] == 1
        token = EventPublisher(topic.url, credential=StaticTokenCredential())
        token.publish(build_event("running", _pod(), source="s"))
        assert token.flush(10)
        assert token.counts["failed"] == 1  # azure-core refuses to send a bearer token over http
        assert len(topic.requests) == 1
    finally:
        topic.stop()


def test_a_hanging_topic_never_slows_the_caller_and_overflow_is_counted():
    topic = Topic(mode="hang").start()  # holds every request until released
    try:
        publisher = EventPublisher(
            topic.url, key=KEY, connection_verify=topic.ca_path, queue_size=20, connect_timeout=30, read_timeout=60
        )
        set_publisher(publisher)
        pod = _pod()
        publish_pod_transition("running", pod)  # first call starts the thread, which takes it to the topic
        wait_for(lambda: len(topic.requests) == 1)
        for _ in range(200):
            publish_pod_transition("running", pod)
        # Every call returned while the topic still held the first request unanswered: none waited on it (one that
        # did would wait for the release below, which comes only after the loop). Timings are bench/'s job.
        assert len(topic.requests) == 1 and publisher.counts["failed"] == publisher.counts["published"] == 0
        assert publisher.counts["dropped"] > 0
        topic.mode = "fail"
        topic.release()
        assert publisher.flush(15)
        assert publisher.counts["failed"] >= 1
        assert publisher.counts["published"] == 0
        assert publisher.counts["failed"] + publisher.counts["dropped"] == 201
    finally:
        topic.stop()


def test_a_failing_topic_is_counted_not_raised():
    topic = Topic(mode="hang").start()  # holds the request until released, then fails it
    try:
        publisher = EventPublisher(topic.url, key=KEY, connection_verify=topic.ca_path, read_timeout=60)
        set_publisher(publisher)
        publish_pod_transition("failed", _pod(), reason="Error")  # returns while the topic holds the request
        wait_for(lambda: len(topic.requests) == 1)
        assert publisher.counts["failed"] == 0  # the call did not wait for the answer
        topic.mode = "fail"
        topic.release()
        assert publisher.flush(10)
        assert publisher.counts["failed"] == 1
        assert len(topic.requests) == 1  # no retries: a broken topic gets one request per batch
    finally:
        topic.stop()


def test_nothing_happens_without_a_topic_and_unknown_kinds_are_not_raised():
    set_publisher(None)
    publish_pod_transition("running", _pod())
    publish_pod_transition("exploded", _pod())
    with pytest.raises(ValueError, match="exploded"):
        build_event("exploded", _pod(), source="s")


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ({"phase": "Pending"}, {"phase": "Running"}, "running"),
        ({"phase": "Running"}, {"phase": "Succeeded"}, "succeeded"),
        ({"phase": "Pending"}, {"phase": "Failed", "reason": "ProviderFailed"}, "failed"),
        ({"phase": "Running"}, None, "deleted"),
        ({"phase": "Running"}, {"phase": "Running", "podIP": "10.0.0.4"}, None),
        ({"phase": "Pending"}, {"phase": "Pending"}, None),
        (None, {"phase": "Pending"}, None),
        (None, None, None),
        ({}, {"phase": "Running"}, "running"),
    ],
)
def test_transition_for(old, new, kind):
    assert transition_for(old, new) == kind


def test_per_call_transport_options_log_no_warning_per_event(topic, caplog):
    """Timeouts and the CA go with each send; the event model must not warn about them once per event."""
    publisher = EventPublisher(topic.url, key=KEY, connection_verify=topic.ca_path)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            publisher.publish(build_event("running", _pod(), source="aci-connector"))
        assert publisher.flush(10)
    assert publisher.counts["published"] == 3
    assert [r.getMessage() for r in caplog.records if "known attribute" in r.getMessage()] == []
