"""The relay writer's pure parts: which failures are transient, SAS and token renewal, and the sender's
handling of Retry-After and of a message Storage refuses (clocks the test controls, no waiting)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from multidict import CIMultiDict

from shared.azure.queue import QueueAccess
from shared.errors import ConfigError
from shared.messages import Message, PodRef, parse_message
from shared.relay.credentials import SAS_RENEW_AFTER, AccountKeySas, EntraToken, GivenSas, queue_auth
from shared.relay.metrics import Metrics
from shared.relay.putter import MessageRejected, StorageError, message_body, response_error
from shared.relay.sender import MAX_RETRY_AFTER, Sender

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def error_body(code: str, text: str = "Something.\nRequestId:1") -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{text}</Message></Error>'.encode()


@pytest.mark.parametrize(
    ("status", "code", "transient", "rejected"),
    [
        (503, "ServerBusy", True, False),
        (500, "InternalError", True, False),
        (408, "", True, False),
        (429, "", True, False),
        (501, "", False, False),
        (505, "", False, False),
        (403, "AuthenticationFailed", False, False),
        (404, "QueueNotFound", False, False),
        (400, "InvalidHeaderValue", False, False),
        (400, "InvalidXmlDocument", False, True),
        (413, "RequestBodyTooLarge", False, True),
    ],
)
def test_failures_are_transient_exactly_where_the_sdk_retries(status, code, transient, rejected):
    error = response_error(status, CIMultiDict(), error_body(code), "http://account/q")
    assert error.transient is transient
    assert isinstance(error, MessageRejected) is rejected
    assert str(error).startswith(f"Put Message to http://account/q answered HTTP {status}")
    if code:
        assert f"{code}: Something." in str(error) and "RequestId" not in str(error)


def test_retry_after_is_read_in_seconds_or_as_a_date_and_the_header_code_wins():
    error = response_error(503, CIMultiDict({"Retry-After": "7", "x-ms-error-code": "ServerBusy"}), b"", "u")
    assert error.retry_after == 7.0 and "HTTP 503 ServerBusy" in str(error)
    when = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    dated = response_error(503, CIMultiDict({"Retry-After": when}), b"", "u")
    assert dated.retry_after is not None and 100 < dated.retry_after <= 120
    assert response_error(503, CIMultiDict({"Retry-After": "soon"}), b"", "u").retry_after is None


def test_the_body_escapes_only_what_xml_needs_and_replaces_what_utf8_cannot_carry():
    assert message_body('{"a":"<&>"}').endswith(b'<MessageText>{"a":"&lt;&amp;&gt;"}</MessageText></QueueMessage>')
    assert message_body("a\ud800b").endswith(b"<MessageText>a?b</MessageText></QueueMessage>")  # never raised


def test_an_account_key_sas_is_add_only_for_one_queue_and_renewed_long_before_it_expires():
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    auth = AccountKeySas("acct", KEY, "pod-events", now=lambda: now[0])

    def fields() -> dict[str, list[str]]:
        return parse_qs(asyncio.run(auth.authorize()).query)

    first = fields()
    assert first["sp"] == ["a"] and first["se"] == ["2026-12-01T14:00:00Z"]
    now[0] += SAS_RENEW_AFTER - timedelta(seconds=1)
    assert fields() == first
    now[0] += timedelta(seconds=1)
    assert fields()["se"] == ["2026-12-01T15:00:00Z"]
    assert KEY not in repr(auth) and "sig" not in repr(asyncio.run(auth.authorize()))


class Token:
    def __init__(self, token: str, expires_on: float) -> None:
        self.token, self.expires_on = token, expires_on


class Credential:
    """An async token credential that counts its calls; each token lives an hour."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls: list[str] = []
        self.closed = False

    async def get_token(self, scope: str) -> Token:
        self.calls.append(scope)
        await asyncio.sleep(0)  # let concurrent writers pile up behind the refresh
        return Token(f"token-{len(self.calls)}", self.clock[0] + 3600)

    async def close(self) -> None:
        self.closed = True


