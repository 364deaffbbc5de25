"""The relay's lean queue writer against real Azurite, a fault proxy in front of it, and the Storage SDK's own bytes.

What is pinned: the body is the SDK's byte for byte; an account key becomes an add-only queue SAS and a SAS
connection string is used as given; a wrong key fails loudly with Storage's code and no secret in the text;
a 503 with Retry-After is transient and the sender retries it through an HTTP proxy taken from the
environment; a vanished queue is re-created; a body Storage refuses is rejected, not retried.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web

from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE
from shared.messages import Message, PodRef, parse_message
from shared.relay.credentials import Authorization, EntraToken
from shared.relay.metrics import Metrics
from shared.relay.putter import MessageRejected, QueuePutter, StorageError
from shared.relay.sender import Sender
from tests.fakes.azurite_fixtures import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string

TRICKY = '{"a":"x & y < z > w \\" \' é 😀 ]]> \u2028","b":"&amp;"}'
"""What XML escaping and UTF-8 must carry through unchanged."""
BUSY = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
    b"<Message>Egress is over the account limit.</Message></Error>"
)


class FaultProxy:
    """An HTTP forward proxy on its own thread: answers the first `faults` Put Messages 503 ServerBusy.

    Everything else is forwarded to the URL the client asked its proxy for; `requests` records (method,
    URL, headers, body) of every Put Message seen.
    """

    def __init__(self, faults: int = 0, retry_after: str = "0") -> None:
        self.faults = faults
        self.retry_after = retry_after
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        assert self._ready.wait(10), "fault proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(trust_env=False)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        put_message = request.path.endswith("/messages")
        if put_message:
            self.requests.append((request.method, str(request.url), dict(request.headers), body))
        if put_message and self.faults > 0:
            self.faults -= 1
            headers = {"x-ms-error-code": "ServerBusy", "Retry-After": self.retry_after}
            return web.Response(status=503, body=BUSY, headers=headers, content_type="application/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "proxy-connection")}
        async with self._session.request(request.method, str(request.url), data=body, headers=headers) as answer:
            payload = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower().startswith("x-ms-") or k == "Content-Type"}
            return web.Response(status=answer.status, body=payload, headers=kept)


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def received(store: QueueStore, queue: str = POD_EVENTS_QUEUE) -> list[str]:
    return [str(m.content) for m in store.client(queue).receive_messages(max_messages=32, visibility_timeout=60)]


def run(coroutine_function: Any, *args: Any) -> Any:
    async def scenario() -> Any:
        return await coroutine_function(*args)

    return asyncio.run(scenario())


def test_the_body_is_the_storage_sdks_byte_for_byte(no_proxy_settings):
    """Captured by the proxy as endpoint (answering 503): the SDK's async client and the putter send the same bytes."""
    from azure.storage.queue.aio import QueueClient

    async def scenario(proxy: FaultProxy) -> None:
        endpoint = f"http://127.0.0.1:{proxy.port}/{AZURITE_ACCOUNT}"  # the proxy as the endpoint: it records
        sdk = QueueClient.from_connection_string(azurite_connection_string(endpoint), "pod-events")
        with pytest.raises(Exception):  # noqa: B017 - nothing upstream answers: only the request matters
            await sdk.send_message(TRICKY, retry_total=0)
        await sdk.close()
        putter = QueuePutter(QueueStore(azurite_connection_string(endpoint)))
        putter._ensured = True  # the queue's creation is not what is compared
        with pytest.raises(StorageError):
            await putter(TRICKY)
        await putter.close()

    with FaultProxy(faults=2) as proxy:
        run(scenario, proxy)
    (_, _, _, by_sdk), (_, url, headers, ours) = proxy.requests
    assert ours == by_sdk
    assert url.split("?")[0].endswith("/devstoreaccount1/pod-events/messages")
    assert headers["Content-Type"] == "application/xml" and headers["x-ms-version"]


class StaticCredential:
    async def get_token(self, scope: str) -> Any:
        from azure.core.credentials import AccessToken

        assert scope == "https://storage.azure.com/.default"
        return AccessToken("eyJ0eXAi.token.sig", int(datetime.now(UTC).timestamp()) + 3600)

    async def close(self) -> None:
        return None


def test_an_entra_token_goes_as_a_bearer_header_with_a_version_that_accepts_it(no_proxy_settings):
    async def scenario(proxy: FaultProxy) -> None:
        endpoint = f"http://127.0.0.1:{proxy.port}/{AZURITE_ACCOUNT}"
        putter = QueuePutter(QueueStore(azurite_connection_string(endpoint)), auth=EntraToken(StaticCredential()))
        putter._ensured = True
        with pytest.raises(StorageError, match="HTTP 503 ServerBusy: Egress is over the account limit"):
            await putter("{}")
        await putter.close()

    with FaultProxy(faults=1, retry_after="3") as proxy:
        run(scenario, proxy)
    [(method, url, headers, _)] = proxy.requests
    assert method == "POST" and "?" not in url
    assert headers["Authorization"] == "Bearer eyJ0eXAi.token.sig"
    assert headers["x-ms-version"] >= "2017-11-09" and headers["x-ms-date"].endswith(" GMT")


