"""The relay's queue writer: one Put Message per call over one aiohttp session, without the SDK's pipeline.

Why not the Storage SDK here: a Python sender is limited by CPU per request,
and the SDK's async pipeline (a dozen policies, the XML serializer, Shared Key
signing, response deserialization) was most of the relay's ~0.85 ms of CPU per
message; this writer spends about a quarter of that (docs/performance.md). What
it sends is what the SDK sent: the same XML body byte for byte (the text
escaped for `&`, `<`, `>`, no base64: host.json says `messageEncoding: none`),
POSTed to `<queue>/messages`; the authorization comes from shared/relay/credentials.py.
The SDK is still used, rarely, to create the queue (a queue SAS cannot).

Each call makes one attempt and raises `StorageError` naming the cause;
the sender (shared/relay/sender.py) holds the message and retries with its own
backoff, so /readyz says "Storage down" within a second instead of after the
SDK's minute of retries. Which failures are transient follows the SDK's retry
policy: connection errors, timeouts, 408, 429 and 5xx except 501 and 505, with
any Retry-After honoured. A 404 QueueNotFound re-creates the queue on the next
attempt (Azurite restarted). A body Storage refuses (413, or a 400 about the
message itself) raises `MessageRejected`: retrying it cannot succeed. Anything
else (403 AuthenticationFailed, ...) fails loudly with Storage's code and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import logging
import re
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import aiohttp

from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE
from shared.relay.credentials import QueueAuth, queue_auth

log = logging.getLogger("aci_connector.relay.putter")

API_VERSION = "2025-11-05"
"""x-ms-version: a published Storage version that Azurite 3.35 also accepts (Bearer needs >= 2017-11-09)."""
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
BODY_HEAD = b"<?xml version='1.0' encoding='utf-8'?>\n<QueueMessage><MessageText>"
BODY_TAIL = b"</MessageText></QueueMessage>"
TRANSIENT_STATUSES = frozenset({408, 429})
"""Plus every 5xx except 501 and 505, as the SDK's retry policy."""
MESSAGE_ERRORS = frozenset({"RequestBodyTooLarge", "MessageTooLarge", "InvalidXmlDocument", "InvalidXmlNodeValue"})
_ERROR_PART = re.compile(rb"<(Code|Message)>([^<]*)</")


class StorageError(Exception):
    """A Put Message that failed; `transient` when the SDK would have retried it."""

    def __init__(self, cause: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.transient = transient
        self.retry_after = retry_after


class MessageRejected(StorageError):
    """Storage refused this message's body (too large, malformed): sending it again cannot succeed."""


def message_body(text: str) -> bytes:
    """The Put Message body the Storage SDK builds for `text` (no encoding policy), byte for byte.

    Text that is not valid Unicode (a lone surrogate) has it replaced, where the SDK would raise: such a
    message would otherwise be retried forever at the head of the buffer.
    """
    return BODY_HEAD + escape(text).encode("utf-8", "replace") + BODY_TAIL


def environment_proxy(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY/HTTP_PROXY, NO_PROXY) names for `url`, or None: go direct.

    Resolved once for the one queue endpoint: left to aiohttp (trust_env), proxy settings and ~/.netrc
    are re-read on a thread for every request.
    """
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme) or None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (a number, or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None


def response_error(status: int, headers: Any, body: bytes, where: str) -> StorageError:
    """The error for a Put Message answered with `status`: Storage's code and message, classified."""
    parts = dict(_ERROR_PART.findall(body[:4096]))
    code = headers.get("x-ms-error-code") or parts.get(b"Code", b"").decode("utf-8", "replace")
    detail = parts.get(b"Message", b"").decode("utf-8", "replace").splitlines()
    cause = f"Put Message to {where} answered HTTP {status} {code or '(no error code)'}"
    if detail:
        cause += f": {detail[0]}"
    if status in TRANSIENT_STATUSES or (status >= 500 and status not in (501, 505)):
        return StorageError(cause, transient=True, retry_after=_retry_after(headers.get("Retry-After")))
    if status == 413 or (status == 400 and code in MESSAGE_ERRORS):
        return MessageRejected(cause, transient=False)
    return StorageError(cause, transient=False)


class QueuePutter:
    """Writes messages to one queue; every call must come from the same event loop (the sender's)."""

    def __init__(self, store: QueueStore, queue: str = POD_EVENTS_QUEUE, *, auth: QueueAuth | None = None) -> None:
        access = store.queue_access(queue)
        self._store = store
        self._queue = queue
        self._url = access.url + "/messages"
        self._auth = auth or queue_auth(access, queue)
        self._proxy = environment_proxy(access.url)
        self._session: Any = None
        self._ensured = False
        self._client_id = uuid.uuid4().hex[:16]
        self._sequence = itertools.count(1)
        """Request ids are this process's id and a counter: unique for Storage's logs, without a uuid4 syscall each."""

    @property
    def where(self) -> str:
        """The queue's URL, never with a SAS: what error messages name."""
        return self._url.removesuffix("/messages")

    async def __call__(self, text: str) -> None:
        if not self._ensured:
            await self._ensure_queue()
        body = message_body(text)
        authorization = await self._auth.authorize()
        headers = {
            "Content-Type": "application/xml",
            "x-ms-version": API_VERSION,
            "x-ms-date": email.utils.formatdate(usegmt=True),
            "x-ms-client-request-id": f"{self._client_id}-{next(self._sequence)}",
        }
        if authorization.header:
            headers["Authorization"] = authorization.header
        url = f"{self._url}?{authorization.query}" if authorization.query else self._url
        try:
            async with self._http().post(
                url, data=body, headers=headers, proxy=self._proxy, allow_redirects=False
            ) as response:
                status, answer = response.status, await response.read()
                response_headers = response.headers
        except (OSError, TimeoutError, aiohttp.ClientError) as error:
            cause = _describe(error).replace(authorization.query or "\0", "<SAS>")  # never a secret in a log line
            raise StorageError(f"Put Message to {self.where} failed: {cause}", transient=True) from None
        if status == 201:
            return
        error = response_error(status, response_headers, answer, self.where)
        if status == 404:
            self._ensured = False  # the queue vanished (Azurite restarted): re-create it before the next attempt
        raise error

    def _http(self) -> Any:
        """The one aiohttp session, made on first use inside the sender's loop (a session belongs to one loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT),
                connector=aiohttp.TCPConnector(limit=0),
                headers={"User-Agent": "aci-connector-relay"},
            )
        return self._session

    async def _ensure_queue(self) -> None:
        """Create the queue if it is missing, with the SDK on a worker thread (rare: at start and after a 404)."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        def create() -> None:
            with contextlib.suppress(ResourceExistsError):  # the normal case: the queue is there
                self._store.client(self._queue).create_queue(
                    retry_total=0, connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT
                )

        try:
            await asyncio.get_running_loop().run_in_executor(None, create)
        except HttpResponseError as error:  # e.g. a SAS allowed to add messages but not to create queues
            if error.status_code not in (401, 403):
                raise
            log.warning(
                "cannot create queue %s (HTTP %s %s: %s); writing to it as it is",
                self.where,
                error.status_code,
                error.error_code,
                str(error).splitlines()[0],
            )
        self._ensured = True

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._auth.close()


def _describe(error: BaseException) -> str:
    """A connection failure in one line, without the request URL (it may carry a SAS)."""
    return f"{type(error).__name__}: {str(error).splitlines()[0]}" if str(error) else type(error).__name__
