"""The ACI provider seam: container groups in and out as raw ARM JSON, errors sorted by what to do next.

Like virtual-kubelet's provider interface, this is the only place the connector talks to
Azure Resource Manager. Callers (queue worker, reconciler, capacity) get camelCase dicts
exactly as ARM sends them and one of three error kinds from shared.errors:

- `ThrottledError`: ARM 429 or an ACI quota/rate limit; wait `retry_after` seconds.
- `RetryableError`: 5xx, timeouts, broken connections, a group still transitioning.
- `ArmRejected` (a `PermanentError`): any other 4xx; ARM's code and message are kept so
  the pod can be marked Failed with a reason a human understands.

Writes never wait for ARM's long-running operation: a real create takes 30 s to minutes,
far longer than a queue invocation should hold a worker; status flows back through GET,
list and Event Grid instead. The SDK's own retry policy is narrowed so a 429 surfaces at
once (the queue re-delivers after Retry-After) rather than sleeping inside the function.

Heavy imports (azure.core, azure.mgmt.containerinstance, azure.identity) happen on first
use so importing this module costs nothing at cold start.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from shared.errors import (
    ConfigError,
    ConnectorError,
    PermanentError,
    RetryableError,
    ThrottledError,
    retry_after_seconds,
)

if TYPE_CHECKING:
    from shared.config import Settings

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
API_VERSION = "2023-05-01"
"""What azure-mgmt-containerinstance 10.1.0 sends; bodies and the fake follow this version."""

THROTTLE_CODES = frozenset(
    {
        "ContainerGroupQuotaReached",
        "SubscriptionRequestsThrottled",
        "TooManyRequests",
        "ResourceRequestsThrottled",
    }
)
"""ARM/ACI error codes that mean "not now" whatever the HTTP status (the quota answer is a 400)."""

TRANSIENT_CODES = frozenset({"ContainerGroupTransitioning", "RetryableError", "Conflict", "AnotherOperationInProgress"})
"""409-style answers that clear by themselves once the group's current operation ends."""

QUOTA_RETRY_AFTER = 60.0
"""Seconds to wait on a quota answer without Retry-After: quotas free up as groups are deleted."""

MAX_INLINE_RETRY_AFTER = 2.0
"""Longest Retry-After the SDK may sleep through inside one call; longer waits go back to the queue."""

_T = TypeVar("_T")


class ArmRejected(PermanentError):
    """ARM refused the request for good (4xx other than throttling); `code` and `message` are ARM's own."""

    reason = "ProviderFailed"

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.arm_message = message
        self.status = status


def _error_body(response: Any) -> tuple[str, str]:
    """ARM's `{"error": {"code", "message"}}`, tolerating empty or non-JSON bodies from gateways."""
    try:
        body = json.loads(response.text() or "{}")
    except (ValueError, TypeError):
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def classify_http_error(status: int, code: str, message: str, retry_after: float | None) -> ConnectorError:
    """Turn one ARM error answer into the connector's error kind (pure, so it is tested on its own)."""
    text = f"ARM answered {status} {code or '(no code)'}: {message}".rstrip(": ")
    if status == 429 or code in THROTTLE_CODES:
        wait = retry_after if retry_after is not None else (QUOTA_RETRY_AFTER if status != 429 else None)
        return ThrottledError(text, retry_after=wait)
    if status in (408, 500, 502, 503, 504) or status >= 500:
        return RetryableError(text, retry_after=retry_after)
    if status == 409 and code in TRANSIENT_CODES:
        return RetryableError(text, retry_after=retry_after if retry_after is not None else 5.0)
    return ArmRejected(code or f"Http{status}", message or f"ARM answered {status}", status=status)


