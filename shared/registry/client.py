"""HTTP side of the OCI distribution API (Docker Registry v2): requests with the registry's auth dance.

A registry answers 401 with a `WWW-Authenticate` challenge. `Bearer realm=...,service=...,scope=...`
means: ask the realm for a token (anonymously for public images on Docker Hub and GHCR, with the pull
secret's user and password as Basic auth otherwise), then retry with `Authorization: Bearer`. `Basic`
means: retry with the pull secret's credentials. Azure Container Registry also takes an Entra ID token,
exchanged at `/oauth2/exchange` for a refresh token that then acts as the password. Tokens are reused
until they expire. Errors name the registry, the image and the registry's own error code and message.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import PermanentError, RetryableError, ThrottledError, retry_after_seconds
from shared.registry.reference import ImageRef

log = logging.getLogger("aci_connector.registry")

ACR_EXCHANGE_USER = "00000000-0000-0000-0000-000000000000"
"""The user name ACR expects with a refresh token obtained from an Entra ID token."""
_ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_TOKEN_SLACK = 30.0


class ImageUnavailable(PermanentError):
    """The registry says the image or its config cannot be read (unknown, denied, malformed)."""

    reason = "ImageConfigUnavailable"


class RegistryUnreachable(RetryableError):
    """The registry failed or timed out; asking again later may work."""


@dataclass(frozen=True)
class Credentials:
    """User and password for one registry (from a pull secret, or an ACR refresh token)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"


class RegistryClient:
    """GETs and HEADs on registries, with token auth and a token cache; one per process (thread-safe)."""

    def __init__(
        self,
        *,
        endpoints: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        entra_token: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`endpoints` maps a canonical registry (`docker.io`) to a base URL (mirrors, tests)."""
        import requests

        self._session = requests.Session()
        self._endpoints = dict(endpoints or {})
        self._timeout = timeout
        self._entra_token = entra_token
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def base_url(self, ref: ImageRef) -> str:
        return self._endpoints.get(ref.registry, f"https://{ref.api_host}").rstrip("/")

    def request(
        self, method: str, ref: ImageRef, path: str, *, accept: str = "", credentials: Credentials | None = None
    ) -> Any:
        """One API call under /v2/<repository>/, answering an auth challenge once; returns the 200 response."""
        url = f"{self.base_url(ref)}/v2/{ref.repository}/{path}"
        scope = f"repository:{ref.repository}:pull"
        headers = {"Accept": accept} if accept else {}
        cached = self._cached_token(ref, scope, credentials)
        if cached:
            headers["Authorization"] = f"Bearer {cached}"
        response = self._send(method, url, ref, headers)
        if response.status_code == 401:
            headers["Authorization"] = self._authorize(ref, scope, response, credentials)
            response = self._send(method, url, ref, headers)
        if response.status_code != 200:
            raise self._error(ref, response)
        return response

    # -- auth ---------------------------------------------------------------------------------------------------------

    def _authorize(self, ref: ImageRef, scope: str, response: Any, credentials: Credentials | None) -> str:
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if scheme.lower() == "basic":
            if credentials is None:
                raise self._error(ref, response, "the registry wants a user and password: add an imagePullSecret")
            pair = f"{credentials.username}:{credentials.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        if scheme.lower() != "bearer" or not params.get("realm"):
            raise self._error(ref, response, f"unsupported auth challenge {challenge!r}")
        if credentials is None and ref.registry.endswith(_ACR_SUFFIXES) and self._entra_token is not None:
            credentials = self._acr_refresh_token(ref, params)
        token, lifetime = self._fetch_token(ref, params, scope, credentials)
        with self._lock:
            key = (ref.registry, scope, credentials.username if credentials else "")
            self._tokens[key] = (token, self._clock() + lifetime - _TOKEN_SLACK)
        return f"Bearer {token}"

    def _cached_token(self, ref: ImageRef, scope: str, credentials: Credentials | None) -> str | None:
        with self._lock:
            key = (ref.registry, scope, credentials.username if credentials else "")
            entry = self._tokens.get(key)
            if entry and entry[1] > self._clock():
                return entry[0]
            self._tokens.pop(key, None)
            return None

    def _fetch_token(
        self, ref: ImageRef, params: dict[str, str], scope: str, credentials: Credentials | None
    ) -> tuple[str, float]:
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        auth = (credentials.username, credentials.password) if credentials else None
        try:
            answer = self._session.get(params["realm"], params=query, auth=auth, timeout=self._timeout)
        except OSError as error:
            raise RegistryUnreachable(f"registry {ref.registry}: token service unreachable: {error}") from error
        if answer.status_code != 200:
            raise self._error(ref, answer, "the token service refused the request")
        body = _json(answer)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ImageUnavailable(f"registry {ref.registry}: the token service answered without a token")
        lifetime = body.get("expires_in")
        return token, float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 60.0

    def _acr_refresh_token(self, ref: ImageRef, params: dict[str, str]) -> Credentials:
        """Entra ID token -> ACR refresh token, used as the password of ACR's fixed exchange user."""
        assert self._entra_token is not None
        service = params.get("service") or ref.registry
        url = f"{self.base_url(ref)}/oauth2/exchange"
        form = {"grant_type": "access_token", "service": service, "access_token": self._entra_token()}
        try:
            answer = self._session.post(url, data=form, timeout=self._timeout)
        except OSError as error:
            raise RegistryUnreachable(f"registry {ref.registry}: token exchange unreachable: {error}") from error
        if answer.status_code != 200:
            raise self._error(ref, answer, "the Entra ID token exchange was refused (does the identity have AcrPull?)")
        refresh = _json(answer).get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise ImageUnavailable(f"registry {ref.registry}: the token exchange answered without a refresh token")
        return Credentials(ACR_EXCHANGE_USER, refresh)

    # -- transport ----------------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, ref: ImageRef, headers: dict[str, str]) -> Any:
        try:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, allow_redirects=True)
        except OSError as error:
            raise RegistryUnreachable(f"registry {ref.registry} unreachable for {ref}: {error}") from error

    def _error(self, ref: ImageRef, response: Any, hint: str = "") -> Exception:
        status = response.status_code
        detail = _registry_errors(response) or response.reason or "no detail"
        text = f"registry {ref.registry} answered {status} for {ref}: {detail}"
        if hint:
            text += f" ({hint})"
        if status == 429:
            return ThrottledError(text, retry_after=_retry_after(response))
        if status >= 500 or status == 408:
            return RegistryUnreachable(text, retry_after=_retry_after(response))
        return ImageUnavailable(text)


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _registry_errors(response: Any) -> str:
    """The registry's `{"errors": [{"code", "message"}]}` body, as `CODE: message; ...`."""
    if response.request is not None and response.request.method == "HEAD":
        return ""
    errors = _json(response).get("errors")
    if not isinstance(errors, list):
        return ""
    parts = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors if isinstance(e, dict)]
    return "; ".join(parts)


def _retry_after(response: Any) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After"))