def test_an_account_key_becomes_an_add_only_queue_sas_and_messages_arrive_unchanged(queue_store, no_proxy_settings):
    async def scenario() -> str:
        putter = QueuePutter(queue_store)
        for text in (TRICKY, "plain"):
            await putter(text)
        authorization = await putter._auth.authorize()
        await putter.close()
        return authorization.query

    sas = run(scenario)
    assert "sp=a&" in sas and "sig=" in sas
    assert received(queue_store) == [TRICKY, "plain"]


def test_a_sas_connection_string_is_used_as_given(azurite, queue_store, no_proxy_settings, caplog):
    from azure.storage.queue import QueueSasPermissions, generate_queue_sas

    sas = generate_queue_sas(
        AZURITE_ACCOUNT,
        POD_EVENTS_QUEUE,
        AZURITE_KEY,
        permission=QueueSasPermissions(add=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    store = QueueStore(f"QueueEndpoint={azurite.queue_endpoint};SharedAccessSignature={sas}")

    async def scenario() -> Authorization:
        putter = QueuePutter(store)  # its SAS cannot create queues: the putter says so and writes anyway
        await putter("with a SAS")
        authorization = await putter._auth.authorize()
        await putter.close()
        return authorization

    used = run(scenario)
    assert unquote(used.query) == unquote(sas) and used.header == ""  # the SDK may re-quote it, never change it
    assert received(queue_store) == ["with a SAS"]
    assert "cannot create queue" in caplog.text and "AuthorizationPermissionMismatch" in caplog.text


def test_a_wrong_key_fails_loudly_with_storages_reason_and_no_secret(azurite, queue_store, no_proxy_settings):
    wrong = azurite_connection_string(azurite.queue_endpoint).replace(AZURITE_KEY, "d3Jvbmcga2V5" * 8)

    async def scenario() -> tuple[StorageError, str]:
        putter = QueuePutter(QueueStore(wrong))
        putter._ensured = True
        with pytest.raises(StorageError) as failure:
            await putter("never sent")
        query = (await putter._auth.authorize()).query
        await putter.close()
        return failure.value, query

    error, query = run(scenario)
    assert not error.transient and not isinstance(error, MessageRejected)
    assert "HTTP 403 AuthenticationFailed" in str(error) and azurite.queue_endpoint in str(error)
    assert "sig=" not in str(error) and query.split("sig=")[1] not in str(error)
    assert received(queue_store) == []


def test_a_vanished_queue_is_recreated_and_a_body_storage_refuses_is_rejected(azurite, no_proxy_settings):
    store = QueueStore(azurite.connection_string)

    async def scenario() -> None:
        putter = QueuePutter(store, "vanishing")
        await putter("first")
        store.client("vanishing").delete_queue()
        with pytest.raises(StorageError, match="404 QueueNotFound"):
            await putter("lost")
        await putter("second")  # the queue is created again first
        with pytest.raises(MessageRejected, match="413 RequestBodyTooLarge"):
            await putter("x" * 70_000)
        await putter.close()

    run(scenario)
    assert received(store, "vanishing") == ["second"]
    store.client("vanishing").delete_queue()


def message(name: str, version: int) -> Message:
    return Message(op="upsert", pod=PodRef("default", name, "u"), source="watch", resource_version=str(version))


def test_a_503_with_retry_after_is_retried_through_the_environments_proxy(queue_store, no_proxy_settings, monkeypatch):
    """Storage busy twice (ServerBusy, Retry-After): the sender holds, retries, and every message arrives once."""
    with FaultProxy(faults=2, retry_after="0") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        metrics = Metrics()
        sender = Sender(QueuePutter(queue_store), capacity=100, metrics=metrics, workers=4, initial_backoff=0.01)
        for index in range(6):
            sender.put(f"p{index}", message(f"p{index}", index))
        sender.start()
        assert sender.flush(30)
    monkeypatch.delenv("HTTP_PROXY")
    assert metrics.get("send_retries") == 2 and metrics.get("messages_sent") == 6
    urls = [url for _, url, _, _ in proxy.requests]
    assert len(urls) == 8 and all(url.startswith(queue_store.endpoint + "pod-events/messages?") for url in urls)
    names = sorted(parse_message(text).pod.name for text in received(queue_store))  # type: ignore[union-attr]
    assert names == [f"p{index}" for index in range(6)]