def map_azure_error(error: Exception) -> ConnectorError:
    """Map an azure-core exception (or a ConnectorError passed through) to the connector's kinds."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(error, ConnectorError):
        return error
    if isinstance(error, HttpResponseError) and error.response is not None and error.status_code is not None:
        code, message = _error_body(error.response)
        retry_after = retry_after_seconds(error.response.headers.get("Retry-After"))
        return classify_http_error(error.status_code, code, message or str(error.message or ""), retry_after)
    if isinstance(error, ClientAuthenticationError):
        from azure.identity import CredentialUnavailableError

        if isinstance(error, CredentialUnavailableError):
            return ConfigError(f"no Azure credential is available for ARM: {error}")
        return RetryableError(f"could not get an ARM token: {error}")
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return RetryableError(f"ARM unreachable or too slow: {error}")
    return RetryableError(f"ARM call failed: {error}")


def _retry_policy(retries: int) -> Any:
    """azure-core's RetryPolicy, minus retries on 429 and on long Retry-After waits (the queue does those)."""
    from azure.core.pipeline.policies import RetryPolicy

    class _NoThrottleRetryPolicy(RetryPolicy):
        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            status = response.http_response.status_code
            if status == 429 or status not in (408, 500, 502, 503, 504):
                return False
            wait = retry_after_seconds(response.http_response.headers.get("Retry-After"))
            if wait is not None and wait > MAX_INLINE_RETRY_AFTER:
                return False
            return bool(super().is_retry(settings, response))

    return _NoThrottleRetryPolicy(retry_total=retries, retry_backoff_factor=0.5, retry_backoff_max=4)


def _raw(pipeline_response: Any, _deserialized: Any = None, _headers: Any = None) -> tuple[int, dict[str, Any]]:
    """`cls` hook for SDK operations: keep ARM's JSON as sent instead of the SDK model."""
    response = pipeline_response.http_response
    text = response.text()
    return response.status_code, (json.loads(text) if text else {})


POOL_SIZE = 64
"""Connections kept to ARM: the Python worker runs up to 32 invocations at once in one process, and
requests' default pool of 10 would discard (and re-handshake) the rest."""


def _pooled_transport(**connection: Any) -> Any:
    import requests
    from azure.core.pipeline.transport import RequestsTransport

    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE))
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE))
    return RequestsTransport(session=session, session_owner=True, **connection)


