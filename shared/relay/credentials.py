"""What authorizes the relay's queue writes, without the Storage SDK's per-request pipeline.

The SDK signs every request (Shared Key: an HMAC over a canonical form of the
request) inside a chain of policies; at the relay's rates that pipeline was most
of its CPU per message. A Put Message needs much less:

- an account key (a connection string with AccountKey, UseDevelopmentStorage):
  a SAS scoped to this one queue with only the "add" permission, made by the
  SDK's `generate_queue_sas` and renewed long before it expires;
- a SAS connection string: its SAS, as given (renewing it is its owner's job);
- the app's identity (AzureWebJobsStorage__queueServiceUri): an Entra ID token for
  Storage from the async DefaultAzureCredential (workload identity, managed
  identity, ...), cached and refreshed before it expires, sent as a Bearer header.

Each one answers `authorize()` with the query to append and the Authorization
header to send (either may be empty), and holds no secret in its repr.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.azure.queue import QueueAccess
from shared.errors import ConfigError

SAS_LIFETIME = timedelta(hours=2)
SAS_RENEW_AFTER = timedelta(hours=1)
"""A fresh SAS every hour, each valid two: a write never carries one that expires on the way."""
STORAGE_SCOPE = "https://storage.azure.com/.default"
TOKEN_REFRESH_MARGIN = 300.0
"""Seconds before a token's expiry when it is replaced (Entra ID tokens live 60-90 minutes)."""


@dataclass(frozen=True)
class Authorization:
    query: str = field(repr=False)
    """Appended to the request URL after `?` ("" for none)."""
    header: str = field(repr=False)
    """The Authorization header ("" for none)."""


class QueueAuth(Protocol):
    async def authorize(self) -> Authorization: ...

    async def close(self) -> None: ...


class AccountKeySas:
    """An add-only SAS for one queue, signed with the account key and renewed every SAS_RENEW_AFTER."""

    def __init__(
        self,
        account_name: str,
        account_key: str,
        queue: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._account = account_name
        self._key = account_key
        self._queue = queue
        self._now = now
        self._current = Authorization("", "")
        self._renew_at: datetime | None = None

    async def authorize(self) -> Authorization:
        now = self._now()
        if self._renew_at is None or now >= self._renew_at:
            from azure.storage.queue import QueueSasPermissions, generate_queue_sas

            sas = generate_queue_sas(
                self._account,
                self._queue,
                self._key,
                permission=QueueSasPermissions(add=True),
                expiry=now + SAS_LIFETIME,
            )
            self._current, self._renew_at = Authorization(sas, ""), now + SAS_RENEW_AFTER
        return self._current

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"AccountKeySas(account={self._account!r}, queue={self._queue!r})"


class GivenSas:
    """The SAS of a SAS connection string, used as is."""

    def __init__(self, sas: str) -> None:
        self._authorization = Authorization(sas, "")

    async def authorize(self) -> Authorization:
        return self._authorization

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "GivenSas()"


class EntraToken:
    """A Bearer token for Storage from an async token credential, refreshed TOKEN_REFRESH_MARGIN before expiry.

    Concurrent writes share one refresh (a lock); a failed refresh raises to the
    write, which the sender retries with backoff like any Storage failure.
    """

    def __init__(self, credential: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._clock = clock
        self._authorization = Authorization("", "")
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    async def authorize(self) -> Authorization:
        if self._clock() < self._expires_on - TOKEN_REFRESH_MARGIN:
            return self._authorization
        async with self._lock:
            if self._clock() >= self._expires_on - TOKEN_REFRESH_MARGIN:
                token = await self._credential.get_token(STORAGE_SCOPE)
                self._authorization = Authorization("", f"Bearer {token.token}")
                self._expires_on = float(token.expires_on)
        return self._authorization

    async def close(self) -> None:
        await self._credential.close()

    def __repr__(self) -> str:
        return f"EntraToken(expires_on={self._expires_on:.0f})"


def queue_auth(access: QueueAccess, queue: str) -> QueueAuth:
    """The cheapest authorization `access` allows for writing to `queue`."""
    if access.account_key:
        return AccountKeySas(access.account_name, access.account_key, queue)
    if access.sas:
        return GivenSas(access.sas)
    if not access.url.startswith("https://"):
        raise ConfigError(f"AzureWebJobsStorage__queueServiceUri must be https:// to send a token, got {access.url}")
    from azure.identity.aio import DefaultAzureCredential

    return EntraToken(DefaultAzureCredential())