def test_an_entra_token_is_cached_shared_by_concurrent_writes_and_refreshed_before_expiry():
    clock = [1000.0]
    credential = Credential(clock)
    auth = EntraToken(credential, clock=lambda: clock[0])

    async def scenario() -> list[str]:
        first = await asyncio.gather(*(auth.authorize() for _ in range(20)))
        clock[0] += 3600 - 301  # more than five minutes left: the same token
        same = await auth.authorize()
        clock[0] += 2  # under five minutes left: a new one
        renewed = await auth.authorize()
        await auth.close()
        return [a.header for a in (*first, same, renewed)]

    headers = asyncio.run(scenario())
    assert set(headers[:21]) == {"Bearer token-1"} and headers[21] == "Bearer token-2"
    assert credential.calls == ["https://storage.azure.com/.default"] * 2 and credential.closed
    assert "token-" not in repr(auth)


def test_the_cheapest_authorization_is_chosen_and_a_token_never_goes_over_plain_http():
    def access(url: str, key: str | None = None, sas: str | None = None) -> QueueAccess:
        return QueueAccess(url=url, account_name="acct", account_key=key, sas=sas)

    assert isinstance(queue_auth(access("http://a/q", key=KEY), "q"), AccountKeySas)
    assert isinstance(queue_auth(access("http://a/q", sas="sv=1&sig=x"), "q"), GivenSas)
    with pytest.raises(ConfigError, match="queueServiceUri must be https"):
        queue_auth(access("http://a/q"), "q")
    assert KEY not in repr(access("http://a/q", key=KEY)) and "sig" not in repr(access("http://a/q", sas="sig=x"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def msg(name: str) -> Message:
    return Message(op="upsert", pod=PodRef("default", name, "u"), source="watch", resource_version="1")


def test_the_sender_waits_at_least_the_retry_after_storage_asked_for():
    clock = Clock()
    failed = threading.Event()
    written: list[str] = []

    def busy_once(text: str) -> None:
        if not failed.is_set():
            failed.set()
            raise StorageError("HTTP 503 ServerBusy", transient=True, retry_after=30)
        written.append(text)

    metrics = Metrics()
    sender = Sender(busy_once, capacity=10, metrics=metrics, workers=1, initial_backoff=0.01, clock=clock)
    sender.put("a", msg("a"))
    sender.start()
    assert failed.wait(10)
    with sender._cond:
        while metrics.get("send_retries") == 0:
            sender._cond.wait(0.1)
        assert sender._next_locked() == pytest.approx(30)  # not the 10 ms backoff: the server's 30 s
    clock.now += 30
    sender.put("b", msg("b"))  # wakes the sender thread, now past the Retry-After
    assert sender.flush(10)
    assert sorted(parse_message(text).pod.name for text in written) == ["a", "b"]  # type: ignore[union-attr]


def test_a_huge_retry_after_is_bounded():
    clock = Clock()
    sender = Sender(lambda text: None, capacity=10, workers=1, clock=clock)
    sender._failed("a", sender_entry(), StorageError("busy", transient=True, retry_after=86_400))
    assert sender._next_locked() == pytest.approx(MAX_RETRY_AFTER)


def sender_entry() -> Any:
    from shared.relay.sender import Entry

    return Entry(msg("a"), 100.0)


def test_a_message_storage_rejects_is_dropped_counted_and_the_rest_go_on_even_when_it_was_the_outage_probe():
    """Storage down once, then it refuses the probe (message "a") itself: the others still go, nothing waits."""
    written: list[str] = []
    calls = {"n": 0}

    def down_then_refuse_a(text: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError("connection refused", transient=True)
        message = parse_message(text)
        if message.pod is not None and message.pod.name == "a":
            raise MessageRejected("HTTP 413 RequestBodyTooLarge", transient=False)
        written.append(text)

    metrics = Metrics()
    sender = Sender(down_then_refuse_a, capacity=10, metrics=metrics, workers=1, initial_backoff=0.001)
    for name in ("a", "b", "c"):
        sender.put(name, msg(name))
    sender.start()
    assert sender.flush(10)
    assert metrics.get("rejected") == 1 and metrics.get("send_retries") == 1 and sender.storage_ok
    assert sorted(parse_message(text).pod.name for text in written) == ["b", "c"]  # type: ignore[union-attr]