class AciClient:
    """Container groups of one resource group and region, through the official SDK's pipeline."""

    def __init__(
        self,
        *,
        subscription_id: str,
        resource_group: str,
        region: str,
        credential: Any,
        base_url: str = DEFAULT_ARM_ENDPOINT,
        connection_verify: bool | str = True,
        retries: int = 2,
        connection_timeout: float = 10.0,
        read_timeout: float = 30.0,
        read_budget: Any = None,
    ) -> None:
        self.read_budget = read_budget  # the process's ArmReadBudget (shared/azure/reads.py); None: unbudgeted
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.region = region
        self.base_url = base_url.rstrip("/")
        self._credential = credential
        self._verify = connection_verify
        self._retries = retries
        self._timeouts = (connection_timeout, read_timeout)
        self._sdk: Any = None
        self._lock = threading.Lock()

    @property
    def connection_verify(self) -> bool | str:
        """TLS verification for ARM (True or a CA file): the exec bridge's WebSocket is checked the same way."""
        return self._verify

    @property
    def credential(self) -> Any:
        """The Azure credential, reused for Azure Monitor metrics (same identity, another audience)."""
        return self._credential

    # ---- plumbing

    def _client(self) -> Any:
        """The SDK client, built once on first use (its import and TLS setup cost ~0.3 s)."""
        with self._lock:
            if self._sdk is None:
                from azure.mgmt.containerinstance import ContainerInstanceManagementClient

                self._sdk = ContainerInstanceManagementClient(
                    transport=_pooled_transport(
                        connection_verify=self._verify,
                        connection_timeout=self._timeouts[0],
                        read_timeout=self._timeouts[1],
                    ),
                    credential=self._credential,
                    subscription_id=self.subscription_id,
                    base_url=self.base_url,
                    credential_scopes=[f"{self.base_url}/.default"],
                    connection_verify=self._verify,
                    connection_timeout=self._timeouts[0],
                    read_timeout=self._timeouts[1],
                    retry_policy=_retry_policy(self._retries),
                    api_version=API_VERSION,
                    raw_response_hook=lambda response: self.read_budget and self.read_budget.hook(response),
                )
            return self._sdk

    def _call(self, action: Callable[[], _T], *, read: bool = False) -> _T:
        if read and self.read_budget is not None:
            self.read_budget.before_read()  # may wait briefly, or raise ReadBudgetExhausted (a ThrottledError)
        try:
            return action()
        except ConnectorError:
            raise
        except Exception as error:
            mapped = map_azure_error(error)
            raise mapped from error

    def _group_path(self, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerInstance/containerGroups/{name}"
        )

    def _send(self, method: str, url: str) -> dict[str, Any]:
        """A raw GET through the SDK pipeline (auth, retry, logging), raising mapped errors."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        client = self._client()
        response = client._send_request(HttpRequest(method, url, headers={"Accept": "application/json"}))
        if response.status_code >= 400:
            raise HttpResponseError(response=response)
        return response.json() if response.content else {}

    # ---- the seam

    def begin_create_or_update(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the group and return ARM's accepted body (provisioningState Pending); does not wait for the LRO."""
        payload = json.dumps(body).encode()

        def put() -> dict[str, Any]:
            poller = self._client().container_groups.begin_create_or_update(
                self.resource_group, name, payload, polling=False, cls=_raw
            )
            return poller.result()[1]

        return self._call(put)

    def get(self, name: str) -> dict[str, Any] | None:
        """GET with instanceView; None when the group does not exist (a missing resource group still raises)."""
        from azure.core.exceptions import ResourceNotFoundError

        def get() -> dict[str, Any] | None:
            try:
                return self._client().container_groups.get(self.resource_group, name, cls=_raw)[1]
            except ResourceNotFoundError as error:
                code, _ = _error_body(error.response) if error.response is not None else ("", "")
                if code in ("ResourceNotFound", ""):
                    return None
                raise

        return self._call(get, read=True)

    def begin_delete(self, name: str) -> bool:
        """DELETE the group without waiting for the LRO; False when ARM says it was already gone (204)."""

        def delete() -> bool:
            poller = self._client().container_groups.begin_delete(self.resource_group, name, polling=False, cls=_raw)
            status, _ = poller.result()
            return status != 204

        return self._call(delete)

    def list_groups(self) -> Iterator[dict[str, Any]]:
        """Every group of the resource group, following nextLink; list bodies carry no instanceView."""
        url: str | None = None
        while True:
            items, url = self.list_page(url)
            yield from items
            if url is None:
                return

    def list_page(self, url: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the resource group's groups and its nextLink (None on the last page).

        The reconciler paces the pages itself (each one costs a read of its budget) and may resume
        from a nextLink in a later cycle.
        """
        url = url or f"{self.base_url}{self._group_path('')[:-1]}?api-version={API_VERSION}"
        page = self._call(lambda: self._send("GET", url), read=True)
        return page.get("value") or [], page.get("nextLink") or None

    def usages(self) -> list[dict[str, Any]]:
        """The region's ACI usage and limits (ContainerGroups, StandardCores, ...) as ARM lists them."""
        url = (
            f"{self.base_url}/subscriptions/{self.subscription_id}/providers/Microsoft.ContainerInstance"
            f"/locations/{self.region}/usages?api-version={API_VERSION}"
        )
        items: list[dict[str, Any]] = []
        while url:
            page = self._call(lambda url=url: self._send("GET", url), read=True)
            items.extend(page.get("value") or [])
            url = page.get("nextLink") or ""
        return items

    def logs(self, name: str, container: str, tail: int | None = None, *, timestamps: bool = False) -> str:
        """A container's log text (ACI keeps roughly the last 4 MB); one ARM read."""

        def logs() -> str:
            _, body = self._client().containers.list_logs(
                self.resource_group, name, container, tail=tail, timestamps=timestamps or None, cls=_raw
            )
            return str(body.get("content") or "")

        return self._call(logs, read=True)

    def exec_command(self, name: str, container: str, command: str, rows: int, cols: int) -> dict[str, str]:
        """POST .../exec (an ARM write): `{webSocketUri, password}` of a one-process terminal session."""
        request = {"command": command, "terminalSize": {"rows": rows, "cols": cols}}

        def execute() -> dict[str, str]:
            return self._client().containers.execute_command(self.resource_group, name, container, request, cls=_raw)[1]

        return self._call(execute)

    def close(self) -> None:
        with self._lock:
            if self._sdk is not None:
                self._sdk.close()
                self._sdk = None


_singleton: dict[str, AciClient] = {}
_singleton_lock = threading.Lock()


def _default_credential(settings: Settings) -> Any:
    """The credential users expect: the original connector's service principal, else DefaultAzureCredential.

    The 2017 connector read AZURE_CLIENT_ID, AZURE_CLIENT_KEY and AZURE_TENANT_ID; DefaultAzureCredential
    reads AZURE_CLIENT_SECRET instead, so a deployment that kept the old names gets a ClientSecretCredential
    here rather than silently falling through to another identity. Otherwise DefaultAzureCredential:
    AZURE_CLIENT_ID/SECRET/TENANT_ID when set, the managed identity in Azure, `az login` locally.
    """
    client_id = settings["AZURE_CLIENT_ID"] or None
    legacy_key = settings["AZURE_CLIENT_KEY"]
    if legacy_key and not settings["AZURE_CLIENT_SECRET"]:
        from azure.identity import ClientSecretCredential

        if not client_id or not settings["AZURE_TENANT_ID"]:
            raise ConfigError("setting AZURE_CLIENT_KEY needs AZURE_CLIENT_ID and AZURE_TENANT_ID too")
        return ClientSecretCredential(settings["AZURE_TENANT_ID"], client_id, legacy_key)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id, exclude_interactive_browser_credential=True)


EMULATOR_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
EMULATOR_RESOURCE_GROUP = "aci-connector-rg"


class EmulatorToken:
    """The bearer token the ACI emulator accepts (it checks presence, like a front door, not a signature)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:

        from azure.core.credentials import AccessToken

        return AccessToken("aci-emulator-local-token", int(time.time()) + 3600)


def build_aci_client(settings: Settings, **options: Any) -> AciClient:
    """A client from settings. No AZURE_SUBSCRIPTION_ID but ACI_EMULATOR_URL: the local ACI emulator
    `make start` runs (its own subscription, a local token, its CA), never real Azure. Reads draw from the
    process's ARM read budget (shared/azure/reads.py) unless `read_budget=None` is passed."""
    from shared.azure.reads import process_budget

    options.setdefault("read_budget", process_budget(settings["ARM_READS_PER_MINUTE"]))
    if not settings["AZURE_SUBSCRIPTION_ID"] and settings["ACI_EMULATOR_URL"]:
        return AciClient(
            subscription_id=EMULATOR_SUBSCRIPTION,
            resource_group=settings["ACI_RESOURCE_GROUP"] or EMULATOR_RESOURCE_GROUP,
            region=settings.require("ACI_REGION"),
            credential=EmulatorToken(),
            base_url=settings["ACI_EMULATOR_URL"],
            connection_verify=settings["ACI_EMULATOR_CA_FILE"] or True,
            **options,
        )
    return AciClient(
        subscription_id=settings.require("AZURE_SUBSCRIPTION_ID"),
        resource_group=settings.require("ACI_RESOURCE_GROUP"),
        region=settings.require("ACI_REGION"),
        credential=_default_credential(settings),
        base_url=settings["ARM_ENDPOINT"] or DEFAULT_ARM_ENDPOINT,
        **options,
    )


def get_aci_client(settings: Settings | None = None) -> AciClient:
    """The process-wide client, built from settings on first use and reused by every invocation."""
    with _singleton_lock:
        client = _singleton.get("client")
        if client is None:
            if settings is None:
                from shared.config import get_settings

                settings = get_settings()
            client = build_aci_client(settings)
            _singleton["client"] = client
        return client


def set_aci_client(client: AciClient | None) -> None:
    """Install a client (tests: one built against the fake ARM) or forget the current one."""
    with _singleton_lock:
        if client is None:
            _singleton.pop("client", None)
        else:
            _singleton["client"] = client
